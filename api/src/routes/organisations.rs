//! Organisations as principals: a confirmed citizen registers the legal entity they head
//! (OGRN, INN, KPP); an officer or admin verifies or rejects the registration; once it is
//! verified the head adds employees, issues delegations in its name and acts for it with
//! `X-On-Behalf-Of` without a power of attorney.

use actix_web::web::{Json, Path};
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::ids::AccountId;
use domain::organisation::{Organisation, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{logins, Actor, Caller};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::organisations as cases;
use crate::usecases::replays;
use crate::usecases::Acting;
use domain::access::Action;

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001"}))]
pub struct NewOrganisation {
    #[schema(
        max_length = 300,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    /// ОГРН, 13 digits with its check digit.
    pub ogrn: String,
    /// The organisation's 10-digit INN, with its check digit.
    pub inn: String,
    /// КПП, 9 digits.
    pub kpp: Option<String>,
}

/// Where a registration stands: `pending` until an officer or admin checks it against the
/// state register; only a `verified` organisation acts (delegations, applications on its
/// behalf, employees); `rejected` is final.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationStatus {
    Pending,
    Verified,
    Rejected,
}

impl From<Status> for OrganisationStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Pending => OrganisationStatus::Pending,
            Status::Verified => OrganisationStatus::Verified,
            Status::Rejected => OrganisationStatus::Rejected,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001", "head_id": "0193a8f0-0000-7000-8000-000000000001", "employees": [], "status": "pending", "decided_at": null, "rejection_reason": null}))]
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
    pub status: OrganisationStatus,
    /// When staff verified or rejected the registration.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why the registration was rejected (told to its head).
    pub rejection_reason: Option<String>,
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
        status: o.status.into(),
        decided_at: o.decided_at,
        rejection_reason: o.rejection_reason.clone(),
    }
}

/// Register an organisation you head.
///
/// Caller: a citizen with a `confirmed` account (403 `level_too_low` otherwise), who
/// becomes its head. Changes: a new organisation registration.
///
/// The registration is `pending` until an officer or admin verifies it: until then the
/// organisation cannot act (no delegations in its name, nothing on its behalf, no
/// employees). Someone else's pending claim on the same OGRN or INN does not block it; one
/// already verified does (409 `organisation_exists`).
#[utoipa::path(
    tag = "organisations",
    operation_id = "createOrganisation",
    security(("bearer" = [])),
    request_body = NewOrganisation,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Registered, `pending`; you are its head", body = OrganisationView),
        (status = 403, description = "`level_too_low`: registering needs a confirmed identity", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`organisation_exists`: a verified organisation holds this OGRN or INN, or you claimed it already", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::openapi::Unprocessable),
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
            let recheck =
                |_: &mut _, _: &Answer| replays::on_account(&acting, Action::OrganisationsManage, now);
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
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

/// One organisation, whatever its status.
///
/// Caller: its head or one of its employees; anyone else gets 404. Changes nothing.
#[utoipa::path(
    tag = "organisations",
    operation_id = "getOrganisation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The organisation", body = OrganisationView),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/organisations/{id}")]
