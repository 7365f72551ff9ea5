//! The service catalog: read by anyone (no login needed), managed by admins.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, put, HttpRequest, HttpResponse};
use domain::catalog::{Service, ServiceLevel};
use persistence::catalog::ServiceFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::paging::{self, Cursor, Page};
use crate::auth::{Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::replays;
use crate::usecases::{catalog as cases, Acting, Outcome};
use crate::views::catalog::ServiceBody;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    /// `federal`, `regional` or `municipal`.
    #[param(pattern = "^(federal|regional|municipal)$")]
    pub level: Option<String>,
    /// A region code: its regional and municipal services and every federal one.
    pub region: Option<String>,
    /// Free text over code and names.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Browse the catalog.
///
/// Caller: anyone, no token. Changes nothing. Filters by level, region and text; a page of
/// services ordered by code.
#[utoipa::path(
    tag = "catalog",
    operation_id = "listServices",
    params(ServiceQuery),
    responses(
        (status = 200, description = "Services by code", body = Page<ServiceBody>,
            example = json!({"items": [{"agency_code": "mvd", "allowed_file_types": ["pdf", "jpg", "png"], "appeal_window_days": 30, "cancellable_in_review": false, "co_applicants_allowed": false, "code": "passport-replacement", "description": "Замена паспорта по достижении 20 и 45 лет, при смене ФИО или порче.", "editable_after_submit": true, "fee_kopecks": 150000, "form_schema": {"properties": {"reason": {"enum": ["age_20", "age_45", "name_change"], "type": "string"}}, "required": ["reason"], "type": "object"}, "level": "federal", "max_file_bytes": 5242880, "name_en": "Replacement of the Russian internal passport", "name_ru": "Замена паспорта гражданина РФ", "processing_days": 10, "region": null, "required_documents": ["passport_scan", "photo"], "restore_window_days": 30, "version": 1}], "next_cursor": null})),
    )
)]
#[get("/services")]
pub async fn list_services(
    state: State,
    query: Query<ServiceQuery>,
) -> Result<Json<Page<ServiceBody>>, ApiError> {
    let query = query.into_inner();
    let level = query
        .level
        .as_deref()
        .map(|l| {
            ServiceLevel::parse(l)
                .ok_or_else(|| ApiError::field("level", "invalid_value", "federal, regional or municipal"))
        })
        .transpose()?;
    let limit = paging::limit(query.limit)?;
    let after = query
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()?
        .map(|c| c.id);
    let filter = ServiceFilter {
        level,
        region: query.region,
        q: query.q,
        after,
        limit: limit + 1,
    };
    let found = state.query(move |c, _| cases::list(c, &filter)).await?;
    let (found, next_cursor) = paging::page_of(found, limit, |s| {
        Some(Cursor {
            at: None,
            id: s.code.clone(),
        })
    });
    Ok(Json(Page {
        items: found.iter().map(ServiceBody::from).collect(),
        next_cursor,
    }))
}

/// One service, with its form schema.
///
/// Caller: anyone, no token. Changes nothing. The `ETag` is what `replaceService` needs in
/// `If-Match`.
#[utoipa::path(
    tag = "catalog",
    operation_id = "getService",
    params(("code" = String, Path, description = "Service code")),
    responses(
        (status = 200, description = "The service", body = ServiceBody, headers(("ETag" = String))),
    )
)]
#[get("/services/{code}")]
pub async fn get_service(state: State, code: Path<String>) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let service = state.query(move |c, _| cases::one(c, &code)).await?;
    Ok(respond(&service))
}

/// The service with its version as the `ETag`.
fn respond(service: &Service) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("ETag", etag(service.version)))
        .json(ServiceBody::from(service))
}

/// Add a service.
///
/// Caller: an admin (anyone else: 403 `role_required`). Changes: a new service in the
/// catalog, of an agency the catalog knows; audited. 409 when the code is taken.
#[utoipa::path(
    tag = "catalog",
    operation_id = "createService",
    security(("bearer" = [])),
    request_body = ServiceBody,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Created", body = ServiceBody, headers(("ETag" = String))),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/services")]
pub async fn create_service(
    state: State,
    actor: Actor,
    body: Json<ServiceBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (acting, body) = (Acting::from(&actor), body.into_inner());
    let answer = state
        .run(move |tx, now| {
            // Only admins learn what is wrong with a service they send.
            cases::may_manage(&acting, now)?;
            let service = body.into_service()?;
            idempotency::once(tx, key.as_ref(), now, replays::checked_before, |tx| {
                let (created, effects) = cases::create(tx, &acting, service, now)?.into_parts();
                let answer = Answer::created(&ServiceBody::from(&created))?.version(created.version);
                Ok(Outcome::new(answer, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Replace a service.
///
/// Caller: an admin (requires `If-Match`). Changes: the service's definition, its form
/// schema included; audited.
#[utoipa::path(
    tag = "catalog",
    operation_id = "replaceService",
    security(("bearer" = [])),
    request_body = ServiceBody,
    params(
        ("code" = String, Path, description = "Service code"),
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "Replaced", body = ServiceBody, headers(("ETag" = String))),
    )
)]
#[put("/services/{code}")]
pub async fn replace_service(
    state: State,
    caller: Caller,
    code: Path<String>,
    version: IfMatch,
    body: Json<ServiceBody>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    body.code = code.into_inner();
    let replaced = state
        .run_as(caller, move |tx, actor, now| {
            cases::may_manage(&Acting::from(actor), now)?;
            let service = body.into_service()?;
            cases::replace(tx, &Acting::from(actor), service, version.0, now)
        })
        .await?;
    Ok(respond(&replaced))
}
