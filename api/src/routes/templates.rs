//! A user's own application templates, with placeholders filled from the profile.

use actix_web::web::{Json, Path};
use actix_web::{delete, get, post, put, HttpRequest, HttpResponse};
use domain::access::{authorize, Action, Resource};
use domain::ids::TemplateId;
use persistence::templates::{self, Template};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::profile::ProfileView;
use crate::auth::Actor;
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;

/// Fills a template's placeholders (`{{surname}}`, `{{passport.number}}`…) from a profile.
pub fn fill(form: &Value, profile: &ProfileView) -> Value {
    let lookup = |name: &str| -> Option<String> {
        let passport = profile.passport.as_ref();
        match name {
            "surname" => profile.surname.clone(),
            "given_name" => profile.given_name.clone(),
            "patronymic" => profile.patronymic.clone(),
            "birth_date" => profile.birth_date.map(|d| d.to_string()),
            "email" => profile.email.clone(),
            "phone" => profile.phone.clone(),
            "snils" => profile.snils.clone(),
            "inn" => profile.inn.clone(),
            "passport.series" => passport.map(|p| p.series.clone()),
            "passport.number" => passport.map(|p| p.number.clone()),
            "passport.issued_on" => passport.map(|p| p.issued_on.to_string()),
            "passport.division_code" => passport.map(|p| p.division_code.clone()),
            _ => None,
        }
    };
    domain::template::fill(form, &lookup)
}

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "Замена паспорта (45 лет)", "service_code": "passport-replacement", "form_data": {"reason": "age_45", "surname": "{{surname}}"}}))]
pub struct TemplateBody {
    pub name: String,
    pub service_code: String,
    /// Form data; strings may hold placeholders such as `{{surname}}`.
    #[schema(value_type = Object)]
    pub form_data: Value,
}

#[derive(Serialize, ToSchema)]
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

fn check(body: &TemplateBody) -> Result<(), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("name", "invalid_value", "1 to 200 characters."));
    }
    if !body.form_data.is_object() {
        return Err(ApiError::field("form_data", "invalid_value", "An object."));
    }
    Ok(())
}

/// Your templates are yours alone: anyone else's is not found.
async fn own(state: &State, actor: &Actor, id: TemplateId) -> Result<Template, ApiError> {
    let found = state
        .read(move |c| Ok(templates::find(c, id)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    authorize(
        &actor.subject,
        Action::ProfileEdit,
        &Resource::Account(found.owner),
        now(),
    )?;
    Ok(found)
}

/// Save a template.
#[utoipa::path(
    tag = "templates",
    operation_id = "createTemplate",
    security(("bearer" = [])),
    request_body = TemplateBody,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Saved", body = TemplateView, headers(("ETag" = String))),
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
    authorize(
        &actor.subject,
        Action::ProfileEdit,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let body = body.into_inner();
    check(&body)?;
    let at = now();
    let template = Template {
        id: TemplateId::new(),
        owner: actor.account,
        name: body.name.trim().into(),
        service_code: body.service_code,
        form_data: body.form_data,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let saved = template;
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                if persistence::catalog::find(tx, &saved.service_code)?.is_none() {
                    return Err(ApiError::field(
                        "service_code",
                        "unknown_service",
                        "No such service.",
                    ));
                }
                templates::insert(tx, &saved)?;
                Ok(Answer::created(&view(&saved))?.version(saved.version))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Your templates, newest first.
#[utoipa::path(
    tag = "templates",
    operation_id = "listTemplates",
    security(("bearer" = [])),
    responses((status = 200, description = "Templates", body = TemplateList))
)]
#[get("/templates")]
pub async fn list(state: State, actor: Actor) -> Result<Json<TemplateList>, ApiError> {
    authorize(
        &actor.subject,
        Action::ProfileRead,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let owner = actor.account;
    let found = state.read(move |c| Ok(templates::list(c, owner)?)).await?;
    Ok(Json(TemplateList {
        items: found.iter().map(view).collect(),
    }))
}

/// One template.
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
pub async fn get_one(state: State, actor: Actor, id: Path<TemplateId>) -> Result<HttpResponse, ApiError> {
    let found = own(&state, &actor, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(found.version)))
        .json(view(&found)))
}

/// Replace a template (requires `If-Match`).
#[utoipa::path(
    tag = "templates",
    operation_id = "replaceTemplate",
    security(("bearer" = [])),
    request_body = TemplateBody,
    params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses(
        (status = 200, description = "Replaced", body = TemplateView, headers(("ETag" = String))),
    )
)]
#[put("/templates/{id}")]
pub async fn replace(
    state: State,
    actor: Actor,
    id: Path<TemplateId>,
    version: IfMatch,
    body: Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let current = own(&state, &actor, id.into_inner()).await?;
    if current.version != version.0 {
        return Err(stale(current.version));
    }
    let body = body.into_inner();
    check(&body)?;
    if body.service_code != current.service_code {
        return Err(ApiError::field(
            "service_code",
            "immutable",
            "A template keeps its service.",
        ));
    }
    let updated = Template {
        name: body.name.trim().into(),
        form_data: body.form_data,
        version: version.0 + 1,
        updated_at: now(),
        ..current
    };
    let stored = updated.clone();
    let replaced = state
        .write(move |tx| Ok(templates::replace(tx, &stored, version.0)?))
        .await?;
    if !replaced {
        return Err(stale(version.0 + 1));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(updated.version)))
        .json(view(&updated)))
}

/// Delete a template.
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
pub async fn delete(state: State, actor: Actor, id: Path<TemplateId>) -> Result<HttpResponse, ApiError> {
    let found = own(&state, &actor, id.into_inner()).await?;
    state
        .write(move |tx| Ok(templates::delete(tx, found.id)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
