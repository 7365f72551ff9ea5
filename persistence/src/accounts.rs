//! Accounts and their logins. A login (e-mail, phone, SNILS blind index, staff user name)
//! is a row of its own, so one login can never belong to two accounts. Personal data
//! arrives here already encrypted: this layer never sees it in clear.

use chrono::NaiveDate;
use diesel::prelude::*;
use domain::access::Role;
pub use domain::account::Account;
use domain::account::{AccountLevel, ProvenContacts, SealedDocuments, SecondFactor};
use domain::ids::AccountId;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::{account_logins, accounts};

/// Everything a new account row holds; the sensitive fields are ciphertexts.
#[derive(Clone, Debug, Default)]
pub struct NewAccount {
    pub id: AccountId,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub agency_code: Option<String>,
    pub level: Option<AccountLevel>,
    pub password_hash: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub snils_enc: Option<String>,
    pub inn_enc: Option<String>,
    pub passport_enc: Option<String>,
    /// Every login key the account answers to (proven ones only).
    pub login_keys: Vec<String>,
    /// The e-mail and phone wait for the codes sent to them (a registration): they are
    /// claims, not login keys, until proven.
    pub contacts_unproven: bool,
    /// The SNILS blind index claimed until the identity is confirmed.
    pub snils_claim: Option<String>,
}

/// A staff account created by the operator (admin, officer): confirmed by definition.
#[derive(Clone, Debug)]
pub struct NewStaff {
    pub id: AccountId,
    pub login_key: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub agency_code: Option<String>,
    pub password_hash: String,
    pub email: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccountRow {
    id: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    version: i64,
    display_name: String,
    roles: String,
    agency_code: Option<String>,
    level: String,
    password_hash: String,
    email: Option<String>,
    phone: Option<String>,
    surname: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
    birth_date: Option<NaiveDate>,
    snils_enc: Option<String>,
    inn_enc: Option<String>,
    passport_enc: Option<String>,
    email_proven: bool,
    phone_proven: bool,
    snils_claim: Option<String>,
}

/// An account row (sensitive fields still encrypted); it leaves this module only as a
/// domain [`Account`].
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: String,
    created_at: chrono::NaiveDateTime,
    version: i64,
    display_name: String,
    roles: String,
    agency_code: Option<String>,
    level: String,
    password_hash: String,
    email: Option<String>,
    phone: Option<String>,
    surname: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
    birth_date: Option<NaiveDate>,
    snils_enc: Option<String>,
    inn_enc: Option<String>,
    passport_enc: Option<String>,
    totp_secret_enc: Option<String>,
    totp_enabled: bool,
    ip_allow_list: Option<String>,
    email_proven: bool,
    phone_proven: bool,
    snils_claim: Option<String>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: parse_id("accounts", &row.id)?,
            roles: decode_roles(&row.roles)?,
            level: AccountLevel::parse(&row.level)
                .ok_or_else(|| StoreError::corrupt("accounts", format!("level {:?}", row.level)))?,
            display_name: row.display_name,
            agency_code: row.agency_code,
            surname: row.surname,
            given_name: row.given_name,
            patronymic: row.patronymic,
            birth_date: row.birth_date,
            email: row.email,
            phone: row.phone,
            sealed: SealedDocuments {
                snils: row.snils_enc,
                inn: row.inn_enc,
                passport: row.passport_enc,
            },
            password_hash: row.password_hash,
            totp: SecondFactor {
                secret: row.totp_secret_enc,
                enabled: row.totp_enabled,
            },
            ip_allow_list: row.ip_allow_list,
            proven: ProvenContacts {
                email: row.email_proven,
                phone: row.phone_proven,
            },
            snils_claim: row.snils_claim,
            version: row.version,
            created_at: from_db_time(row.created_at),
        })
    }
}

pub fn encode_roles(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

pub(crate) fn decode_roles(text: &str) -> Result<Vec<Role>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Role::parse(s).ok_or_else(|| StoreError::corrupt("accounts", format!("role {s:?}"))))
        .collect()
}

/// Whether any of `keys` belongs to an account already.
pub fn any_login_taken(conn: &mut DbConnection, keys: &[String]) -> Result<bool, StoreError> {
    let taken: i64 = account_logins::table
        .filter(account_logins::login_key.eq_any(keys))
        .count()
        .get_result(conn)?;
    Ok(taken > 0)
}

