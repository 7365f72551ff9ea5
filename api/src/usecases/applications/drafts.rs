//! Drafts: starting one (from a service, or from a template filled from the profile),
//! saving its form in place, and the representative's daily limit that holds a new
//! application for the principal's confirmation instead.

use domain::access::{authorize, Action, ApplicationFacts, Resource};
use domain::application::{Application, Event, Status};
use domain::catalog::Service;
use domain::ids::{AccountId, ApplicationId, TemplateId};
use domain::notice::Notice;
use domain::time::Instant;
use persistence::applications::NewHistory;
use persistence::delegations::Confirmation;
use persistence::locks::Parent;
use persistence::{applications, catalog, DbConnection};
use serde_json::{json, Value};
use std::sync::Arc;

use super::load::{facts, load};
use super::refusals::refused;
use super::shown::Shown;
use super::transition::{fire, live_event, new_draft_event, Fire};
use crate::concurrency::stale;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::forms::FormValidators;
use crate::usecases::{templates, Acting, Effects, Outcome};

/// What a new application starts from: a service, a template, or both, and a form.
pub struct NewDraft {
    pub service_code: Option<String>,
    pub template_id: Option<TemplateId>,
    pub form_data: Option<Value>,
}

/// What starting a draft needs besides the database (cheap to clone: shared handles).
#[derive(Clone)]
pub struct Drafting {
    pub forms: Arc<FormValidators>,
    pub pii: Arc<PiiCipher>,
    /// How many applications a representative starts for one principal a day unasked.
    pub daily_limit: i64,
    /// Where that day starts and ends.
    pub zone: domain::time::Zone,
}

/// A draft with its schema warnings, or a request held for the principal's confirmation.
pub enum Started {
    Draft(Box<Shown>),
    Held(Confirmation),
}

/// Starts an application for the caller (or the principal they act for).
pub fn create(
    tx: &mut DbConnection,
    drafting: &Drafting,
    acting: &Acting,
    input: NewDraft,
    now: Instant,
) -> Result<Outcome<Started>, ApiError> {
    let template = input
        .template_id
        .map(|id| templates::usable(tx, acting, id, now))
        .transpose()?;
    let code = input
        .service_code
        .or_else(|| template.as_ref().map(|t| t.service_code.clone()))
        .ok_or_else(|| ApiError::field("service_code", "required", "Name the service."))?;
    let service = catalog::find(tx, &code)?
        .ok_or_else(|| ApiError::field("service_code", "unknown_service", "No such service."))?;
    let form = match (input.form_data, &template) {
        (Some(form), _) => form,
        (None, Some(t)) => templates::filled(tx, &drafting.pii, acting.principal(), t)?,
        (None, None) => json!({}),
    };
    let limit = (drafting.daily_limit, drafting.zone);
    if let Some(held) = hold_over_daily_limit(tx, acting, &service, &form, limit, now)? {
        return Ok(held.map(Started::Held));
    }
    let started = start_draft(tx, acting, &service, form, now)?;
    Ok(started.map(|draft| {
        let warnings = drafting.forms.problems(&service, &draft.form_data);
        Started::Draft(Box::new(Shown::new(draft, warnings, &service.policy, now)))
    }))
}

