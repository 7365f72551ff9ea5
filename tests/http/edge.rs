//! What every request and answer passes at the edge (issue 14, E): no NUL reaches a
//! handler, no personal data from an error reaches the log, and answers carry the headers
//! that keep browsers and caches from mishandling them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{captured_logs, json, problem, Backend, TestApp};

/// The one field problem of a 422 refusal of a NUL.
async fn nul_refusal(response: reqwest::Response) -> String {
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["code"], "nul_character", "{body}");
    body["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn nul_characters_are_refused_in_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;

    let draft = app
        .send(
            Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(json!({"service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Ива\u{0}нова"}})),
        )
        .await;
    assert_eq!(nul_refusal(draft).await, "form_data.full_name");

    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"login": "a\u{0}b", "password": "x"}),
        )
        .await;
    assert_eq!(nul_refusal(login).await, "login");

    let search = app.get_as("/api/v1/applications?q=%00", &token).await;
    assert_eq!(nul_refusal(search).await, "query");

    // An escaped backslash followed by the letters is text, not a NUL.
    let text = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(json!({"service_code": "test-passport", "form_data": {"reason": "age_45", "note": "\\u0000"}})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(text["form_data"]["note"], "\\u0000");
}
db_test!(nul_characters_are_refused_in_every_field);

async fn an_error_answer_never_puts_what_the_caller_sent_in_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A wrongly typed SNILS: the 422 explains the type, quoting the value back.
    let marker = 11_223_344_595_u64 + u64::from(std::process::id() % 1000) * 1_000_000_000_000;
    let response = app
        .post_json(
            "/api/v1/accounts",
            &json!({"snils": marker, "password": "Aa1!aaaaaa"}),
        )
        .await;
    let status = response.status().as_u16();
    assert!(status == 422 || status == 400, "{status}");
    assert!(
        !captured_logs().contains(&marker.to_string()),
        "the log holds a value from a refused request body"
    );
}
db_test!(an_error_answer_never_puts_what_the_caller_sent_in_the_log);

async fn answers_are_never_sniffed_and_personal_data_is_never_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.citizen_token(false).await;
    let me = app.get_as("/api/v1/me", &token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["cache-control"], "no-store");
    assert_eq!(me.headers()["x-content-type-options"], "nosniff");

    let refused = app.get("/api/v1/me").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    assert_eq!(refused.headers()["cache-control"], "no-store");

    let ui = app.get("/swagger-ui/").await;
    assert_eq!(ui.status(), 200);
    let csp = ui.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        ui.headers().get("strict-transport-security").is_none(),
        "HSTS outside production"
    );
}
db_test!(answers_are_never_sniffed_and_personal_data_is_never_cached);

#[actix_web::test]
async fn production_answers_carry_hsts() {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let signing = api::auth::SigningKeys::generate()
        .to_setting()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.set("env", "production")
            .set("pii_keys", format!("k1:{key}"))
            .set("pii_index_key", key.clone())
            .set("signing_keys", signing)
            .unset("dev_mailbox")
    })
    .await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[actix_web::test]
async fn metrics_can_be_kept_behind_a_token() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.set("metrics_token", "scrape-me")).await;
    let body: Value = problem(app.get("/metrics").await, 401).await;
    assert_eq!(body["code"], "metrics_token_required");
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-you")
        .send()
        .await;
    assert_eq!(wrong.map(|r| r.status().as_u16()).ok(), Some(401));
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await;
    assert_eq!(right.map(|r| r.status().as_u16()).ok(), Some(200));
    // Without the setting, /metrics stays open (as for a scraper on a private network).
    let open = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(open.get("/metrics").await.status(), 200);
}
