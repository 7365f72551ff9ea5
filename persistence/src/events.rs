//! Live events of applications: written in the caller's transaction next to the change
//! they describe, read back in id order by the event bus and by resuming SSE clients.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;

use crate::applications::next_counter;
use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::{event_audience, events};

/// The PostgreSQL channel on which a committed event's id is announced to every node.
pub const CHANNEL: &str = "kabinet_events";

/// A live event to record (what streams carry: not a state-machine event, not a
/// delegation's history): what happened to `application`, and who hears of it on
/// `/me/events`.
#[derive(Clone, Debug)]
pub struct NewLiveEvent {
    pub application: ApplicationId,
    /// The application's service: streams watched under powers limited to services carry
    /// only their events.
    pub service: String,
    pub kind: String,
    pub data: serde_json::Value,
    pub audience: Vec<AccountId>,
}

/// A committed live event.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub id: i64,
    pub application: ApplicationId,
    /// `None` only for an event whose application was gone when the column was added.
    pub service: Option<String>,
    pub kind: String,
    pub data: serde_json::Value,
    pub audience: Vec<AccountId>,
    pub created_at: Instant,
}

#[derive(Insertable, Queryable)]
#[diesel(table_name = events)]
struct EventRow {
    id: i64,
    application_id: String,
    kind: String,
    data: String,
    created_at: chrono::NaiveDateTime,
    service_code: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = event_audience)]
struct AudienceRow {
    account_id: String,
    event_id: i64,
}

/// Records `event` in the caller's transaction and returns its id.
///
/// Ids come from the `event_id` counter. Its row lock is held until commit, so a second
/// publisher waits for the first to commit or roll back: ids are gapless and become
/// visible in id order. That is what lets any node (and any resuming client) treat
/// "every event with id > N" as complete — a reader never sees N+1 before N. Publishers
/// already serialise on the audit chain's head, so the lock adds no new contention.
pub fn publish(conn: &mut DbConnection, event: &NewLiveEvent, at: Instant) -> Result<i64, StoreError> {
    let id = next_counter(conn, "event_id")?;
    diesel::insert_into(events::table)
        .values(EventRow {
            id,
            application_id: event.application.to_string(),
            kind: event.kind.clone(),
            data: event.data.to_string(),
            created_at: to_db_time(at),
            service_code: Some(event.service.clone()),
        })
        .execute(conn)?;
    let mut audience: Vec<String> = event.audience.iter().map(ToString::to_string).collect();
    audience.sort();
    audience.dedup();
    for account_id in audience {
        diesel::insert_into(event_audience::table)
            .values(AudienceRow {
                account_id,
                event_id: id,
            })
            .execute(conn)?;
    }
    announce(conn, id)?;
    Ok(id)
}

/// On PostgreSQL, tells the other nodes' listeners about `id`; the notification is
/// delivered only when (and if) the transaction commits. SQLite has one node per file,
/// woken in-process.
fn announce(conn: &mut DbConnection, id: i64) -> Result<(), StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(id.to_string())
                .execute(pg)?;
        }
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// The highest committed event id (0 when there is none): where a starting node begins.
pub fn latest(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let max: Option<i64> = events::table.select(diesel::dsl::max(events::id)).first(conn)?;
    Ok(max.unwrap_or(0))
}

/// Every event after `after`, oldest first (the bus loader).
pub fn after(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Vec<LiveEvent>, StoreError> {
    let rows = events::table
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .load::<EventRow>(conn)?;
    with_audience(conn, rows)
}

/// The events of one application after `after`, oldest first.
pub fn of_application_after(
    conn: &mut DbConnection,
    application: ApplicationId,
    after: i64,
    limit: i64,
) -> Result<Vec<LiveEvent>, StoreError> {
    let rows = events::table
        .filter(events::application_id.eq(application.to_string()))
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .load::<EventRow>(conn)?;
    with_audience(conn, rows)
}

/// The events `account` is in the audience of, after `after`, oldest first; only those of
/// `services` when given (a stream watched under powers limited to them).
pub fn for_account_after(
    conn: &mut DbConnection,
    account: AccountId,
    services: Option<&[String]>,
    after: i64,
    limit: i64,
) -> Result<Vec<LiveEvent>, StoreError> {
    let mut query = event_audience::table
        .filter(event_audience::account_id.eq(account.to_string()))
        .filter(event_audience::event_id.gt(after))
        .select(event_audience::event_id)
        .into_boxed();
    if let Some(services) = services {
        let of_services = events::table
            .filter(events::service_code.eq_any(services.to_vec()))
            .select(events::id);
        query = query.filter(event_audience::event_id.eq_any(of_services));
    }
    let ids = query
        .order(event_audience::event_id.asc())
        .limit(limit)
        .load::<i64>(conn)?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = events::table
        .filter(events::id.eq_any(ids))
        .order(events::id.asc())
        .load::<EventRow>(conn)?;
    with_audience(conn, rows)
}

fn with_audience(conn: &mut DbConnection, rows: Vec<EventRow>) -> Result<Vec<LiveEvent>, StoreError> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let pairs = event_audience::table
        .filter(event_audience::event_id.eq_any(ids))
        .select((event_audience::event_id, event_audience::account_id))
        .load::<(i64, String)>(conn)?;
    let mut audiences: HashMap<i64, Vec<AccountId>> = HashMap::new();
    for (event_id, account) in pairs {
        audiences
            .entry(event_id)
            .or_default()
            .push(parse_id("event_audience", &account)?);
    }
    rows.into_iter()
        .map(|row| {
            let data = serde_json::from_str(&row.data)
                .map_err(|e| StoreError::corrupt("events", format!("event {}: {e}", row.id)))?;
            Ok(LiveEvent {
                id: row.id,
                application: parse_id("events", &row.application_id)?,
                service: row.service_code,
                kind: row.kind,
                data,
                audience: audiences.remove(&row.id).unwrap_or_default(),
                created_at: from_db_time(row.created_at),
            })
        })
        .collect()
}
