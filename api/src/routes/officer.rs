//! The officer's side: the agency's queue and the decisions on its applications.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, HttpResponse};
use chrono::{DateTime, Utc};
use domain::application::Event;
use domain::ids::ApplicationId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::firing::fire_event;
use super::paging::{self, Page};
use crate::auth::Caller;
use crate::concurrency::{IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::applications as cases;
use crate::validation::MaybeJson;
use crate::views::applications::{ApplicationSummary, ApplicationView};

#[derive(Serialize, ToSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub application: ApplicationSummary,
    /// Past the service's normative processing time.
    pub overdue: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Your agency's open applications.
///
/// Caller: an officer (403 `role_required` otherwise); only their own agency's queue.
/// Changes nothing. Oldest submission first, applications past the service's processing
/// time flagged `overdue`.
#[utoipa::path(
    tag = "officer",
    operation_id = "agencyQueue",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "A page of the queue", body = Page<QueueItem>,
            example = json!({"items": [{"agency_code": "mvd", "created_at": "2026-11-20T09:00:00Z", "decided_at": null, "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "info_due_at": null, "number": "KB-2026-00000042", "owner_id": "0193a8f0-0000-7000-8000-000000000001", "service_code": "passport-replacement", "status": "in_review", "status_label": "В работе", "submitted_at": "2026-11-20T09:30:00Z", "updated_at": "2026-11-22T12:00:00Z", "version": 4, "overdue": false}], "next_cursor": null})),
    )
)]
#[get("/agency/queue")]
pub async fn queue(
    state: State,
    caller: Caller,
    query: Query<QueueQuery>,
) -> Result<Json<Page<QueueItem>>, ApiError> {
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.cursor.as_deref())?;
    let queued = state
        .query_as(caller, move |c, actor, now| {
            cases::reads::queue(c, &actor.subject, after, limit + 1, now)
        })
        .await?;
    let items: Vec<QueueItem> = queued
        .iter()
        .map(|q| QueueItem {
            overdue: q.overdue,
            application: ApplicationSummary::of(&q.application),
        })
        .collect();
    let (items, next_cursor) = paging::page_of(items, limit, |i| {
        paging::at(i.application.submitted_at?, i.application.id)
    });
    Ok(Json(Page { items, next_cursor }))
}

/// Take an application into work.
///
/// Caller: an officer of the agency handling it, not on their own case (403
/// `conflict_of_interest`). Changes: `submitted` → `in_review`, assigned to the caller;
/// from then on only they or a supervisor act on it. A joint application is taken only with
/// every fixed signer's signature on the content (409 `signatures_missing`).
#[utoipa::path(
    tag = "officer",
    operation_id = "takeApplication",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "In review", body = ApplicationView),
        (status = 403, description = "`conflict_of_interest`: the application is your own, you take part in it, or you hold (or held) the owner's powers; `wrong_agency` outside your agency", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, or `signatures_missing` (with `missing_signers`): a joint application is taken only with the content every signer fixed at submission signed", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/take")]
pub async fn take(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    fire_event(state, caller, id.into_inner(), version, Event::Take).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"question": "Приложите фотографию 35×45 мм", "due_at": "2026-12-01T21:00:00Z"}))]
pub struct InfoRequest {
    pub question: String,
    /// When the answer is due: at least `KABINET_MIN_RESPONSE_DAYS` (3) days from now;
    /// past it the application is `expired` at once (whether or not a job has run).
    pub due_at: DateTime<Utc>,
}

/// Ask the applicant for information, with a due date.
///
/// Caller: the assignee, or a supervisor of the agency (requires `If-Match`). Changes:
/// `in_review` → `needs_info` with the comment and due date; the applicant is told. The due
/// date must be at least the minimum number of days away (422).
#[utoipa::path(
    tag = "officer",
    operation_id = "requestInformation",
    security(("bearer" = [])),
    request_body = InfoRequest,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Waiting for the applicant", body = ApplicationView),
        (status = 403, description = "`not_assignee`: another officer took it (only the assignee or a supervisor of the agency acts on it); `conflict_of_interest`: it is your own, you take part in it, or you hold (or held) the owner's powers", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, description = "`comment_required`, `due_date_in_past`, or `due_date_too_soon` (closer than `KABINET_MIN_RESPONSE_DAYS` days)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/request-info")]
pub async fn request_info(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<InfoRequest>,
) -> Result<HttpResponse, ApiError> {
    let InfoRequest { question, due_at } = body.into_inner();
    let min_days = state.config.min_response_days;
    let event = Event::RequestInfo {
        question,
        due_at,
        min_days,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"due_at": "2026-12-15T21:00:00Z", "comment": "Заявитель просил больше времени"}))]
pub struct Extension {
    /// The new due date: at least `KABINET_MIN_RESPONSE_DAYS` days from now.
    pub due_at: DateTime<Utc>,
    /// Why, for the history.
    pub comment: Option<String>,
}