/// Starts a new application prefilled from application `id`: the way out of an expired
/// information request (the old one stays as it is, for the record). The new draft goes
/// through everything a new application does (authorization, the daily limit).
pub fn copy(
    tx: &mut DbConnection,
    drafting: &Drafting,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<Outcome<Started>, ApiError> {
    let source = super::load::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    if !domain::application::may_copy(source.status) {
        return Err(ApiError::conflict(
            "not_copyable",
            "Only an application whose information request expired is started again from a copy.",
        )
        .with_context(json!({ "status": source.status.as_str() })));
    }
    let input = NewDraft {
        service_code: Some(source.service_code),
        template_id: None,
        form_data: Some(source.form_data.into_value()),
    };
    create(tx, drafting, acting, input, now)
}

/// Starts a draft for the caller (or, acting on behalf, for the principal): authorizes,
/// stores it; its first history entry, audit record and live event are its effects.
pub fn start_draft(
    tx: &mut DbConnection,
    acting: &Acting,
    service: &Service,
    form: Value,
    at: Instant,
) -> Result<Outcome<Application>, ApiError> {
    let draft = Application::new_draft(
        ApplicationId::new(),
        acting.principal(),
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
    let entry = acting
        .audit("application.create", "application")
        .target(draft.id)
        .details(json!({ "service": service.code }));
    let effects = Effects::none()
        .history(NewHistory::created(&draft).by(Some(acting.account), acting.on_behalf_of))
        .audit(entry)
        .event(new_draft_event(&draft, acting));
    Ok(Outcome::new(draft, effects))
}

/// A new form for application `id`, read at `version`.
pub struct NewForm {
    pub id: ApplicationId,
    pub version: i64,
    pub form_data: Value,
}

/// Changes the form: a draft is saved in place (with its schema warnings); after
/// submission the change is an edit, which resubmits.
pub fn change_form(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    input: NewForm,
    now: Instant,
) -> Result<Outcome<Shown>, ApiError> {
    let current = applications::find(tx, input.id)?.ok_or_else(ApiError::not_found)?;
    if current.status == Status::Draft {
        return save_draft(tx, forms, acting, input, now);
    }
    let edit = Fire {
        id: input.id,
        version: input.version,
        event: Event::Edit {
            form_data: input.form_data,
        },
    };
    fire(tx, forms, acting, edit, now)
}

/// Saves a draft's form in place (not a transition): returns the schema warnings.
pub fn save_draft(
    tx: &mut DbConnection,
    forms: &FormValidators,
    acting: &Acting,
    input: NewForm,
    now: Instant,
) -> Result<Outcome<Shown>, ApiError> {
    let NewForm {
        id,
        version,
        form_data,
    } = input;
    let (app, service) = load(tx, acting, id, Action::ApplicationsEdit, now)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    let saved = app
        .save_draft(form_data, &service.policy, now)
        .map_err(|r| refused(r, app.status))?;
    if !applications::update(tx, &saved, version, &service.name_ru, None)? {
        return Err(stale(version + 1));
    }
    let entry = acting
        .audit("application.save_draft", "application")
        .target(saved.id);
    let effects =
        Effects::none()
            .audit(entry)
            .event(live_event(tx, &saved, "application.save_draft", acting)?);
    let warnings = forms.problems(&service, &saved.form_data);
    Ok(Outcome::new(
        Shown::new(saved, warnings, &service.policy, now),
        effects,
    ))
}

/// A representative's new application beyond the daily limit for a principal is not
/// created: it becomes a confirmation request the principal approves (SPEC §2).
pub fn hold_over_daily_limit(
    tx: &mut DbConnection,
    acting: &Acting,
    service: &Service,
    form: &Value,
    (limit, zone): (i64, domain::time::Zone),
    at: Instant,
) -> Result<Option<Outcome<Confirmation>>, ApiError> {
    let Some(principal) = acting.on_behalf_of.map(AccountId::from_uuid) else {
        return Ok(None);
    };
    // An organisation's head acts for it by law, not under a delegation's daily limit.
    if acting.subject.on_behalf.as_ref().is_some_and(|o| o.head) {
        return Ok(None);
    }
    let facts = ApplicationFacts {
        owner: principal,
        service_code: service.code.clone(),
        agency_code: service.agency_code.clone(),
        status: Status::Draft,
        received: false,
        participant: None,
        assignee: None,
        represents_owner: false,
    };
    // Refusals stay refusals: only an allowed creation can be held.
    authorize(
        &acting.subject,
        Action::ApplicationsCreate,
        &Resource::Application(facts),
        at,
    )?;
    // Count and create as one step: concurrent creations for this principal wait here
    // until the first commits, then count it (a count read beside them would let a burst
    // through under READ COMMITTED).
    persistence::locks::lock(tx, Parent::Account, &principal.to_string())?;
    let day_start = domain::time::day_start(at, zone);
    let today = applications::created_on_behalf_since(tx, acting.account, principal.as_uuid(), day_start)?;
    if today < limit {
        return Ok(None);
    }
    hold(tx, acting, principal, service, form, at).map(Some)
}

/// Stores the held creation; the principal is told, the audit log keeps the request.
fn hold(
    tx: &mut DbConnection,
    acting: &Acting,
    principal: AccountId,
    service: &Service,
    form: &Value,
    at: Instant,
) -> Result<Outcome<Confirmation>, ApiError> {
    let grant = acting
        .subject
        .covering_grant(Action::ApplicationsCreate, Some(&service.code), at)
        .ok_or_else(|| ApiError::internal("an authorized delegated action has no covering delegation"))?;
    let confirmation = Confirmation {
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
    let entry = acting
        .audit("confirmation.requested", "confirmation")
        .on_behalf_of(Some(principal.as_uuid()))
        .target(&confirmation.id)
        .details(json!({ "action": confirmation.action, "service": service.code }));
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
    Ok(Outcome::new(
        confirmation,
        Effects::none().audit(entry).notice(notice),
    ))
}
