//! Firing one event of the state machine: load, ask the core, check the version and what
//! the event needs, apply the pure machine, store the row; the history entry, audit
//! record, live event and notices travel back as effects.

use domain::access::Action;
use domain::application::{Application, Event, EventKind, Status, Step};
use domain::audit::AuditEntry;
use domain::catalog::Service;
use domain::ids::{AccountId, ApplicationId};
use domain::notice::Notice;
use domain::time::Instant;
use persistence::applications::NewHistory;
use persistence::events::NewLiveEvent;
use persistence::{applications, DbConnection};
use serde_json::json;

use super::checks::{precheck, Parts};
use super::load::{load, load_as};
use super::refusals::refused;
use super::shown::Shown;
use crate::auth::actor::Caller;
use crate::concurrency::stale;
use crate::error::ApiError;
use crate::forms::FormValidators;
use crate::usecases::{Acting, Effects, Outcome};

/// An event fired on application `id` by a caller who read it at `version`.
pub struct Fire {
    pub id: ApplicationId,
    pub version: i64,
    pub event: Event,
}

/// Fires `input.event` as the party the event belongs to; the action it needs follows
/// from the event (see `Action::to_fire`).
pub fn fire(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    input: Fire,
    now: Instant,
) -> Result<Outcome<Shown>, ApiError> {
    let (app, service) = load(tx, acting, input.id, action_to_fire(&input.event)?, now)?;
    let parts = Parts::of(&app);
    fire_loaded(tx, forms, acting, parts, &service, input, now)
}

/// [`fire`] by a caller whose session is checked in the query that loads the application.
pub fn fire_as(
    tx: &mut DbConnection,
    forms: &FormValidators,
    caller: &Caller,
    input: Fire,
    now: Instant,
) -> Result<Outcome<Shown>, ApiError> {
    let action = action_to_fire(&input.event)?;
    let submits = input.event.kind() == EventKind::Submit;
    let (acting, app, with) = load_as(tx, caller, input.id, action, submits, now)?;
    let parts = if with.joined {
        Parts::of(&app)
    } else {
        Parts::nobody_joined(&app)
    };
    fire_loaded(
        tx,
        forms,
        &acting,
        parts.loaded_with(with.number, with.attachments),
        &with.service,
        input,
        now,
    )
}

fn action_to_fire(event: &Event) -> Result<Action, ApiError> {
    let kind = event.kind();
    Action::to_fire(kind)
        .ok_or_else(|| ApiError::internal(format!("{} is fired by the system only", kind.as_str())))
}

/// [`fire`] once the application is loaded for the caller (in `parts`, with what is known
/// of them already).
fn fire_loaded(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    mut parts: Parts,
    service: &Service,
    input: Fire,
    now: Instant,
) -> Result<Outcome<Shown>, ApiError> {
    let Fire { version, event, .. } = input;
    let kind = event.kind();
    let app = parts.app;
    if app.version != version {
        return Err(stale(app.version));
    }
    precheck(tx, forms, &mut parts, service, &event)?;
    let mut step = app
        .apply(event, kind.party(), &service.policy, now)
        .map_err(|r| refused(r, app.status))?;
    if step.event == EventKind::Submit && step.application.number.is_none() {
        step.application.number = Some(parts.number(tx, now)?);
        // Whether it is joint, and who signs, is fixed now: later role changes do not
        // change what everyone signed (precheck saw each of them sign this content).
        step.application.signers = parts.signers_now(tx)?;
    }
    if step.application.is_joint() && matches!(step.event, EventKind::Submit | EventKind::Respond) {
        step.application.signed_hash = Some(parts.content_hash(tx)?);
    }
    let participants = parts.participants(tx)?;
    let effects = store_step(tx, &step, service, Some(acting), &participants, version, now)?;
    assign(tx, &step, acting, now)?;
    Ok(Outcome::new(
        Shown::new(step.application, vec![], &service.policy, now),
        effects,
    ))
}

