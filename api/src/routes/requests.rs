//! Requests between participants: one asks another for a signature or a document, by a
//! due date. Signing or attaching the document fulfils the request; the assignee is
//! reminded before the due date.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use domain::access::Action;
use domain::ids::{AccountId, ApplicationId, RequestId};
use domain::joint::{ParticipantRole, RequestKind};
use persistence::joint::{self as store, Request};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::clock::now;
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::joint::{self, Tidings};
use crate::lifecycle::{self, Acting};
use crate::state::State;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c70-0000-7000-8000-000000000005", "kind": "document", "doc_type": "income_certificate",
    "requested_by": "019a4c3e-0000-7000-8000-000000000001", "assignee_id": "019a4c3e-0000-7000-8000-000000000002",
    "message": "Приложи справку о доходах", "due_at": "2026-11-30T00:00:00Z", "status": "open",
    "created_at": "2026-11-23T10:40:00Z", "fulfilled_at": null
}))]
pub struct RequestView {
    #[schema(value_type = String, format = Uuid)]
    pub id: RequestId,
    /// `signature` or `document`.
    #[schema(value_type = String, example = "document")]
    pub kind: RequestKind,
    pub doc_type: Option<String>,
    #[schema(value_type = String, format = Uuid)]
    pub requested_by: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub assignee_id: AccountId,
    pub message: Option<String>,
    pub due_at: chrono::DateTime<chrono::Utc>,
    /// `open` or `fulfilled`.
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub fulfilled_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(r: &Request) -> RequestView {
    RequestView {
        id: r.id,
        kind: r.kind,
        doc_type: r.doc_type.clone(),
        requested_by: r.requested_by,
        assignee_id: r.assignee,
        message: r.message.clone(),
        due_at: r.due_at,
        status: r.status.clone(),
        created_at: r.created_at,
        fulfilled_at: r.fulfilled_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    pub items: Vec<RequestView>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "signature", "assignee_id": "019a4c3e-0000-7000-8000-000000000002", "due_at": "2026-11-30T00:00:00Z", "message": "Подпиши, пожалуйста"}))]
pub struct RequestBody {
    #[schema(value_type = String, example = "signature")]
    pub kind: RequestKind,
    #[schema(value_type = String, format = Uuid)]
    pub assignee_id: AccountId,
    /// For document requests: which paper (`income_certificate`…).
    pub doc_type: Option<String>,
    pub due_at: chrono::DateTime<chrono::Utc>,
    pub message: Option<String>,
}

/// The application's requests.
#[utoipa::path(
    tag = "joint",
    operation_id = "listRequests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Requests", body = RequestList))
)]
#[get("/applications/{id}/requests")]
pub async fn list(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
) -> Result<Json<RequestList>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let found = state
        .read(move |c| {
            lifecycle::visible(c, &acting, id, Action::ApplicationsRead)?;
            Ok(store::requests_of(c, id)?)
        })
        .await?;
    Ok(Json(RequestList {
        items: found.iter().map(view).collect(),
    }))
}

/// Ask a participant for a signature or a document.
#[utoipa::path(
    tag = "joint",
    operation_id = "createRequest",
    security(("bearer" = [])),
    request_body = RequestBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses((status = 201, description = "Asked", body = RequestView))
)]
#[post("/applications/{id}/requests")]
pub async fn create(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    body: Json<RequestBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, body, acting) = (id.into_inner(), body.into_inner(), Acting::from(&actor));
    if body.due_at <= now() {
        return Err(ApiError::field(
            "due_at",
            "due_date_in_past",
            "The due date must be in the future.",
        ));
    }
    let doc_type = match (body.kind, body.doc_type) {
        (RequestKind::Document, Some(t)) => {
            domain::document::check_doc_type(&t).map_err(from_field_error)?;
            Some(t)
        }
        (RequestKind::Document, None) => {
            return Err(ApiError::field(
                "doc_type",
                "required",
                "Say which document is asked for.",
            ))
        }
        (RequestKind::Signature, _) => None,
    };
    let message = body
        .message
        .map(|m| m.trim().chars().take(1000).collect::<String>())
        .filter(|m| !m.is_empty());
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                let app = lifecycle::visible(tx, &acting, id, Action::RequestsCreate)?;
                let role = if body.assignee_id == app.owner {
                    Some(ParticipantRole::Owner)
                } else {
                    store::role_of(tx, id, body.assignee_id)?
                };
                let Some(role) = role else {
                    return Err(ApiError::field(
                        "assignee_id",
                        "not_participant",
                        "Ask someone who takes part in the application.",
                    ));
                };
                if body.kind == RequestKind::Signature && !role.allows(Action::ApplicationsSign) {
                    return Err(ApiError::field(
                        "assignee_id",
                        "not_signer",
                        "This participant does not sign the application.",
                    ));
                }
                let at = now();
                let request = Request {
                    id: RequestId::new(),
                    application: id,
                    kind: body.kind,
                    requested_by: acting.account,
                    assignee: body.assignee_id,
                    doc_type,
                    message,
                    due_at: body.due_at,
                    status: "open".into(),
                    created_at: at,
                    fulfilled_at: None,
                };
                store::insert_request(tx, &request)?;
                let details = json!({
                    "request_id": request.id, "kind": request.kind.as_str(),
                    "assignee_id": request.assignee,
                });
                joint::record(tx, &acting, &app, "request", request.message.clone(), details, at)?;
                let what = match request.kind {
                    RequestKind::Signature => "подписать заявление".to_string(),
                    RequestKind::Document => format!(
                        "приложить документ «{}»",
                        request.doc_type.as_deref().unwrap_or_default()
                    ),
                };
                let tidings = Tidings {
                    kind: "application.request",
                    title: format!("Заявление {}: просьба", joint::title(&app)),
                    body: format!("Вас просят {what} до {}.", request.due_at.format("%d.%m.%Y")),
                    data: json!({ "application_id": app.id, "request_id": request.id }),
                };
                joint::tell(tx, request.assignee, &tidings, at)?;
                Answer::created(&view(&request))
            })
        })
        .await?;
    Ok(answer.respond())
}
