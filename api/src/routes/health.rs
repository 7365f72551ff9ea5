//! Operational endpoints: liveness, readiness, Prometheus metrics and the public keys.

use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Jwks;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::state::State;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "database": "sqlite", "pending_migrations": 0}))]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    pub pending_migrations: usize,
}

/// Liveness: the process is up and serving.
///
/// Caller: anyone, no token (load balancers, orchestrators). Changes nothing and does not
/// touch the database; see `ready` for that.
#[utoipa::path(tag = "service", operation_id = "health", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
///
/// Caller: anyone, no token. Changes nothing. 503 `database_unavailable` when the database
/// does not answer, 503 `migrations_pending` while migrations are still to be applied.
#[utoipa::path(
    tag = "service",
    operation_id = "ready",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
    )
)]
#[get("/ready")]
pub async fn ready(state: State) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let pending = blocking(move || Ok(db.pending_migrations()?)).await?;
    let readiness = Readiness {
        status: if pending == 0 { "ready" } else { "not_ready" },
        database: state.db.backend().as_str(),
        pending_migrations: pending,
    };
    if pending == 0 {
        Ok(HttpResponse::Ok().json(readiness))
    } else {
        Err(ApiError::unavailable(
            "migrations_pending",
            format!("{pending} migrations are not applied yet."),
        ))
    }
}

/// Prometheus metrics in the text exposition format.
///
/// Caller: the metrics scraper; when the operator set a metrics token, only with
/// `Authorization: Bearer <that token>` (401 `metrics_token_required` otherwise), else
/// anyone. Changes nothing.
#[utoipa::path(
    tag = "service",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String,
        example = "kabinet_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 3\n"),
        (status = 401, response = crate::openapi::Unauthorized))
)]
#[get("/metrics")]
pub async fn metrics(state: State, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.config.metrics_token {
        if !bearer_matches(&req, expected.expose()) {
            return Err(ApiError::unauthorized(
                "metrics_token_required",
                "Send Authorization: Bearer <the metrics token>.",
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.db.usage())))
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
fn bearer_matches(req: &actix_web::HttpRequest, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let sent = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// The public keys that verify Kabinet's access tokens (JWKS, RFC 7517).
///
/// Caller: anyone, no token (regional portals and other services that check Kabinet's
/// access tokens themselves). Changes nothing.
#[utoipa::path(tag = "service", operation_id = "jwks", responses((status = 200, body = Jwks)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: State) -> HttpResponse {
    HttpResponse::Ok().json(Jwks {
        keys: state.tokens.jwks().to_vec(),
    })
}
