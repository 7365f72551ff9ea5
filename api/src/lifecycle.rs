//! Running one application use case: load, ask the authorization core, check the version,
//! apply the pure state machine, then store the row, its history, the audit record and the
//! applicant's notification — all in one transaction.

use domain::access::{authorize, Action, ApplicationFacts, Resource, Subject};
use domain::application::{Application, Event, EventKind, Party, Refusal, Status, Step};
use domain::audit::AuditEntry;
use domain::catalog::Service;
use domain::ids::{AccountId, ApplicationId};
use domain::joint::ParticipantRole;
use domain::notice::Notice;
use persistence::applications::NewHistory;
use persistence::events::NewEvent;
use persistence::{applications, catalog, joint, DbConnection};
use serde_json::json;

use crate::clock::now;
use crate::concurrency::stale;
use crate::error::{ApiError, FieldProblem};
use crate::forms::FormValidators;

/// Who acts: the caller, and the principal when acting on someone's behalf.
#[derive(Clone, Debug)]
pub struct Acting {
    pub subject: Subject,
    pub account: AccountId,
    pub on_behalf_of: Option<uuid::Uuid>,
    pub ip: Option<String>,
}

impl Acting {
    /// Whose behalf the caller acts on: the principal, or the caller.
    pub fn principal(&self) -> AccountId {
        self.on_behalf_of
            .map(AccountId::from_uuid)
            .unwrap_or(self.account)
    }
}

impl From<&crate::auth::Actor> for Acting {
    fn from(actor: &crate::auth::Actor) -> Self {
        Acting {
            subject: actor.subject.clone(),
            account: actor.account,
            on_behalf_of: actor.on_behalf_of().map(|p| p.as_uuid()),
            ip: actor.ip.clone(),
        }
    }
}

pub fn facts(app: &Application, participant: Option<ParticipantRole>) -> ApplicationFacts {
    ApplicationFacts {
        owner: app.owner,
        service_code: app.service_code.clone(),
        agency_code: app.agency_code.clone(),
        status: app.status,
        participant,
    }
}

/// The caller's (or principal's) role on the application when they joined it; the owner
/// and officers need no lookup.
fn participation(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
) -> Result<Option<ParticipantRole>, ApiError> {
    let principal = acting.principal();
    if principal == app.owner || acting.subject.agency.is_some() {
        return Ok(None);
    }
    Ok(joint::role_of(tx, app.id, principal)?)
}

/// The application alone, when the caller may take `action` on it (reads need no service:
/// loading and parsing its form schema would be most of a read's cost).
pub fn visible(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
) -> Result<Application, ApiError> {
    let app = applications::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    let participant = participation(tx, acting, &app)?;
    authorize(
        &acting.subject,
        action,
        &Resource::Application(facts(&app, participant)),
        now(),
    )?;
    Ok(app)
}

/// Loads an application the caller may take `action` on; 404 when it may not even see it.
pub fn load(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
) -> Result<(Application, Service), ApiError> {
    let app = visible(tx, acting, id, action)?;
    let service = catalog::find(tx, &app.service_code)?
        .ok_or_else(|| ApiError::internal(format!("application {id} names a missing service")))?;
    Ok((app, service))
}

