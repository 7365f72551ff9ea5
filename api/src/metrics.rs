//! Prometheus metrics: request counts and latency by route pattern and status, and the
//! database pool's usage. Routes are labelled by pattern (`/api/v1/x/{id}`), never by raw
//! path, so ids never become label values. Server-Sent Events streams have their own
//! gauge; the latency histogram times only the response head, so a stream open for hours
//! is counted as the milliseconds it took to start. Refusals that protect the node (a
//! password check turned away busy, a stream over its cap) are counted, and the node's
//! open-files limit is shown beside the streams that use it up.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use persistence::PoolUsage;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    sse_connections: IntGaugeVec,
    sse_refused: IntCounterVec,
    events_delivered: IntCounter,
    password_checks_refused: IntCounter,
    open_files_limit: IntGauge,
    stream_caps: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("kabinet".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to produce the response head",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let sse_connections = IntGaugeVec::new(
            Opts::new("sse_connections", "Open Server-Sent Events streams by stream"),
            &["stream"],
        )?;
        let events_delivered = IntCounter::new(
            "events_delivered_total",
            "Events written to Server-Sent Events streams",
        )?;
        let sse_refused = IntCounterVec::new(
            Opts::new(
                "sse_refused_total",
                "Event streams refused over a cap, by cap (account or node)",
            ),
            &["cap"],
        )?;
        let password_checks_refused = IntCounter::new(
            "password_checks_refused_total",
            "Password checks answered 503 busy: the hashing pool and its queue were full",
        )?;
        let open_files_limit = IntGauge::new(
            "open_files_limit",
            "The process's open-files soft limit (RLIMIT_NOFILE) after start-up raised it",
        )?;
        let stream_caps = IntGaugeVec::new(
            Opts::new("sse_connections_max", "Event streams allowed open, by cap"),
            &["cap"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(sse_connections.clone()))?;
        registry.register(Box::new(events_delivered.clone()))?;
        registry.register(Box::new(sse_refused.clone()))?;
        registry.register(Box::new(password_checks_refused.clone()))?;
        registry.register(Box::new(open_files_limit.clone()))?;
        registry.register(Box::new(stream_caps.clone()))?;
        for cap in ["account", "node"] {
            sse_refused.with_label_values(&[cap]).reset();
        }
        // Both streams show from the start, at 0, rather than appearing on first use.
        for stream in ["application", "me"] {
            sse_connections.with_label_values(&[stream]).set(0);
        }
        Ok(Metrics {
            registry,
            requests,
            latency,
            pool,
            sse_connections,
            sse_refused,
            events_delivered,
            password_checks_refused,
            open_files_limit,
            stream_caps,
        })
    }

    pub fn password_check_refused(&self) {
        self.password_checks_refused.inc();
    }

    /// One event stream refused over the `cap` (`account` or `node`).
    pub fn stream_refused(&self, cap: &'static str) {
        self.sse_refused.with_label_values(&[cap]).inc();
    }

    /// The caps in force and the open-files limit they were set against.
    pub fn stream_limits(&self, per_account: usize, per_node: usize, open_files: Option<u64>) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.stream_caps
            .with_label_values(&["account"])
            .set(gauge(per_account as u64));
        self.stream_caps
            .with_label_values(&["node"])
            .set(gauge(per_node as u64));
        // -1: the platform has no such limit or it could not be read.
        self.open_files_limit.set(open_files.map_or(-1, gauge));
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[method, route]).observe(seconds);
    }

    /// Counts one open stream of `stream` until the returned guard is dropped.
    pub fn sse_opened(&self, stream: &'static str) -> StreamGuard {
        let gauge = self.sse_connections.with_label_values(&[stream]);
        gauge.inc();
        StreamGuard { gauge }
    }

    pub fn event_delivered(&self) {
        self.events_delivered.inc();
    }

    /// The text exposition, with the pool gauges read at scrape time.
    pub fn render(&self, pool: PoolUsage) -> String {
        self.pool.with_label_values(&["open"]).set(i64::from(pool.size));
        self.pool.with_label_values(&["idle"]).set(i64::from(pool.idle));
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool.size.saturating_sub(pool.idle)));
        self.pool.with_label_values(&["max"]).set(i64::from(pool.max));
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// One open SSE stream; it lives inside the stream's state, so the gauge falls however
/// the stream ends — by the server or by the client going away.
pub struct StreamGuard {
    gauge: IntGauge,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Middleware: times every request and writes one access-log line (pattern, not path, so
/// no personal data from URLs or queries reaches the log).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let metrics = req.app_data::<actix_web::web::Data<Metrics>>().cloned();
    let outcome = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (route, status) = match &outcome {
        Ok(response) => (
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into()),
            response.status().as_u16(),
        ),
        // An inner layer refused (the request timeout): the route is unknown by now.
        Err(error) => (
            "unmatched".into(),
            error.as_response_error().status_code().as_u16(),
        ),
    };
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed);
    }
    // A tenth of a millisecond is all a reader of the log needs; the histogram keeps the rest.
    let ms = (elapsed * 10_000.0).round() / 10.0;
    tracing::info!(%method, %route, status, ms, "request");
    outcome
}