/// Give the applicant more time to answer.
///
/// Caller: the assignee, or a supervisor of the agency (requires `If-Match`). Changes: a
/// new due date for the information request, also after it expired (the application goes
/// back from `expired` to `needs_info`); the applicant is told.
#[utoipa::path(
    tag = "officer",
    operation_id = "extendInformationRequest",
    security(("bearer" = [])),
    request_body = Extension,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Waiting for the applicant until the new due date", body = ApplicationView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "`invalid_transition`: only a `needs_info` or `expired` application is extended (context: `status`, `allowed`)", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:invalid_transition", "title": "Conflict", "status": 409, "detail": "Cannot extend an application that is in_review.", "code": "invalid_transition", "context": {"status": "in_review", "allowed": ["request_info", "approve", "reject", "forward"]}})),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 422, description = "`due_date_in_past`, or `due_date_too_soon` (closer than `KABINET_MIN_RESPONSE_DAYS` days)", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:validation_failed", "title": "Unprocessable Content", "status": 422, "detail": "Some fields are invalid.", "code": "validation_failed", "errors": [{"field": "due_at", "code": "due_date_too_soon", "message": "Give the applicant at least 3 days to answer."}]})),
        (status = 428, response = crate::openapi::PreconditionRequired),
    )
)]
#[post("/applications/{id}/extend")]
pub async fn extend(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<Extension>,
) -> Result<HttpResponse, ApiError> {
    let Extension { due_at, comment } = body.into_inner();
    let min_days = state.config.min_response_days;
    let event = Event::Extend {
        due_at,
        min_days,
        comment,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"comment": "Документы в порядке"}))]
pub struct DecisionNote {
    pub comment: Option<String>,
}

/// Approve an application.
///
/// Caller: the assignee, or a supervisor of the agency (requires `If-Match`); never on
/// one's own case. Changes: `in_review` (or an appeal) → `approved`; the applicant is told.
/// Then `completeApplication` records the result.
#[utoipa::path(
    tag = "officer",
    operation_id = "approveApplication",
    security(("bearer" = [])),
    request_body(content = Option<DecisionNote>, example = json!({"comment": "Документы в порядке"})),
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Approved", body = ApplicationView),
        (status = 403, description = "`not_assignee`: another officer took it (only the assignee or a supervisor of the agency acts on it); `conflict_of_interest`: it is your own, you take part in it, or you hold (or held) the owner's powers", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/approve")]
pub async fn approve(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: MaybeJson<DecisionNote>,
) -> Result<HttpResponse, ApiError> {
    let comment = body.into_inner().and_then(|b| b.comment);
    fire_event(
        state,
        caller,
        id.into_inner(),
        version,
        Event::Approve { comment },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"reason": "Не приложена квитанция об оплате госпошлины"}))]
pub struct RejectBody {
    pub reason: String,
}

/// Reject an application, with a reason.
///
/// Caller: the assignee, or a supervisor of the agency (requires `If-Match`); never on
/// one's own case. Changes: → `rejected` with the reason; the applicant may appeal once
/// within the window. A rejection on appeal is final.
#[utoipa::path(
    tag = "officer",
    operation_id = "rejectApplication",
    security(("bearer" = [])),
    request_body = RejectBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Rejected", body = ApplicationView),
        (status = 403, description = "`not_assignee`: another officer took it (only the assignee or a supervisor of the agency acts on it); `conflict_of_interest`: it is your own, you take part in it, or you hold (or held) the owner's powers", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/reject")]
pub async fn reject(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<RejectBody>,
) -> Result<HttpResponse, ApiError> {
    let event = Event::Reject {
        reason: body.into_inner().reason,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"result": "Паспорт готов к выдаче в отделении МВД на ул. Ленина, 5"}))]
pub struct CompleteBody {
    pub result: String,
}

/// Complete an approved application with its result.
///
/// Caller: the assignee, or a supervisor of the agency (requires `If-Match`). Changes:
/// `approved` → `completed` with the result note; the applicant is told.
#[utoipa::path(
    tag = "officer",
    operation_id = "completeApplication",
    security(("bearer" = [])),
    request_body = CompleteBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Completed", body = ApplicationView),
        (status = 403, description = "`not_assignee`: another officer took it (only the assignee or a supervisor of the agency acts on it); `conflict_of_interest`: it is your own, you take part in it, or you hold (or held) the owner's powers", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/complete")]
pub async fn complete(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<CompleteBody>,
) -> Result<HttpResponse, ApiError> {
    let event = Event::Complete {
        result: body.into_inner().result,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"agency_code": "fns", "comment": "По подведомственности"}))]
pub struct ForwardBody {
    pub agency_code: String,
    pub comment: Option<String>,
}

/// Forward an application to another agency.
///
/// Caller: the assignee or a supervisor; one nobody has taken yet, any officer of the
/// agency (triage). Requires `If-Match`. Changes: the application goes back to `submitted`
/// in the other agency's queue; the history keeps the route. An agency the catalog does not
/// know is 422.
#[utoipa::path(
    tag = "officer",
    operation_id = "forwardApplication",
    security(("bearer" = [])),
    request_body = ForwardBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Forwarded (back to submitted, in the other agency's queue)", body = ApplicationView),
        (status = 403, description = "`not_assignee`: another officer took it (only the assignee or a supervisor of the agency acts on it); `conflict_of_interest`: it is your own, you take part in it, or you hold (or held) the owner's powers", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/forward")]
pub async fn forward(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<ForwardBody>,
) -> Result<HttpResponse, ApiError> {
    let ForwardBody { agency_code, comment } = body.into_inner();
    let event = Event::Forward {
        to_agency: agency_code,
        comment,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}
