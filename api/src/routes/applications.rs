//! Applications from the applicant's side: drafts, submission, edits, cancel and restore,
//! appeals and answers to information requests; the history; lists and their CSV export.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::application::{Event, Status};
use domain::ids::{ApplicationId, TemplateId};
use domain::time::Instant;
use persistence::applications::ListFilter;
use persistence::DbConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::firing::fire_event;
use super::paging::{self, Page};
use crate::auth::Caller;
use crate::concurrency::{IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::applications::{self as cases, Drafting, NewDraft, NewForm, Started};
use crate::usecases::replays;
use crate::usecases::{Acting, Outcome};
use crate::validation::MaybeJson;
use crate::views::applications::{respond, ApplicationSummary, ApplicationView};
use crate::views::confirmations::ConfirmationView;
use crate::views::csv_rows::CsvRows;

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"service_code": "passport-replacement", "form_data": {"reason": "age_45"}}))]
pub struct NewApplication {
    /// The service; may be left out when `template_id` names one.
    pub service_code: Option<String>,
    /// Start from a saved template (its placeholders filled from your profile).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub template_id: Option<TemplateId>,
    // A JSON object: anything else is refused (422) before the service's schema is consulted.
    #[schema(value_type = Option<Object>)]
    pub form_data: Option<Map<String, Value>>,
}

