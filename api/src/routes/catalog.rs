//! The service catalog: read by anyone (no login needed), managed by admins.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, put, HttpRequest, HttpResponse};
use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::catalog::{check_code, Service, ServiceLevel, ServicePolicy};
use persistence::catalog::{self, ServiceFilter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Cursor, Page};
use crate::auth::Actor;
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;

/// A service as the catalog shows it (and as admins write it).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "code": "passport-replacement", "name_ru": "Замена паспорта гражданина РФ",
    "name_en": "Replacement of the Russian internal passport",
    "description": "Замена паспорта по достижении 20 и 45 лет, при смене ФИО или порче.",
    "level": "federal", "region": null, "agency_code": "mvd",
    "form_schema": {"type": "object", "properties": {"reason": {"type": "string", "enum": ["age_20", "age_45", "name_change"]}}, "required": ["reason"]},
    "required_documents": ["passport_scan", "photo"], "allowed_file_types": ["pdf", "jpg", "png"],
    "max_file_bytes": 5242880, "processing_days": 10, "editable_after_submit": true,
    "cancellable_in_review": false, "co_applicants_allowed": false, "appeal_window_days": 30,
    "restore_window_days": 30, "fee_kopecks": 150000, "version": 1
}))]
pub struct ServiceBody {
    pub code: String,
    pub name_ru: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    /// `federal`, `regional` or `municipal`.
    pub level: String,
    pub region: Option<String>,
    pub agency_code: String,
    /// JSON Schema (2020-12) of the application form.
    #[schema(value_type = Object)]
    pub form_schema: Value,
    #[serde(default)]
    pub required_documents: Vec<String>,
    #[serde(default)]
    pub allowed_file_types: Vec<String>,
    pub max_file_bytes: i64,
    pub processing_days: i64,
    pub editable_after_submit: bool,
    pub cancellable_in_review: bool,
    pub co_applicants_allowed: bool,
    pub appeal_window_days: i64,
    pub restore_window_days: i64,
    /// The fee in kopecks.
    pub fee_kopecks: i64,
    /// Read-only: the version for `If-Match`.
    #[serde(default)]
    pub version: i64,
}

impl From<&Service> for ServiceBody {
    fn from(s: &Service) -> Self {
        ServiceBody {
            code: s.code.clone(),
            name_ru: s.name_ru.clone(),
            name_en: s.name_en.clone(),
            description: s.description.clone(),
            level: s.level.as_str().into(),
            region: s.region.clone(),
            agency_code: s.agency_code.clone(),
            form_schema: s.form_schema.clone(),
            required_documents: s.required_documents.clone(),
            allowed_file_types: s.allowed_file_types.clone(),
            max_file_bytes: s.max_file_bytes,
            processing_days: s.policy.processing_days,
            editable_after_submit: s.policy.editable_after_submit,
            cancellable_in_review: s.policy.cancellable_in_review,
            co_applicants_allowed: s.policy.co_applicants_allowed,
            appeal_window_days: s.policy.appeal_window_days,
            restore_window_days: s.policy.restore_window_days,
            fee_kopecks: s.policy.fee_kopecks,
            version: s.version,
        }
    }
}

const FILE_TYPES: [&str; 5] = ["pdf", "jpg", "png", "docx", "xlsx"];