/// A refused event: bad input is 422, the wrong state is 409 with the allowed next steps.
pub fn refused(refusal: Refusal, status: Status) -> ApiError {
    let allowed: Vec<&str> = refusal.allowed.iter().map(|e| e.as_str()).collect();
    match refusal.code {
        "comment_required" | "due_date_in_past" | "same_agency" => {
            ApiError::field("body", refusal.code, refusal.message)
        }
        code => ApiError::conflict(code, refusal.message)
            .with_context(json!({ "status": status.as_str(), "allowed": allowed })),
    }
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
pub fn audience(tx: &mut DbConnection, app: &Application) -> Result<Vec<AccountId>, ApiError> {
    crate::joint::members(tx, app)
}

/// Extra checks some events need beyond the state machine (schema at submission, the
/// required documents and signatures, a joint application's signed content, a real
/// target agency).
pub fn precheck(
    tx: &mut DbConnection,
    forms: &FormValidators,
    app: &Application,
    service: &Service,
    event: &Event,
) -> Result<(), ApiError> {
    match event {
        Event::Submit => {
            let errors = forms.problems(service, &app.form_data);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            required_documents(tx, app, service)?;
            required_signatures(tx, app)
        }
        // An answer sends the content back to the agency: signed by everyone again if it
        // changed while the agency asked.
        Event::Respond { .. } => required_signatures(tx, app),
        Event::Edit { form_data } => {
            unasked_change(tx, app)?;
            let errors = forms.problems(service, form_data);
            if errors.is_empty() {
                Ok(())
            } else {
                Err(ApiError::validation(errors))
            }
        }
        Event::Forward { to_agency, .. } => {
            if catalog::agency_exists(tx, to_agency)? {
                Ok(())
            } else {
                Err(ApiError::field(
                    "agency_code",
                    "unknown_agency",
                    "No such agency.",
                ))
            }
        }
        _ => Ok(()),
    }
}

/// The one place where submission checks the service's required documents: every
/// required type must be among the application's current attachments.
fn required_documents(tx: &mut DbConnection, app: &Application, service: &Service) -> Result<(), ApiError> {
    let attached: Vec<String> = persistence::documents::attachments_of(tx, app.id, false)?
        .into_iter()
        .map(|a| a.doc_type)
        .collect();
    let missing = domain::document::missing_documents(&service.required_documents, &attached);
    if missing.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict(
        "required_documents_missing",
        format!("Attach the required documents first: {}.", missing.join(", ")),
    )
    .with_context(json!({ "missing_documents": missing })))
}

/// The hash a signature covers: the form and the current attachments' hashes.
pub fn content_hash(tx: &mut DbConnection, app: &Application) -> Result<String, ApiError> {
    let attachments: Vec<String> = persistence::documents::attachments_of(tx, app.id, false)?
        .into_iter()
        .map(|a| a.sha256)
        .collect();
    Ok(domain::joint::content_hash(&app.form_data, &attachments))
}

/// Refuses a change of a joint application's content that the agency did not ask for
/// (see `domain::joint::may_change_unasked`).
pub fn unasked_change(tx: &mut DbConnection, app: &Application) -> Result<(), ApiError> {
    let joint = !domain::joint::required_signers(app.owner, &roles(tx, app)?).is_empty();
    if domain::joint::may_change_unasked(app.status, joint) {
        return Ok(());
    }
    Err(ApiError::conflict(
        "signed_content_locked",
        "Every co-applicant signed what the agency received: it changes only when the agency asks for information.",
    )
    .with_context(json!({ "status": app.status.as_str() })))
}

/// The participants of `app` with their roles (the owner is not among them).
fn roles(tx: &mut DbConnection, app: &Application) -> Result<Vec<(AccountId, ParticipantRole)>, ApiError> {
    Ok(joint::participants_of(tx, app.id)?
        .into_iter()
        .map(|p| (p.account, p.role))
        .collect())
}

/// Who must sign before submission and has not signed the current content.
pub fn unsigned(
    tx: &mut DbConnection,
    app: &Application,
) -> Result<Vec<(AccountId, ParticipantRole)>, ApiError> {
    let participants = roles(tx, app)?;
    let required = domain::joint::required_signers(app.owner, &participants);
    if required.is_empty() {
        return Ok(vec![]);
    }
    let hash = content_hash(tx, app)?;
    let signed: Vec<AccountId> = joint::signatures_of(tx, app.id)?
        .into_iter()
        .filter(|s| s.content_hash == hash)
        .map(|s| s.account)
        .collect();
    let role_of = |account: AccountId| {
        participants
            .iter()
            .find(|(a, _)| *a == account)
            .map_or(ParticipantRole::Owner, |(_, role)| *role)
    };
    Ok(domain::joint::missing_signatures(&required, &signed)
        .into_iter()
        .map(|account| (account, role_of(account)))
        .collect())
}

/// With co-applicants, everyone who must sign has signed the current version.
fn required_signatures(tx: &mut DbConnection, app: &Application) -> Result<(), ApiError> {
    let missing = unsigned(tx, app)?;
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<serde_json::Value> = missing
        .iter()
        .map(|(account, role)| json!({ "account_id": account, "role": role.as_str() }))
        .collect();
    Err(ApiError::conflict(
        "signatures_missing",
        format!(
            "{} participant(s) still have to sign the current version.",
            missing.len()
        ),
    )
    .with_context(json!({ "missing_signers": listed })))
}

