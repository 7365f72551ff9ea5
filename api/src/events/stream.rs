//! One Server-Sent Events response: subscribe to the bus first, replay from the database
//! what the client missed (after its Last-Event-ID), then pass on live events, skipping
//! any id already sent. A subscriber that falls behind re-reads from the database rather
//! than holding up the bus. The stream asks its gate again every `stream_recheck_secs`
//! whether the caller may still see it, and ends when not, or when the node begins to stop.
//! A stream starts only with a slot under the per-account and per-node caps, and holds it
//! until it ends.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;
use persistence::events::{self, LiveEvent};
use persistence::{Database, DbConnection, StoreError};
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::Interval;

use super::admission::{Over, StreamSlot};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::metrics::{Metrics, StreamGuard};
use crate::state::AppState;

/// A comment this often keeps proxies and load balancers from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events read from the database per replay query.
const REPLAY_PAGE: i64 = 200;
/// Sent first: how long an EventSource waits before reconnecting. Sending something at
/// once also gets the response head through buffering proxies.
const OPENING: &[u8] = b"retry: 2000\n\n";

/// Whether `actor` may see a stream's feed at the given time. Asked at connect with the
/// request's actor, then with the actor as the database has it at each recheck (token,
/// session, delegation); a client error (401, 403, 404) closes the stream.
pub type Gate = Arc<dyn Fn(&mut DbConnection, &Actor, Instant) -> Result<(), ApiError> + Send + Sync>;

/// Which events a stream carries.
#[derive(Clone, Debug)]
pub enum Feed {
    /// Everything that happens to one application, seen by `viewer`.
    Application { id: ApplicationId, viewer: AccountId },
    /// Every event whose audience includes the account; only the events of `services`'
    /// applications when given (watched on behalf under powers limited to them).
    Account {
        account: AccountId,
        services: Option<Arc<[String]>>,
    },
}

impl Feed {
    fn label(&self) -> &'static str {
        match self {
            Feed::Application { .. } => "application",
            Feed::Account { .. } => "me",
        }
    }

    fn matches(&self, event: &LiveEvent) -> bool {
        match self {
            Feed::Application { id, .. } => event.application == *id,
            Feed::Account { account, services } => {
                event.audience.contains(account)
                    && services
                        .as_ref()
                        .is_none_or(|listed| event.service.as_ref().is_some_and(|s| listed.contains(s)))
            }
        }
    }

    fn load(&self, conn: &mut DbConnection, after: i64) -> Result<Vec<LiveEvent>, StoreError> {
        match self {
            Feed::Application { id, .. } => events::of_application_after(conn, *id, after, REPLAY_PAGE),
            Feed::Account { account, services } => {
                events::for_account_after(conn, *account, services.as_deref(), after, REPLAY_PAGE)
            }
        }
    }

    /// A participant removed from the application loses access: its stream ends right
    /// after telling it so.
    fn ends_with(&self, event: &LiveEvent) -> bool {
        match self {
            Feed::Application { viewer, .. } => {
                matches!(
                    event.kind.as_str(),
                    "application.participant_removed" | "application.participant_left"
                ) && event.data["details"]["account_id"].as_str() == Some(viewer.to_string().as_str())
            }
            Feed::Account { .. } => false,
        }
    }
}

/// Seconds a client refused a stream is asked to wait: streams end when their clients
/// leave, so a slot may well be free by then.
const RETRY_STREAM_SECS: u32 = 30;

/// 429 for a stream over a cap, naming the cap and its size.
fn over_cap(over: Over, limit: usize) -> ApiError {
    let detail = match over {
        Over::Account => format!("You already have {limit} event streams open; close one first."),
        Over::Node => "This node holds as many event streams as it can; try again later.".to_string(),
    };
    ApiError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_streams",
        detail,
    )
    .with_header(header::RETRY_AFTER, RETRY_STREAM_SECS.to_string())
    .with_context(json!({ "cap": over.as_str(), "limit": limit }))
}

