//! The state of rate limits: one theoretical arrival time per key, shared by every node.
//! A decision reads and writes a key's row in its own short transaction, committed whether
//! the request is admitted or not (a refusal that rolled back its count would be no limit).

use diesel::prelude::*;
use diesel::sql_types::Text;
use domain::rate::{Decision, Quota};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, to_db_time};
use crate::schema::rate_limits;

/// Decides one request for `key` under `quota` at `now` and stores the key's new state.
/// Call it in a transaction of its own: on PostgreSQL the row is locked until the commit,
/// so concurrent requests for one key are decided one after another (SQLite's writers take
/// turns already), and exactly `count` of a burst are admitted.
pub fn take(conn: &mut DbConnection, key: &str, quota: Quota, now: Instant) -> Result<Decision, StoreError> {
    // The row must exist to be locked; a new key starts "idle" (its TAT in the past).
    // Diesel's upsert builder does not reach the two-backend connection; both speak this.
    diesel::sql_query("INSERT INTO rate_limits (key, tat) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind::<Text, _>(key)
        .bind::<diesel::sql_types::Timestamp, _>(to_db_time(now))
        .execute(conn)?;
    let tat = match conn {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query("SELECT tat FROM rate_limits WHERE key = $1 FOR UPDATE")
                .bind::<Text, _>(key)
                .get_result::<TatRow>(pg)?
                .tat
        }
        DbConnection::Sqlite(_) => rate_limits::table
            .find(key)
            .select(rate_limits::tat)
            .first::<chrono::NaiveDateTime>(conn)?,
    };
    let decision = quota.decide(Some(from_db_time(tat)), now);
    if decision.allowed {
        diesel::update(rate_limits::table.find(key))
            .set(rate_limits::tat.eq(to_db_time(decision.tat)))
            .execute(conn)?;
    }
    Ok(decision)
}

#[derive(QueryableByName)]
struct TatRow {
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    tat: chrono::NaiveDateTime,
}

/// Forgets keys whose arrival time has passed: they are back to a full quota anyway.
pub fn purge(conn: &mut DbConnection, now: Instant) -> Result<usize, StoreError> {
    Ok(diesel::delete(rate_limits::table.filter(rate_limits::tat.lt(to_db_time(now)))).execute(conn)?)
}