pub async fn get_one(
    state: State,
    caller: Caller,
    id: Path<AccountId>,
) -> Result<Json<OrganisationView>, ApiError> {
    let id = id.into_inner();
    let found = state
        .query_as(caller, move |tx, actor, now| {
            cases::get(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(Json(view(&found)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "112-233-445 95"}))]
pub struct EmployeeBody {
    /// The employee's login: SNILS, e-mail or phone.
    pub login: String,
}

/// Add an employee to an organisation.
///
/// Caller: the organisation's head, with a `confirmed` account, once the organisation is
/// verified (403 `organisation_not_verified` before; `role_required` for an employee).
/// Changes: the account becomes an employee, who may then receive the organisation's
/// delegations.
#[utoipa::path(
    tag = "organisations",
    operation_id = "addEmployee",
    security(("bearer" = [])),
    request_body = EmployeeBody,
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The organisation with its employees", body = OrganisationView),
        (status = 403, description = "`role_required` (an employee), `level_too_low`, or `organisation_not_verified` (still pending or rejected)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[post("/organisations/{id}/employees")]
pub async fn add_employee(
    state: State,
    caller: Caller,
    id: Path<AccountId>,
    body: Json<EmployeeBody>,
) -> Result<Json<OrganisationView>, ApiError> {
    let id = id.into_inner();
    let keys = logins::candidate_keys(&state.pii, &body.login);
    let updated = state
        .run_as(caller, move |tx, actor, now| {
            cases::add_employee(tx, &Acting::from(actor), id, &keys, now)
        })
        .await?;
    Ok(Json(view(&updated)))
}

/// Remove an employee from an organisation.
///
/// Caller: the organisation's head. Changes: the employee no longer acts for the
/// organisation: every delegation it gave them ends (revoked, or cancelled while pending),
/// with what was passed on from it, and they are told. Audited as
/// `organisation.remove_employee`.
#[utoipa::path(
    tag = "organisations",
    operation_id = "removeEmployee",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The organisation's id"),
        ("account_id" = String, Path, format = Uuid, description = "The employee's account id"),
    ),
    responses(
        (status = 200, description = "The organisation with its remaining employees", body = OrganisationView),
        (status = 403, description = "`role_required` (not the head), or `organisation_not_verified`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation for you, or no such employee", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/organisations/{id}/employees/{account_id}")]
pub async fn remove_employee(
    state: State,
    actor: Actor,
    ids: Path<(AccountId, AccountId)>,
) -> Result<Json<OrganisationView>, ApiError> {
    let ((id, employee), acting) = (ids.into_inner(), Acting::from(&actor));
    let updated = state
        .run(move |tx, now| cases::remove_employee(tx, &acting, id, employee, now))
        .await?;
    Ok(Json(view(&updated)))
}

/// Verify an organisation's registration (officers and admins).
///
/// Caller: an officer or an admin; the organisation's own head or employees get 403
/// `role_required`, anyone else 404.
///
/// After checking the OGRN, INN and head against the state register: the organisation may
/// act from now on, its head is notified, and every other pending registration claiming the
/// same OGRN or INN is rejected, their heads told why. Audited as `organisation.verify`
/// (and `organisation.reject` for each rival claim). A registration is decided once: 409
/// `organisation_not_pending` afterwards.
#[utoipa::path(
    tag = "organisations",
    operation_id = "verifyOrganisation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The organisation's id")),
    responses(
        (status = 200, description = "Verified", body = OrganisationView,
            example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "name": "ПАО Сбербанк", "ogrn": "1027700132195", "inn": "7707083893", "kpp": null, "head_id": "0193a8f0-0000-7000-8000-000000000001", "employees": [], "status": "verified", "decided_at": "2026-12-02T10:15:00Z", "rejection_reason": null})),
        (status = 403, description = "`role_required`: the organisation's own head or employee (only staff decide)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "`organisation_not_pending`: verified or rejected already", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:organisation_not_pending", "title": "Conflict", "status": 409, "detail": "This registration was verified or rejected already.", "code": "organisation_not_pending"})),
    )
)]
#[post("/organisations/{id}/verify")]
pub async fn verify(
    state: State,
    caller: Caller,
    id: Path<AccountId>,
) -> Result<Json<OrganisationView>, ApiError> {
    let id = id.into_inner();
    let verified = state
        .run_as(caller, move |tx, actor, now| {
            cases::verify(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(Json(view(&verified)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"reason": "Руководитель не совпадает с данными ЕГРЮЛ"}))]
pub struct RejectOrganisation {
    /// Why, as the head will read it: 1 to 1000 characters.
    #[schema(
        max_length = 1000,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: String,
}

/// Reject an organisation's registration (officers and admins).
///
/// Caller: an officer or an admin; the organisation's own head or employees get 403
/// `role_required`, anyone else 404.
///
/// The head is notified with the reason; the organisation never acts. Audited as
/// `organisation.reject`. A registration is decided once: 409 `organisation_not_pending`
/// afterwards.
#[utoipa::path(
    tag = "organisations",
    operation_id = "rejectOrganisation",
    security(("bearer" = [])),
    request_body = RejectOrganisation,
    params(("id" = String, Path, format = Uuid, description = "The organisation's id")),
    responses(
        (status = 200, description = "Rejected", body = OrganisationView,
            example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "name": "ПАО Сбербанк", "ogrn": "1027700132195", "inn": "7707083893", "kpp": null, "head_id": "0193a8f0-0000-7000-8000-000000000001", "employees": [], "status": "rejected", "decided_at": "2026-12-02T10:15:00Z", "rejection_reason": "Руководитель не совпадает с данными ЕГРЮЛ"})),
        (status = 403, description = "`role_required`: the organisation's own head or employee (only staff decide)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "`organisation_not_pending`: verified or rejected already", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:organisation_not_pending", "title": "Conflict", "status": 409, "detail": "This registration was verified or rejected already.", "code": "organisation_not_pending"})),
        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[post("/organisations/{id}/reject")]
pub async fn reject(
    state: State,
    caller: Caller,
    id: Path<AccountId>,
    body: Json<RejectOrganisation>,
) -> Result<Json<OrganisationView>, ApiError> {
    let id = id.into_inner();
    let reason = body.into_inner().reason;
    let rejected = state
        .run_as(caller, move |tx, actor, now| {
            cases::reject(tx, &Acting::from(actor), id, &reason, now)
        })
        .await?;
    Ok(Json(view(&rejected)))
}
