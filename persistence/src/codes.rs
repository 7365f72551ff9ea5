//! Secrets with a short life: TOTP recovery codes, one-time codes for password resets and
//! contact changes, and the addresses an account has logged in from. Codes are stored as
//! keyed hashes only.

use diesel::prelude::*;
use domain::ids::AccountId;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;
use crate::rows::{from_db_time, to_db_time};
use crate::schema::{known_ips, one_time_codes, recovery_codes};

/// Replaces the account's recovery codes with `hashes`.
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    account: AccountId,
    hashes: &[String],
) -> Result<(), StoreError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::account_id.eq(account.to_string())))
        .execute(conn)?;
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(hash),
                recovery_codes::account_id.eq(account.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses up a recovery code; `false` when it is unknown or used already.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    account: AccountId,
    hash: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let used = diesel::update(
        recovery_codes::table
            .find(hash)
            .filter(recovery_codes::account_id.eq(account.to_string()))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    Ok(used == 1)
}

/// A one-time code awaiting its use.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingCode {
    pub id: String,
    pub account: AccountId,
    pub code_hash: String,
    pub target: Option<String>,
    pub expires_at: Instant,
}

pub struct NewCode<'a> {
    pub id: &'a str,
    pub account: AccountId,
    pub purpose: &'a str,
    pub code_hash: &'a str,
    pub target: Option<&'a str>,
    pub expires_at: Instant,
}

/// Issues a code, retiring earlier unused codes of the same purpose (only the newest works).
pub fn issue(conn: &mut DbConnection, code: &NewCode<'_>, now: Instant) -> Result<(), StoreError> {
    diesel::update(
        one_time_codes::table
            .filter(one_time_codes::account_id.eq(code.account.to_string()))
            .filter(one_time_codes::purpose.eq(code.purpose))
            .filter(one_time_codes::used_at.is_null()),
    )
    .set(one_time_codes::used_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    diesel::insert_into(one_time_codes::table)
        .values((
            one_time_codes::id.eq(code.id),
            one_time_codes::account_id.eq(code.account.to_string()),
            one_time_codes::purpose.eq(code.purpose),
            one_time_codes::code_hash.eq(code.code_hash),
            one_time_codes::target.eq(code.target),
            one_time_codes::created_at.eq(to_db_time(now)),
            one_time_codes::expires_at.eq(to_db_time(code.expires_at)),
            one_time_codes::attempts.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

/// Which pending code a presented code is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    pub purpose: &'a str,
    /// The code's own id, when the caller was handed it (a contact change).
    pub id: Option<&'a str>,
    /// What the code must have been sent for: a code for one thing is never tried (and so
    /// never counted or spent) against another.
    pub target: Option<&'a str>,
}

impl<'a> Wanted<'a> {
    pub fn purpose(purpose: &'a str) -> Self {
        Self {
            purpose,
            id: None,
            target: None,
        }
    }
}

/// The newest unused code of `wanted.purpose` for `account`, if it matches `wanted`'s id
/// and target.
pub fn pending(
    conn: &mut DbConnection,
    account: AccountId,
    wanted: Wanted<'_>,
) -> Result<Option<PendingCode>, StoreError> {
    let mut query = one_time_codes::table
        .filter(one_time_codes::account_id.eq(account.to_string()))
        .filter(one_time_codes::purpose.eq(wanted.purpose))
        .filter(one_time_codes::used_at.is_null())
        .into_boxed();
    if let Some(id) = wanted.id {
        query = query.filter(one_time_codes::id.eq(id.to_string()));
    }
    if let Some(target) = wanted.target {
        query = query.filter(one_time_codes::target.eq(target.to_string()));
    }
    let row: Option<(String, String, Option<String>, chrono::NaiveDateTime)> = query
        .order(one_time_codes::created_at.desc())
        .select((
            one_time_codes::id,
            one_time_codes::code_hash,
            one_time_codes::target,
            one_time_codes::expires_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, code_hash, target, expires_at)| PendingCode {
        id,
        account,
        code_hash,
        target,
        expires_at: from_db_time(expires_at),
    }))
}

/// Takes one try of code `id` if it has tries left and is unused, and when the try
/// `matched` marks the code used in the same statement; `false` when no try was left (or
/// a concurrent redemption used the code first). One conditional update: on PostgreSQL a
/// concurrent try waits for the row and re-checks the condition on its new version, so a
/// burst of tries never exceeds `max_attempts` and a code is spent once.
pub fn try_code(
    conn: &mut DbConnection,
    id: &str,
    max_attempts: i32,
    matched: bool,
    now: Instant,
) -> Result<bool, StoreError> {
    let open = one_time_codes::table
        .find(id)
        .filter(one_time_codes::used_at.is_null())
        .filter(one_time_codes::attempts.lt(max_attempts));
    let tried = one_time_codes::attempts.eq(one_time_codes::attempts + 1);
    let taken = if matched {
        let used = one_time_codes::used_at.eq(Some(to_db_time(now)));
        prepared::execute(conn, diesel::update(open).set((tried, used)))?
    } else {
        prepared::execute(conn, diesel::update(open).set(tried))?
    };
    Ok(taken == 1)
}

/// Records that `account` logged in from `ip`; `true` when the address is new for it.
/// The insert is dialect-specific (ON CONFLICT DO NOTHING), so it branches here only.
pub fn remember_ip(
    conn: &mut DbConnection,
    account: AccountId,
    ip: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let row = (
        known_ips::account_id.eq(account.to_string()),
        known_ips::ip.eq(ip),
        known_ips::first_seen_at.eq(to_db_time(now)),
    );
    let inserted = match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(known_ips::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(known_ips::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn known_ip_count(conn: &mut DbConnection, account: AccountId) -> Result<i64, StoreError> {
    Ok(known_ips::table
        .filter(known_ips::account_id.eq(account.to_string()))
        .count()
        .get_result(conn)?)
}
