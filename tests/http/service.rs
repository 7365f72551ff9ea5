//! Liveness, readiness, metrics, request ids and the public keys.

use serde_json::Value;

use crate::db_test;
use crate::support::{Backend, TestApp};

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap_or_default();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], backend.name());
    assert_eq!(body["pending_migrations"], 0);
}
db_test!(health_and_readiness);

async fn request_ids_are_generated_or_echoed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let generated = app.get("/health").await;
    let id = generated
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "generated id {id:?}");

    let echoed = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        echoed.headers().get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("trace-abc-123")
    );

    // An id that could forge log lines is replaced, not echoed.
    let hostile = app
        .client
        .get(app.url("/nowhere"))
        .header("X-Request-Id", "a b")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let replaced = hostile
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_ne!(replaced, "a b");
    assert!(uuid::Uuid::parse_str(&replaced).is_ok());
}
db_test!(request_ids_are_generated_or_echoed);

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..3 {
        app.get("/health").await;
    }
    app.get("/api/v1/audit/verify").await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap_or_default();
    assert!(
        text.contains(r#"kabinet_http_requests_total{method="GET",route="/health",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(
        r#"kabinet_http_requests_total{method="GET",route="/api/v1/audit/verify",status="401"} 1"#
    ));
    assert!(text.contains(r#"kabinet_http_request_duration_seconds_bucket{method="GET",route="/health""#));
    assert!(text.contains(r#"kabinet_db_pool_connections{state="max"} 4"#));
}
db_test!(metrics_count_requests_by_route_and_status);

async fn jwks_publishes_the_signing_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap_or_default();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["kid"].as_str().map(str::len), Some(16));

    // A second node, with a data directory of its own, finds the same key in the database.
    let second = app.second_node().await;
    let again: Value = second
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(again["keys"][0]["kid"], key["kid"]);
}
db_test!(jwks_publishes_the_signing_key);

async fn swagger_ui_is_served_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let redirect = app.get("/swagger-ui").await;
    assert!(redirect.status().is_redirection());
    let page = app.get("/swagger-ui/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("swagger-ui"));
    let initializer = app.get("/swagger-ui/swagger-initializer.js").await;
    assert!(initializer
        .text()
        .await
        .unwrap_or_default()
        .contains("/api-docs/openapi.json"));
}
db_test!(swagger_ui_is_served_offline);

async fn the_api_reference_is_served_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.get("/docs").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("script-src 'self';")
            && csp.contains("worker-src blob:")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains(r#"<redoc spec-url="/api-docs/openapi.json">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<script src="/docs/redoc.standalone.js">"#),
        "{html}"
    );
    assert!(!html.contains("http"), "the page names no other origin: {html}");

    let bundle = app.get("/docs/redoc.standalone.js").await;
    assert_eq!(bundle.status(), 200);
    assert_eq!(bundle.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(bundle.text().await.unwrap_or_default().contains("ReDoc"));
    assert!(app.get("/docs/").await.status().is_redirection());
}
db_test!(the_api_reference_is_served_offline);