/// Taking an application assigns it to the officer who took it; forwarding it to another
/// agency ends the assignment (the core decides who may act from it).
fn assign(tx: &mut DbConnection, step: &Step, acting: &Acting, now: Instant) -> Result<(), ApiError> {
    let id = step.application.id;
    match step.event {
        EventKind::Take => persistence::assignments::assign(tx, id, acting.account, now)?,
        EventKind::Forward => persistence::assignments::release(tx, id)?,
        _ => {}
    }
    Ok(())
}

/// Writes a step's row (if still at `version`) and returns what it records: history,
/// audit, the live event and the notices to the applicant and every one of `participants`.
pub fn store_step(
    tx: &mut DbConnection,
    step: &Step,
    service: &Service,
    acting: Option<&Acting>,
    participants: &[AccountId],
    version: i64,
    at: Instant,
) -> Result<Effects, ApiError> {
    let app = &step.application;
    // What the applicant sent is what the agency reviews: attachments freeze as the
    // application leaves the draft (and again when an answer brings new papers).
    let freeze_at = (step.to != Status::Draft).then_some(at);
    if !applications::update(tx, app, version, &service.name_ru, freeze_at)? {
        return Err(stale(version + 1));
    }
    let (actor, principal, ip) = match acting {
        Some(a) => (Some(a.account), a.on_behalf_of, a.ip.clone()),
        None => (None, None, None),
    };
    let kind = format!("application.{}", step.event.as_str());
    let entry = AuditEntry::new(kind.clone(), "application")
        .by(actor)
        .on_behalf_of(principal)
        .target(app.id)
        .details(json!({ "from": step.from.as_str(), "to": step.to.as_str(), "agency": app.agency_code }))
        .from_ip(ip);
    let event = NewLiveEvent {
        application: app.id,
        service: app.service_code.clone(),
        kind,
        data: json!({"status": app.status.as_str(), "version": app.version, "actor": actor}),
        audience: std::iter::once(app.owner)
            .chain(participants.iter().copied())
            .collect(),
    };
    let notice = status_notice(app, step);
    // Everyone who takes part hears of the new status too.
    let copies: Vec<Notice> = participants
        .iter()
        .map(|&recipient| Notice {
            recipient,
            ..notice.clone()
        })
        .collect();
    Ok(Effects::none()
        .history(NewHistory::step(app, step).by(actor, principal))
        .audit(entry)
        .event(event)
        .notice(notice)
        .notices(copies))
}

/// The notice the applicant gets for a transition.
pub fn status_notice(app: &Application, step: &Step) -> Notice {
    let name = app.number.clone().unwrap_or_else(|| "черновик".into());
    let body = match &step.comment {
        Some(comment) => format!("Статус заявления {name}: {}. {comment}", app.status.label()),
        None => format!("Статус заявления {name}: {}.", app.status.label()),
    };
    Notice {
        recipient: app.owner,
        kind: format!("application.{}", step.event.as_str()),
        title: format!("Заявление {name}: {}", app.status.label()),
        body,
        data: json!({ "application_id": app.id, "status": app.status.as_str() }),
        important: matches!(step.to, Status::NeedsInfo | Status::Rejected | Status::Approved),
    }
}

/// Who hears an application's events on `/me/events`: the owner and every participant.
pub fn audience(tx: &mut DbConnection, app: &Application) -> Result<Vec<domain::ids::AccountId>, ApiError> {
    crate::usecases::joint::members(tx, app)
}

/// The live event of a change that is not a transition (a draft created or saved).
pub fn live_event(
    tx: &mut DbConnection,
    app: &Application,
    kind: &str,
    acting: &Acting,
) -> Result<NewLiveEvent, ApiError> {
    Ok(event_for(app, kind, acting, audience(tx, app)?))
}

/// The live event of a draft just started: nobody has joined it yet, so its owner is its
/// whole audience (no participants to read).
pub fn new_draft_event(app: &Application, acting: &Acting) -> NewLiveEvent {
    event_for(app, "application.create", acting, vec![app.owner])
}

fn event_for(
    app: &Application,
    kind: &str,
    acting: &Acting,
    audience: Vec<domain::ids::AccountId>,
) -> NewLiveEvent {
    NewLiveEvent {
        application: app.id,
        service: app.service_code.clone(),
        kind: kind.into(),
        data: json!({"status": app.status.as_str(), "version": app.version, "actor": acting.account}),
        audience,
    }
}
