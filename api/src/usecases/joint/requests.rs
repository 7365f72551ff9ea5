//! Requests between participants: one asks another for a signature or a document, by a
//! due date. Signing or attaching the document fulfils the request; the assignee is
//! reminded before the due date.

use domain::access::Action;
use domain::application::Application;
use domain::ids::{ApplicationId, RequestId};
use domain::joint::{self as rules, Ask, Request, RequestKind, RequestStatus};
use domain::time::Instant;
use persistence::joint as store;
use persistence::DbConnection;
use serde_json::json;

use super::{members, recorded, refused, title, Tidings};
use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::Outcome;

pub fn list(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<Vec<Request>, ApiError> {
    crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    Ok(store::requests_of(tx, id)?)
}

/// What the caller asks for, as sent.
pub struct AskInput {
    pub kind: RequestKind,
    pub assignee: domain::ids::AccountId,
    pub doc_type: Option<String>,
    pub due_at: Instant,
    pub message: Option<String>,
}

/// Asks a participant for a signature or a document; they get a notice.
pub fn create(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    input: AskInput,
    now: Instant,
) -> Result<Outcome<Request>, ApiError> {
    let ask = Ask::new(
        input.kind,
        input.assignee,
        input.doc_type,
        input.due_at,
        input.message,
        now,
    )
    .map_err(from_field_error)?;
    let app = crate::usecases::applications::visible(tx, acting, id, Action::RequestsCreate, now)?;
    let participants = store::participants_of(tx, id)?;
    ask.check_assignee(rules::role_on(app.owner, &participants, ask.assignee))
        .map_err(refused)?;
    let request = Request {
        id: RequestId::new(),
        application: id,
        kind: ask.kind,
        requested_by: acting.account,
        assignee: ask.assignee,
        doc_type: ask.doc_type,
        message: ask.message,
        due_at: ask.due_at,
        status: RequestStatus::Open,
        created_at: now,
        fulfilled_at: None,
    };
    store::insert_request(tx, &request)?;
    let details = json!({
        "request_id": request.id, "kind": request.kind.as_str(),
        "assignee_id": request.assignee,
    });
    let effects = recorded(
        acting,
        &app,
        "request",
        request.message.clone(),
        details,
        members(tx, &app)?,
    );
    let notice = asked(&app, &request).to(request.assignee);
    Ok(Outcome::new(request, effects.notice(notice)))
}

/// What the assignee is told of a new request.
fn asked(app: &Application, request: &Request) -> Tidings {
    let what = match request.kind {
        RequestKind::Signature => "подписать заявление".to_string(),
        RequestKind::Document => format!(
            "приложить документ «{}»",
            request.doc_type.as_deref().unwrap_or_default()
        ),
    };
    Tidings {
        kind: "application.request",
        title: format!("Заявление {}: просьба", title(app)),
        body: format!("Вас просят {what} до {}.", request.due_at.format("%d.%m.%Y")),
        data: json!({ "application_id": app.id, "request_id": request.id }),
    }
}

/// Marks `request` reminded and tells its assignee that it is due soon; nothing when it
/// was reminded already (another node's job got there first).
pub fn remind(tx: &mut DbConnection, request: &Request) -> Result<Outcome<bool>, ApiError> {
    if !store::mark_reminded(tx, request.id)? {
        return Ok(Outcome::quiet(false));
    }
    let tidings = Tidings {
        kind: "application.request_reminder",
        title: "Напоминание о просьбе по заявлению".into(),
        body: format!(
            "Срок просьбы истекает {}.",
            request.due_at.format("%d.%m.%Y %H:%M UTC")
        ),
        data: json!({ "application_id": request.application, "request_id": request.id }),
    };
    let effects = crate::usecases::Effects::none().notice(tidings.to(request.assignee));
    Ok(Outcome::new(true, effects))
}