/// Creates an account with its logins; `Ok(false)` when one of its logins is taken.
pub fn create(conn: &mut DbConnection, account: &NewAccount, now: Instant) -> Result<bool, StoreError> {
    if any_login_taken(conn, &account.login_keys)? {
        return Ok(false);
    }
    let level = account.level.unwrap_or(AccountLevel::Simplified);
    diesel::insert_into(accounts::table)
        .values(NewAccountRow {
            id: account.id.to_string(),
            created_at: to_db_time(now),
            updated_at: to_db_time(now),
            version: 1,
            display_name: account.display_name.clone(),
            roles: encode_roles(&account.roles),
            agency_code: account.agency_code.clone(),
            level: level.as_str().to_string(),
            password_hash: account.password_hash.clone(),
            email: account.email.clone(),
            phone: account.phone.clone(),
            surname: account.surname.clone(),
            given_name: account.given_name.clone(),
            patronymic: account.patronymic.clone(),
            birth_date: account.birth_date,
            snils_enc: account.snils_enc.clone(),
            inn_enc: account.inn_enc.clone(),
            passport_enc: account.passport_enc.clone(),
            email_proven: !account.contacts_unproven,
            phone_proven: !account.contacts_unproven,
            snils_claim: account.snils_claim.clone(),
        })
        .execute(conn)?;
    for key in &account.login_keys {
        diesel::insert_into(account_logins::table)
            .values((
                account_logins::login_key.eq(key),
                account_logins::account_id.eq(account.id.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

/// Creates a staff account; `Ok(false)` when its login is taken already.
pub fn create_staff(conn: &mut DbConnection, staff: &NewStaff, now: Instant) -> Result<bool, StoreError> {
    create(
        conn,
        &NewAccount {
            id: staff.id,
            display_name: staff.display_name.clone(),
            roles: staff.roles.clone(),
            agency_code: staff.agency_code.clone(),
            level: Some(AccountLevel::Confirmed),
            password_hash: staff.password_hash.clone(),
            email: staff.email.clone(),
            login_keys: vec![staff.login_key.clone()],
            ..NewAccount::default()
        },
        now,
    )
}

pub fn find(conn: &mut DbConnection, id: AccountId) -> Result<Option<Account>, StoreError> {
    accounts::table
        .find(id.to_string())
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(Account::try_from)
        .transpose()
}

/// The account behind the first of `login_keys` that exists.
pub fn find_by_login(conn: &mut DbConnection, login_keys: &[String]) -> Result<Option<Account>, StoreError> {
    account_logins::table
        .inner_join(accounts::table)
        .filter(account_logins::login_key.eq_any(login_keys))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(Account::try_from)
        .transpose()
}

fn touch(conn: &mut DbConnection, id: AccountId, now: Instant) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set((
            accounts::version.eq(accounts::version + 1),
            accounts::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_level(
    conn: &mut DbConnection,
    id: AccountId,
    level: AccountLevel,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set(accounts::level.eq(level.as_str()))
        .execute(conn)?;
    touch(conn, id, now)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: AccountId,
    hash: &str,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set((accounts::password_hash.eq(hash),))
        .execute(conn)?;
    touch(conn, id, now)
}

/// Stores a TOTP secret (encrypted) and whether it is in force yet.
pub fn set_totp(
    conn: &mut DbConnection,
    id: AccountId,
    secret_enc: Option<&str>,
    enabled: bool,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set((
            accounts::totp_secret_enc.eq(secret_enc),
            accounts::totp_enabled.eq(enabled),
            accounts::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    touch(conn, id, now)
}

/// Remembers the last accepted TOTP step so the same code cannot be replayed; `false`
/// when `step` is not newer than the last one (a replay, even from another node).
pub fn advance_totp_step(conn: &mut DbConnection, id: AccountId, step: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        accounts::table.find(id.to_string()).filter(
            accounts::totp_last_step
                .is_null()
                .or(accounts::totp_last_step.lt(step)),
        ),
    )
    .set(accounts::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Which contact a change replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    Phone,
}

/// Replaces a contact with a proven one (its code came back) and its login key; answers
/// the accounts whose unproven claims on it were released, or `None` when the new login
/// is someone else's already.
pub fn replace_contact(
    conn: &mut DbConnection,
    id: AccountId,
    kind: ContactKind,
    value: &str,
    old_key: Option<&str>,
    new_key: &str,
    now: Instant,
) -> Result<Option<Vec<AccountId>>, StoreError> {
    if !take_login(conn, id, new_key)? {
        return Ok(None);
    }
    if let Some(old) = old_key.filter(|old| *old != new_key) {
        // Only if it is this account's: an unproven old contact may be another's login.
        diesel::delete(
            account_logins::table
                .find(old)
                .filter(account_logins::account_id.eq(id.to_string())),
        )
        .execute(conn)?;
    }
    let target = accounts::table.find(id.to_string());
    match kind {
        ContactKind::Email => diesel::update(target)
            .set((accounts::email.eq(value), accounts::email_proven.eq(true)))
            .execute(conn)?,
        ContactKind::Phone => diesel::update(target)
            .set((accounts::phone.eq(value), accounts::phone_proven.eq(true)))
            .execute(conn)?,
    };
    touch(conn, id, now)?;
    release_contact(conn, id, kind, value)
}

/// Makes `key` a login of account `id`; `false` when another account has it. Unique by
/// the primary key, so two accounts proving one contact at once cannot both get it.
fn take_login(conn: &mut DbConnection, id: AccountId, key: &str) -> Result<bool, StoreError> {
    let inserted = diesel::sql_query(
        "INSERT INTO account_logins (login_key, account_id) VALUES ($1, $2) ON CONFLICT (login_key) DO NOTHING",
    )
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Text, _>(id.to_string())
    .execute(conn)?;
    if inserted == 1 {
        return Ok(true);
    }
    let owner: String = account_logins::table
        .find(key)
        .select(account_logins::account_id)
        .first(conn)?;
    Ok(owner == id.to_string())
}

/// Clears the unproven claims of other accounts on a contact that `id` just proved; answers
/// whose they were, so that they can be told.
fn release_contact(
    conn: &mut DbConnection,
    id: AccountId,
    kind: ContactKind,
    value: &str,
) -> Result<Option<Vec<AccountId>>, StoreError> {
    let others = accounts::table.filter(accounts::id.ne(id.to_string()));
    let claimants: Vec<String> = match kind {
        ContactKind::Email => others
            .filter(accounts::email.eq(value))
            .filter(accounts::email_proven.eq(false))
            .select(accounts::id)
            .load(conn)?,
        ContactKind::Phone => others
            .filter(accounts::phone.eq(value))
            .filter(accounts::phone_proven.eq(false))
            .select(accounts::id)
            .load(conn)?,
    };
    let released = accounts::table.filter(accounts::id.eq_any(&claimants));
    match kind {
        ContactKind::Email => diesel::update(released)
            .set((
                accounts::email.eq(None::<String>),
                accounts::email_proven.eq(true),
            ))
            .execute(conn)?,
        ContactKind::Phone => diesel::update(released)
            .set((
                accounts::phone.eq(None::<String>),
                accounts::phone_proven.eq(true),
            ))
            .execute(conn)?,
    };
    claimants
        .iter()
        .map(|c| parse_id("accounts", c))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// At identity confirmation: the claimed SNILS becomes a login key of `id`, and every other
/// account claiming it loses the claim (and the level it gave). `None` when a confirmed
/// account holds that SNILS already.
pub fn prove_snils(
    conn: &mut DbConnection,
    id: AccountId,
    index: &str,
    key: &str,
    now: Instant,
) -> Result<Option<Vec<AccountId>>, StoreError> {
    if !take_login(conn, id, key)? {
        return Ok(None);
    }
    diesel::update(accounts::table.find(id.to_string()))
        .set(accounts::snils_claim.eq(None::<String>))
        .execute(conn)?;
    let claimants: Vec<String> = accounts::table
        .filter(accounts::id.ne(id.to_string()))
        .filter(accounts::snils_claim.eq(index))
        .select(accounts::id)
        .load(conn)?;
    let released = || accounts::table.filter(accounts::id.eq_any(&claimants));
    diesel::update(released())
        .set((
            accounts::snils_enc.eq(None::<String>),
            accounts::snils_claim.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::update(released().filter(accounts::level.eq(AccountLevel::Standard.as_str())))
        .set(accounts::level.eq(AccountLevel::Simplified.as_str()))
        .execute(conn)?;
    touch(conn, id, now)?;
    claimants
        .iter()
        .map(|c| parse_id("accounts", c))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Claims the next version of the account for a write based on `expected`; `false` when
/// someone else wrote first (the caller answers 412).
pub fn bump_version(
    conn: &mut DbConnection,
    id: AccountId,
    expected: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        accounts::table
            .find(id.to_string())
            .filter(accounts::version.eq(expected)),
    )
    .set((
        accounts::version.eq(expected + 1),
        accounts::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Sets the encrypted documents (either may be left as is with `None`) and the level.
pub fn set_documents(
    conn: &mut DbConnection,
    id: AccountId,
    passport_enc: Option<&str>,
    inn_enc: Option<&str>,
    level: AccountLevel,
) -> Result<(), StoreError> {
    let key = id.to_string();
    if let Some(passport) = passport_enc {
        diesel::update(accounts::table.find(&key))
            .set(accounts::passport_enc.eq(passport))
            .execute(conn)?;
    }
    if let Some(inn) = inn_enc {
        diesel::update(accounts::table.find(&key))
            .set(accounts::inn_enc.eq(inn))
            .execute(conn)?;
    }
    diesel::update(accounts::table.find(&key))
        .set(accounts::level.eq(level.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Sets the allow-list without touching the version (the caller bumped it already).
pub fn store_ip_allow_list(
    conn: &mut DbConnection,
    id: AccountId,
    list: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set(accounts::ip_allow_list.eq(list))
        .execute(conn)?;
    Ok(())
}

/// Puts a confirmed TOTP secret in force, keeping the step its first code used.
pub fn enable_totp(conn: &mut DbConnection, id: AccountId, now: Instant) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id.to_string()))
        .set(accounts::totp_enabled.eq(true))
        .execute(conn)?;
    touch(conn, id, now)
}
