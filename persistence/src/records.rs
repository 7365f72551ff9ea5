//! What a write records beside its own rows — application history, audit records and live
//! events — written together. On PostgreSQL that is one statement however many rows there
//! are (arrays unnested into each table): a create used to pay three more round trips, and
//! a transition four, for rows no one reads in the same transaction. On SQLite, where a
//! statement costs no round trip, each row goes through its table's own writer.

use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::{PgConnection, RunQueryDsl};
use domain::audit::AuditEntry;
use domain::ids::AuditRecordId;
use domain::time::{to_storage_precision, Instant};

use crate::applications::NewHistory;
use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::events::{NewLiveEvent, PER_TRANSACTION};
use crate::locks::{self, Parent};
use crate::prepared;
use crate::rows::to_db_time;

/// Writes `history`, `audit` and `events` in the caller's transaction, at `at`.
pub fn write(
    conn: &mut DbConnection,
    history: &[NewHistory],
    audit: &[AuditEntry],
    events: &[NewLiveEvent],
    at: Instant,
) -> Result<(), StoreError> {
    if history.is_empty() && audit.is_empty() && events.is_empty() {
        return Ok(());
    }
    if let DbConnection::Postgresql(pg) = conn {
        return write_at_once(pg, history, audit, events, at);
    }
    for entry in history {
        crate::applications::append_history(conn, entry, at)?;
    }
    for entry in audit {
        crate::audit::record(conn, entry.clone(), at)?;
    }
    for event in events {
        crate::events::publish(conn, event, at)?;
    }
    Ok(())
}

fn write_at_once(
    pg: &mut PgConnection,
    history: &[NewHistory],
    audit: &[AuditEntry],
    events: &[NewLiveEvent],
    at: Instant,
) -> Result<(), StoreError> {
    // An entry numbered after rows another transaction may be appending waits for the
    // application's row first, in a statement of its own: the numbering statement's
    // snapshot is taken when it starts, so it must start after the wait.
    let mut locked: Vec<String> = Vec::new();
    for entry in history.iter().filter(|e| e.locks_first()) {
        let id = entry.application.to_string();
        if !locked.contains(&id) {
            locks::lock_row(pg, Parent::Application, &id)?;
            locked.push(id);
        }
    }
    let rows = Rows::of(history, audit, events);
    let statement = diesel::sql_query(STATEMENT)
        .bind::<Timestamp, _>(to_db_time(at))
        .bind::<Timestamp, _>(to_db_time(to_storage_precision(at)))
        .bind::<BigInt, _>(PER_TRANSACTION)
        .bind::<Array<Text>, _>(&rows.history_id)
        .bind::<Array<Text>, _>(&rows.history_application)
        .bind::<Array<Nullable<Text>>, _>(&rows.history_actor)
        .bind::<Array<Nullable<Text>>, _>(&rows.history_on_behalf_of)
        .bind::<Array<Text>, _>(&rows.history_event)
        .bind::<Array<Nullable<Text>>, _>(&rows.history_from)
        .bind::<Array<Text>, _>(&rows.history_to)
        .bind::<Array<Text>, _>(&rows.history_agency)
        .bind::<Array<Nullable<Text>>, _>(&rows.history_comment)
        .bind::<Array<Text>, _>(&rows.audit_id)
        .bind::<Array<Nullable<Text>>, _>(&rows.audit_actor)
        .bind::<Array<Nullable<Text>>, _>(&rows.audit_on_behalf_of)
        .bind::<Array<Text>, _>(&rows.audit_action)
        .bind::<Array<Text>, _>(&rows.audit_target_type)
        .bind::<Array<Nullable<Text>>, _>(&rows.audit_target_id)
        .bind::<Array<Text>, _>(&rows.audit_details)
        .bind::<Array<Nullable<Text>>, _>(&rows.audit_ip)
        .bind::<Array<Text>, _>(&rows.event_application)
        .bind::<Array<Text>, _>(&rows.event_kind)
        .bind::<Array<Text>, _>(&rows.event_data)
        .bind::<Array<Text>, _>(&rows.event_service)
        .bind::<Array<Text>, _>(&rows.audience_account)
        .bind::<Array<BigInt>, _>(&rows.audience_event);
    prepared::kept(pg, statement)?.execute(pg)?;
    Ok(())
}

