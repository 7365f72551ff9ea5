//! In-app notifications and their outbox messages, written together in the caller's
//! transaction: a notice is either fully recorded (shown and queued) or not at all.

use diesel::prelude::*;
use domain::ids::NotificationId;
use domain::notice::{Channel, Message, Notice};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::outbox;
use crate::rows::to_db_time;
use crate::schema::{accounts, notifications};

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
/// can be reached on: e-mail always when known, SMS as well for important notices. Row by
/// row, as SQLite writes them; a write's notices on PostgreSQL go into the one statement
/// of `records::write`, which addresses them by the same rule.
pub fn notify(conn: &mut DbConnection, notice: &Notice, now: Instant) -> Result<NotificationId, StoreError> {
    let id = NotificationId::new();
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
