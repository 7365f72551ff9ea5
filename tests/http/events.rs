//! Live events over Server-Sent Events, on both backends: who receives what, resumption
//! with Last-Event-ID, delivery across two API nodes, and the stream gauge.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{json, problem, Backend, Sse, TestApp};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or_default()
}

/// A fresh draft of `token`'s owner.
async fn draft(app: &TestApp, token: &str) -> Value {
    json(
        app.send(Method::POST, "/api/v1/applications", token, None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}
        })))
        .await,
        201,
    )
    .await
}

/// Saves the draft's form once more (an `application.save_draft` event); answers the draft.
async fn save(app: &TestApp, token: &str, current: &Value) -> Value {
    let path = format!("/api/v1/applications/{}", s(&current["id"]));
    json(
        app.send(
            Method::PATCH,
            &path,
            token,
            Some(version(current)),
            Some(json!({"form_data": {"reason": "age_45", "full_name": "Иванова Мария"}})),
        )
        .await,
        200,
    )
    .await
}

fn stream_of(application: &Value) -> String {
    format!("/api/v1/applications/{}/events", s(&application["id"]))
}

async fn subscribers_receive_what_they_may_see(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, owner_id, owner) = app.confirmed_citizen().await;
    let (_, _, stranger) = app.confirmed_citizen().await;
    let application = draft(&app, &owner).await;

    // Someone who may not see the application does not learn it exists.
    problem(
        app.open_events(&stream_of(&application), &stranger, None).await,
        404,
    )
    .await;

    let mut watching = app.events(&stream_of(&application), &owner, None).await;
    let mut mine = app.events("/api/v1/me/events", &owner, None).await;
    let mut theirs = app.events("/api/v1/me/events", &stranger, None).await;

    let path = format!("/api/v1/applications/{}/submit", s(&application["id"]));
    let submitted = json(
        app.send(Method::POST, &path, &owner, Some(version(&application)), None)
            .await,
        200,
    )
    .await;

    let event = watching.expect_event().await;
    assert_eq!(event.event, "application.submit");
    assert_eq!(event.data["kind"], "application.submit");
    assert_eq!(event.data["application_id"], application["id"]);
    assert_eq!(event.data["data"]["status"], "submitted");
    assert_eq!(event.data["data"]["version"], submitted["version"]);
    assert_eq!(event.data["data"]["actor"], owner_id.as_str());
    assert!(event.data["created_at"].is_string(), "{}", event.data);
    assert!(event.id > 0);

    let own = mine.expect_event().await;
    assert_eq!((own.id, own.event.as_str()), (event.id, "application.submit"));

    // The stranger's own stream carries the stranger's next event, not the owner's.
    let their_draft = draft(&app, &stranger).await;
    let first = theirs.expect_event().await;
    assert_eq!(first.event, "application.create");
    assert_eq!(first.data["application_id"], their_draft["id"]);
    assert!(first.id > event.id);
    // ...and the application's stream carries nothing of other applications.
    assert!(watching.next_event(Duration::from_millis(300)).await.is_none());
}
db_test!(subscribers_receive_what_they_may_see);

async fn a_reconnecting_client_gets_exactly_what_it_missed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    let mut current = draft(&app, &owner).await;
    let path = stream_of(&current);

    let mut stream = app.events(&path, &owner, None).await;
    current = save(&app, &owner, &current).await;
    let seen = stream.expect_event().await;
    assert_eq!(seen.event, "application.save_draft");
    assert_eq!(seen.data["data"]["version"], current["version"]);
    drop(stream);

    let mut missed = vec![];
    for _ in 0..2 {
        current = save(&app, &owner, &current).await;
        missed.push(version(&current));
    }

    let mut resumed = app.events(&path, &owner, Some(seen.id)).await;
    let mut replayed = vec![];
    for _ in 0..2 {
        let event = resumed.expect_event().await;
        assert_eq!(event.event, "application.save_draft");
        replayed.push((
            event.id,
            event.data["data"]["version"].as_i64().unwrap_or_default(),
        ));
    }
    assert_eq!(
        replayed.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        missed,
        "the two missed events, in order"
    );
    assert!(replayed[0].0 > seen.id && replayed[1].0 > replayed[0].0);

    // Then live ones, each once.
    current = save(&app, &owner, &current).await;
    let live = resumed.expect_event().await;
    assert_eq!(live.data["data"]["version"], current["version"]);
    assert!(live.id > replayed[1].0);
    assert!(resumed.next_event(Duration::from_millis(300)).await.is_none());

    // A browser's first connection resumes with the query; the header wins over it.
    let mut mine = app
        .events(
            &format!("/api/v1/me/events?last_event_id={}", seen.id),
            &owner,
            None,
        )
        .await;
    assert_eq!(mine.expect_event().await.id, replayed[0].0);

    for bad in ["abc", "-1"] {
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&owner)
            .header("Last-Event-ID", bad)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body = problem(response, 422).await;
        assert_eq!(body["errors"][0]["field"], "Last-Event-ID", "{body}");
    }
    problem(
        app.open_events(&format!("{path}?last_event_id=x"), &owner, None)
            .await,
        422,
    )
    .await;
}
db_test!(a_reconnecting_client_gets_exactly_what_it_missed);

