//! In-app notifications and their outbox messages, written together in the caller's
//! transaction: a notice is either fully recorded (shown and queued) or not at all.

use diesel::prelude::*;
use domain::ids::{NotificationId, OutboxMessageId};
use domain::notice::{Channel, Message, Notice};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::to_db_time;
use crate::schema::{accounts, notifications};
use crate::{outbox, prepared};

#[derive(Insertable)]
#[diesel(table_name = notifications, treat_none_as_default_value = false)]
struct NewNotificationRow {
    id: String,
    recipient_id: String,
    kind: String,
    title: String,
    body: String,
    data: String,
    important: bool,
    created_at: chrono::NaiveDateTime,
}

/// Records `notice` for its recipient and queues a message on each channel the recipient
/// can be reached on: e-mail always when known, SMS as well for important notices.
pub fn notify(conn: &mut DbConnection, notice: &Notice, now: Instant) -> Result<NotificationId, StoreError> {
    let id = NotificationId::new();
    if let DbConnection::Postgresql(pg) = conn {
        notify_at_once(pg, id, notice, now)?;
        return Ok(id);
    }
    diesel::insert_into(notifications::table)
        .values(NewNotificationRow {
            id: id.to_string(),
            recipient_id: notice.recipient.to_string(),
            kind: notice.kind.clone(),
            title: notice.title.clone(),
            body: notice.body.clone(),
            data: notice.data.to_string(),
            important: notice.important,
            created_at: to_db_time(now),
        })
        .execute(conn)?;
    let (email, phone): (Option<String>, Option<String>) = accounts::table
        .find(notice.recipient.to_string())
        .select((accounts::email, accounts::phone))
        .first(conn)?;
    let channels = [
        (Channel::Email, email),
        (Channel::Sms, phone.filter(|_| notice.important)),
    ];
    for (channel, address) in channels {
        if let Some(to) = address {
            let message = Message {
                channel,
                to,
                subject: notice.title.clone(),
                body: notice.body.clone(),
                code: None,
            };
            outbox::enqueue(conn, &message, Some(id), now)?;
        }
    }
    Ok(id)
}

/// [`notify`] on PostgreSQL in one statement: the notice, and its messages addressed from
/// the recipient's row as the statement reads it, not in three round trips.
fn notify_at_once(
    pg: &mut PgConnection,
    id: NotificationId,
    notice: &Notice,
    now: Instant,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Bool, Text, Timestamp};
    let statement = diesel::sql_query(
        "WITH notice AS (\
             INSERT INTO notifications (id, recipient_id, kind, title, body, data, important, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)) \
         INSERT INTO outbox (id, created_at, notification_id, channel, recipient, subject, body, code, \
                             status, attempts, next_attempt_at) \
         SELECT m.id, $8, $1, m.channel, m.recipient, $4, $5, NULL, $9, 0, $8 \
         FROM accounts a, LATERAL (VALUES ($10, $11, a.email), \
                                          ($12, $13, CASE WHEN $7 THEN a.phone END)) AS m(id, channel, recipient) \
         WHERE a.id = $2 AND m.recipient IS NOT NULL",
    )
    .bind::<Text, _>(id.to_string())
    .bind::<Text, _>(notice.recipient.to_string())
    .bind::<Text, _>(&notice.kind)
    .bind::<Text, _>(&notice.title)
    .bind::<Text, _>(&notice.body)
    .bind::<Text, _>(notice.data.to_string())
    .bind::<Bool, _>(notice.important)
    .bind::<Timestamp, _>(to_db_time(now))
    .bind::<Text, _>(outbox::PENDING)
    .bind::<Text, _>(OutboxMessageId::new().to_string())
    .bind::<Text, _>(Channel::Email.as_str())
    .bind::<Text, _>(OutboxMessageId::new().to_string())
    .bind::<Text, _>(Channel::Sms.as_str());
    prepared::kept(pg, statement)?.execute(pg)?;
    Ok(())
}
