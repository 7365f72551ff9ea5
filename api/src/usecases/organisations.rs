//! Organisations as principals: a confirmed citizen registers the legal entity they head
//! (a claim, `pending`), staff verify or reject the registration, and once verified its
//! head adds employees. Head and employees read it either way.

use domain::access::{authorize, Action, Resource, Role};
use domain::account::AccountLevel;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use domain::organisation::{self as rules, DecisionRefused, Organisation, Registration, Status};
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
        verified: o.status == Status::Verified,
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
/// its head acts for it once staff verify the registration; until then it is `pending`
/// and its account not `confirmed`).
pub fn register(
    tx: &mut DbConnection,
    who: &Acting,
    asked: &Asked,
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let head = who.account;
    authorize(
        &who.subject,
        Action::OrganisationsManage,
        &Resource::Account(head),
        now,
    )?;
    let Registration { name, ogrn, inn, kpp } =
        Registration::parse(&asked.name, &asked.ogrn, &asked.inn, asked.kpp.as_deref())
            .map_err(from_field_error)?;
    if store::exists(tx, ogrn.as_str(), inn.as_str(), head)? {
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
        level: Some(AccountLevel::Simplified),
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
        status: Status::Pending,
        decided_by: None,
        decided_at: None,
        rejection_reason: None,
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

/// The head removes an employee: they no longer act for the organisation, and every
/// delegation the organisation gave them ends with it (they are told).
pub fn remove_employee(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    employee: AccountId,
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let found = get(tx, who, id, now)?;
    authorize(&who.subject, Action::OrganisationsManage, &resource(&found), now)?;
    if !store::remove_employee(tx, id, employee)? {
        return Err(ApiError::not_found());
    }
    let ended = crate::usecases::delegations::end_between(tx, who, (id, employee), now)?;
    let audit = who
        .audit("organisation.remove_employee", "organisation")
        .target(id)
        .details(json!({ "employee": employee }));
    let updated = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    Ok(Outcome::new(updated, Effects::none().audit(audit).and(ended)))
}

fn not_pending(_: DecisionRefused) -> ApiError {
    ApiError::conflict(
        "organisation_not_pending",
        "This registration was verified or rejected already.",
    )
}

/// The organisation `id`, when `who` may decide on its registration (staff).
fn to_decide(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    now: Instant,
) -> Result<Organisation, ApiError> {
    let found = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    authorize(
        &who.subject,
        Action::AccountsConfirmIdentity,
        &resource(&found),
        now,
    )?;
    Ok(found)
}

/// Stores a decision taken on a pending registration, or 409 when another was taken first.
fn record(tx: &mut DbConnection, decided: &Organisation) -> Result<(), ApiError> {
    if !store::decide(tx, decided)? {
        return Err(not_pending(DecisionRefused::NotPending));
    }
    Ok(())
}

fn rejected(who: &Acting, o: &Organisation) -> Effects {
    let reason = o.rejection_reason.clone().unwrap_or_default();
    let notice = Notice {
        recipient: o.head,
        kind: "organisation.rejected".into(),
        title: format!("Регистрация организации «{}» отклонена", o.name),
        body: format!("Причина: {reason}"),
        data: json!({ "organisation_id": o.id, "reason": reason }),
        important: true,
    };
    let audit = AuditEntry::new("organisation.reject", "organisation")
        .by(Some(who.account))
        .target(o.id)
        .details(json!({ "ogrn": o.ogrn, "reason": reason }))
        .from_ip(who.ip.clone());
    Effects::none().notice(notice).audit(audit)
}

/// Staff verify a pending registration: the organisation acts from now on (its account
/// becomes `confirmed`), its head is told, and every other pending claim on the same OGRN
/// or INN is rejected with its head told why.
pub fn verify(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let found = to_decide(tx, who, id, now)?;
    let verified = found.verify(who.account, now).map_err(not_pending)?;
    record(tx, &verified)?;
    accounts::set_level(tx, id, AccountLevel::Confirmed, now)?;
    let notice = Notice {
        recipient: verified.head,
        kind: "organisation.verified".into(),
        title: format!("Организация «{}» подтверждена", verified.name),
        body: "Регистрация проверена: теперь вы можете действовать от имени организации и выдавать доверенности.".into(),
        data: json!({ "organisation_id": id }),
        important: false,
    };
    let audit = AuditEntry::new("organisation.verify", "organisation")
        .by(Some(who.account))
        .target(id)
        .details(json!({ "ogrn": verified.ogrn, "inn": verified.inn }))
        .from_ip(who.ip.clone());
    let mut effects = Effects::none().notice(notice).audit(audit);
    for rival in store::rival_claims(tx, &verified)? {
        let refused = rival
            .reject(who.account, rules::RIVAL_VERIFIED, now)
            .map_err(not_pending)?;
        record(tx, &refused)?;
        effects = effects.and(rejected(who, &refused));
    }
    Ok(Outcome::new(verified, effects))
}

/// Staff reject a pending registration, saying why; its head is told.
pub fn reject(
    tx: &mut DbConnection,
    who: &Acting,
    id: AccountId,
    reason: &str,
    now: Instant,
) -> Result<Outcome<Organisation>, ApiError> {
    let found = to_decide(tx, who, id, now)?;
    let reason = rules::rejection_reason(reason).map_err(from_field_error)?;
    let refused = found.reject(who.account, &reason, now).map_err(not_pending)?;
    record(tx, &refused)?;
    let effects = rejected(who, &refused);
    Ok(Outcome::new(refused, effects))
}