/// Two API nodes on one database: what a request to node A commits reaches a stream on
/// node B. On PostgreSQL it comes by LISTEN/NOTIFY, well before B's one-second timer
/// could have found it; on SQLite (one file shared in-process) the timer finds it.
async fn events_reach_streams_on_another_node(backend: Backend) {
    let a = TestApp::spawn(backend.clone()).await;
    a.seed_catalog(true, false, 30);
    let b = a.second_node().await;
    let (_, _, owner) = a.confirmed_citizen().await;
    let mut current = draft(&a, &owner).await;
    let path = stream_of(&current);

    let mut on_b = b.events(&path, &owner, None).await;
    let notified = matches!(backend, Backend::Postgres(_));
    let mut last = 0;
    for _ in 0..5 {
        current = save(&a, &owner, &current).await;
        let committed = Instant::now();
        let event = on_b.expect_event().await;
        let waited = committed.elapsed();
        assert_eq!(event.data["data"]["version"], current["version"]);
        assert!(event.id > last);
        last = event.id;
        if notified {
            assert!(
                waited < Duration::from_millis(500),
                "node B took {waited:?}: not woken by NOTIFY"
            );
        }
    }
    drop(on_b);

    let mut missed = vec![];
    for _ in 0..2 {
        current = save(&a, &owner, &current).await;
        missed.push(version(&current));
    }
    let mut resumed = b.events(&path, &owner, Some(last)).await;
    for expected in missed {
        assert_eq!(resumed.expect_event().await.data["data"]["version"], expected);
    }
    assert!(resumed.next_event(Duration::from_millis(300)).await.is_none());
}
db_test!(events_reach_streams_on_another_node);

