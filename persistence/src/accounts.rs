//! Accounts and their logins. A login (e-mail, phone, SNILS blind index, staff user name)
//! is a row of its own, so one login can never belong to two accounts.

use diesel::prelude::*;
use domain::access::Role;
use domain::ids::AccountId;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{parse_id, to_db_time};
use crate::schema::{account_logins, accounts};

/// What a login attempt needs to know about an account.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    pub id: AccountId,
    pub roles: Vec<Role>,
    pub password_hash: String,
}

/// A staff account created by the operator (admin, officer).
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
}

pub fn encode_roles(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn decode_roles(text: &str) -> Result<Vec<Role>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Role::parse(s).ok_or_else(|| StoreError::corrupt("accounts", format!("role {s:?}"))))
        .collect()
}

/// Creates a staff account; `Ok(false)` when its login is taken already.
pub fn create_staff(conn: &mut DbConnection, staff: &NewStaff, now: Instant) -> Result<bool, StoreError> {
    let taken: i64 = account_logins::table
        .find(&staff.login_key)
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Ok(false);
    }
    diesel::insert_into(accounts::table)
        .values(NewAccountRow {
            id: staff.id.to_string(),
            created_at: to_db_time(now),
            updated_at: to_db_time(now),
            version: 1,
            display_name: staff.display_name.clone(),
            roles: encode_roles(&staff.roles),
            agency_code: staff.agency_code.clone(),
            level: "confirmed".into(),
            password_hash: staff.password_hash.clone(),
            email: staff.email.clone(),
            phone: None,
        })
        .execute(conn)?;
    diesel::insert_into(account_logins::table)
        .values((
            account_logins::login_key.eq(&staff.login_key),
            account_logins::account_id.eq(staff.id.to_string()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The credentials behind the first of `login_keys` that exists.
pub fn find_credentials(
    conn: &mut DbConnection,
    login_keys: &[String],
) -> Result<Option<Credentials>, StoreError> {
    let row: Option<(String, String, String)> = account_logins::table
        .inner_join(accounts::table)
        .filter(account_logins::login_key.eq_any(login_keys))
        .select((accounts::id, accounts::roles, accounts::password_hash))
        .first(conn)
        .optional()?;
    row.map(|(id, roles, password_hash)| {
        Ok(Credentials {
            id: parse_id("accounts", &id)?,
            roles: decode_roles(&roles)?,
            password_hash,
        })
    })
    .transpose()
}
