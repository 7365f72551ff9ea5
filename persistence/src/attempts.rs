//! Failed checks of a secret per key (see `domain::attempts`), shared by every node, and
//! the single-use tokens already spent.

use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use domain::attempts::Attempts;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;
use crate::rows::{from_db_time, to_db_time};
use crate::schema::{secret_attempts, spent_tokens};

/// The key's state, holding its row until the transaction ends: on PostgreSQL the row is
/// locked `FOR UPDATE`, so concurrent checks of one key (on any node) are decided one
/// after another; SQLite's writers take turns already. Call it first in the transaction
/// that stores the decision.
pub fn hold(conn: &mut DbConnection, key: &str) -> Result<Attempts, StoreError> {
    let row: AttemptsRow = match conn {
        // The row must exist to be locked: one statement creates it when missing and locks
        // it either way (an upsert's update locks as `FOR UPDATE` does; it changes nothing).
        DbConnection::Postgresql(pg) => {
            let statement = diesel::sql_query(
                "INSERT INTO secret_attempts (key, failures) VALUES ($1, 0) \
                 ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key \
                 RETURNING failures, locked_until",
            )
            .bind::<Text, _>(key);
            prepared::kept(pg, statement)?.get_result(pg)?
        }
        DbConnection::Sqlite(sqlite) => {
            diesel::sql_query(
                "INSERT INTO secret_attempts (key, failures) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING",
            )
            .bind::<Text, _>(key)
            .execute(sqlite)?;
            secret_attempts::table
                .find(key)
                .select((secret_attempts::failures, secret_attempts::locked_until))
                .first::<(i32, Option<chrono::NaiveDateTime>)>(sqlite)
                .map(|(failures, locked_until)| AttemptsRow {
                    failures,
                    locked_until,
                })?
        }
    };
    Ok(row.into())
}

/// The key's state without holding it: for a quick refusal before expensive work (the
/// decision itself is taken under [`hold`]).
pub fn peek(conn: &mut DbConnection, key: &str) -> Result<Attempts, StoreError> {
    Ok(secret_attempts::table
        .find(key)
        .select((secret_attempts::failures, secret_attempts::locked_until))
        .first::<(i32, Option<chrono::NaiveDateTime>)>(conn)
        .optional()?
        .map(|(failures, locked_until)| {
            AttemptsRow {
                failures,
                locked_until,
            }
            .into()
        })
        .unwrap_or_default())
}

pub fn store(conn: &mut DbConnection, key: &str, attempts: Attempts) -> Result<(), StoreError> {
    prepared::execute(
        conn,
        diesel::update(secret_attempts::table.find(key)).set((
            secret_attempts::failures.eq(attempts.failures),
            secret_attempts::locked_until.eq(attempts.locked_until.map(to_db_time)),
        )),
    )?;
    Ok(())
}

/// Forgets the key's failures (a success, or a password reset).
pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(secret_attempts::table.find(key)).execute(conn)?;
    Ok(())
}

/// Forgets spent tokens that expired and locks that ran out (a lock that ran out counts
/// from zero again anyway). Counts below the limit stay until a success clears them.
pub fn purge(conn: &mut DbConnection, now: Instant) -> Result<usize, StoreError> {
    let spent = diesel::delete(spent_tokens::table.filter(spent_tokens::expires_at.le(to_db_time(now))))
        .execute(conn)?;
    let expired =
        diesel::delete(secret_attempts::table.filter(secret_attempts::locked_until.le(to_db_time(now))))
            .execute(conn)?;
    Ok(spent + expired)
}

/// Spends the single-use token `jti`; `false` when it was spent already (on any node).
pub fn spend_token(conn: &mut DbConnection, jti: &str, expires_at: Instant) -> Result<bool, StoreError> {
    let inserted = diesel::sql_query(
        "INSERT INTO spent_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
    )
    .bind::<Text, _>(jti)
    .bind::<Timestamp, _>(to_db_time(expires_at))
    .execute(conn)?;
    Ok(inserted == 1)
}

#[derive(QueryableByName)]
struct AttemptsRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamp>)]
    locked_until: Option<chrono::NaiveDateTime>,
}

impl From<AttemptsRow> for Attempts {
    fn from(row: AttemptsRow) -> Attempts {
        Attempts {
            failures: row.failures,
            locked_until: row.locked_until.map(from_db_time),
        }
    }
}