/// The streaming response for `feed`, resuming after `resume` when the client sent one;
/// without it the stream starts live, from now.
pub async fn respond(
    state: &AppState,
    actor: Actor,
    feed: Feed,
    gate: Gate,
    resume: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    // The slot comes first, before any database work: a client reconnecting in a loop
    // past its cap costs one counter, and the caps count whoever holds the connections.
    let slot = state.streams.take(actor.account).map_err(|over| {
        state.metrics.stream_refused(over.as_str());
        let limit = match over {
            Over::Account => state.streams.per_account(),
            Over::Node => state.streams.per_node(),
        };
        over_cap(over, limit)
    })?;
    // The extractor has just checked the actor: only the feed's own check is left.
    let (check, caller) = (gate.clone(), actor.clone());
    state.query(move |c, now| check(c, &caller, now)).await?;
    // Subscribing before reading the database means nothing committed in between is
    // lost; what arrives twice (read and broadcast) is dropped by id.
    let receiver = state.events.subscribe();
    let closing = state.events.closing();
    let start = match resume {
        Some(after) => events::Now {
            after,
            committed_above: vec![],
        },
        // "Now" is what the database has committed, not what the bus has broadcast yet:
        // an event committed just before the request must not show up as live.
        None => state.read(|c| Ok(events::now(c)?)).await?,
    };
    let stream = Stream::new(
        feed,
        state.db.clone(),
        receiver,
        start,
        resume.is_some(),
        &state.metrics,
    )
    .timed_by(state.clock.clone())
    .holding(slot)
    .guarded(actor, gate, Duration::from_secs(state.config.stream_recheck_secs))
    .closing_with(closing);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // nginx would otherwise buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, next)))
}

struct Stream {
    feed: Feed,
    db: Database,
    receiver: broadcast::Receiver<Arc<LiveEvent>>,
    /// The highest id sent (or the starting point): nothing at or below it is sent again.
    last_sent: i64,
    /// Events above the starting point that were committed before the stream started
    /// (see `events::Now`): never sent as live.
    past: HashSet<i64>,
    /// Whether the database may hold events after `last_sent` that the receiver lacks.
    replay: bool,
    opened: bool,
    done: bool,
    backlog: VecDeque<LiveEvent>,
    keep_alive: Interval,
    /// Whose stream it is and what they must pass at every `recheck` tick; none in unit
    /// tests of delivery.
    gate: Option<(Actor, Gate, Interval)>,
    /// True once the node is stopping.
    closing: Option<watch::Receiver<bool>>,
    metrics: Arc<Metrics>,
    /// The application's clock, for the rechecks.
    clock: Arc<crate::clock::Clock>,
    _guard: StreamGuard,
    /// The stream's place under the caps, freed when the stream is dropped.
    _slot: Option<StreamSlot>,
}

impl Stream {
    fn new(
        feed: Feed,
        db: Database,
        receiver: broadcast::Receiver<Arc<LiveEvent>>,
        start: events::Now,
        replay: bool,
        metrics: &Arc<Metrics>,
    ) -> Stream {
        let guard = metrics.sse_opened(feed.label());
        Stream {
            feed,
            db,
            receiver,
            last_sent: start.after,
            past: start.committed_above.into_iter().collect(),
            replay,
            opened: false,
            done: false,
            backlog: VecDeque::new(),
            keep_alive: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
            gate: None,
            closing: None,
            metrics: metrics.clone(),
            clock: Arc::new(crate::clock::Clock::system()),
            _guard: guard,
            _slot: None,
        }
    }

    fn holding(mut self, slot: StreamSlot) -> Stream {
        self._slot = Some(slot);
        self
    }

    /// Rechecks access at the application's clock rather than the system's.
    fn timed_by(mut self, clock: Arc<crate::clock::Clock>) -> Stream {
        self.clock = clock;
        self
    }

    fn guarded(mut self, actor: Actor, gate: Gate, every: Duration) -> Stream {
        // The first check comes at a random point of the first period, so streams opened
        // together (after a deploy, say) do not all query the database at once.
        let first = every
            .mul_f64(rand::random::<f64>())
            .max(Duration::from_millis(100));
        let recheck = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
        self.gate = Some((actor, gate, recheck));
        self
    }

    fn closing_with(mut self, closing: watch::Receiver<bool>) -> Stream {
        self.closing = Some(closing);
        self
    }

    fn node_closing(&self) -> bool {
        self.closing.as_ref().is_some_and(|c| *c.borrow())
    }

    /// Whether the caller may still see the stream. Only a refusal ends it: a database
    /// that cannot answer now is no reason to drop every open stream.
    async fn still_allowed(&self) -> bool {
        let Some((actor, gate, _)) = &self.gate else {
            return true;
        };
        let (db, actor, gate, clock) = (self.db.clone(), actor.clone(), gate.clone(), self.clock.clone());
        let check = move || {
            db.read(|c| {
                let now = clock.now();
                let actor = actor.recheck(c, now)?;
                gate(c, &actor, now)
            })
        };
        match tokio::task::spawn_blocking(check).await {
            Ok(Err(refusal)) if refusal.status_code().is_client_error() => {
                tracing::debug!(code = refusal.code(), "event stream closed: access ended");
                false
            }
            _ => true,
        }
    }

