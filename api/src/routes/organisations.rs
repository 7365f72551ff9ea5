//! Organisations as principals: a confirmed citizen registers the legal entity they head
//! (OGRN, INN, KPP) and its employees; the head issues delegations in its name and acts for
//! it with `X-On-Behalf-Of` without a power of attorney.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use domain::ids::AccountId;
use domain::organisation::Organisation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{logins, Actor};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::organisations as cases;
use crate::usecases::Acting;

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001"}))]
pub struct NewOrganisation {
    pub name: String,
    /// ОГРН, 13 digits with its check digit.
    pub ogrn: String,
    /// The organisation's 10-digit INN, with its check digit.
    pub inn: String,
    /// КПП, 9 digits.
    pub kpp: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001", "head_id": "0193a8f0-0000-7000-8000-000000000001", "employees": []}))]
pub struct OrganisationView {
    /// Also the id to name in `X-On-Behalf-Of` and as a delegation's `principal_id`.
    #[schema(value_type = String, format = Uuid)]
    pub id: AccountId,
    pub name: String,
    pub ogrn: String,
    pub inn: String,
    pub kpp: Option<String>,
    #[schema(value_type = String, format = Uuid)]
    pub head_id: AccountId,
    #[schema(value_type = Vec<String>)]
    pub employees: Vec<AccountId>,
}

fn view(o: &Organisation) -> OrganisationView {
    OrganisationView {
        id: o.id,
        name: o.name.clone(),
        ogrn: o.ogrn.clone(),
        inn: o.inn.clone(),
        kpp: o.kpp.clone(),
        head_id: o.head,
        employees: o.employees.clone(),
    }
}

/// Register an organisation you head.
#[utoipa::path(
    tag = "organisations",
    operation_id = "createOrganisation",
    security(("bearer" = [])),
    request_body = NewOrganisation,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Registered; you are its head", body = OrganisationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/organisations")]
pub async fn create(
    state: State,
    actor: Actor,
    body: Json<NewOrganisation>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let body = body.into_inner();
    let asked = cases::Asked {
        name: body.name,
        ogrn: body.ogrn,
        inn: body.inn,
        kpp: body.kpp,
    };
    let acting = Acting::from(&actor);
    let answer = state
        .run(move |tx, now| {
            idempotency::once(tx, key.as_ref(), now, |tx| {
                let (organisation, effects) = cases::register(tx, &acting, &asked, now)?.into_parts();
                Ok(crate::usecases::Outcome::new(
                    Answer::created(&view(&organisation))?,
                    effects,
                ))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// One organisation (its head and employees only).
#[utoipa::path(
    tag = "organisations",
    operation_id = "getOrganisation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The organisation", body = OrganisationView))
)]
#[get("/organisations/{id}")]
pub async fn get_one(
    state: State,
    actor: Actor,
    id: Path<AccountId>,
) -> Result<Json<OrganisationView>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let found = state
        .query(move |tx, now| cases::get(tx, &acting, id, now))
        .await?;
    Ok(Json(view(&found)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "112-233-445 95"}))]
pub struct EmployeeBody {
    /// The employee's login: SNILS, e-mail or phone.
    pub login: String,
}

/// Add an employee (the head).
#[utoipa::path(
    tag = "organisations",
    operation_id = "addEmployee",
    security(("bearer" = [])),
    request_body = EmployeeBody,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The organisation with its employees", body = OrganisationView))
)]
#[post("/organisations/{id}/employees")]
pub async fn add_employee(
    state: State,
    actor: Actor,
    id: Path<AccountId>,
    body: Json<EmployeeBody>,
) -> Result<Json<OrganisationView>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let keys = logins::candidate_keys(&state.pii, &body.login);
    let updated = state
        .run(move |tx, now| cases::add_employee(tx, &acting, id, &keys, now))
        .await?;
    Ok(Json(view(&updated)))
}
