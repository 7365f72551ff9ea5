//! What live events cost on one node (SQLite): how many Server-Sent Events streams it
//! holds, each proven alive by receiving an event, and the fan-out latency — from an
//! HTTP write that publishes one event until every subscriber has it. Run with
//! `make bench-events`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

mod common;
use common::{execute, start, token};

/// Subscribers for the latency rounds.
const FAN_OUT: usize = 1_000;
/// Streams held at once, in steps.
const CAPACITY_STEPS: [usize; 2] = [2_000, 5_000];
/// Streams opened concurrently: more at once overflows the listen backlog and costs
/// SYN retransmits (seconds) instead of measuring the server.
const OPEN_BATCH: usize = 200;
const ROUNDS: usize = 20;

/// One arrival: which event reached a subscriber, and when.
type Arrival = (i64, Instant);

struct Subscribers {
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    sender: mpsc::UnboundedSender<Arrival>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Subscribers {
    fn new() -> Subscribers {
        let (sender, arrivals) = mpsc::unbounded_channel();
        Subscribers {
            arrivals,
            sender,
            tasks: vec![],
        }
    }

    fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Opens streams until there are `target`; answers how many are open (a refused
    /// stream ends the growth).
    async fn grow(&mut self, client: &reqwest::Client, base: &str, token: &str, target: usize) -> usize {
        while self.len() < target {
            let batch = OPEN_BATCH.min(target - self.len());
            let opening = (0..batch).map(|_| {
                client
                    .get(format!("{base}/api/v1/me/events"))
                    .bearer_auth(token)
                    .send()
            });
            for response in futures_util::future::join_all(opening).await {
                match response {
                    Ok(r) if r.status() == 200 => {
                        let sender = self.sender.clone();
                        self.tasks.push(tokio::spawn(read(r, sender)));
                    }
                    Ok(r) => {
                        eprintln!("stream refused: {}", r.status());
                        return self.len();
                    }
                    Err(e) => {
                        eprintln!("stream failed to open after {}: {e}", self.len());
                        return self.len();
                    }
                }
            }
        }
        self.len()
    }

    /// Waits until every subscriber has event `id`; answers the last arrival.
    async fn all_received(&mut self, id: i64, within: Duration) -> Option<Instant> {
        let mut count = 0;
        let mut last = None;
        let deadline = tokio::time::Instant::now() + within;
        while count < self.len() {
            match tokio::time::timeout_at(deadline, self.arrivals.recv()).await {
                Ok(Some((got, at))) if got == id => {
                    count += 1;
                    last = Some(at);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    eprintln!("only {count} of {} subscribers received event {id}", self.len());
                    return None;
                }
            }
        }
        last
    }
}

/// Reads one stream, reporting each event id as it arrives.
async fn read(response: reqwest::Response, arrivals: mpsc::UnboundedSender<Arrival>) {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    while let Some(Ok(chunk)) = body.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(id) = frame
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .and_then(|v| v.parse().ok())
            {
                let _ = arrivals.send((id, Instant::now()));
            }
        }
    }
}

/// Publishes one event (a new draft: `application.create` to its owner's stream);
/// answers when the write started and the event's id (the latest in the database).
async fn publish(client: &reqwest::Client, base: &str, token: &str, database: &str) -> (Instant, i64) {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/applications"))
        .bearer_auth(token)
        .json(&json!({"service_code": "passport-replacement"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 201);
    (started, latest_event(database))
}

fn latest_event(database: &str) -> i64 {
    let url = persistence::DatabaseUrl::parse(database).unwrap_or_else(|e| panic!("{e}"));
    let db = persistence::Database::open(&url, 1).unwrap_or_else(|e| panic!("{e}"));
    db.read(persistence::events::latest)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One round: publish, wait for every subscriber; the time from the write's start.
async fn round(
    subscribers: &mut Subscribers,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    database: &str,
) -> Duration {
    let (started, id) = publish(client, base, token, database).await;
    let last = subscribers
        .all_received(id, Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("event {id} did not reach every subscriber"));
    last.duration_since(started)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn fd_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("?").to_string())
        .unwrap_or_else(|| "?".into())
}

fn events(c: &mut Criterion) {
    let server = start();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // Streams hold their connections; writes get their own pool.
    let streams = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::new();
    let token = runtime.block_on(token(&client, &server));
    execute(
        &server.database,
        "UPDATE accounts SET level = 'confirmed' WHERE email = 'bench@example.ru'",
    );
    let (base, database) = (server.base.clone(), server.database.clone());
    println!(
        "open-file limit of this process (server and clients): {}",
        fd_limit()
    );

    let mut subscribers = Subscribers::new();
    let opened = runtime.block_on(subscribers.grow(&streams, &base, &token, FAN_OUT));
    println!("fan-out subscribers connected: {opened}");
    let mut latencies: Vec<Duration> = (0..ROUNDS)
        .map(|_| runtime.block_on(round(&mut subscribers, &client, &base, &token, &database)))
        .collect();
    latencies.sort();
    println!(
        "fan-out to {opened} subscribers over {ROUNDS} rounds (write start to last receipt): p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    let mut group = c.benchmark_group("events");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function(format!("fan-out to {opened} subscribers"), |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| runtime.block_on(round(&mut subscribers, &client, &base, &token, &database)))
                .sum()
        })
    });
    group.finish();

    for target in CAPACITY_STEPS {
        let started = Instant::now();
        let held = runtime.block_on(subscribers.grow(&streams, &base, &token, target));
        let opening = started.elapsed();
        let delivered = runtime.block_on(round(&mut subscribers, &client, &base, &token, &database));
        println!(
            "held {held} streams (target {target}, opened the new ones in {opening:?}); \
             every one received the next event, {delivered:?} after the write started"
        );
    }
    for task in subscribers.tasks.drain(..) {
        task.abort();
    }
}

criterion_group!(benches, events);
criterion_main!(benches);