/// Start a draft application.
///
/// Caller: a citizen for themselves, or a representative with `applications.create` (for
/// the service) for the principal, who owns the draft. Changes: a new `draft`, optionally
/// from a saved template. A representative over the daily limit gets 202: the draft waits
/// for the principal's confirmation. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(
    tag = "applications",
    operation_id = "createApplication",
    security(("bearer" = [])),
    request_body = NewApplication,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "The draft", body = ApplicationView, headers(("ETag" = String), ("Location" = String)),
            links(
            ("get" = (operation_id = "getApplication", parameters(("id" = "$response.body#/id")))),
            ("history" = (operation_id = "applicationHistory", parameters(("id" = "$response.body#/id")))),
            ("edit" = (operation_id = "patchApplication", parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
            ("submit" = (operation_id = "submitApplication", parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
            ("cancel" = (operation_id = "cancelApplication", parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
            ("comment" = (operation_id = "addComment", parameters(("id" = "$response.body#/id"))))
            )),
        (status = 202, description = "A representative over the daily limit: held until the principal approves it", body = ConfirmationView),
        (status = 403, description = "Not allowed (on behalf, starting from the principal's template needs `profile.read`: `action_not_covered`; a staff account without a confirmed citizen identity of its own applies for nothing: `role_required`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[post("/applications")]
pub async fn create(
    state: State,
    caller: Caller,
    body: Json<NewApplication>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let key = Idempotency::of(&req, &caller, &body)?;
    let input = NewDraft {
        service_code: body.service_code,
        template_id: body.template_id,
        form_data: body.form_data.map(Value::Object),
    };
    start(&state, caller, key, move |tx, drafting, acting, now| {
        cases::create(tx, drafting, acting, input, now)
    })
    .await
}

/// What starting a draft needs, from the app's state.
fn drafting(state: &State) -> Drafting {
    Drafting {
        forms: state.forms.clone(),
        pii: state.pii.clone(),
        daily_limit: state.config.representative_daily_applications,
        zone: state.config.time_zone,
    }
}

/// Starts an application (a create or a copy) once per `Idempotency-Key`: a replay is a
/// created application like any other, so it is re-checked for the caller alike.
async fn start(
    state: &State,
    caller: Caller,
    key: Option<Idempotency>,
    begin: impl FnOnce(&mut DbConnection, &Drafting, &Acting, Instant) -> Result<Outcome<Started>, ApiError>
        + Send
        + 'static,
) -> Result<HttpResponse, ApiError> {
    let drafting = drafting(state);
    let answer = state
        .run_as(caller, move |tx, actor, now| {
            let acting = Acting::from(actor);
            let recheck = |tx: &mut _, first: &Answer| replays::application_created(tx, &acting, first, now);
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (started, effects) = begin(tx, &drafting, &acting, now)?.into_parts();
                Ok(Outcome::new(started_answer(started)?, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// A new draft is created (201); a held one is accepted for the principal's decision (202).
fn started_answer(started: Started) -> Result<Answer, ApiError> {
    match started {
        Started::Held(held) => Answer::accepted(&ConfirmationView::of(&held)),
        Started::Draft(shown) => {
            let view = ApplicationView::of(*shown);
            Ok(Answer::created(&view)?
                .version(view.version)
                .location(format!("/api/v1/applications/{}", view.id)))
        }
    }
}

/// Start again from an expired application.
///
/// Caller: the owner, or a representative with `applications.create` for the owner.
/// Changes: a new draft of the same service with the same form (not its attachments), for
/// the same owner; the old application stays `expired`. Send `Idempotency-Key` to make
/// retries safe.
#[utoipa::path(
    tag = "applications",
    operation_id = "copyApplication",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses(
        (status = 201, description = "The new draft, prefilled", body = ApplicationView, headers(("ETag" = String), ("Location" = String)),
            example = json!({"id": "0193a8f0-7777-7a2b-9c3d-4e5f6a7b8c9d", "number": null, "service_code": "passport-replacement", "agency_code": "mvd", "owner_id": "0193a8f0-0000-7000-8000-000000000001", "status": "draft", "status_label": "Черновик", "form_data": {"reason": "age_45"}, "version": 1, "created_at": "2026-12-10T09:00:00Z", "updated_at": "2026-12-10T09:00:00Z", "submitted_at": null, "decided_at": null, "info_request": null, "info_due_at": null, "rejection_reason": null, "result_note": null, "warnings": [], "next_steps": ["submit", "cancel"], "signed_content_hash": null, "route": [], "appeal_until": null, "restore_until": null})),
        (status = 202, description = "A representative over the daily limit: held until the principal approves it", body = ConfirmationView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "`not_copyable`: only an `expired` application is copied (context: `status`)", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:not_copyable", "title": "Conflict", "status": 409, "detail": "Only an application whose information request expired is started again from a copy.", "code": "not_copyable", "context": {"status": "in_review"}})),
    )
)]
#[post("/applications/{id}/copy")]
pub async fn copy(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let key = Idempotency::of(&req, &caller, &id.to_string())?;
    start(&state, caller, key, move |tx, drafting, acting, now| {
        cases::copy(tx, drafting, acting, id, now)
    })
    .await
}

/// One application.
///
/// Caller: the owner, a participant, a representative with `applications.read`, or an
/// officer of the agency handling it. Changes nothing. The `ETag` is what changes need in
/// `If-Match`.
#[utoipa::path(
    tag = "applications",
    operation_id = "getApplication",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The application", body = ApplicationView, headers(("ETag" = String))),
    )
)]
#[get("/applications/{id}")]
pub async fn get_one(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
) -> Result<HttpResponse, ApiError> {
    let (id, forms) = (id.into_inner(), state.forms.clone());
    let shown = state
        .query(move |c, now| cases::reads::one(c, &forms, &caller, id, now))
        .await?;
    Ok(respond(shown))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"form_data": {"reason": "name_change", "new_surname": "Петрова"}}))]
pub struct FormBody {
    // A JSON object: anything else is refused (422) before the service's schema is consulted.
    #[schema(value_type = Object)]
    pub form_data: Map<String, Value>,
}

/// Change the application's form.
///
/// Caller: the owner, a co-applicant or contributor, or a representative with
/// `applications.edit` (requires `If-Match`). Changes: a draft is saved in place (schema
/// problems come back as warnings); after submission, where the service allows, the change
/// resubmits it — except a joint one, whose co-applicants signed what the agency received
/// (409 `signed_content_locked`).
#[utoipa::path(
    tag = "applications",
    operation_id = "patchApplication",
    security(("bearer" = [])),
    request_body = FormBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Saved", body = ApplicationView, headers(("ETag" = String))),
        (status = 409, description = "`invalid_transition`, or `signed_content_locked` for a submitted joint application", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/applications/{id}")]
pub async fn patch_one(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<FormBody>,
) -> Result<HttpResponse, ApiError> {
    let forms = state.forms.clone();
    let input = NewForm {
        id: id.into_inner(),
        version: version.0,
        form_data: Value::Object(body.into_inner().form_data),
    };
    let shown = state
        .run_as(caller, move |tx, actor, now| {
            cases::change_form(tx, &forms, &Acting::from(actor), input, now)
        })
        .await?;
    Ok(respond(shown))
}

/// Submit the draft.
///
/// Caller: the owner, or a representative with `applications.submit`, with a `confirmed`
/// account (requires `If-Match`). Changes: `draft` → `submitted`, a number is assigned and
/// the agency's queue receives it; the form must satisfy the service's schema (422), the
/// required documents must be attached and, for a joint application, every co-applicant
/// must have signed (409).
#[utoipa::path(
    tag = "applications",
    operation_id = "submitApplication",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Submitted; the number is assigned", body = ApplicationView),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[post("/applications/{id}/submit")]
pub async fn submit(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    fire_event(state, caller, id.into_inner(), version, Event::Submit).await
}

#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"reason": "Подам позже"}))]
pub struct ReasonBody {
    pub reason: Option<String>,
}

/// Cancel an application.
///
/// Caller: the owner, or a representative with `applications.cancel` (requires `If-Match`).
/// Changes: a draft, a submitted application, or one in review where the service allows,
/// becomes `cancelled`; it can be restored within the restore window. Other states: 409
/// `invalid_transition`.
#[utoipa::path(
    tag = "applications",
    operation_id = "cancelApplication",
    security(("bearer" = [])),
    request_body(content = Option<ReasonBody>, example = json!({"reason": "Подам позже"})),
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Cancelled", body = ApplicationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/cancel")]
pub async fn cancel(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: MaybeJson<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().and_then(|b| b.reason);
    fire_event(state, caller, id.into_inner(), version, Event::Cancel { reason }).await
}

/// Restore a cancelled application.
///
/// Caller: the owner, or a representative with `applications.restore` (requires
/// `If-Match`). Changes: the application goes back to the state it was cancelled from,
/// within the restore window (409 after it).
#[utoipa::path(
    tag = "applications",
    operation_id = "restoreApplication",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Restored", body = ApplicationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/restore")]
pub async fn restore(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    fire_event(state, caller, id.into_inner(), version, Event::Restore).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"reason": "Все документы были приложены"}))]
pub struct RequiredReason {
    pub reason: String,
}

