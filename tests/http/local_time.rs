//! Limits that hold under concurrency and in local time (issue 15, item 4): the
//! representative's daily limit is counted and written in one step, and its day is the
//! principal's day in Moscow (the configured zone), not the UTC day that starts at 03:00.

use chrono::{TimeDelta, Timelike};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::delegations::{delegate_and_accept, on_behalf, person, specific, Person};
use crate::support::{body_json, service, Backend, TestApp};

/// A principal and a representative under a ten-day delegation for `test-passport`, on an
/// app whose access tokens outlive the hours the clock is moved here.
async fn represented(backend: Backend) -> (TestApp, Person, Person) {
    let app = TestApp::spawn_with(backend, |s| s.set("access_token_ttl_secs", "172800")).await;
    app.seed_catalog(true, false, 30);
    app.add_service(&service("test-tax", "fns"));
    let (principal, representative) = (person(&app).await, person(&app).await);
    delegate_and_accept(&app, &principal, &representative, specific(10)).await;
    (app, principal, representative)
}

async fn create(app: &TestApp, representative: &Person, principal: &Person, n: usize) -> reqwest::Response {
    let form = json!({"reason": "age_45", "full_name": format!("Иванова Мария {n}")});
    let body = json!({"service_code": "test-passport", "form_data": form});
    on_behalf(
        app,
        representative,
        principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(body),
    )
    .await
}

async fn a_burst_on_behalf_starts_exactly_the_daily_limit(backend: Backend) {
    let (app, principal, representative) = represented(backend).await;
    let burst = (0..8).map(|n| create(&app, &representative, &principal, n));
    let mut statuses = Vec::new();
    for response in join_all(burst).await {
        let status = response.status().as_u16();
        let body = body_json(response).await;
        statuses.push((status, body["code"].as_str().unwrap_or_default().to_string()));
    }
    statuses.sort();
    // The limit is one a day: one draft, seven requests held for the principal.
    assert_eq!(
        statuses.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{statuses:?}"
    );
    let held = statuses
        .iter()
        .filter(|(s, c)| *s == 202 && c == "needs_principal_confirmation");
    assert_eq!(held.count(), 7, "{statuses:?}");
}
db_test!(a_burst_on_behalf_starts_exactly_the_daily_limit);

async fn the_daily_limit_counts_a_moscow_day(backend: Backend) {
    let (app, principal, representative) = represented(backend).await;
    // To 23:00 in Moscow (20:00 UTC), then to 00:30 the next Moscow day (21:30 UTC) — the
    // same UTC day, whose count would hold the second creation.
    let now = app.state.clock.now();
    let evening = now.with_hour(20).and_then(|t| t.with_minute(0)).unwrap_or(now);
    let evening = if evening <= now {
        evening + TimeDelta::days(1)
    } else {
        evening
    };
    app.state.clock.advance(evening - now);
    assert_eq!(create(&app, &representative, &principal, 1).await.status(), 201);
    app.state.clock.advance(TimeDelta::minutes(90));
    assert_eq!(create(&app, &representative, &principal, 2).await.status(), 201);
    // Within that Moscow day, the limit holds.
    assert_eq!(create(&app, &representative, &principal, 3).await.status(), 202);
}
db_test!(the_daily_limit_counts_a_moscow_day);
