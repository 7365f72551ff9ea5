//! What a write records beside its own rows — application history, audit records, live
//! events and notices — written together. On PostgreSQL that is one statement however many
//! rows there are (arrays unnested into each table): a create used to pay three more round
//! trips, and a transition five, for rows no one reads in the same transaction. On SQLite,
//! where a statement costs no round trip, each row goes through its table's own writer.

use diesel::sql_types::Bool;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::{PgConnection, RunQueryDsl};
use domain::audit::AuditEntry;
use domain::ids::{AuditRecordId, NotificationId, OutboxMessageId};
use domain::notice::{Channel, Notice};
use domain::time::{to_storage_precision, Instant};

use crate::applications::NewHistory;
use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::events::{NewLiveEvent, PER_TRANSACTION};
use crate::locks::{self, Parent};
use crate::prepared;
use crate::rows::to_db_time;

/// What one write records: rows of four kinds, each in the order it was added.
#[derive(Clone, Copy, Default)]
pub struct Records<'a> {
    pub history: &'a [NewHistory],
    pub audit: &'a [AuditEntry],
    pub events: &'a [NewLiveEvent],
    /// Each shown to its recipient and queued on their channels (see `notifications::notify`).
    pub notices: &'a [Notice],
}

impl Records<'_> {
    fn is_empty(&self) -> bool {
        self.history.is_empty() && self.audit.is_empty() && self.events.is_empty() && self.notices.is_empty()
    }
}

/// Writes `records` in the caller's transaction, at `at`.
pub fn write(conn: &mut DbConnection, records: Records<'_>, at: Instant) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    if let DbConnection::Postgresql(pg) = conn {
        return write_at_once(pg, records, at);
    }
    let Records {
        history,
        audit,
        events,
        notices,
    } = records;
    for entry in history {
        crate::applications::append_history(conn, entry, at)?;
    }
    for entry in audit {
        crate::audit::record(conn, entry.clone(), at)?;
    }
    for event in events {
        crate::events::publish(conn, event, at)?;
    }
    for notice in notices {
        crate::notifications::notify(conn, notice, at)?;
    }
    Ok(())
}

fn write_at_once(pg: &mut PgConnection, records: Records<'_>, at: Instant) -> Result<(), StoreError> {
    let Records { history, notices, .. } = records;
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
    if let Some(single) = One::of(records) {
        return single.write(pg, at);
    }
    let rows = Rows::of(records);
    // Most writes notify nobody: their statement leaves the notices' tables out.
    let text = if notices.is_empty() {
        WITHOUT_NOTICES
    } else {
        WITH_NOTICES
    };
    let statement = diesel::sql_query(text)
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
    if notices.is_empty() {
        prepared::kept(pg, statement)?.execute(pg)?;
        return Ok(());
    }
    let statement = statement
        .bind::<Array<Text>, _>(&rows.notice_id)
        .bind::<Array<Text>, _>(&rows.notice_recipient)
        .bind::<Array<Text>, _>(&rows.notice_kind)
        .bind::<Array<Text>, _>(&rows.notice_title)
        .bind::<Array<Text>, _>(&rows.notice_body)
        .bind::<Array<Text>, _>(&rows.notice_data)
        .bind::<Array<Bool>, _>(&rows.notice_important)
        .bind::<Array<Text>, _>(&rows.notice_email_id)
        .bind::<Array<Text>, _>(&rows.notice_sms_id)
        .bind::<Text, _>(crate::outbox::PENDING)
        .bind::<Text, _>(Channel::Email.as_str())
        .bind::<Text, _>(Channel::Sms.as_str());
    prepared::kept(pg, statement)?.execute(pg)?;
    Ok(())
}

/// The statement's common part. History numbers count on from the application's last
/// entry (in order within this write); audit records are queued for the sealer (as
/// `audit::record` does); events take the next free positions of this transaction's block
/// (see `events::publish`).
macro_rules! history_audit_events {
    () => {
        "WITH history AS (\
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
         AS e(application_id, kind, data, service_code, place))"
    };
}

/// The statement's last part: each audience row names its event by its place in the array.
macro_rules! audience {
    () => {
        " INSERT INTO event_audience (account_id, event_id) \
SELECT a.account_id, free.next_id + a.place - 1 \
FROM free, unnest($25::text[], $26::bigint[]) AS a(account_id, place)"
    };
}

const WITHOUT_NOTICES: &str = concat!(history_audit_events!(), audience!());

