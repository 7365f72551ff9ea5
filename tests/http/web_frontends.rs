//! Web frontends on other origins: CORS (preflights answered before any limit, refusals
//! readable by a listed page, nothing for other origins) and the single-use stream tickets
//! a browser's EventSource opens streams with. The CORS tests run on SQLite only: CORS is
//! decided before any database work. The ticket tests run on both backends.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{captured_logs, json, problem, Backend, Sse, TestApp};

const PORTAL: &str = "http://portal.example.ru";

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_lowercase)
}

fn with_portal(source: api::Source) -> api::Source {
    source.set("cors_origins", format!("{PORTAL}, http://other.example.ru"))
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap_or_else(|e| panic!("OPTIONS {path}: {e}"))
}

#[actix_web::test]
async fn a_listed_origin_gets_its_preflight_answered() {
    let app = TestApp::spawn_with(Backend::Sqlite, with_portal).await;
    let answer = preflight(&app, "/api/v1/auth/login", PORTAL, "POST", "content-type").await;
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(
        header(&answer, "access-control-allow-origin").as_deref(),
        Some(PORTAL)
    );
    assert_eq!(header(&answer, "access-control-max-age").as_deref(), Some("3600"));
    let methods = header(&answer, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("post") && methods.contains("patch"), "{methods}");

    let answer = preflight(
        &app,
        "/api/v1/applications/0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d",
        PORTAL,
        "PATCH",
        "authorization, content-type, if-match, idempotency-key, x-on-behalf-of, x-request-id",
    )
    .await;
    assert!(answer.status().is_success(), "{}", answer.status());
    let allowed = header(&answer, "access-control-allow-headers").unwrap_or_default();
    for name in [
        "authorization",
        "if-match",
        "idempotency-key",
        "last-event-id",
        "x-on-behalf-of",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
}

#[actix_web::test]
async fn other_origins_get_no_cross_origin_access() {
    let app = TestApp::spawn_with(Backend::Sqlite, with_portal).await;
    for origin in [
        "http://evil.example.ru",
        "http://portal.example.ru:8443",
        "https://portal.example.ru",
    ] {
        let answer = preflight(&app, "/api/v1/auth/login", origin, "POST", "content-type").await;
        assert_eq!(header(&answer, "access-control-allow-origin"), None, "{origin}");
        assert_eq!(problem(answer, 403).await["code"], "cors_refused");
    }
    // A listed origin asking for a header the API does not read.
    let answer = preflight(&app, "/api/v1/auth/login", PORTAL, "POST", "x-forwarded-for").await;
    assert_eq!(problem(answer, 403).await["code"], "cors_refused");
    // The request itself is answered (a browser hides the answer), but without the headers.
    let answer = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Origin", "http://evil.example.ru")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header(&answer, "access-control-allow-origin"), None);
    problem(answer, 401).await;

    // With none configured, nobody gets any.
    let closed = TestApp::spawn(Backend::Sqlite).await;
    let answer = preflight(&closed, "/api/v1/auth/login", PORTAL, "POST", "content-type").await;
    assert_eq!(header(&answer, "access-control-allow-origin"), None);
    assert_eq!(problem(answer, 403).await["code"], "cors_refused");
}

#[actix_web::test]
async fn refusals_are_readable_by_a_listed_page_and_preflights_are_not_counted() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        with_portal(s).set("rate_login_per_ip", "2/1h")
    })
    .await;
    // Preflights never reach the limits: three of them leave the quota of two untouched.
    for _ in 0..3 {
        let answer = preflight(&app, "/api/v1/auth/login", PORTAL, "POST", "content-type").await;
        assert!(answer.status().is_success());
    }
    let login = || {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("Origin", PORTAL)
            .json(&json!({"login": "nobody@example.ru", "password": "Wrong-Passw0rd"}))
            .send()
    };
    for _ in 0..2 {
        let answer = login().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some(PORTAL)
        );
        problem(answer, 401).await;
    }
    let limited = login().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        header(&limited, "access-control-allow-origin").as_deref(),
        Some(PORTAL)
    );
    let exposed = header(&limited, "access-control-expose-headers").unwrap_or_default();
    for name in [
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
        "etag",
        "location",
        "x-request-id",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    assert!(header(&limited, "retry-after").is_some());
    assert_eq!(problem(limited, 429).await["code"], "rate_limited");
}