impl ServiceBody {
    /// Checks every field and builds the domain value.
    pub fn into_service(self) -> Result<Service, ApiError> {
        check_code(&self.code).map_err(from_field_error)?;
        let level = ServiceLevel::parse(&self.level)
            .ok_or_else(|| ApiError::field("level", "invalid_value", "federal, regional or municipal"))?;
        if level != ServiceLevel::Federal && self.region.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::field(
                "region",
                "required",
                "Regional and municipal services name their region.",
            ));
        }
        for (field, text) in [("name_ru", &self.name_ru), ("name_en", &self.name_en)] {
            if text.trim().is_empty() {
                return Err(ApiError::field(field, "required", format!("{field} is required")));
            }
        }
        crate::forms::check_schema(&self.form_schema)
            .map_err(|e| ApiError::field("form_schema", "invalid_schema", e))?;
        if let Some(bad) = self
            .allowed_file_types
            .iter()
            .find(|t| !FILE_TYPES.contains(&t.as_str()))
        {
            return Err(ApiError::field(
                "allowed_file_types",
                "invalid_value",
                format!("{bad:?} is not one of {FILE_TYPES:?}"),
            ));
        }
        if !(1..=50 * 1024 * 1024).contains(&self.max_file_bytes) {
            return Err(ApiError::field(
                "max_file_bytes",
                "out_of_range",
                "Between 1 byte and 50 MiB.",
            ));
        }
        let policy = ServicePolicy {
            editable_after_submit: self.editable_after_submit,
            cancellable_in_review: self.cancellable_in_review,
            co_applicants_allowed: self.co_applicants_allowed,
            appeal_window_days: self.appeal_window_days,
            restore_window_days: self.restore_window_days,
            fee_kopecks: self.fee_kopecks,
            processing_days: self.processing_days,
        };
        policy.check().map_err(from_field_error)?;
        Ok(Service {
            code: self.code,
            name_ru: self.name_ru.trim().into(),
            name_en: self.name_en.trim().into(),
            description: self.description,
            level,
            region: self.region.filter(|_| level != ServiceLevel::Federal),
            agency_code: self.agency_code,
            form_schema: self.form_schema,
            required_documents: self.required_documents,
            allowed_file_types: self.allowed_file_types,
            max_file_bytes: self.max_file_bytes,
            policy,
            version: self.version,
        })
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    /// `federal`, `regional` or `municipal`.
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
#[utoipa::path(
    tag = "catalog",
    operation_id = "listServices",
    params(ServiceQuery),
    responses(
        (status = 200, description = "Services by code", body = Page<ServiceBody>),
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
    let mut found = state.read(move |c| Ok(catalog::list(c, &filter)?)).await?;
    let more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| {
            found.last().map(|s| {
                Cursor {
                    at: None,
                    id: s.code.clone(),
                }
                .encode()
            })
        })
        .flatten();
    Ok(Json(Page {
        items: found.iter().map(ServiceBody::from).collect(),
        next_cursor,
    }))
}

/// One service, with its form schema.
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
    let service = state
        .read(move |c| Ok(catalog::find(c, &code)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(service.version)))
        .json(ServiceBody::from(&service)))
}

/// Add a service (admins).
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
    authorize(&actor.subject, Action::CatalogManage, &Resource::System, now())?;
    let service = body.into_inner().into_service()?;
    let (admin, ip) = (actor.account, actor.ip.clone());
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                known_agency(tx, &service.agency_code)?;
                let at = now();
                if !catalog::insert(tx, &service, at)? {
                    return Err(ApiError::conflict(
                        "service_exists",
                        "A service with this code exists already.",
                    ));
                }
                let entry = AuditEntry::new("catalog.create", "service")
                    .by(Some(admin))
                    .target(&service.code)
                    .from_ip(ip);
                persistence::audit::record(tx, entry, at)?;
                let created = catalog::find(tx, &service.code)?.ok_or_else(ApiError::not_found)?;
                Ok(Answer::created(&ServiceBody::from(&created))?.version(created.version))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// A service names an agency the catalog knows.
fn known_agency(tx: &mut persistence::DbConnection, code: &str) -> Result<(), ApiError> {
    if catalog::agency_exists(tx, code)? {
        return Ok(());
    }
    Err(ApiError::field(
        "agency_code",
        "unknown_agency",
        "No such agency.",
    ))
}

/// Replace a service (admins; requires `If-Match`).
#[utoipa::path(
    tag = "catalog",
    operation_id = "replaceService",
    security(("bearer" = [])),
    request_body = ServiceBody,
    params(
        ("code" = String, Path, description = "Service code"),
        ("If-Match" = String, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Replaced", body = ServiceBody, headers(("ETag" = String))),
    )
)]
#[put("/services/{code}")]
pub async fn replace_service(
    state: State,
    actor: Actor,
    code: Path<String>,
    version: IfMatch,
    body: Json<ServiceBody>,
) -> Result<HttpResponse, ApiError> {
    authorize(&actor.subject, Action::CatalogManage, &Resource::System, now())?;
    let mut body = body.into_inner();
    body.code = code.into_inner();
    let service = body.into_service()?;
    let (admin, ip) = (actor.account, actor.ip.clone());
    let replaced = state
        .write(move |tx| {
            let current = catalog::find(tx, &service.code)?.ok_or_else(ApiError::not_found)?;
            known_agency(tx, &service.agency_code)?;
            let at = now();
            if !catalog::replace(tx, &service, version.0, at)? {
                return Err(stale(current.version));
            }
            let entry = AuditEntry::new("catalog.replace", "service")
                .by(Some(admin))
                .target(&service.code)
                .details(json!({ "version": version.0 + 1 }))
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            catalog::find(tx, &service.code)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(replaced.version)))
        .json(ServiceBody::from(&replaced)))
}
