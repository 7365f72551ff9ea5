//! Organisations as principals: a confirmed citizen registers the legal entity they head
//! (OGRN, INN, KPP) and its employees; the head issues delegations in its name and acts for
//! it with `X-On-Behalf-Of` without a power of attorney.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use domain::access::{authorize, Action, Resource, Role};
use domain::account::AccountLevel;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::organisation::Ogrn;
use domain::person::Inn;
use persistence::accounts::{self, NewAccount};
use persistence::organisations::{self as store, Organisation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{logins, Actor};
use crate::clock::now;
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;

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

fn resource(o: &Organisation) -> Resource {
    Resource::Organisation {
        head: o.head,
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
    let head = actor.account;
    authorize(
        &actor.subject,
        Action::OrganisationsManage,
        &Resource::Organisation {
            head,
            employees: vec![],
        },
        now(),
    )?;
    let ogrn = Ogrn::parse(&body.ogrn).map_err(from_field_error)?;
    let inn = Inn::parse(&body.inn).map_err(from_field_error)?;
    if inn.is_personal() {
        return Err(ApiError::field(
            "inn",
            "not_organisation",
            "An organisation's INN has 10 digits.",
        ));
    }
    let kpp = body.kpp.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
    if kpp
        .as_ref()
        .is_some_and(|k| k.len() != 9 || !k.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::field("kpp", "invalid_format", "A KPP has 9 digits."));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 300 {
        return Err(ApiError::field("name", "invalid_value", "1 to 300 characters."));
    }
    let ip = actor.ip.clone();
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                if store::exists(tx, ogrn.as_str(), inn.as_str())? {
                    return Err(ApiError::conflict(
                        "organisation_exists",
                        "An organisation with this OGRN or INN is registered.",
                    ));
                }
                let at = now();
                let id = AccountId::new();
                // The organisation's own account: no login, no password; its head acts for it.
                let account = NewAccount {
                    id,
                    display_name: name.clone(),
                    roles: vec![Role::Organisation],
                    level: Some(AccountLevel::Confirmed),
                    password_hash: "!".into(),
                    ..NewAccount::default()
                };
                accounts::create(tx, &account, at)?;
                let organisation = Organisation {
                    id,
                    ogrn: ogrn.as_str().into(),
                    inn: inn.as_str().into(),
                    kpp,
                    name,
                    head,
                    created_at: at,
                    employees: vec![],
                };
                store::insert(tx, &organisation)?;
                let entry = AuditEntry::new("organisation.create", "organisation")
                    .by(Some(head))
                    .target(id)
                    .from_ip(ip);
                persistence::audit::record(tx, entry, at)?;
                Answer::created(&view(&organisation))
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
    let id = id.into_inner();
    let found = state
        .read(move |c| Ok(store::find(c, id)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    authorize(
        &actor.subject,
        Action::OrganisationsRead,
        &resource(&found),
        now(),
    )?;
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
    let id = id.into_inner();
    let keys = logins::candidate_keys(&state.pii, &body.login);
    let (subject, me, ip) = (actor.subject.clone(), actor.account, actor.ip.clone());
    let updated = state
        .write(move |tx| {
            let found = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
            authorize(&subject, Action::OrganisationsRead, &resource(&found), now())?;
            authorize(&subject, Action::OrganisationsManage, &resource(&found), now())?;
            let employee = accounts::find_by_login(tx, &keys)?
                .ok_or_else(|| ApiError::field("login", "unknown_account", "No such account."))?;
            let at = now();
            if store::add_employee(tx, id, employee.id, at)? {
                let entry = AuditEntry::new("organisation.add_employee", "organisation")
                    .by(Some(me))
                    .target(id)
                    .details(json!({ "employee": employee.id }))
                    .from_ip(ip);
                persistence::audit::record(tx, entry, at)?;
            }
            store::find(tx, id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(Json(view(&updated)))
}
