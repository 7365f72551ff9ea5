//! Background jobs that move time-driven state: information requests past their due date
//! expire. Correctness never depends on them having run (the state machine checks dates
//! itself); they make the state visible and notify people.

use std::time::Duration;

use domain::application::{Event, Party};
use persistence::{applications, catalog, Database};
use tokio::sync::watch;

use domain::time::Instant;

use crate::error::ApiError;
use crate::usecases::applications::{store_step, Parts};
use crate::usecases::{effects, Effects, Outcome};

const BATCH: i64 = 100;

/// Expires information requests whose due date passed; returns how many expired.
pub fn expire_information_requests(db: &Database, at: Instant) -> Result<usize, ApiError> {
    let due = db.read(|c| Ok::<_, ApiError>(applications::overdue_info_requests(c, at, BATCH)?))?;
    let mut expired = 0;
    for app in due {
        let done = db.write(|tx| {
            // Re-read inside the transaction: the applicant may have answered meanwhile.
            let Some(current) = applications::find(tx, app.id)? else {
                return Ok(false);
            };
            let Some(service) = catalog::find(tx, &current.service_code)? else {
                return Ok(false);
            };
            match current.apply(Event::Expire, Party::System, &service.policy, at) {
                Ok(step) => {
                    let participants = Parts::of(&current).participants(tx)?;
                    let effects = store_step(tx, &step, &service, None, &participants, current.version, at)?;
                    effects::commit(tx, effects, at)?;
                    Ok::<_, ApiError>(true)
                }
                Err(_) => Ok(false),
            }
        })?;
        expired += usize::from(done);
    }
    Ok(expired)
}

/// Marks delegations past their end as expired and tells both parties; reminds both a
/// day (config) before the end. Refusing expired powers never waits for this: the
/// authorization core checks the window itself.
pub fn expire_and_remind_delegations(
    db: &Database,
    at: Instant,
    (remind_before, zone): (chrono::TimeDelta, domain::time::Zone),
) -> Result<usize, ApiError> {
    use domain::delegation::{Event as D, Side};
    use persistence::delegations as store;
    let ended = db.read(|c| Ok::<_, ApiError>(store::ended_but_active(c, at, BATCH)?))?;
    let mut changed = 0;
    for d in ended {
        let done = db.write(|tx| {
            let Some(current) = store::find(tx, d.id)? else {
                return Ok::<_, ApiError>(false);
            };
            let Some(next) = current.apply(D::Expire, Side::System, at) else {
                return Ok(false);
            };
            if !store::update(tx, &next, current.version)? {
                return Ok(false);
            }
            let effects = Effects::none()
                .history(store::NewDelegationEvent::of(
                    &next,
                    None,
                    "expire",
                    Some(current.status),
                ))
                .audit(domain::audit::AuditEntry::new("delegation.expire", "delegation").target(next.id))
                .notices([next.principal, next.representative].map(|party| {
                    delegation_notice(party, &next, zone, ("expired", "Срок доверенности истёк"))
                }));
            effects::commit(tx, effects, at)?;
            Ok(true)
        })?;
        changed += usize::from(done);
    }
    let ending = db.read(|c| Ok::<_, ApiError>(store::ending_unreminded(c, at + remind_before, BATCH)?))?;
    for d in ending {
        db.write(|tx| {
            if store::mark_reminded(tx, d.id, at)? {
                let notices = [d.principal, d.representative].map(|party| {
                    delegation_notice(party, &d, zone, ("ending", "Срок доверенности истекает"))
                });
                effects::commit(tx, Effects::none().notices(notices), at)?;
            }
            Ok::<_, ApiError>(())
        })?;
    }
    Ok(changed)
}

fn delegation_notice(
    to: domain::ids::AccountId,
    d: &domain::delegation::Delegation,
    zone: domain::time::Zone,
    (kind, title): (&str, &str),
) -> domain::notice::Notice {
    domain::notice::Notice {
        recipient: to,
        kind: format!("delegation.{kind}"),
        title: title.into(),
        body: format!(
            "{title}: доверенность {} (до {}).",
            d.number,
            domain::time::local_text(d.valid_until, zone)
        ),
        data: serde_json::json!({ "delegation_id": d.id }),
        important: true,
    }
}