/// A ticket for `body`'s stream, which must be issued.
async fn ticket(app: &TestApp, token: &str, body: Value) -> Value {
    json(
        app.send(Method::POST, "/api/v1/events/tickets", token, None, Some(body))
            .await,
        201,
    )
    .await
}

/// Opens `url` (a path with `?ticket=`) as a browser's EventSource does: no Authorization.
async fn open(app: &TestApp, url: &str) -> reqwest::Response {
    app.client
        .get(app.url(url))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

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

async fn a_ticket_opens_its_stream_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    let issued = ticket(&app, &owner, json!({"stream": "me"})).await;
    let secret = s(&issued["ticket"]);
    assert_eq!(secret.len(), 43, "256 bits, base64url: {secret}");
    assert_eq!(
        s(&issued["stream_url"]),
        format!("/api/v1/me/events?ticket={secret}")
    );
    let expires: chrono::DateTime<chrono::Utc> = s(&issued["expires_at"]).parse().unwrap_or_default();
    let left = expires - app.state.clock.now();
    assert!(
        left > chrono::TimeDelta::seconds(25) && left <= chrono::TimeDelta::seconds(30),
        "{left}"
    );

    let mut stream = Sse::of(open(&app, &s(&issued["stream_url"])).await, "/api/v1/me/events");
    let created = draft(&app, &owner).await;
    let event = stream.expect_event().await;
    assert_eq!(event.event, "application.create");
    assert_eq!(event.data["application_id"], created["id"]);

    // A replay, even while the first stream is open, is refused.
    let replay = problem(open(&app, &s(&issued["stream_url"])).await, 401).await;
    assert_eq!(replay["code"], "invalid_ticket");
    // So is a guess, and no ticket at all is a missing token.
    let guess = problem(open(&app, "/api/v1/me/events?ticket=AAAA").await, 401).await;
    assert_eq!(guess["code"], "invalid_ticket");
    assert_eq!(
        problem(open(&app, "/api/v1/me/events").await, 401).await["code"],
        "missing_token"
    );
    // Neither the ticket nor its hash reaches the log.
    assert!(!captured_logs().contains(&secret), "the ticket was logged");
}
db_test!(a_ticket_opens_its_stream_once);

async fn a_ticket_opens_only_the_stream_it_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    let (_, _, stranger) = app.confirmed_citizen().await;
    let mine = draft(&app, &owner).await;
    let other = draft(&app, &owner).await;
    let path = |a: &Value| format!("/api/v1/applications/{}/events", s(&a["id"]));

    let issued = ticket(
        &app,
        &owner,
        json!({"stream": "application", "application_id": mine["id"]}),
    )
    .await;
    let secret = s(&issued["ticket"]);
    assert_eq!(
        s(&issued["stream_url"]),
        format!("{}?ticket={secret}", path(&mine))
    );
    for wrong in [path(&other), "/api/v1/me/events".to_string()] {
        let refused = problem(open(&app, &format!("{wrong}?ticket={secret}")).await, 401).await;
        assert_eq!(refused["code"], "invalid_ticket", "{wrong}");
    }
    // The attempt used the ticket up: it cannot be tried again, even on its own stream.
    let refused = problem(open(&app, &s(&issued["stream_url"])).await, 401).await;
    assert_eq!(refused["code"], "invalid_ticket");

    // Nobody gets a ticket for an application they may not see; it stays unknown to them.
    let hidden = app
        .send(
            Method::POST,
            "/api/v1/events/tickets",
            &stranger,
            None,
            Some(json!({"stream": "application", "application_id": mine["id"]})),
        )
        .await;
    problem(hidden, 404).await;
    // Bodies that name no stream, or two, are refused.
    for body in [
        json!({"stream": "application"}),
        json!({"stream": "me", "application_id": mine["id"]}),
        json!({"stream": "everything"}),
        json!({}),
    ] {
        let answer = app
            .send(
                Method::POST,
                "/api/v1/events/tickets",
                &owner,
                None,
                Some(body.clone()),
            )
            .await;
        problem(answer, 422).await;
    }
    let anonymous = app
        .post_json("/api/v1/events/tickets", &json!({"stream": "me"}))
        .await;
    problem(anonymous, 401).await;
}
db_test!(a_ticket_opens_only_the_stream_it_names);

