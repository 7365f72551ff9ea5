//! The state of rate limits: one theoretical arrival time per key, shared by every node.
//! A decision is counted and written in one atomic step. Counted on its own (outside a
//! transaction, see [`Database::count`](crate::Database::count)), it stays written whether
//! the request is admitted or not; counted inside the write it limits (a limit on what is
//! stored), an admitted count is rolled back with a write that fails. A refusal writes
//! nothing either way (a refusal that rolled back a count would be no limit).
//!
//! On PostgreSQL a decision is one statement: the upsert applies `Quota::decide`'s rule
//! itself (`max(tat, now) + emission <= now + period`) under the row lock it takes, so
//! concurrent requests on every node queue on the key's row and no count is lost, in one
//! round trip. SQLite, one writer at a time, reads, decides and writes in the caller's
//! transaction.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::{PgConnection, SqliteConnection};
use domain::ids::SessionId;
use domain::rate::{Decision, Quota};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;
use crate::rows::{from_db_time, to_db_time};
use crate::schema::rate_limits;
use crate::sessions::SessionState;

/// Counts one request against `key`'s `quota` at `now`.
pub fn take(conn: &mut DbConnection, key: &str, quota: Quota, now: Instant) -> Result<Decision, StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => take_in_one_statement(pg, key, quota, now),
        DbConnection::Sqlite(sqlite) => take_in_transaction(sqlite, key, quota, now),
    }
}

/// The admission rule of `Quota::decide`, applied by the statement that stores the new
/// TAT; nothing is written, and no row comes back, when the request is refused.
macro_rules! admit {
    ($from:literal) => {
        concat!(
            "INSERT INTO rate_limits AS r (key, tat) \
             SELECT $1, $2 + $3 * interval '1 microsecond' ",
            $from,
            " ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, $2) + $3 * interval '1 microsecond' \
             WHERE GREATEST(r.tat, $2) + $3 * interval '1 microsecond' <= $2 + $4 * interval '1 microsecond' \
             RETURNING tat"
        )
    };
}

/// Counted on its own: `set_config(…, true)` lasts as long as the statement's implicit
/// transaction, whose commit then does not wait for the WAL to reach the disk (`SET LOCAL`
/// would need a transaction block of its own, three more round trips).
const ADMIT_ALONE: &str = admit!("FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unsynced");
/// Counted inside a write: the write's own commit stays durable.
const ADMIT_IN_WRITE: &str = admit!("");

fn take_in_one_statement(
    pg: &mut PgConnection,
    key: &str,
    quota: Quota,
    now: Instant,
) -> Result<Decision, StoreError> {
    let in_write = AnsiTransactionManager::transaction_manager_status_mut(pg)
        .transaction_depth()?
        .is_some();
    let count = diesel::sql_query(if in_write { ADMIT_IN_WRITE } else { ADMIT_ALONE })
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(to_db_time(now))
        .bind::<BigInt, _>(micros(quota.emission()))
        .bind::<BigInt, _>(micros(quota.period));
    let admitted: Option<TatRow> = prepared::kept(pg, count)?.get_result(pg).optional()?;
    decided(pg, key, quota, admitted.map(|row| row.tat), now)
}

/// The decision of a count whose statement answered `admitted` (the new TAT, none when the
/// rule refused the request).
fn decided(
    pg: &mut PgConnection,
    key: &str,
    quota: Quota,
    admitted: Option<chrono::NaiveDateTime>,
    now: Instant,
) -> Result<Decision, StoreError> {
    if let Some(tat) = admitted {
        return Ok(quota.admitted(from_db_time(tat), now));
    }
    // Refused: what stands is read only to say when to come back.
    let tat = rate_limits::table
        .find(key)
        .select(rate_limits::tat)
        .first::<chrono::NaiveDateTime>(pg)
        .optional()?;
    Ok(quota.refused(tat.map(from_db_time), now))
}

/// The per-request session check (`sessions::state`) with one count of a write's limit
/// (`take` inside that write) in the same statement: a limited write's transaction starts
/// with one round trip, not two. `None` for the decision only when there is no such
/// session: the caller is refused then, and its transaction (with the count) rolled back.
pub fn session_state_counting(
    conn: &mut DbConnection,
    session: SessionId,
    key: &str,
    quota: Quota,
    now: Instant,
) -> Result<(Option<SessionState>, Option<Decision>), StoreError> {
    let DbConnection::Postgresql(pg) = conn else {
        let state = crate::sessions::state(conn, session)?;
        return Ok((state, Some(take(conn, key, quota, now)?)));
    };
    let statement = diesel::sql_query(SESSION_COUNTING)
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(to_db_time(now))
        .bind::<BigInt, _>(micros(quota.emission()))
        .bind::<BigInt, _>(micros(quota.period))
        .bind::<Text, _>(session.to_string());
    let Some(row) = prepared::kept(pg, statement)?
        .get_result::<SessionCountedRow>(pg)
        .optional()?
    else {
        return Ok((None, None));
    };
    let decision = decided(pg, key, quota, row.counted, now)?;
    let state = (
        row.account_id,
        row.revoked_at,
        row.expires_at,
        row.ip_allow_list,
        row.roles,
        row.level,
        row.agency_code,
    );
    Ok((Some(SessionState::try_from(state)?), Some(decision)))
}

/// The count as a data-modifying `WITH` (it runs whether or not the session exists), and
/// the columns of `sessions::state_columns!` beside the new TAT.
const SESSION_COUNTING: &str = concat!(
    "WITH counted AS (",
    admit!(""),
    ") SELECT s.account_id, s.revoked_at, s.expires_at, a.ip_allow_list, a.roles, a.level, a.agency_code, \
            (SELECT tat FROM counted) AS counted \
     FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $5"
);

#[derive(QueryableByName)]
struct SessionCountedRow {
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    revoked_at: Option<chrono::NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    expires_at: chrono::NaiveDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    ip_allow_list: Option<String>,
    #[diesel(sql_type = Text)]
    roles: String,
    #[diesel(sql_type = Text)]
    level: String,
    #[diesel(sql_type = Nullable<Text>)]
    agency_code: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    counted: Option<chrono::NaiveDateTime>,
}

fn micros(t: chrono::TimeDelta) -> i64 {
    t.num_microseconds().unwrap_or(i64::MAX)
}

fn take_in_transaction(
    conn: &mut SqliteConnection,
    key: &str,
    quota: Quota,
    now: Instant,
) -> Result<Decision, StoreError> {
    let tat = rate_limits::table
        .find(key)
        .select(rate_limits::tat)
        .first::<chrono::NaiveDateTime>(conn)
        .optional()?;
    let decision = quota.decide(tat.map(from_db_time), now);
    if decision.allowed {
        diesel::insert_into(rate_limits::table)
            .values((
                rate_limits::key.eq(key),
                rate_limits::tat.eq(to_db_time(decision.tat)),
            ))
            .on_conflict(rate_limits::key)
            .do_update()
            .set(rate_limits::tat.eq(to_db_time(decision.tat)))
            .execute(conn)?;
    }
    Ok(decision)
}

#[derive(QueryableByName)]
struct TatRow {
    #[diesel(sql_type = Timestamp)]
    tat: chrono::NaiveDateTime,
}

/// Forgets keys whose TAT has passed: such a key is decided exactly as one never seen.
pub fn purge(conn: &mut DbConnection, now: Instant) -> Result<usize, StoreError> {
    Ok(diesel::delete(rate_limits::table.filter(rate_limits::tat.lt(to_db_time(now)))).execute(conn)?)
}
