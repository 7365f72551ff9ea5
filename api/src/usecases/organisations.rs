//! Organisations as principals: a confirmed citizen registers the legal entity they head,
//! reads it (head and employees), and adds employees.

use domain::access::{authorize, Action, Resource, Role};
use domain::account::AccountLevel;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::organisation::{Organisation, Registration};
use domain::time::Instant;
use persistence::accounts::{self, NewAccount};
use persistence::organisations as store;
use persistence::DbConnection;
use serde_json::json;

use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

fn resource(o: &Organisation) -> Resource {
    Resource::Organisation {
        head: o.head,
        employees: o.employees.clone(),
    }
}

/// What a registration asks for, as sent; checked once the caller may register.
pub struct Asked {
    pub name: String,
    pub ogrn: String,
    pub inn: String,
    pub kpp: Option<String>,
}

/// Registers the organisation `who` heads, with its own account (no login, no password:
/// its head acts for it).
pub fn register(
    tx: &mut DbConnection,
    who: &Acting,
    asked: &Asked,
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let head = who.account;
    let founding = Resource::Organisation {
        head,
        employees: vec![],
    };
    authorize(&who.subject, Action::OrganisationsManage, &founding, now)?;
    let Registration { name, ogrn, inn, kpp } =
        Registration::parse(&asked.name, &asked.ogrn, &asked.inn, asked.kpp.as_deref())
            .map_err(from_field_error)?;
    if store::exists(tx, ogrn.as_str(), inn.as_str())? {
        return Err(ApiError::conflict(
            "organisation_exists",
            "An organisation with this OGRN or INN is registered.",
        ));
    }
    let id = AccountId::new();
    let account = NewAccount {
        id,
        display_name: name.clone(),
        roles: vec![Role::Organisation],
        level: Some(AccountLevel::Confirmed),
        password_hash: "!".into(),
        ..NewAccount::default()
    };
    accounts::create(tx, &account, now)?;
    let organisation = Organisation {
        id,
        ogrn: ogrn.as_str().into(),
        inn: inn.as_str().into(),
        kpp,
        name,
        head,
        created_at: now,
        employees: vec![],
    };
    store::insert(tx, &organisation)?;
    let audit = AuditEntry::new("organisation.create", "organisation")
        .by(Some(head))
        .target(id)
        .from_ip(who.ip.clone());
    Ok(Outcome::new(organisation, Effects::none().audit(audit)))
}

/// One organisation, for its head and employees.
pub fn get(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    now: Instant,
) -> Result<Organisation, ApiError> {
    let found = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    authorize(&who.subject, Action::OrganisationsRead, &resource(&found), now)?;
    Ok(found)
}

/// Adds the account with one of `login_keys` as an employee (the head); adding someone
/// twice changes nothing and records nothing.
pub fn add_employee(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    login_keys: &[String],
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let found = get(tx, who, id, now)?;
    authorize(&who.subject, Action::OrganisationsManage, &resource(&found), now)?;
    let employee = accounts::find_by_login(tx, login_keys)?
        .ok_or_else(|| ApiError::field("login", "unknown_account", "No such account."))?
        .id;
    let mut effects = Effects::none();
    if store::add_employee(tx, id, employee, now)? {
        let audit = who
            .audit("organisation.add_employee", "organisation")
            .target(id)
            .details(json!({ "employee": employee }));
        effects = effects.audit(audit);
    }
    let updated = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    Ok(Outcome::new(updated, effects))
}