async fn a_ticket_expires_and_dies_with_its_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, owner) = app.confirmed_citizen().await;
    let stale = ticket(&app, &owner, json!({"stream": "me"})).await;
    let fresh = ticket(&app, &owner, json!({"stream": "me"})).await;
    app.state.clock.advance(chrono::TimeDelta::seconds(31));
    let refused = problem(open(&app, &s(&stale["stream_url"])).await, 401).await;
    assert_eq!(refused["code"], "invalid_ticket");

    let kept = ticket(&app, &owner, json!({"stream": "me"})).await;
    let logout = app
        .send(Method::POST, "/api/v1/auth/logout", &owner, None, None)
        .await;
    assert_eq!(logout.status(), 204);
    let refused = problem(open(&app, &s(&kept["stream_url"])).await, 401).await;
    assert_eq!(refused["code"], "session_revoked");
    // The ticket asked for before the clock moved is expired as well.
    let refused = problem(open(&app, &s(&fresh["stream_url"])).await, 401).await;
    assert_eq!(refused["code"], "invalid_ticket");
}
db_test!(a_ticket_expires_and_dies_with_its_session);

async fn one_ticket_opens_one_stream_however_many_race_for_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("db_pool_size", "8")).await;
    let (_, _, owner) = app.confirmed_citizen().await;
    for _ in 0..3 {
        let issued = ticket(&app, &owner, json!({"stream": "me"})).await;
        let url = app.url(&s(&issued["stream_url"]));
        let attempts = (0..8).map(|_| {
            let request = app.client.get(&url).header("Accept", "text/event-stream").send();
            async move { request.await.map(|r| r.status().as_u16()) }
        });
        let statuses: Vec<u16> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 7, "{statuses:?}");
    }
}
db_test!(one_ticket_opens_one_stream_however_many_race_for_it);

async fn a_ticket_keeps_the_principal_it_was_asked_for(backend: Backend) {
    use crate::delegations::{delegate_and_accept, fetch, lifecycle, person, specific};
    let app = TestApp::spawn_with(backend, |s| s.set("stream_recheck_secs", "1")).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let delegation = delegate_and_accept(&app, &principal, &representative, specific(10)).await;
    let on_behalf = || async {
        let answer = app
            .client
            .post(app.url("/api/v1/events/tickets"))
            .bearer_auth(&representative.token)
            .header("X-On-Behalf-Of", &principal.id)
            .json(&json!({"stream": "me"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        json(answer, 201).await
    };
    let issued = on_behalf().await;
    let later = on_behalf().await;

    // The stream is the principal's, though the URL carries no X-On-Behalf-Of.
    let mut stream = Sse::of(open(&app, &s(&issued["stream_url"])).await, "/api/v1/me/events");
    let created = draft(&app, &principal.token).await;
    let event = stream.expect_event().await;
    assert_eq!(event.data["application_id"], created["id"]);

    // Once the delegation is revoked, a ticket asked for under it opens nothing.
    let current = fetch(&app, &principal, &delegation).await;
    assert_eq!(
        lifecycle(&app, &principal, &current, "revoke").await.status(),
        200
    );
    let refused = problem(open(&app, &s(&later["stream_url"])).await, 403).await;
    assert_eq!(refused["code"], "delegation_revoked", "{refused}");
    // ...and the stream it opened ends at its next check, as a bearer token's would.
    assert!(stream.ends_within(std::time::Duration::from_secs(10)).await);
}
db_test!(a_ticket_keeps_the_principal_it_was_asked_for);
