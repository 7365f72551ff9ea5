//! The transactional outbox: messages are written in the transaction of the change that
//! caused them and delivered afterwards by the dispatcher, with retries and backoff.

use chrono::Duration;
use diesel::prelude::*;
use domain::ids::{NotificationId, OutboxMessageId};
use domain::notice::{Channel, Message};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{parse_id, to_db_time};
use crate::schema::outbox;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
/// Gave up after the last retry; kept for operators to inspect.
pub const DEAD: &str = "dead";

#[derive(Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
struct NewOutboxRow {
    id: String,
    created_at: chrono::NaiveDateTime,
    notification_id: Option<String>,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    code: Option<String>,
    status: String,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct DueRow {
    id: String,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    code: Option<String>,
    attempts: i32,
}

/// A message claimed for delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub id: OutboxMessageId,
    pub message: Message,
    pub attempts: i32,
}

/// Queues `message` for delivery as part of the caller's transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    message: &Message,
    notification: Option<NotificationId>,
    now: Instant,
) -> Result<OutboxMessageId, StoreError> {
    let id = OutboxMessageId::new();
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            id: id.to_string(),
            created_at: to_db_time(now),
            notification_id: notification.map(|n| n.to_string()),
            channel: message.channel.as_str().to_string(),
            recipient: message.to.clone(),
            subject: message.subject.clone(),
            body: message.body.clone(),
            code: message.code.clone(),
            status: PENDING.to_string(),
            attempts: 0,
            next_attempt_at: to_db_time(now),
        })
        .execute(conn)?;
    Ok(id)
}

/// Claims up to `limit` due messages for `lease`. A claim is a conditional update, so two
/// dispatchers (on two API nodes) never deliver the same message twice within a lease, on
/// either backend.
pub fn claim_due(
    conn: &mut DbConnection,
    now: Instant,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Claimed>, StoreError> {
    let now_db = to_db_time(now);
    let candidates: Vec<DueRow> = outbox::table
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::next_attempt_at.le(now_db))
        .filter(outbox::locked_until.is_null().or(outbox::locked_until.lt(now_db)))
        .order(outbox::next_attempt_at.asc())
        .limit(limit)
        .select(DueRow::as_select())
        .load(conn)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for DueRow {
        id,
        channel,
        recipient: to,
        subject,
        body,
        code,
        attempts,
    } in candidates
    {
        let taken = diesel::update(
            outbox::table
                .find(&id)
                .filter(outbox::locked_until.is_null().or(outbox::locked_until.lt(now_db))),
        )
        .set(outbox::locked_until.eq(to_db_time(now + lease)))
        .execute(conn)?;
        if taken == 1 {
            let channel = Channel::parse(&channel)
                .ok_or_else(|| StoreError::corrupt("outbox", format!("channel {channel:?}")))?;
            claimed.push(Claimed {
                id: parse_id("outbox", &id)?,
                message: Message {
                    channel,
                    to,
                    subject,
                    body,
                    code,
                },
                attempts,
            });
        }
    }
    Ok(claimed)
}

/// Marks a message delivered and scrubs its body and code: a delivered one-time code
/// has no business staying in the database.
pub fn mark_sent(conn: &mut DbConnection, id: OutboxMessageId, now: Instant) -> Result<(), StoreError> {
    diesel::update(outbox::table.find(id.to_string()))
        .set((
            outbox::status.eq(SENT),
            outbox::sent_at.eq(Some(to_db_time(now))),
            outbox::body.eq(""),
            outbox::code.eq(None::<String>),
            outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up on when `None`.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: OutboxMessageId,
    error: &str,
    retry_at: Option<Instant>,
) -> Result<(), StoreError> {
    let target = outbox::table.find(id.to_string());
    let changes = (
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::last_error.eq(Some(error)),
        outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
    );
    match retry_at {
        Some(at) => diesel::update(target)
            .set((changes, outbox::next_attempt_at.eq(to_db_time(at))))
            .execute(conn)?,
        None => diesel::update(target)
            .set((changes, outbox::status.eq(DEAD)))
            .execute(conn)?,
    };
    Ok(())
}