/// Fires `event` on application `id` as `party`, based on `version`.
#[allow(clippy::too_many_arguments)]
pub fn fire(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    id: ApplicationId,
    version: i64,
    action: Action,
    party: Party,
    event: Event,
) -> Result<(Application, Service), ApiError> {
    let (app, service) = load(tx, acting, id, action)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    precheck(tx, forms, &app, &service, &event)?;
    let at = now();
    let mut step = app
        .apply(event, party, &service.policy, at)
        .map_err(|r| refused(r, app.status))?;
    if step.event == EventKind::Submit && step.application.number.is_none() {
        step.application.number = Some(applications::next_number(tx, at)?);
    }
    store_step(tx, &step, &service, Some(acting), version, at)?;
    Ok((step.application, service))
}

/// Writes a step: the row (if still at `version`), history, audit and the notice.
pub fn store_step(
    tx: &mut DbConnection,
    step: &Step,
    service: &Service,
    acting: Option<&Acting>,
    version: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let app = &step.application;
    if !applications::update(tx, app, version, &service.name_ru)? {
        return Err(stale(version + 1));
    }
    let (actor, principal, ip) = match acting {
        Some(a) => (Some(a.account), a.on_behalf_of, a.ip.clone()),
        None => (None, None, None),
    };
    applications::append_history(tx, &NewHistory::step(app, step).by(actor, principal), at)?;
    // What the applicant sent is what the agency reviews: attachments freeze as the
    // application leaves the draft (and again when an answer brings new papers).
    if step.to != Status::Draft {
        persistence::documents::freeze(tx, app.id, at)?;
    }
    let entry = AuditEntry::new(format!("application.{}", step.event.as_str()), "application")
        .by(actor)
        .on_behalf_of(principal)
        .target(app.id)
        .details(json!({ "from": step.from.as_str(), "to": step.to.as_str(), "agency": app.agency_code }))
        .from_ip(ip);
    persistence::audit::record(tx, entry, at)?;
    let hearing = audience(tx, app)?;
    persistence::events::publish(
        tx,
        &NewEvent {
            application: app.id,
            kind: format!("application.{}", step.event.as_str()),
            data: json!({"status": app.status.as_str(), "version": app.version, "actor": actor}),
            audience: hearing,
        },
        at,
    )?;
    let notice = status_notice(app, step);
    persistence::notifications::notify(tx, &notice, at)?;
    // Everyone who takes part hears of the new status too.
    for participant in joint::participants_of(tx, app.id)? {
        let copy = Notice {
            recipient: participant.account,
            ..notice.clone()
        };
        persistence::notifications::notify(tx, &copy, at)?;
    }
    Ok(())
}

/// Saves a draft's form in place (not a transition): returns the schema warnings.
pub fn save_draft(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    id: ApplicationId,
    version: i64,
    form_data: serde_json::Value,
) -> Result<(Application, Vec<FieldProblem>), ApiError> {
    let (app, service) = load(tx, acting, id, Action::ApplicationsEdit)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    let at = now();
    let saved = app
        .save_draft(form_data, at)
        .map_err(|r| refused(r, app.status))?;
    if !applications::update(tx, &saved, version, &service.name_ru)? {
        return Err(stale(version + 1));
    }
    let entry = AuditEntry::new("application.save_draft", "application")
        .by(Some(acting.account))
        .on_behalf_of(acting.on_behalf_of)
        .target(saved.id)
        .from_ip(acting.ip.clone());
    persistence::audit::record(tx, entry, at)?;
    let hearing = audience(tx, &saved)?;
    persistence::events::publish(
        tx,
        &NewEvent {
            application: saved.id,
            kind: "application.save_draft".into(),
            data: json!({"status": saved.status.as_str(), "version": saved.version, "actor": acting.account}),
            audience: hearing,
        },
        at,
    )?;
    let warnings = forms.problems(&service, &saved.form_data);
    Ok((saved, warnings))
}

