//! The node's event bus: a broadcast channel fed by one loader task that reads events
//! with ids above the last one it loaded, so every stream sees events in commit order.

use std::sync::Arc;
use std::time::Duration;

use persistence::events::{self, LiveEvent};
use persistence::Database;
use tokio::sync::{broadcast, watch, Notify};

/// How many events a subscriber may fall behind before it re-reads from the database.
const CAPACITY: usize = 4096;
/// Events loaded per query.
const PAGE: i64 = 500;
/// Writes that bypass `AppState::write` (background jobs) and lost notifications still
/// arrive within this time.
const FALLBACK: Duration = Duration::from_secs(1);

pub struct EventBus {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    wake: Notify,
    /// Turns true when the node begins to stop: every stream ends, so graceful shutdown
    /// does not wait its whole timeout for responses that never finish.
    closing: watch::Sender<bool>,
    /// The latest event when the node started: the loader broadcasts what comes after.
    start: i64,
}

impl EventBus {
    /// A bus that broadcasts events after `last`: a starting node streams what happens
    /// from now on; older events are for clients resuming with Last-Event-ID, which read
    /// them from the database.
    pub fn starting_after(last: i64) -> EventBus {
        let (sender, _) = broadcast::channel(CAPACITY);
        EventBus {
            sender,
            wake: Notify::new(),
            closing: watch::Sender::new(false),
            start: last,
        }
    }

    /// Asks the loader to look for new events now. A wake while it is loading is kept
    /// (one permit), so no commit is missed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Ends every stream on this node; their clients resume elsewhere with Last-Event-ID.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Turns true once the node is closing.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// A receiver of every event broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    /// Loads and broadcasts new events until `stop` turns true.
    pub async fn run(self: Arc<Self>, db: Database, mut stop: watch::Receiver<bool>) {
        let mut last = self.start;
        loop {
            if let Err(error) = self.load(&db, &mut last).await {
                tracing::warn!(%error, "loading events failed; retrying");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(FALLBACK) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Broadcasts every committed event after `last`, page by page, advancing it.
    async fn load(&self, db: &Database, last: &mut i64) -> Result<(), String> {
        loop {
            let (db, after) = (db.clone(), *last);
            let page = tokio::task::spawn_blocking(move || db.read(|c| events::after(c, after, PAGE)))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let full = page.len() as i64 == PAGE;
            for event in page {
                *last = event.id;
                // No receivers is not an error: nobody is listening on this node.
                let _ = self.sender.send(Arc::new(event));
            }
            if !full {
                return Ok(());
            }
        }
    }
}
