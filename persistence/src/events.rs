//! Live events of applications: written in the caller's transaction next to the change
//! they describe, read back in id order by the event bus and by resuming SSE clients.

use std::collections::HashMap;

use diesel::prelude::*;
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;

use crate::applications::{next_counter, Counter};
use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::{event_audience, events};

/// The PostgreSQL channel on which a node announces that it has committed events.
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
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct EventRow {
    id: i64,
    application_id: String,
    kind: String,
    data: String,
    created_at: chrono::NaiveDateTime,
    service_code: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = event_audience, treat_none_as_default_value = false)]
struct AudienceRow {
    account_id: String,
    event_id: i64,
}

/// Records `event` in the caller's transaction and returns its id.
///
/// Ids are positions that need no lock shared by writers (see `next_position`), and every
/// reader asks only for events below the horizon (`horizon`): the positions no
/// transaction still running can take. So "every event after N, up to the horizon" is
/// complete on every node, and a reader never sees N+1 and later N.
pub fn publish(conn: &mut DbConnection, event: &NewLiveEvent, at: Instant) -> Result<i64, StoreError> {
    let row = EventRow {
        id: 0,
        application_id: event.application.to_string(),
        kind: event.kind.clone(),
        data: event.data.to_string(),
        created_at: to_db_time(at),
        service_code: Some(event.service.clone()),
    };
    let id = insert_at_next_position(conn, row, &audience_of(event))?;
    // No NOTIFY here: a transaction that notified takes PostgreSQL's one queue lock at
    // commit, which every other notifying writer then waits for. The node announces its
    // commits afterwards, coalesced, on its listener's own connection (`EventBus::committed`).
    Ok(id)
}

/// Who receives `event`, each account once.
pub(crate) fn audience_of(event: &NewLiveEvent) -> Vec<String> {
    let mut audience: Vec<String> = event.audience.iter().map(ToString::to_string).collect();
    audience.sort();
    audience.dedup();
    audience
}

/// Positions one transaction can take: its events are numbered within its own block.
pub(crate) const PER_TRANSACTION: i64 = 1 << 16;

/// Inserts `row` at the next position of the current transaction, with its audience,
/// and returns the position.
///
/// On PostgreSQL the position is the transaction's id (`xid8`, which only grows) times
/// `PER_TRANSACTION`, plus the events it has already published, found and written in one
/// statement with the audience: no row is locked, so concurrent writers never wait for each
/// other here. Positions are not gapless and not in commit order; `horizon` is what makes
/// reading them complete. SQLite runs one writer at a time, so its counter row is never
/// contended and keeps ids dense.
fn insert_at_next_position(
    conn: &mut DbConnection,
    mut row: EventRow,
    audience: &[String],
) -> Result<i64, StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    match conn {
        DbConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Inserted {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            let statement = diesel::sql_query(
                "WITH block AS (SELECT pg_current_xact_id()::text::bigint * $1 AS first), \
                 event AS (\
                     INSERT INTO events (id, application_id, kind, data, created_at, service_code) \
                     SELECT COALESCE((SELECT MAX(e.id) + 1 FROM events e \
                                      WHERE e.id >= block.first AND e.id < block.first + $1), block.first), \
                            $2, $3, $4, $5, $6 \
                     FROM block RETURNING id), \
                 audience AS (\
                     INSERT INTO event_audience (account_id, event_id) \
                     SELECT account, event.id FROM event, unnest($7::text[]) AS account) \
                 SELECT id FROM event",
            )
            .bind::<BigInt, _>(PER_TRANSACTION)
            .bind::<Text, _>(&row.application_id)
            .bind::<Text, _>(&row.kind)
            .bind::<Text, _>(&row.data)
            .bind::<Timestamp, _>(row.created_at)
            .bind::<Nullable<Text>, _>(&row.service_code)
            .bind::<Array<Text>, _>(audience);
            let inserted: Inserted = prepared::kept(pg, statement)?.get_result(pg)?;
            Ok(inserted.id)
        }
        DbConnection::Sqlite(_) => {
            row.id = next_counter(conn, Counter::EventId)?;
            diesel::insert_into(events::table).values(&row).execute(conn)?;
            for account_id in audience {
                diesel::insert_into(event_audience::table)
                    .values(AudienceRow {
                        account_id: account_id.clone(),
                        event_id: row.id,
                    })
                    .execute(conn)?;
            }
            Ok(row.id)
        }
    }
}