/// Starts a draft for the caller (or, acting on behalf, for the principal): authorizes,
/// stores it with its first history entry and the audit record.
pub fn start_draft(
    tx: &mut DbConnection,
    acting: &Acting,
    service: &Service,
    form: serde_json::Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Application, ApiError> {
    let owner = acting
        .on_behalf_of
        .map(AccountId::from_uuid)
        .unwrap_or(acting.account);
    let draft = Application::new_draft(
        ApplicationId::new(),
        owner,
        service.code.clone(),
        service.agency_code.clone(),
        form,
        at,
    );
    authorize(
        &acting.subject,
        Action::ApplicationsCreate,
        &Resource::Application(facts(&draft, None)),
        at,
    )?;
    applications::insert(tx, &draft, &service.name_ru)?;
    applications::append_history(
        tx,
        &NewHistory::created(&draft).by(Some(acting.account), acting.on_behalf_of),
        at,
    )?;
    let entry = AuditEntry::new("application.create", "application")
        .by(Some(acting.account))
        .on_behalf_of(acting.on_behalf_of)
        .target(draft.id)
        .details(json!({ "service": service.code }))
        .from_ip(acting.ip.clone());
    persistence::audit::record(tx, entry, at)?;
    let hearing = audience(tx, &draft)?;
    persistence::events::publish(
        tx,
        &NewEvent {
            application: draft.id,
            kind: "application.create".into(),
            data: json!({"status": draft.status.as_str(), "version": draft.version, "actor": acting.account}),
            audience: hearing,
        },
        at,
    )?;
    Ok(draft)
}

/// A representative's new application beyond the daily limit for a principal is not
/// created: it becomes a confirmation request the principal approves (SPEC §2).
pub fn hold_over_daily_limit(
    tx: &mut DbConnection,
    acting: &Acting,
    service: &Service,
    form: &serde_json::Value,
    limit: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<crate::routes::confirmations::ConfirmationView>, ApiError> {
    let Some(principal) = acting.on_behalf_of else {
        return Ok(None);
    };
    // An organisation's head acts for it by law, not under a delegation's daily limit.
    if acting.subject.on_behalf.as_ref().is_some_and(|o| o.head) {
        return Ok(None);
    }
    let principal = AccountId::from_uuid(principal);
    let facts = ApplicationFacts {
        owner: principal,
        service_code: service.code.clone(),
        agency_code: service.agency_code.clone(),
        status: Status::Draft,
        participant: None,
    };
    // Refusals stay refusals: only an allowed creation can be held.
    authorize(
        &acting.subject,
        Action::ApplicationsCreate,
        &Resource::Application(facts),
        at,
    )?;
    let day_start = at
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(at);
    let today = applications::created_on_behalf_since(tx, acting.account, principal.as_uuid(), day_start)?;
    if today < limit {
        return Ok(None);
    }
    let grant = acting
        .subject
        .covering_grant(Action::ApplicationsCreate, Some(&service.code), at)
        .ok_or_else(|| ApiError::internal("an authorized delegated action has no covering delegation"))?;
    let confirmation = persistence::delegations::Confirmation {
        id: uuid::Uuid::now_v7().to_string(),
        principal,
        representative: acting.account,
        delegation: grant.delegation,
        action: Action::ApplicationsCreate.as_str().into(),
        payload: json!({ "service_code": service.code, "form_data": form }),
        status: "pending".into(),
        result: None,
        created_at: at,
        decided_at: None,
    };
    persistence::delegations::insert_confirmation(tx, &confirmation)?;
    let entry = AuditEntry::new("confirmation.requested", "confirmation")
        .by(Some(acting.account))
        .on_behalf_of(Some(principal.as_uuid()))
        .target(&confirmation.id)
        .details(json!({ "action": confirmation.action, "service": service.code }))
        .from_ip(acting.ip.clone());
    persistence::audit::record(tx, entry, at)?;
    let notice = Notice {
        recipient: principal,
        kind: "confirmation.requested".into(),
        title: "Требуется ваше подтверждение".into(),
        body: format!(
            "Представитель просит подать от вашего имени ещё одно заявление ({}).",
            service.name_ru
        ),
        data: json!({ "confirmation_id": confirmation.id }),
        important: true,
    };
    persistence::notifications::notify(tx, &notice, at)?;
    Ok(Some(crate::routes::confirmations::ConfirmationView::of(
        &confirmation,
    )))
}
