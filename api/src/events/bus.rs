//! The node's event bus: a broadcast channel fed by one loader task that reads final events
//! with ids above the last one it loaded, so every stream sees events in id order, none
//! skipped (see `persistence::events::horizon`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use persistence::events::{self, LiveEvent};
use persistence::Database;
use tokio::sync::{broadcast, watch, Notify};

/// How many events a subscriber may fall behind before it re-reads from the database.
const CAPACITY: usize = 4096;
/// Events loaded per query.
const PAGE: i64 = 500;
/// Writes that announce nothing and lost notifications still
/// arrive within this time; a node nobody streams from loads this often only.
const FALLBACK: Duration = Duration::from_secs(1);
/// How soon the loader looks again when committed events wait behind an older transaction
/// still running: such transactions are short, and their commit may announce nothing.
const HELD_BACK: Duration = Duration::from_millis(5);
/// The least time between the starts of two loads: under a stream of commits each one
/// wakes the loader, and a load after every commit cost PostgreSQL creates about a sixth
/// of their throughput (a quick `scripts/bench.sh` run with and without the wake); spaced,
/// the commits of those milliseconds are read together, delivered at most this much
/// later. An idle node still reads at once.
const SPACING: Duration = Duration::from_millis(10);

pub struct EventBus {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    wake: Notify,
    /// Raised by every new subscriber: a loader idling because nobody listened loads now.
    subscribed: Notify,
    /// Turns true when the node begins to stop: every stream ends, so graceful shutdown
    /// does not wait its whole timeout for responses that never finish.
    closing: watch::Sender<bool>,
    /// The latest event when the node started: the loader broadcasts what comes after.
    start: i64,
    /// Commits of this node that other nodes have not been told of yet.
    unannounced: Announcements,
    /// Loads begun since the node started.
    loads: AtomicU64,
}

/// A flag the writers raise and the listener thread takes, so that a burst of commits
/// becomes one NOTIFY (see `EventBus::committed`).
#[derive(Default)]
struct Announcements {
    pending: Mutex<bool>,
    raised: Condvar,
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
            subscribed: Notify::new(),
            closing: watch::Sender::new(false),
            start: last,
            unannounced: Announcements::default(),
            loads: AtomicU64::new(0),
        }
    }

    /// Says that this node has committed a write that may carry events: the loader looks
    /// now, and the listener tells the other nodes (PostgreSQL). The writing transaction
    /// itself never notifies: PostgreSQL serialises every notifying commit on one
    /// cluster-wide lock, which the benchmark found to be the writers' last shared wait.
    pub fn committed(&self) {
        self.wake();
        *self
            .unannounced
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.unannounced.raised.notify_one();
    }

    /// Waits up to `timeout` for commits to announce; answers whether there were any, and
    /// takes them all: the caller sends one announcement for the lot.
    pub fn take_unannounced(&self, timeout: Duration) -> bool {
        let pending = self
            .unannounced
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut pending, _) = self
            .unannounced
            .raised
            .wait_timeout_while(pending, timeout, |pending| !*pending)
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *pending)
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
        let receiver = self.sender.subscribe();
        self.subscribed.notify_one();
        receiver
    }

    /// Loads and broadcasts new events until `stop` turns true.
    ///
    /// While nobody on this node streams, commits do not wake the loader: it loads once a
    /// `FALLBACK` (keeping its position near the head, so a first subscriber is not handed
    /// a long backlog) and at once when someone subscribes, who then hears every event from
    /// its start as before (the stream drops what it already has). A load after every burst
    /// of commits is for listeners; without any, it was 6% of PostgreSQL's statements
    /// during the benchmark's submissions (212 of 3,696 logged in half a second).
    pub async fn run(self: Arc<Self>, db: Database, mut stop: watch::Receiver<bool>) {
        let mut last = self.start;
        loop {
            let started = tokio::time::Instant::now();
            let again = match self.load(&db, &mut last).await {
                Ok(true) => HELD_BACK,
                Ok(false) => FALLBACK,
                Err(error) => {
                    tracing::warn!(%error, "loading events failed; retrying");
                    FALLBACK
                }
            };
            let listened = self.sender.receiver_count() > 0;
            tokio::select! {
                _ = self.wake.notified(), if listened => {}
                _ = self.subscribed.notified() => {}
                _ = tokio::time::sleep(if listened { again } else { FALLBACK }) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
            tokio::time::sleep_until(started + SPACING).await;
        }
    }

    /// Broadcasts every final event after `last`, page by page, advancing it; answers
    /// whether committed events are held back behind an older running transaction.
    async fn load(&self, db: &Database, last: &mut i64) -> Result<bool, String> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        loop {
            let (db, after) = (db.clone(), *last);
            let page = tokio::task::spawn_blocking(move || db.read(|c| events::after(c, after, PAGE)))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let full = page.events.len() as i64 == PAGE;
            for event in page.events {
                *last = event.id;
                // No receivers is not an error: nobody is listening on this node.
                let _ = self.sender.send(Arc::new(event));
            }
            if !full {
                return Ok(page.held_back);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ids::ApplicationId;

    use super::*;
    use crate::events::scratch::Scratch;

    /// A committed write, as a request's writer makes it: the event stored, the bus told.
    fn commit(scratch: &Scratch, bus: &EventBus) {
        scratch.publish(ApplicationId::new());
        bus.committed();
    }

    /// Lets the loader run for `span` of (paused, virtual) time.
    async fn pass(span: Duration) {
        tokio::time::sleep(span).await;
    }

    /// Nobody streams from the node: commits do not set off loads (a load per burst of
    /// commits was pure cost). The first subscriber wakes the loader at once, long before
    /// its fallback, and hears every event after the bus's start; from then on each commit
    /// is loaded within the spacing again.
    #[tokio::test(start_paused = true)]
    async fn the_loader_follows_commits_only_while_someone_listens() {
        let scratch = Scratch::new();
        let bus = Arc::new(EventBus::starting_after(0));
        let (stop, stopped) = watch::channel(false);
        let loader = tokio::spawn(bus.clone().run(scratch.db.clone(), stopped));
        pass(SPACING).await;
        let idle = bus.loads.load(Ordering::Relaxed);
        assert_eq!(idle, 1, "the loader's first look");

        for _ in 0..5 {
            commit(&scratch, &bus);
            pass(SPACING * 3).await;
        }
        assert_eq!(
            bus.loads.load(Ordering::Relaxed),
            idle,
            "no listener, no load per commit"
        );

        let mut receiver = bus.subscribe();
        pass(SPACING).await;
        assert_eq!(
            bus.loads.load(Ordering::Relaxed),
            idle + 1,
            "a subscriber wakes the loader"
        );
        let heard: Vec<i64> = std::iter::from_fn(|| receiver.try_recv().ok().map(|e| e.id)).collect();
        assert_eq!(heard, vec![1, 2, 3, 4, 5]);

        commit(&scratch, &bus);
        pass(SPACING * 3).await;
        assert_eq!(
            receiver.try_recv().map(|e| e.id).ok(),
            Some(6),
            "a listened commit is loaded at once"
        );

        stop.send_replace(true);
        let _ = loader.await;
    }
}