/// Appeal a rejection.
///
/// Caller: the owner, or a representative with `applications.appeal` (requires `If-Match`).
/// Changes: a `rejected` application goes back to the agency for review on appeal; allowed
/// once, within the appeal window (409 otherwise).
#[utoipa::path(
    tag = "applications",
    operation_id = "appealApplication",
    security(("bearer" = [])),
    request_body = RequiredReason,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Appealed", body = ApplicationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/applications/{id}/appeal")]
pub async fn appeal(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<RequiredReason>,
) -> Result<HttpResponse, ApiError> {
    let event = Event::Appeal {
        reason: body.into_inner().reason,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"answer": "Фото приложено"}))]
pub struct AnswerBody {
    pub answer: String,
}

/// Answer the agency's information request.
///
/// Caller: the owner, or a representative with `applications.respond` (requires
/// `If-Match`). Changes: `needs_info` → back in review with the answer. A joint application
/// whose content changed since everyone signed is 409 `signatures_missing` until they sign
/// again.
#[utoipa::path(
    tag = "applications",
    operation_id = "respondToApplication",
    security(("bearer" = [])),
    request_body = AnswerBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Answered; back in review", body = ApplicationView),
        (status = 409, description = "`invalid_transition`, or `signatures_missing` (with `missing_signers`) when a joint application's content changed since everyone signed", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/respond")]
pub async fn respond_to(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<AnswerBody>,
) -> Result<HttpResponse, ApiError> {
    let event = Event::Respond {
        answer: body.into_inner().answer,
    };
    fire_event(state, caller, id.into_inner(), version, event).await
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"seq": 2, "occurred_at": "2026-11-20T09:30:00Z", "actor_id": "0193a8f0-0000-7000-8000-000000000001", "on_behalf_of": null, "event": "submit", "from_status": "draft", "to_status": "submitted", "agency_code": "mvd", "comment": null}))]
pub struct HistoryView {
    pub seq: i32,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub actor_id: Option<domain::ids::AccountId>,
    /// The principal, when the actor acted on someone's behalf.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub on_behalf_of: Option<uuid::Uuid>,
    pub event: String,
    pub from_status: Option<String>,
    pub to_status: String,
    /// The agency handling it after the event: forwarding shows the route.
    pub agency_code: String,
    pub comment: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"actor_id": "0193a8f0-0000-7000-8000-000000000001", "agency_code": "mvd", "comment": null, "event": "submit", "from_status": "draft", "occurred_at": "2026-11-20T09:30:00Z", "on_behalf_of": null, "seq": 2, "to_status": "submitted"}]}))]