/// With notices besides: each is recorded, and its messages are addressed from the
/// recipient's row as the statement reads it (e-mail when known, SMS as well for an
/// important notice), as `notifications::notify` does one notice at a time. The addresses
/// are scalar subqueries, not a join: with the join, the generic plan (which guesses ten
/// rows per array) cost more than a custom one, so PostgreSQL planned the kept statement
/// anew on every call (0.5 ms a submission, by `pg_stat_statements`' planning counters).
const WITH_NOTICES: &str = concat!(
    history_audit_events!(),
    ", notice AS (\
    INSERT INTO notifications (id, recipient_id, kind, title, body, data, important, created_at) \
    SELECT n.id, n.recipient_id, n.kind, n.title, n.body, n.data, n.important, $1 \
    FROM unnest($27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::bool[]) \
         AS n(id, recipient_id, kind, title, body, data, important)), \
message AS (\
    INSERT INTO outbox (id, created_at, notification_id, channel, recipient, subject, body, code, \
                        status, attempts, next_attempt_at) \
    SELECT m.id, $1, n.id, m.channel, m.recipient, n.title, n.body, NULL, $36, 0, $1 \
    FROM unnest($27::text[], $28::text[], $30::text[], $31::text[], $33::bool[], $34::text[], $35::text[]) \
         AS n(id, recipient_id, title, body, important, email_id, sms_id), \
    LATERAL (VALUES (n.email_id, $37, (SELECT r.email FROM accounts r WHERE r.id = n.recipient_id)), \
                    (n.sms_id, $38, CASE WHEN n.important THEN \
                                        (SELECT r.phone FROM accounts r WHERE r.id = n.recipient_id) END)) \
         AS m(id, channel, recipient) \
    WHERE m.recipient IS NOT NULL)",
    audience!()
);

/// The usual write: one history entry, one audit record, one live event heard by one
/// account, and at most one notice. Its statement takes each value as a parameter of its
/// own. Arrays cost PostgreSQL an `array_recv` per column and a function scan, a sort and
/// a window per table; for one row each, that was a fifth of the statement's time
/// (pgbench, the submission's records both ways: 2,688 against 3,275 statements a second).
struct One<'a> {
    history: &'a NewHistory,
    audit: &'a AuditEntry,
    event: &'a NewLiveEvent,
    listener: String,
    notice: Option<&'a Notice>,
}