/// History numbers count on from the application's last entry (in order within this
/// write); audit records are queued for the sealer (as `audit::record` does); events take
/// the next free positions of this transaction's block (see `events::publish`), and each
/// audience row names its event by its place in the array.
const STATEMENT: &str = "\
WITH history AS (\
    INSERT INTO application_history (id, application_id, seq, occurred_at, actor_id, on_behalf_of, \
                                     event, from_status, to_status, agency_code, comment) \
    SELECT h.id, h.application_id, \
           COALESCE((SELECT MAX(x.seq) FROM application_history x WHERE x.application_id = h.application_id), 0) \
             + row_number() OVER (PARTITION BY h.application_id ORDER BY h.place), \
           $1, h.actor_id, h.on_behalf_of, h.event, h.from_status, h.to_status, h.agency_code, h.comment \
    FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
                $11::text[], $12::text[]) WITH ORDINALITY \
         AS h(id, application_id, actor_id, on_behalf_of, event, from_status, to_status, agency_code, comment, place)), \
audit AS (\
    INSERT INTO audit_log (id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip) \
    SELECT a.id, $2, a.actor_id, a.on_behalf_of, a.action, a.target_type, a.target_id, a.details, a.ip \
    FROM unnest($13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
                $20::text[]) AS a(id, actor_id, on_behalf_of, action, target_type, target_id, details, ip) \
    RETURNING seq), \
unsealed AS (INSERT INTO audit_unsealed (seq) SELECT seq FROM audit), \
block AS (SELECT pg_current_xact_id()::text::bigint * $3 AS first), \
free AS (\
    SELECT COALESCE((SELECT MAX(e.id) + 1 FROM events e WHERE e.id >= block.first AND e.id < block.first + $3), \
                    block.first) AS next_id \
    FROM block WHERE cardinality($21::text[]) > 0), \
event AS (\
    INSERT INTO events (id, application_id, kind, data, created_at, service_code) \
    SELECT free.next_id + e.place - 1, e.application_id, e.kind, e.data, $1, e.service_code \
    FROM free, unnest($21::text[], $22::text[], $23::text[], $24::text[]) WITH ORDINALITY \
         AS e(application_id, kind, data, service_code, place)) \
INSERT INTO event_audience (account_id, event_id) \
SELECT a.account_id, free.next_id + a.place - 1 \
FROM free, unnest($25::text[], $26::bigint[]) AS a(account_id, place)";

/// The rows as one array per column, the shape `unnest` takes.
#[derive(Default)]
struct Rows {
    history_id: Vec<String>,
    history_application: Vec<String>,
    history_actor: Vec<Option<String>>,
    history_on_behalf_of: Vec<Option<String>>,
    history_event: Vec<String>,
    history_from: Vec<Option<String>>,
    history_to: Vec<String>,
    history_agency: Vec<String>,
    history_comment: Vec<Option<String>>,
    audit_id: Vec<String>,
    audit_actor: Vec<Option<String>>,
    audit_on_behalf_of: Vec<Option<String>>,
    audit_action: Vec<String>,
    audit_target_type: Vec<String>,
    audit_target_id: Vec<Option<String>>,
    audit_details: Vec<String>,
    audit_ip: Vec<Option<String>>,
    event_application: Vec<String>,
    event_kind: Vec<String>,
    event_data: Vec<String>,
    event_service: Vec<String>,
    audience_account: Vec<String>,
    audience_event: Vec<i64>,
}

impl Rows {
    fn of(history: &[NewHistory], audit: &[AuditEntry], events: &[NewLiveEvent]) -> Rows {
        let mut rows = Rows::default();
        for entry in history {
            rows.history_id.push(uuid::Uuid::now_v7().to_string());
            rows.history_application.push(entry.application.to_string());
            rows.history_actor.push(entry.actor.map(|a| a.to_string()));
            rows.history_on_behalf_of
                .push(entry.on_behalf_of.map(|p| p.to_string()));
            rows.history_event.push(entry.event.clone());
            rows.history_from.push(entry.from.map(|s| s.as_str().to_string()));
            rows.history_to.push(entry.to.as_str().to_string());
            rows.history_agency.push(entry.agency_code.clone());
            rows.history_comment.push(entry.comment.clone());
        }
        for entry in audit {
            rows.audit_id.push(AuditRecordId::new().to_string());
            rows.audit_actor.push(entry.actor.map(|a| a.to_string()));
            rows.audit_on_behalf_of
                .push(entry.on_behalf_of.map(|p| p.to_string()));
            rows.audit_action.push(entry.action.clone());
            rows.audit_target_type.push(entry.target_type.clone());
            rows.audit_target_id.push(entry.target_id.clone());
            rows.audit_details.push(entry.details.to_string());
            rows.audit_ip.push(entry.ip.clone());
        }
        for (place, event) in (1_i64..).zip(events) {
            rows.event_application.push(event.application.to_string());
            rows.event_kind.push(event.kind.clone());
            rows.event_data.push(event.data.to_string());
            rows.event_service.push(event.service.clone());
            for account in crate::events::audience_of(event) {
                rows.audience_account.push(account);
                rows.audience_event.push(place);
            }
        }
        rows
    }
}
