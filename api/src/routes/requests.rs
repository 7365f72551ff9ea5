//! Requests between participants: the HTTP side of `usecases::joint::requests`. One
//! asks another for a signature or a document, by a due date; signing or attaching the
//! document fulfils the request.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use domain::ids::{AccountId, ApplicationId, RequestId};
use domain::joint::{Request, RequestKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Caller};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::joint::requests::{self, AskInput};
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use domain::access::Action;

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
        status: r.status.as_str().into(),
        created_at: r.created_at,
        fulfilled_at: r.fulfilled_at,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"assignee_id": "019a4c3e-0000-7000-8000-000000000002", "created_at": "2026-11-23T10:40:00Z", "doc_type": "income_certificate", "due_at": "2026-11-30T00:00:00Z", "fulfilled_at": null, "id": "019a4c70-0000-7000-8000-000000000005", "kind": "document", "message": "Приложи справку о доходах", "requested_by": "019a4c3e-0000-7000-8000-000000000001", "status": "open"}]}))]
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
///
/// Caller: whoever may read the application. Changes nothing. Signature and document
/// requests between participants, with their status.
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
    caller: Caller,
    id: Path<ApplicationId>,
) -> Result<Json<RequestList>, ApiError> {
    let id = id.into_inner();
    let found = state
        .query_as(caller, move |c, actor, now| {
            requests::list(c, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(Json(RequestList {
        items: found.iter().map(view).collect(),
    }))
}

/// Ask a participant for a signature or a document.
///
/// Caller: the owner, a co-applicant or contributor, or a representative with
/// `requests.create`. Changes: an open request to a participant whose role can fulfil it;
/// they are told, and reminded as the due date nears.
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
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let RequestBody {
        kind,
        assignee_id,
        doc_type,
        due_at,
        message,
    } = body.into_inner();
    let input = AskInput {
        kind,
        assignee: assignee_id,
        doc_type,
        due_at,
        message,
    };
    let answer = state
        .run(move |tx, now| {
            let recheck = |tx: &mut _, _: &Answer| {
                replays::on_application(tx, &acting, id, Action::RequestsCreate, now)
            };
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (request, effects) = requests::create(tx, &acting, id, input, now)?.into_parts();
                Ok(Outcome::new(Answer::created(&view(&request))?, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}