impl<'a> One<'a> {
    fn of(records: Records<'a>) -> Option<One<'a>> {
        let ([history], [audit], [event]) = (records.history, records.audit, records.events) else {
            return None;
        };
        let [listener] = <[String; 1]>::try_from(crate::events::audience_of(event)).ok()?;
        let notice = match records.notices {
            [] => None,
            [notice] => Some(notice),
            _ => return None,
        };
        Some(One {
            history,
            audit,
            event,
            listener,
            notice,
        })
    }

    fn write(self, pg: &mut PgConnection, at: Instant) -> Result<(), StoreError> {
        let One {
            history,
            audit,
            event,
            listener,
            notice,
        } = self;
        let text = if notice.is_some() { ONE_WITH_NOTICE } else { ONE };
        let statement = diesel::sql_query(text)
            .bind::<Timestamp, _>(to_db_time(at))
            .bind::<Timestamp, _>(to_db_time(to_storage_precision(at)))
            .bind::<BigInt, _>(PER_TRANSACTION)
            .bind::<Text, _>(uuid::Uuid::now_v7().to_string())
            .bind::<Text, _>(history.application.to_string())
            .bind::<Nullable<Text>, _>(history.actor.map(|a| a.to_string()))
            .bind::<Nullable<Text>, _>(history.on_behalf_of.map(|p| p.to_string()))
            .bind::<Text, _>(&history.event)
            .bind::<Nullable<Text>, _>(history.from.map(|s| s.as_str()))
            .bind::<Text, _>(history.to.as_str())
            .bind::<Text, _>(&history.agency_code)
            .bind::<Nullable<Text>, _>(&history.comment)
            .bind::<Text, _>(AuditRecordId::new().to_string())
            .bind::<Nullable<Text>, _>(audit.actor.map(|a| a.to_string()))
            .bind::<Nullable<Text>, _>(audit.on_behalf_of.map(|p| p.to_string()))
            .bind::<Text, _>(&audit.action)
            .bind::<Text, _>(&audit.target_type)
            .bind::<Nullable<Text>, _>(&audit.target_id)
            .bind::<Text, _>(audit.details.to_string())
            .bind::<Nullable<Text>, _>(&audit.ip)
            .bind::<Text, _>(event.application.to_string())
            .bind::<Text, _>(&event.kind)
            .bind::<Text, _>(event.data.to_string())
            .bind::<Text, _>(&event.service)
            .bind::<Text, _>(listener);
        let Some(notice) = notice else {
            prepared::kept(pg, statement)?.execute(pg)?;
            return Ok(());
        };
        let statement = statement
            .bind::<Text, _>(NotificationId::new().to_string())
            .bind::<Text, _>(notice.recipient.to_string())
            .bind::<Text, _>(&notice.kind)
            .bind::<Text, _>(&notice.title)
            .bind::<Text, _>(&notice.body)
            .bind::<Text, _>(notice.data.to_string())
            .bind::<Bool, _>(notice.important)
            .bind::<Text, _>(OutboxMessageId::new().to_string())
            .bind::<Text, _>(OutboxMessageId::new().to_string())
            .bind::<Text, _>(crate::outbox::PENDING)
            .bind::<Text, _>(Channel::Email.as_str())
            .bind::<Text, _>(Channel::Sms.as_str());
        prepared::kept(pg, statement)?.execute(pg)?;
        Ok(())
    }
}

/// [`One`]'s statement: the same rows, numbers and positions as the arrays' statement.
macro_rules! one {
    () => {
        "WITH history AS (\
    INSERT INTO application_history (id, application_id, seq, occurred_at, actor_id, on_behalf_of, \
                                     event, from_status, to_status, agency_code, comment) \
    SELECT $4, $5, \
           COALESCE((SELECT MAX(x.seq) FROM application_history x WHERE x.application_id = $5), 0) + 1, \
           $1, $6, $7, $8, $9, $10, $11, $12), \
audit AS (\
    INSERT INTO audit_log (id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip) \
    VALUES ($13, $2, $14, $15, $16, $17, $18, $19, $20) \
    RETURNING seq), \
unsealed AS (INSERT INTO audit_unsealed (seq) SELECT seq FROM audit), \
free AS (\
    SELECT COALESCE((SELECT MAX(e.id) + 1 FROM events e WHERE e.id >= block.first AND e.id < block.first + $3), \
                    block.first) AS id \
    FROM (SELECT pg_current_xact_id()::text::bigint * $3 AS first) block), \
event AS (\
    INSERT INTO events (id, application_id, kind, data, created_at, service_code) \
    SELECT free.id, $21, $22, $23, $1, $24 FROM free)"
    };
}

macro_rules! one_listener {
    () => {
        " INSERT INTO event_audience (account_id, event_id) SELECT $25, free.id FROM free"
    };
}

const ONE: &str = concat!(one!(), one_listener!());

/// With its notice: addressed as in [`WITH_NOTICES`].
const ONE_WITH_NOTICE: &str = concat!(
    one!(),
    ", notice AS (\
    INSERT INTO notifications (id, recipient_id, kind, title, body, data, important, created_at) \
    VALUES ($26, $27, $28, $29, $30, $31, $32, $1)), \
message AS (\
    INSERT INTO outbox (id, created_at, notification_id, channel, recipient, subject, body, code, \
                        status, attempts, next_attempt_at) \
    SELECT m.id, $1, $26, m.channel, m.recipient, $29, $30, NULL, $35, 0, $1 \
    FROM (VALUES ($33, $36, (SELECT r.email FROM accounts r WHERE r.id = $27)), \
                 ($34, $37, CASE WHEN $32 THEN (SELECT r.phone FROM accounts r WHERE r.id = $27) END)) \
         AS m(id, channel, recipient) \
    WHERE m.recipient IS NOT NULL)",
    one_listener!()
);

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
    notice_id: Vec<String>,
    notice_recipient: Vec<String>,
    notice_kind: Vec<String>,
    notice_title: Vec<String>,
    notice_body: Vec<String>,
    notice_data: Vec<String>,
    notice_important: Vec<bool>,
    notice_email_id: Vec<String>,
    notice_sms_id: Vec<String>,
}

impl Rows {
    fn of(records: Records<'_>) -> Rows {
        let Records {
            history,
            audit,
            events,
            notices,
        } = records;
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
        for notice in notices {
            rows.notice_id.push(NotificationId::new().to_string());
            rows.notice_recipient.push(notice.recipient.to_string());
            rows.notice_kind.push(notice.kind.clone());
            rows.notice_title.push(notice.title.clone());
            rows.notice_body.push(notice.body.clone());
            rows.notice_data.push(notice.data.to_string());
            rows.notice_important.push(notice.important);
            rows.notice_email_id.push(OutboxMessageId::new().to_string());
            rows.notice_sms_id.push(OutboxMessageId::new().to_string());
        }
        rows
    }
}