pub struct HistoryList {
    pub items: Vec<HistoryView>,
}

/// Every transition of an application.
///
/// Caller: whoever may read the application (owner, participant, representative with
/// `applications.read`, officer handling it). Changes nothing. Each entry says who, for
/// whom, when and why, oldest first.
#[utoipa::path(
    tag = "applications",
    operation_id = "applicationHistory",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Oldest first", body = HistoryList),
    )
)]
#[get("/applications/{id}/history")]
pub async fn history(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
) -> Result<Json<HistoryList>, ApiError> {
    let id = id.into_inner();
    let entries = state
        .query_as(caller, move |c, actor, now| {
            cases::reads::history(c, &Acting::from(actor), id, now)
        })
        .await?;
    let items = entries
        .into_iter()
        .map(|h| HistoryView {
            seq: h.seq,
            occurred_at: h.occurred_at,
            actor_id: h.actor,
            on_behalf_of: h.on_behalf_of,
            event: h.event,
            from_status: h.from.map(|s| s.as_str().into()),
            to_status: h.to.as_str().into(),
            agency_code: h.agency_code,
            comment: h.comment,
        })
        .collect();
    Ok(Json(HistoryList { items }))
}

#[derive(Deserialize, IntoParams, Clone)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(
        pattern = "^(draft|submitted|resubmitted|in_review|needs_info|approved|rejected|appealed|completed|cancelled|expired)$"
    )]
    pub status: Option<String>,
    pub service: Option<String>,
    /// Created on or after this date (`YYYY-MM-DD`) or instant (RFC 3339).
    #[param(schema_with = paging::date_or_instant)]
    pub from: Option<String>,
    /// Created before this date or instant.
    #[param(schema_with = paging::date_or_instant)]
    pub to: Option<String>,
    /// Free text over the number, the service's name and the form.
    pub q: Option<String>,
    /// `-created_at` (newest first, the default) or `created_at`.
    #[param(pattern = "^-?created_at$")]
    pub sort: Option<String>,
    /// `owner` (yours, the default) or `participant` (those you were invited to).
    #[serde(rename = "as")]
    #[param(rename = "as", pattern = "^(owner|participant)$")]
    pub role: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl ListQuery {
    fn filter(&self, limit: i64) -> Result<ListFilter, ApiError> {
        let status = self
            .status
            .as_deref()
            .map(|s| {
                Status::parse(s).ok_or_else(|| ApiError::field("status", "invalid_value", "Not a status."))
            })
            .transpose()?;
        let ascending = match self.sort.as_deref() {
            None | Some("-created_at") => false,
            Some("created_at") => true,
            Some(_) => {
                return Err(ApiError::field(
                    "sort",
                    "invalid_value",
                    "created_at or -created_at",
                ))
            }
        };
        let after = paging::after(self.cursor.as_deref())?;
        let shared = match self.role.as_deref() {
            None | Some("owner") => false,
            Some("participant") => true,
            Some(_) => return Err(ApiError::field("as", "invalid_value", "owner or participant")),
        };
        Ok(ListFilter {
            shared,
            status,
            service: self.service.clone(),
            services: None,
            from: self
                .from
                .as_deref()
                .map(|t| paging::instant("from", t))
                .transpose()?,
            to: self.to.as_deref().map(|t| paging::instant("to", t)).transpose()?,
            q: self.q.clone().filter(|q| !q.trim().is_empty()),
            ascending,
            after,
            limit,
        })
    }
}

