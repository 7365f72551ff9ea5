//! Every failure answers RFC 9457 problem+json with a machine code, never actix's
//! plain-text defaults and never a 500 for bad input.

use serde_json::json;

use crate::db_test;
use crate::support::{problem, Backend, TestApp};

async fn unknown_routes_and_wrong_methods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = problem(app.get("/api/v1/no-such-thing").await, 404).await;
    assert_eq!(body["code"], "not_found");

    let wrong_method = app
        .client
        .delete(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        wrong_method.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    let body = problem(wrong_method, 405).await;
    assert_eq!(body["code"], "method_not_allowed");

    let get_on_post = app.get("/api/v1/auth/login").await;
    assert_eq!(
        get_on_post.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    problem(get_on_post, 405).await;
}
db_test!(unknown_routes_and_wrong_methods);

async fn bad_bodies(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("body_limit_bytes", "256")).await;
    let send = |body: String, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = send("{not json".into(), "application/json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problem(malformed, 400).await["code"], "malformed_json");

    let wrong_shape = send(json!({"login": 5}).to_string(), "application/json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(wrong_shape, 422).await;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "body");

    let wrong_type = send(json!({"login": "a", "password": "b"}).to_string(), "text/plain")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problem(wrong_type, 415).await["code"], "unsupported_media_type");

    let huge = json!({"login": "x".repeat(1_000), "password": "y"}).to_string();
    let too_large = send(huge, "application/json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problem(too_large, 413).await["code"], "payload_too_large");

    let missing = send(
        json!({"login": "", "password": "p"}).to_string(),
        "application/json",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(missing, 422).await;
    assert_eq!(body["errors"][0]["field"], "login");
    assert_eq!(body["errors"][0]["code"], "required");
}
db_test!(bad_bodies);

async fn tokens_that_are_not_ours_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = app.get("/api/v1/audit/verify").await;
    assert_eq!(
        missing
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_eq!(problem(missing, 401).await["code"], "missing_token");

    let garbage = app.get_as("/api/v1/audit/verify", "not.a.token").await;
    assert_eq!(problem(garbage, 401).await["code"], "invalid_token");

    // `alg: none` with our kid: unsigned tokens are never accepted.
    let kid = app.state.tokens.jwk().kid.clone();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let claims = b64.encode(
        json!({"iss": "kabinet", "sub": uuid::Uuid::now_v7(), "sid": uuid::Uuid::now_v7(), "roles": ["admin"],
               "iat": 0, "exp": 4_000_000_000_i64, "amr": ["pwd"]})
        .to_string(),
    );
    let unsigned = app
        .get_as("/api/v1/audit/verify", &format!("{header}.{claims}."))
        .await;
    assert_eq!(problem(unsigned, 401).await["code"], "invalid_token");

    // A token signed by another deployment's key.
    let other = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let foreign = other
        .staff_token("foreign-admin", domain::access::Role::Admin)
        .await;
    let refused = app.get_as("/api/v1/audit/verify", &foreign).await;
    assert_eq!(problem(refused, 401).await["code"], "invalid_token");
}
db_test!(tokens_that_are_not_ours_are_401);

async fn expired_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("access_token_ttl_secs", "60")).await;
    let token = app.staff_token("short-lived", domain::access::Role::Admin).await;
    assert_eq!(app.get_as("/api/v1/audit/verify", &token).await.status(), 200);
    // The clock moves past the token's life (a sleep would race a slow first request).
    app.state.clock.advance(chrono::TimeDelta::seconds(61));
    let expired = app.get_as("/api/v1/audit/verify", &token).await;
    assert_eq!(problem(expired, 401).await["code"], "token_expired");
}
db_test!(expired_tokens_are_401);

/// Input outside the schema is refused (schemathesis's negative-data check found both): an
/// empty login asks for no reset (422, not the anonymous 202), and an empty If-Match is a
/// missing one (428), while a tag that names no version is 412.
async fn input_outside_the_schema_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let empty = app
        .post_json("/api/v1/auth/password-reset", &json!({"login": ""}))
        .await;
    assert_eq!(problem(empty, 422).await["errors"][0]["field"], "login");
    let (_, _, token) = app.confirmed_citizen().await;
    for (if_match, status, code) in [("", 428, "if_match_required"), ("\"x\"", 412, "stale_version")] {
        let answer = app
            .client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .header("If-Match", if_match)
            .json(&json!({"display_name": "Мария"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            problem(answer, status).await["code"],
            code,
            "If-Match {if_match:?}"
        );
    }
}
db_test!(input_outside_the_schema_is_refused);
