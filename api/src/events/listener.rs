//! Cross-node wake-ups on PostgreSQL: a dedicated thread LISTENs on the events channel
//! and wakes this node's loader whenever another node commits an event, and announces
//! this node's commits on the same connection, once per burst.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use persistence::connection::establish_postgres;
use persistence::events::CHANNEL;
use tokio::sync::watch;

use super::EventBus;

/// How often the connection is polled: another node's notification waits at most this
/// long; this node's own commits are announced as soon as they are made.
const POLL: Duration = Duration::from_millis(20);
/// The least time between two announcements. A NOTIFY is a transaction of its own that
/// takes an xid, PostgreSQL's notification queue lock and a WAL flush; under a stream of
/// commits the listener sent one for nearly every write (489 NOTIFYs for 547 submits in a
/// second of the benchmark). Spaced, the commits of those milliseconds share one, and
/// another node hears of them at most this much later (its loader spaces its loads the same).
const ANNOUNCE_SPACING: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listener thread for the PostgreSQL database at `url`; it ends when `stop`
/// turns true. A blocking thread, because diesel's connection is synchronous and a
/// notification should not wait for a free slot on the blocking pool.
pub fn listen(url: String, bus: Arc<EventBus>, stop: watch::Receiver<bool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("kabinet-events-listen".into())
        .spawn(move || run(&url, &bus, &stop))
        .map(|_| ())
}

fn run(url: &str, bus: &EventBus, stop: &watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    while !*stop.borrow() {
        match connect(url) {
            Ok(mut conn) => {
                backoff = Duration::from_millis(100);
                // Notifications sent while we were not listening are lost: catch up.
                bus.wake();
                if let Err(error) = poll(&mut conn, bus, stop) {
                    tracing::warn!(%error, "event listener lost its connection; reconnecting");
                }
            }
            Err(error) => {
                tracing::warn!(%error, retry_ms = backoff.as_millis() as u64, "event listener cannot connect");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn connect(url: &str) -> Result<PgConnection, String> {
    let mut conn = establish_postgres(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Backend {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// Announces this node's commits and drains the others' notifications until `stop` or a
/// connection error. No payload is sent or needed: a loader reads everything after its
/// last id anyway. Our own notifications come back to us and are skipped.
fn poll(conn: &mut PgConnection, bus: &EventBus, stop: &watch::Receiver<bool>) -> Result<(), String> {
    let own: Backend = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(conn)
        .map_err(|e| e.to_string())?;
    while !*stop.borrow() {
        let announced = bus.take_unannounced(POLL).then(Instant::now);
        if announced.is_some() {
            // A statement of its own, so it commits (and is delivered) at once.
            diesel::sql_query(format!("NOTIFY {CHANNEL}"))
                .execute(conn)
                .map_err(|e| e.to_string())?;
        }
        let mut woken = false;
        for notification in conn.notifications_iter() {
            woken |= notification.map_err(|e| e.to_string())?.process_id != own.pid;
        }
        if woken {
            bus.wake();
        }
        if let Some(sent) = announced {
            // Commits meanwhile stay pending and go out together in the next one.
            std::thread::sleep(ANNOUNCE_SPACING.saturating_sub(sent.elapsed()));
        }
    }
    Ok(())
}