    /// Reads the next page of missed live events from the database into the backlog;
    /// false when that failed and the stream must close (the client reconnects with its
    /// Last-Event-ID and loses nothing).
    async fn read_missed(&mut self) -> bool {
        let (db, feed, after) = (self.db.clone(), self.feed.clone(), self.last_sent);
        match tokio::task::spawn_blocking(move || db.read(|c| feed.load(c, after))).await {
            Ok(Ok(page)) => {
                self.replay = page.len() as i64 == REPLAY_PAGE;
                self.backlog.extend(page);
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "event replay failed; closing the stream");
                false
            }
            Err(error) => {
                tracing::warn!(%error, "event replay failed; closing the stream");
                false
            }
        }
    }

    /// Whether `event` is news to this stream: after what it sent and not from before it
    /// started.
    fn fresh(&self, event: &LiveEvent) -> bool {
        event.id > self.last_sent && !self.past.contains(&event.id)
    }

    fn deliver(&mut self, event: &LiveEvent) -> Bytes {
        self.last_sent = event.id;
        self.metrics.event_delivered();
        self.done = self.feed.ends_with(event);
        frame(event)
    }
}

type Chunk = Result<Bytes, Infallible>;

async fn next(mut s: Stream) -> Option<(Chunk, Stream)> {
    if !s.opened {
        s.opened = true;
        return Some((Ok(Bytes::from_static(OPENING)), s));
    }
    loop {
        if s.done || s.node_closing() {
            return None;
        }
        if let Some(event) = s.backlog.pop_front() {
            if s.fresh(&event) {
                let chunk = s.deliver(&event);
                return Some((Ok(chunk), s));
            }
            continue;
        }
        if s.replay {
            if !s.read_missed().await {
                return None;
            }
            continue;
        }
        tokio::select! {
            received = s.receiver.recv() => match received {
                Ok(event) => {
                    if s.fresh(&event) && s.feed.matches(&event) {
                        let chunk = s.deliver(&event);
                        return Some((Ok(chunk), s));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream fell behind; reading from the database");
                    s.replay = true;
                }
                Err(RecvError::Closed) => return None,
            },
            _ = s.keep_alive.tick() => {
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s));
            }
            _ = closed(&mut s.closing) => return None,
            _ = recheck(&mut s.gate) => {
                if !s.still_allowed().await {
                    return None;
                }
            }
        }
    }
}

/// The next recheck tick; never, for a stream without a gate.
async fn recheck(gate: &mut Option<(Actor, Gate, Interval)>) {
    match gate {
        Some((_, _, interval)) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Resolves once the node is closing; never, for a stream not told of it.
async fn closed(closing: &mut Option<watch::Receiver<bool>>) {
    match closing {
        // An error means the bus is gone: the node is stopping all the same.
        Some(closing) => {
            let _ = closing.wait_for(|closing| *closing).await;
        }
        None => std::future::pending().await,
    }
}

/// One event in the SSE wire format; the JSON is on one line, as `data:` requires.
fn frame(event: &LiveEvent) -> Bytes {
    let data = json!({
        "application_id": event.application,
        "kind": event.kind,
        "data": event.data,
        "created_at": event.created_at,
    });
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.id, event.kind
    ))
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use persistence::StoreError;

    use super::*;
    use crate::events::scratch::Scratch;

    fn ids(chunks: &[Bytes]) -> Vec<i64> {
        chunks
            .iter()
            .filter_map(|c| {
                std::str::from_utf8(c)
                    .ok()?
                    .lines()
                    .next()?
                    .strip_prefix("id: ")?
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// A receiver that lagged behind the bus loses nothing and repeats nothing: the
    /// stream reads the missed events from the database and drops what the bus still had.
    #[tokio::test]
    async fn a_subscriber_that_fell_behind_reads_the_rest_from_the_database() {
        let scratch = Scratch::new();
        let db = scratch.db.clone();
        let application = ApplicationId::new();
        for _ in 0..10 {
            scratch.publish(application);
        }
        // A bus of two slots that has broadcast ten events: the receiver lagged by eight.
        let (sender, receiver) = broadcast::channel(2);
        let stored = db
            .read(|c| events::after(c, 0, 100))
            .unwrap_or_else(|e: StoreError| panic!("{e}"));
        for event in stored.events {
            let _ = sender.send(Arc::new(event));
        }
        let metrics = Arc::new(Metrics::new().unwrap_or_else(|e| panic!("{e}")));
        let feed = Feed::Application {
            id: application,
            viewer: AccountId::new(),
        };
        let stream = Stream::new(feed, db, receiver, events::Now::default(), false, &metrics);
        let reading = futures_util::stream::unfold(stream, next)
            .take(11)
            .map(|c| c.unwrap_or_else(|e| match e {}))
            .collect::<Vec<Bytes>>();
        let chunks = tokio::time::timeout(Duration::from_secs(10), reading)
            .await
            .unwrap_or_else(|_| panic!("the stream stalled"));
        assert_eq!(ids(&chunks), (1..=10).collect::<Vec<i64>>());
    }
}