/// Your applications, filtered, sorted and paginated by cursor.
///
/// Caller: a citizen (their own and those they take part in), or a representative with
/// `applications.read` (the principal's, within the services the powers cover). Changes
/// nothing.
#[utoipa::path(
    tag = "applications",
    operation_id = "listApplications",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = Page<ApplicationSummary>,
            example = json!({"items": [{"agency_code": "mvd", "created_at": "2026-11-20T09:00:00Z", "decided_at": null, "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "info_due_at": null, "number": "KB-2026-00000042", "owner_id": "0193a8f0-0000-7000-8000-000000000001", "service_code": "passport-replacement", "status": "in_review", "status_label": "В работе", "submitted_at": "2026-11-20T09:30:00Z", "updated_at": "2026-11-22T12:00:00Z", "version": 4}], "next_cursor": "MTc2Mzg5MjAwMDAwMDAwMHwwMTkzYTg"})),
    )
)]
#[get("/applications")]
pub async fn list(
    state: State,
    caller: Caller,
    query: Query<ListQuery>,
) -> Result<Json<Page<ApplicationSummary>>, ApiError> {
    let limit = paging::limit(query.limit)?;
    let filter = query.filter(limit + 1)?;
    let found = state
        .query_as(caller, move |c, actor, now| {
            cases::reads::list(c, &actor.subject, actor.principal(), filter, now)
        })
        .await?;
    let (found, next_cursor) = paging::page_of(found, limit, |a| paging::at(a.created_at, a.id));
    Ok(Json(Page {
        items: found.iter().map(ApplicationSummary::of).collect(),
        next_cursor,
    }))
}

const EXPORT_LIMIT: i64 = 10_000;

const EXPORT_HEADER: [&str; 9] = [
    "number",
    "id",
    "service_code",
    "status",
    "status_label",
    "agency_code",
    "created_at",
    "submitted_at",
    "updated_at",
];

fn rfc3339(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Your applications as CSV.
///
/// Caller: as for `listApplications`, with the same filters and rows. Changes nothing.
/// UTF-8 with a BOM so spreadsheets read the Cyrillic right; at most 10 000 rows, not
/// paged: `limit` is checked as the list checks it (1 to 100) and otherwise ignored.
#[utoipa::path(
    tag = "applications",
    operation_id = "exportApplications",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv", body = String,
            example = "\u{feff}number,id,service_code,status,status_label,agency_code,created_at,submitted_at,updated_at\r\n"),
    )
)]
#[get("/applications/export.csv")]
pub async fn export(state: State, caller: Caller, query: Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    // The list's parameters, so the list's answer to a bad one (a limit past 100 is 422).
    paging::limit(query.limit)?;
    let mut filter = query.filter(EXPORT_LIMIT)?;
    filter.after = None;
    let rows = state
        .query_as(caller, move |c, actor, now| {
            cases::reads::list(c, &actor.subject, actor.principal(), filter, now)
        })
        .await?;
    let mut csv = CsvRows::first(&EXPORT_HEADER)?;
    for a in rows {
        csv.row([
            a.number.clone().unwrap_or_default(),
            a.id.to_string(),
            a.service_code.clone(),
            a.status.as_str().to_string(),
            a.status.label().to_string(),
            a.agency_code.clone(),
            rfc3339(Some(a.created_at)),
            rfc3339(a.submitted_at),
            rfc3339(Some(a.updated_at)),
        ])?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"applications.csv\""))
        .body(csv.into_bytes()?))
}