/// The first position a transaction still running (or yet to start) may take: every event
/// below it is committed or will never be. On PostgreSQL that is the oldest running
/// transaction id of the snapshot (`pg_snapshot_xmin`), as a position; SQLite's one
/// writer commits in id order, so everything visible is final.
pub fn horizon(conn: &mut DbConnection) -> Result<i64, StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Horizon {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                position: i64,
            }
            let statement = diesel::sql_query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * $1 AS position",
            )
            .bind::<diesel::sql_types::BigInt, _>(PER_TRANSACTION);
            let horizon: Horizon = prepared::kept(pg, statement)?.get_result(pg)?;
            Ok(horizon.position)
        }
        DbConnection::Sqlite(_) => Ok(i64::MAX),
    }
}

/// The highest final event id (0 when there is none): where a starting node begins.
/// Events of transactions still running are above it, so the node's bus loads them.
pub fn latest(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let below = horizon(conn)?;
    let max: Option<i64> = events::table
        .filter(events::id.lt(below))
        .select(diesel::dsl::max(events::id))
        .first(conn)?;
    Ok(max.unwrap_or(0))
}

/// Where a stream that starts now begins: every event below the horizon is past, and so are
/// the committed ones above it that wait behind an older transaction. Events are not
/// committed in position order, so "now" is a position plus those few exceptions.
#[derive(Debug, Default)]
pub struct Now {
    /// Everything at or below it is past.
    pub after: i64,
    /// Committed events above `after`: past too, though the bus has yet to broadcast them.
    pub committed_above: Vec<i64>,
}

pub fn now(conn: &mut DbConnection) -> Result<Now, StoreError> {
    let below = horizon(conn)?;
    if below == i64::MAX {
        return Ok(Now {
            after: latest(conn)?,
            committed_above: vec![],
        });
    }
    let committed_above = events::table
        .filter(events::id.ge(below))
        .select(events::id)
        .order(events::id.asc())
        .load(conn)?;
    Ok(Now {
        after: below - 1,
        committed_above,
    })
}

/// What the bus loader found after a position.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Final events after the position, oldest first.
    pub events: Vec<LiveEvent>,
    /// Whether committed events wait above the horizon, behind a transaction that began
    /// earlier and still runs: the loader looks again shortly rather than at its next wake.
    pub held_back: bool,
}

/// Every final event after `after`, oldest first (the bus loader).
pub fn after(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Loaded, StoreError> {
    let below = horizon(conn)?;
    let rows = events::table
        .filter(events::id.gt(after))
        .filter(events::id.lt(below))
        .order(events::id.asc())
        .limit(limit)
        .load::<EventRow>(conn)?;
    // The first such event by the index, not EXISTS: PostgreSQL's generic plan for
    // EXISTS (… id >= $1) is a sequential scan that stops at the first match, and above the
    // horizon there is rarely one, so every load read the whole table.
    let held_back = events::table
        .filter(events::id.ge(below.max(after + 1)))
        .select(events::id)
        .order(events::id.asc())
        .first::<i64>(conn)
        .optional()?
        .is_some();
    Ok(Loaded {
        events: with_audience(conn, rows)?,
        held_back,
    })
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
        .filter(events::id.lt(horizon(conn)?))
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
        .filter(event_audience::event_id.lt(horizon(conn)?))
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