/// The gauge's value for `stream` in the exposition.
async fn open_streams(app: &TestApp, stream: &str) -> Option<i64> {
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    let prefix = format!("kabinet_sse_connections{{stream=\"{stream}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits (at most 5 s) until the gauge shows `expected`: a dropped client's stream is
/// noticed by the server on its next write, not at once.
async fn wait_for_streams(app: &TestApp, stream: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = open_streams(app, stream).await;
        if seen == Some(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sse_connections{{stream=\"{stream}\"}} stayed {seen:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_gauge_counts_open_streams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    wait_for_streams(&app, "me", 0).await;
    let stream: Sse = app.events("/api/v1/me/events", &owner, None).await;
    wait_for_streams(&app, "me", 1).await;
    assert_eq!(open_streams(&app, "application").await, Some(0));
    drop(stream);
    wait_for_streams(&app, "me", 0).await;

    // Delivered events are counted.
    let mut stream = app.events("/api/v1/me/events", &owner, None).await;
    draft(&app, &owner).await;
    stream.expect_event().await;
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    assert!(
        text.lines().any(|l| l == "kabinet_events_delivered_total 1"),
        "{text}"
    );
}
db_test!(the_gauge_counts_open_streams);

/// An open stream is not a way around the checks every request gets: once its session
/// ends, both of its caller's streams close at the next recheck, while another caller's
/// stream lives through the rechecks and keeps delivering.
async fn a_stream_closes_once_its_caller_may_no_longer_see_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("stream_recheck_secs", "1")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, leaving) = app.confirmed_citizen().await;
    let (_, _, staying) = app.confirmed_citizen().await;
    let mine = draft(&app, &leaving).await;
    let theirs = draft(&app, &staying).await;
    let mut application_stream = app.events(&stream_of(&mine), &leaving, None).await;
    let mut my_stream = app.events("/api/v1/me/events", &leaving, None).await;
    let mut other_stream = app.events(&stream_of(&theirs), &staying, None).await;

    let logout = app
        .send(Method::POST, "/api/v1/auth/logout", &leaving, None, None)
        .await;
    assert_eq!(logout.status(), 204);
    assert!(application_stream.ends_within(Duration::from_secs(5)).await);
    assert!(my_stream.ends_within(Duration::from_secs(5)).await);

    save(&app, &staying, &theirs).await;
    assert_eq!(other_stream.expect_event().await.event, "application.save_draft");
}
db_test!(a_stream_closes_once_its_caller_may_no_longer_see_it);

/// A stopping node closes its event streams first, so graceful shutdown does not wait its
/// whole timeout (a minute here) for responses that never finish.
async fn a_stopping_node_closes_its_streams_first(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("shutdown_timeout_secs", "60")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    let application = draft(&app, &token).await;
    let mut application_stream = app.events(&stream_of(&application), &token, None).await;
    let mut my_stream = app.events("/api/v1/me/events", &token, None).await;

    let stopping = actix_web::rt::spawn(app.shutdown.clone().begin());
    assert!(application_stream.ends_within(Duration::from_secs(5)).await);
    assert!(my_stream.ends_within(Duration::from_secs(5)).await);
    let stopped = tokio::time::timeout(Duration::from_secs(10), stopping).await;
    assert!(stopped.is_ok(), "the server still waits for its streams");
}
db_test!(a_stopping_node_closes_its_streams_first);

/// A metric's value in the exposition, by its whole name with labels.
async fn metric(app: &TestApp, name: &str) -> Option<i64> {
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// Issue 14, D.11: one account holds at most `streams_per_account` streams on a node (both
/// kinds together); past that, 429 `too_many_streams` with `Retry-After`. Another account
/// is not affected, and a closed stream frees its place.
async fn streams_are_capped_per_account_and_freed_when_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("streams_per_account", "3")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    let (_, _, other) = app.confirmed_citizen().await;
    let application = draft(&app, &owner).await;
    let mut open = vec![
        app.events("/api/v1/me/events", &owner, None).await,
        app.events("/api/v1/me/events", &owner, None).await,
        app.events(&stream_of(&application), &owner, None).await,
    ];

    for path in ["/api/v1/me/events".to_string(), stream_of(&application)] {
        let refused = app.open_events(&path, &owner, None).await;
        assert!(refused.headers().get("retry-after").is_some(), "{path}");
        let body = problem(refused, 429).await;
        assert_eq!(body["code"], "too_many_streams");
        assert_eq!(body["context"], json!({"cap": "account", "limit": 3}));
    }
    let mut theirs = app.events("/api/v1/me/events", &other, None).await;
    assert_eq!(
        metric(&app, "kabinet_sse_refused_total{cap=\"account\"}").await,
        Some(2)
    );

    // Closing one stream gives its place back (once the server sees the client gone).
    drop(open.pop());
    wait_for_streams(&app, "application", 0).await;
    let mut again = app.events(&stream_of(&application), &owner, None).await;
    save(&app, &owner, &application).await;
    assert_eq!(again.expect_event().await.event, "application.save_draft");
    draft(&app, &other).await;
    assert_eq!(theirs.expect_event().await.event, "application.create");
}
db_test!(streams_are_capped_per_account_and_freed_when_closed);

/// Issue 14, D.11: a node holds at most `streams_per_node` streams, whoever opens them;
/// it raised its open-files soft limit to the hard limit at start, and `/metrics` shows
/// that limit beside the caps.
async fn a_node_holds_no_more_streams_than_its_cap(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("streams_per_node", "2")).await;
    let (_, _, first) = app.confirmed_citizen().await;
    let (_, _, second) = app.confirmed_citizen().await;
    let (_, _, third) = app.confirmed_citizen().await;
    let _one = app.events("/api/v1/me/events", &first, None).await;
    let _two = app.events("/api/v1/me/events", &second, None).await;
    let refused = problem(app.open_events("/api/v1/me/events", &third, None).await, 429).await;
    assert_eq!(refused["code"], "too_many_streams");
    assert_eq!(refused["context"], json!({"cap": "node", "limit": 2}));
    assert_eq!(
        metric(&app, "kabinet_sse_connections_max{cap=\"node\"}").await,
        Some(2)
    );
    assert_eq!(
        metric(&app, "kabinet_sse_connections_max{cap=\"account\"}").await,
        Some(5)
    );

    let limit = metric(&app, "kabinet_open_files_limit").await;
    assert!(limit.is_some_and(|l| l > 0), "open-files limit {limit:?}");
    // The test runs in the server's process: its limits are the server's.
    #[cfg(target_os = "linux")]
    {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let (soft, hard) = limits
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))
            .map(|rest| {
                let mut fields = rest.split_whitespace().map(|v| v.parse::<i64>().ok());
                (fields.next().flatten(), fields.next().flatten())
            })
            .unwrap_or_default();
        assert_eq!(limit, soft, "{limits}");
        assert_eq!(soft, hard, "the soft limit was raised to the hard one");
    }
}
db_test!(a_node_holds_no_more_streams_than_its_cap);
