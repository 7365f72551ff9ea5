//! A user's own application templates, with placeholders filled from the profile.

use actix_web::web::{Json, Path};
use actix_web::{delete, get, post, put, HttpRequest, HttpResponse};
use domain::ids::TemplateId;
use domain::template::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::replays;
use crate::usecases::templates::{self as cases, Replacement, TemplateInput};
use crate::usecases::{Acting, Outcome};
use domain::access::Action;

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "Замена паспорта (45 лет)", "service_code": "passport-replacement", "form_data": {"reason": "age_45", "surname": "{{surname}}"}}))]
pub struct TemplateBody {
    #[schema(
        max_length = 200,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    pub service_code: String,
    /// Form data; strings may hold placeholders such as `{{surname}}`.
    #[schema(value_type = Object)]
    pub form_data: Value,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "019a4c80-0000-7000-8000-000000000006", "name": "Замена паспорта (45 лет)", "service_code": "passport-replacement", "form_data": {"reason": "age_45", "surname": "{{surname}}"}, "version": 1, "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}))]
pub struct TemplateView {
    #[schema(value_type = String, format = Uuid)]
    pub id: TemplateId,
    pub name: String,
    pub service_code: String,
    #[schema(value_type = Object)]
    pub form_data: Value,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "019a4c80-0000-7000-8000-000000000006", "name": "Замена паспорта (45 лет)", "service_code": "passport-replacement", "form_data": {"reason": "age_45", "surname": "{{surname}}"}, "version": 1, "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}]}))]
pub struct TemplateList {
    pub items: Vec<TemplateView>,
}

fn view(t: &Template) -> TemplateView {
    TemplateView {
        id: t.id,
        name: t.name.clone(),
        service_code: t.service_code.clone(),
        form_data: t.form_data.clone(),
        version: t.version,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

impl From<TemplateBody> for TemplateInput {
    fn from(body: TemplateBody) -> TemplateInput {
        TemplateInput {
            name: body.name,
            service_code: body.service_code,
            form_data: body.form_data,
        }
    }
}

/// The template with its version as the `ETag`.
fn respond(t: &Template) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("ETag", etag(t.version)))
        .json(view(t))
}

/// Save an application template.
///
/// Caller: a citizen for themselves, or a representative with `profile.edit` for the
/// principal, who owns it. Changes: a new template for a service the catalog knows; when
/// used, its placeholders are filled from the owner's profile.
#[utoipa::path(
    tag = "templates",
    operation_id = "createTemplate",
    security(("bearer" = [])),
    request_body = TemplateBody,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Saved", body = TemplateView, headers(("ETag" = String)),
            links(
            ("get" = (operation_id = "getTemplate", parameters(("id" = "$response.body#/id")))),
            ("replace" = (operation_id = "replaceTemplate", parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
            ("delete" = (operation_id = "deleteTemplate", parameters(("id" = "$response.body#/id"))))
            )),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
#[post("/templates")]
pub async fn create(
    state: State,
    actor: Actor,
    body: Json<TemplateBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (acting, input) = (Acting::from(&actor), TemplateInput::from(body.into_inner()));
    let answer = state
        .run(move |tx, now| {
            let recheck = |_: &mut _, _: &Answer| replays::on_account(&acting, Action::ProfileEdit, now);
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (saved, effects) = cases::create(tx, &acting, input, now)?.into_parts();
                let answer = Answer::created(&view(&saved))?.version(saved.version);
                Ok(Outcome::new(answer, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Your templates, newest first.
///
/// Caller: a citizen (their own), or a representative with `profile.read` (the
/// principal's). Changes nothing.
#[utoipa::path(
    tag = "templates",
    operation_id = "listTemplates",
    security(("bearer" = [])),
    responses((status = 200, description = "Templates", body = TemplateList))
)]
#[get("/templates")]
pub async fn list(state: State, caller: Caller) -> Result<Json<TemplateList>, ApiError> {
    let found = state
        .query_as(caller, move |c, actor, now| {
            cases::list(c, &Acting::from(actor), now)
        })
        .await?;
    Ok(Json(TemplateList {
        items: found.iter().map(view).collect(),
    }))
}

/// One template.
///
/// Caller: its owner, or a representative with `profile.read` for the owner; anyone else
/// gets 404. Changes nothing.
#[utoipa::path(
    tag = "templates",
    operation_id = "getTemplate",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The template", body = TemplateView, headers(("ETag" = String))),
    )
)]
#[get("/templates/{id}")]
pub async fn get_one(state: State, caller: Caller, id: Path<TemplateId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state
        .query_as(caller, move |c, actor, now| {
            cases::one(c, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(respond(&found))
}

/// Replace a template.
///
/// Caller: its owner, or a representative with `profile.edit` for the owner (requires
/// `If-Match`). Changes: its name and form; it keeps its service.
#[utoipa::path(
    tag = "templates",
    operation_id = "replaceTemplate",
    security(("bearer" = [])),
    request_body = TemplateBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Replaced", body = TemplateView, headers(("ETag" = String))),
    )
)]
#[put("/templates/{id}")]
pub async fn replace(
    state: State,
    caller: Caller,
    id: Path<TemplateId>,
    version: IfMatch,
    body: Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let input = Replacement {
        id: id.into_inner(),
        version: version.0,
        content: body.into_inner().into(),
    };
    let replaced = state
        .run_as(caller, move |tx, actor, now| {
            cases::replace(tx, &Acting::from(actor), input, now)
        })
        .await?;
    Ok(respond(&replaced))
}

/// Delete a template.
///
/// Caller: its owner, or a representative with `profile.edit` for the owner. Changes: the
/// template is gone; applications started from it are not affected.
#[utoipa::path(
    tag = "templates",
    operation_id = "deleteTemplate",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
#[delete("/templates/{id}")]
pub async fn delete(state: State, caller: Caller, id: Path<TemplateId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .run_as(caller, move |tx, actor, now| {
            cases::delete(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
