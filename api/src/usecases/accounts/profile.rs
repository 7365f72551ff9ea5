//! The holder's profile: reading it, and changing the documents or the IP allow-list.
//! Each part of a change asks the core for its own action: the INN is an ordinary profile
//! edit (delegable), the passport sets the account's level (`identity.manage`) and the
//! allow-list guards the account (`credentials.manage`), neither ever done on behalf.

use domain::access::{authorize, Action, Resource};
use domain::account::{sealed_field, Account, AccountLevel, PassportInput};
use domain::person::{Inn, PassportRf};
use domain::time::Instant;
use persistence::{accounts, DbConnection};
use serde_json::json;

use super::{load, passport, seal_passport};
use crate::concurrency::stale;
use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// The principal's profile.
pub fn read(conn: &mut DbConnection, who: &Acting, now: Instant) -> Result<Account, ApiError> {
    authorize(
        &who.subject,
        Action::ProfileRead,
        &Resource::Account(who.principal()),
        now,
    )?;
    load(conn, who.principal())
}

/// What a profile change may carry; absent parts stay as they are.
pub struct ProfileChanges {
    /// Giving or changing it sets the level to `standard` (it must be confirmed again).
    pub passport: Option<PassportInput>,
    pub inn: Option<String>,
    /// `Some([])` allows every address.
    pub ip_allow_list: Option<Vec<String>>,
}

/// A profile change with its parts checked.
struct Checked {
    passport: Option<PassportRf>,
    inn: Option<Inn>,
    /// `Some(None)`: every address again.
    allow_list: Option<Option<String>>,
}

fn check(who: &Acting, changes: ProfileChanges, now: Instant) -> Result<Checked, ApiError> {
    let passport = changes
        .passport
        .map(|p| passport(&p, now.date_naive()))
        .transpose()
        .map_err(from_field_error)?;
    let inn = changes
        .inn
        .as_deref()
        .map(Inn::parse)
        .transpose()
        .map_err(from_field_error)?;
    if inn.as_ref().is_some_and(|i| !i.is_personal()) {
        return Err(ApiError::field(
            "inn",
            "not_personal",
            "A citizen's INN has 12 digits.",
        ));
    }
    let allow_list = changes
        .ip_allow_list
        .map(|entries| domain::login::allow_list(&entries, who.ip.as_deref()))
        .transpose()
        .map_err(from_field_error)?;
    Ok(Checked {
        passport,
        inn,
        allow_list,
    })
}

/// The actions a change takes: a profile edit, and whatever guards the account that it
/// touches as well.
fn actions_of(changes: &ProfileChanges) -> Vec<Action> {
    let mut actions = vec![Action::ProfileEdit];
    if changes.passport.is_some() {
        actions.push(Action::IdentityManage);
    }
    if changes.ip_allow_list.is_some() {
        actions.push(Action::CredentialsManage);
    }
    actions
}

pub fn change(
    tx: &mut DbConnection,
    who: &Acting,
    pii: &PiiCipher,
    version: i64,
    changes: ProfileChanges,
    now: Instant,
) -> Result<Outcome<Account>, ApiError> {
    let id = who.principal();
    for action in actions_of(&changes) {
        authorize(&who.subject, action, &Resource::Account(id), now)?;
    }
    let Checked {
        passport,
        inn,
        allow_list,
    } = check(who, changes, now)?;
    let current = load(tx, id)?;
    if current.version != version || !accounts::bump_version(tx, id, version, now)? {
        return Err(stale(current.version));
    }
    let passport_enc = passport.as_ref().map(|p| seal_passport(pii, id, p));
    let level = match passport {
        Some(_) => AccountLevel::from_documents(current.sealed.snils.is_some(), true),
        None => current.level,
    };
    let inn_enc = inn.map(|i| pii.encrypt(&sealed_field(id, "inn"), i.as_str()));
    accounts::set_documents(tx, id, passport_enc.as_deref(), inn_enc.as_deref(), level)?;
    if let Some(list) = &allow_list {
        accounts::store_ip_allow_list(tx, id, list.as_deref())?;
    }
    let changed: Vec<&str> = [
        passport_enc.as_ref().map(|_| "passport"),
        inn_enc.as_ref().map(|_| "inn"),
        allow_list.as_ref().map(|_| "ip_allow_list"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let entry = who
        .audit("account.update", "account")
        .target(id)
        .details(json!({ "changed": changed }));
    Ok(Outcome::new(load(tx, id)?, Effects::none().audit(entry)))
}