/// Runs the jobs every `interval` until `stop` turns true.
pub async fn run(state: actix_web::web::Data<crate::state::AppState>, mut stop: watch::Receiver<bool>) {
    let db = state.db.clone();
    let interval = Duration::from_secs(state.config.jobs_interval_secs);
    let remind_before = chrono::TimeDelta::hours(state.config.delegation_reminder_hours);
    let zone = state.config.time_zone;
    let (reminder_hours, key_hours) = (
        state.config.request_reminder_hours,
        state.config.idempotency_ttl_hours,
    );
    loop {
        let at = state.clock.now();
        let worker = db.clone();
        step("delegations expired", move || {
            expire_and_remind_delegations(&worker, at, (remind_before, zone))
        })
        .await;
        let worker = db.clone();
        step("information requests expired", move || {
            expire_information_requests(&worker, at)
        })
        .await;
        let worker = db.clone();
        step("participant requests reminded", move || {
            remind_requests(&worker, at, reminder_hours)
        })
        .await;
        purge(&db, at, key_hours).await;
        match documents(&state, at).await {
            Ok((0, 0)) => {}
            Ok((announced, expired)) => tracing::info!(announced, expired, "document retention"),
            Err(error) => tracing::warn!(%error, "document retention job failed"),
        }
        // The jobs write through the pool, not `AppState::write`: their events reach streams
        // here and on other nodes now rather than at the loaders' fallback tick.
        state.events.committed();
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Forgets what no longer matters: old idempotency keys, spent rate limits, ended locks
/// and spent tokens, stream tickets an hour past expiry.
async fn purge(db: &Database, at: Instant, key_hours: i64) {
    let worker = db.clone();
    step("idempotency keys purged", move || {
        purge_idempotency_keys(&worker, at, key_hours)
    })
    .await;
    let worker = db.clone();
    step("rate limits purged", move || {
        worker.write(|tx| Ok::<_, ApiError>(persistence::rate_limits::purge(tx, at)?))
    })
    .await;
    let worker = db.clone();
    step("ended locks and spent tokens purged", move || {
        worker.write(|tx| Ok::<_, ApiError>(persistence::attempts::purge(tx, at)?))
    })
    .await;
    let worker = db.clone();
    step("stream tickets purged", move || {
        // Kept an hour past expiry, then nothing about them matters any more.
        let before = at - chrono::TimeDelta::hours(1);
        worker.write(|tx| Ok::<_, ApiError>(persistence::stream_tickets::sweep(tx, before)?))
    })
    .await;
}

/// Seals audit records and signs checkpoints every `audit_seal_ms` until `stop` turns true
/// (only on the node that holds the sealer's lock; the others' passes do nothing).
pub async fn seal_audit(
    state: actix_web::web::Data<crate::state::AppState>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(state.config.audit_seal_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
        let (sealer, now) = (state.sealer.clone(), state.clock.now());
        match actix_web::rt::task::spawn_blocking(move || sealer.pass(now)).await {
            Ok(Ok(crate::sealer::Pass::Sealed {
                sealed,
                tree_size,
                checkpoint,
            })) if sealed > 0 || checkpoint.is_some() => {
                tracing::debug!(sealed, tree_size, ?checkpoint, "audit records sealed")
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "audit sealing failed"),
            Err(error) => tracing::error!(%error, "audit sealing panicked"),
        }
    }
}

/// Runs one job on the blocking pool and logs how many things it changed; a failure is
/// logged and the loop goes on.
async fn step(job: &'static str, work: impl FnOnce() -> Result<usize, ApiError> + Send + 'static) {
    match actix_web::rt::task::spawn_blocking(work).await {
        Ok(Ok(0)) => {}
        Ok(Ok(changed)) => tracing::info!(changed, "{job}"),
        Ok(Err(error)) => tracing::warn!(%error, "{job}: job failed"),
        Err(error) => tracing::error!(%error, "{job}: job panicked"),
    }
}

/// Forgets `Idempotency-Key`s older than `hours`; returns how many.
pub fn purge_idempotency_keys(db: &Database, at: Instant, hours: i64) -> Result<usize, ApiError> {
    let before = at - chrono::TimeDelta::hours(hours);
    db.write(|tx| Ok::<_, ApiError>(persistence::idempotency::purge(tx, before)?))
}

/// Retention and the orphan sweep: tells owners whose documents are about to reach their
/// retention date, deletes those past it, then removes bytes nothing points at.
async fn documents(state: &crate::state::AppState, at: Instant) -> Result<(usize, usize), ApiError> {
    let (db, notice_days) = (state.db.clone(), state.config.retention_notice_days);
    let counts = crate::blocking::blocking(move || {
        let announced = announce_retention(&db, at, notice_days)?;
        Ok((announced, expire_documents(&db, at)?))
    })
    .await?;
    let grace = chrono::TimeDelta::seconds(i64::try_from(state.config.orphan_grace_secs).unwrap_or(i64::MAX));
    let swept = state.vault.sweep(&state.db, at, grace).await?;
    if swept != crate::vault::Swept::default() {
        tracing::info!(?swept, "orphan sweep");
    }
    Ok(counts)
}

/// Tells owners, once, that a document will be deleted on its retention date.
pub fn announce_retention(db: &Database, at: Instant, notice_days: i64) -> Result<usize, ApiError> {
    use persistence::documents as store;
    let horizon = at.date_naive() + chrono::TimeDelta::days(notice_days);
    let due = db.read(|c| Ok::<_, ApiError>(store::retention_unannounced(c, horizon, BATCH)?))?;
    let mut announced = 0;
    for doc in due {
        let done = db.write(|tx| {
            if !store::mark_retention_announced(tx, doc.id, doc.version)? {
                return Ok::<_, ApiError>(false);
            }
            let until = doc.retain_until.map(|d| d.to_string()).unwrap_or_default();
            let notice = domain::notice::Notice {
                recipient: doc.owner,
                kind: "document.retention".into(),
                title: "Срок хранения документа истекает".into(),
                body: format!(
                    "Документ «{}» будет удалён после {until}. Продлите срок хранения, если он ещё нужен.",
                    doc.name
                ),
                data: serde_json::json!({ "document_id": doc.id, "retain_until": until }),
                important: true,
            };
            effects::commit(tx, Effects::none().notice(notice), at)?;
            Ok(true)
        })?;
        announced += usize::from(done);
    }
    Ok(announced)
}

/// Deletes documents whose retention date has passed (their bytes go with the next sweep
/// unless an application still carries them).
pub fn expire_documents(db: &Database, at: Instant) -> Result<usize, ApiError> {
    use persistence::documents as store;
    let expired = db.read(|c| Ok::<_, ApiError>(store::expired(c, at.date_naive(), BATCH)?))?;
    let mut deleted = 0;
    for doc in expired {
        let done = db.write(|tx| {
            if !store::delete(tx, doc.id)? {
                return Ok::<_, ApiError>(false);
            }
            let entry = domain::audit::AuditEntry::new("document.expire", "document")
                .target(doc.id)
                .details(serde_json::json!({ "owner": doc.owner, "sha256": doc.sha256 }));
            let notice = domain::notice::Notice {
                recipient: doc.owner,
                kind: "document.expired".into(),
                title: "Документ удалён".into(),
                body: format!("Срок хранения документа «{}» истёк, документ удалён.", doc.name),
                data: serde_json::json!({ "document_id": doc.id }),
                important: false,
            };
            effects::commit(tx, Effects::none().audit(entry).notice(notice), at)?;
            Ok(true)
        })?;
        deleted += usize::from(done);
    }
    Ok(deleted)
}

/// Reminds assignees of open requests due within `hours`, once each.
pub fn remind_requests(db: &Database, at: Instant, hours: i64) -> Result<usize, ApiError> {
    use persistence::joint as store;
    let horizon = at + chrono::TimeDelta::hours(hours);
    let due = db.read(|c| Ok::<_, ApiError>(store::requests_to_remind(c, horizon, BATCH)?))?;
    let mut reminded = 0;
    for request in due {
        let done = db.write(|tx| {
            let Outcome { value, effects } = crate::usecases::joint::requests::remind(tx, &request)?;
            effects::commit(tx, effects, at)?;
            Ok::<_, ApiError>(value)
        })?;
        reminded += usize::from(done);
    }
    Ok(reminded)
}
