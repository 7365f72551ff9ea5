//! Abuse limits (issue 14, D): kept in the database so every node counts the same keys,
//! answered 429 with `Retry-After` and the `RateLimit` headers, exact under concurrency.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::support::{citizen, json, problem, Backend, TestApp, PASSWORD};

async fn password_resets_cannot_flood_one_victim(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("rate_reset_per_target", "3/1h")).await;
    let victim = citizen(false);
    app.register(&victim).await;
    let email = victim["email"].as_str().unwrap_or_default().to_string();

    let mut statuses = Vec::new();
    for _ in 0..10 {
        let sent = app
            .post_json("/api/v1/auth/password-reset", &json!({"login": email}))
            .await;
        statuses.push(sent.status().as_u16());
        if sent.status() == 429 {
            let headers = sent.headers().clone();
            let retry: i64 = headers["retry-after"]
                .to_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            assert!((1..=1200).contains(&retry), "Retry-After {retry}");
            assert_eq!(headers["ratelimit-policy"], "\"reset-target\";q=3;w=3600");
            assert!(headers["ratelimit"]
                .to_str()
                .unwrap_or_default()
                .starts_with("\"reset-target\";r=0;t="));
            assert_eq!(problem(sent, 429).await["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, [vec![202; 3], vec![429; 7]].concat());
    // The login is matched however it is written.
    let shouted = app
        .post_json(
            "/api/v1/auth/password-reset",
            &json!({"login": email.to_uppercase()}),
        )
        .await;
    assert_eq!(shouted.status(), 429);

    // One request's worth of quota comes back after a third of the hour.
    app.state.clock.advance(chrono::TimeDelta::minutes(21));
    let again = app
        .post_json("/api/v1/auth/password-reset", &json!({"login": email}))
        .await;
    assert_eq!(again.status(), 202);
}
db_test!(password_resets_cannot_flood_one_victim);

async fn one_address_is_limited_on_every_node(backend: Backend) {
    let strict = |s: api::Source| s.set("rate_login_per_ip", "4/15m");
    let a = TestApp::spawn_with(backend.clone(), strict).await;
    let b = a.second_node_with(strict).await;
    let mut statuses = Vec::new();
    for (i, node) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
        // A different login each time: only the address is the same.
        let tried = node
            .login(&format!("nobody{i}@example.ru"), "Wrong-Password-1!")
            .await;
        statuses.push(tried.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
    // Admitted answers say how much is left (on PostgreSQL the count is made by one SQL
    // statement, on SQLite by the domain's rule: the same answer).
    let c = TestApp::spawn_with(backend, strict).await;
    let first = c.login("nobody@example.ru", "Wrong-Password-1!").await;
    assert_eq!(
        first.headers()["ratelimit"].to_str().ok(),
        Some("\"login-ip\";r=3;t=225")
    );
}
db_test!(one_address_is_limited_on_every_node);

async fn a_burst_of_parallel_creates_gets_exactly_the_quota(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("rate_creates_per_account", "5/1h")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    let body = json!({"service_code": "test-passport", "form_data": {"reason": "age_45"}});
    let attempts = (0..12).map(|_| {
        app.send(
            Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(body.clone()),
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201; 5], vec![429; 7]].concat());
    let listed = json(app.get_as("/api/v1/applications", &token).await, 200).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(5));
}
db_test!(a_burst_of_parallel_creates_gets_exactly_the_quota);

/// Creates are a limit on what is stored: counted in the write's own transaction, so a
/// create that fails costs no quota, while a new application and a comment draw on the
/// same count, and what is left is in every admitted answer.
async fn only_what_is_stored_counts_against_the_create_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("rate_creates_per_account", "3/1h")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    let create = |service: &str| {
        let body = json!({"service_code": service, "form_data": {"reason": "age_45"}});
        app.send(Method::POST, "/api/v1/applications", &token, None, Some(body))
    };
    for _ in 0..4 {
        let refused = create("no-such-service").await;
        assert_eq!(problem(refused, 422).await["code"], "validation_failed");
    }
    let mut left = Vec::new();
    let mut first = None;
    for _ in 0..2 {
        let created = create("test-passport").await;
        left.push(
            created.headers()["ratelimit"]
                .to_str()
                .unwrap_or_default()
                .to_string(),
        );
        first = first.or(json(created, 201).await["id"].as_str().map(str::to_string));
    }
    assert_eq!(left[0].split(";t=").next(), Some("\"creates\";r=2"));
    assert_eq!(left[1].split(";t=").next(), Some("\"creates\";r=1"));
    let comments = format!("/api/v1/applications/{}/comments", first.unwrap_or_default());
    let comment = |text: &str| {
        let body = json!({"body": text});
        app.send(Method::POST, &comments, &token, None, Some(body))
    };
    assert_eq!(comment("Приложу справку завтра.").await.status(), 201);
    let refused = comment("Ещё одна.").await;
    assert_eq!(refused.headers()["ratelimit-policy"], "\"creates\";q=3;w=3600");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(problem(refused, 429).await["code"], "rate_limited");
    assert_eq!(
        problem(create("test-passport").await, 429).await["code"],
        "rate_limited"
    );
    let listed = json(app.get_as("/api/v1/applications", &token).await, 200).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
}
db_test!(only_what_is_stored_counts_against_the_create_limit);

/// A write's count is taken by the statement that reads its session, before the session is
/// judged: a token whose session has ended (stolen, say, and its owner logged in again) is
/// refused, and its count rolls back with the refusal, so it cannot spend the owner's quota.
async fn an_ended_session_spends_none_of_the_quota(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("rate_creates_per_account", "3/1h")).await;
    app.seed_catalog(true, false, 30);
    let (profile, _, ended) = app.confirmed_citizen().await;
    let email = profile["email"].as_str().unwrap_or_default().to_string();
    let current = app.login_ok(&email, PASSWORD).await;
    let current = current["access_token"].as_str().unwrap_or_default().to_string();
    let create = |token: String| {
        let body = json!({"service_code": "test-passport", "form_data": {"reason": "age_45"}});
        let app = &app;
        async move {
            app.send(Method::POST, "/api/v1/applications", &token, None, Some(body))
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(
            problem(create(ended.clone()).await, 401).await["code"],
            "session_revoked"
        );
    }
    for _ in 0..3 {
        assert_eq!(create(current.clone()).await.status(), 201);
    }
    assert_eq!(problem(create(current).await, 429).await["code"], "rate_limited");
}
db_test!(an_ended_session_spends_none_of_the_quota);
