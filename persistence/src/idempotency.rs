//! Idempotency keys of creating requests: the first answer is kept whole and replayed for
//! a repeat with the same key and request.

use diesel::prelude::*;
use domain::ids::AccountId;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::to_db_time;
use crate::schema::idempotency_keys;

/// A stored first answer, and the fingerprint of the request that earned it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
}

type Row = (String, i32, String, Option<String>, Option<String>);

pub fn find(conn: &mut DbConnection, account: AccountId, key: &str) -> Result<Option<Recorded>, StoreError> {
    let row: Option<Row> = idempotency_keys::table
        .find((account.to_string(), key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::body,
            idempotency_keys::etag,
            idempotency_keys::location,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(request_hash, status, body, etag, location)| Recorded {
        request_hash,
        status: u16::try_from(status).unwrap_or(500),
        body,
        etag,
        location,
    }))
}

/// Keeps the first answer; inside the creating transaction, so a key is recorded
/// exactly when its resource exists.
pub fn record(
    conn: &mut DbConnection,
    account: AccountId,
    key: &str,
    recorded: &Recorded,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::account_id.eq(account.to_string()),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::request_hash.eq(&recorded.request_hash),
            idempotency_keys::status.eq(i32::from(recorded.status)),
            idempotency_keys::body.eq(&recorded.body),
            idempotency_keys::etag.eq(&recorded.etag),
            idempotency_keys::location.eq(&recorded.location),
            idempotency_keys::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets keys recorded before `before`; a repeat after that creates anew.
pub fn purge(conn: &mut DbConnection, before: Instant) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(to_db_time(before))))
            .execute(conn)?,
    )
}
