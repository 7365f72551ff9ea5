//! Cross-origin access for web frontends on the origins `KABINET_CORS_ORIGINS` lists, and
//! for no other. It wraps every other layer, so a preflight is answered before anything
//! counts or refuses it, and every answer a listed page gets — 401, 429 and the rest of
//! problem+json included — carries the headers that let the page read it.
//!
//! What an attacker would try, and what stops it: a page on another origin reading a
//! user's data through the user's browser (only exact listed origins get
//! `Access-Control-Allow-Origin`; no wildcard is accepted at start-up, and no cookies are
//! used, so a browser never attaches credentials on its own); probing with preflights
//! (answered here, problem+json, never reaching the rate limits or the handlers).

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::config::Config;
use crate::error::ApiError;
use crate::error::PROBLEM_JSON;

/// The request headers the API reads.
const ALLOWED_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "last-event-id",
    "x-request-id",
    "x-on-behalf-of",
    "accept",
];

/// The response headers a page may read besides the safelisted ones.
const EXPOSED_HEADERS: [&str; 8] = [
    "etag",
    "location",
    "x-request-id",
    "idempotent-replayed",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "content-disposition",
];

/// The policy for the configured origins; none configured, no cross-origin access.
pub fn policy(config: &Config) -> Cors {
    let cors = config
        .cors_origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
    .allowed_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
    .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
    .max_age(config.cors_max_age_secs)
}

fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Wraps [`policy`]: a preflight it refuses (an origin, method or header not allowed)
/// is answered as problem+json like every other refusal, rather than in plain text.
pub async fn explain(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let preflight = is_preflight(&req);
    let response = next.call(req).await?;
    let refused = response.status().is_client_error()
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(preflight && refused) {
        return Ok(response.map_into_left_body());
    }
    let vary = response.headers().get(header::VARY).cloned();
    let (request, _) = response.into_parts();
    let mut problem = ApiError::new(
        StatusCode::FORBIDDEN,
        "cors_refused",
        "This origin may not call the API from a browser, or not with this method or these headers.",
    )
    .error_response();
    if let Some(vary) = vary {
        problem.headers_mut().insert(header::VARY, vary);
    }
    Ok(ServiceResponse::new(request, problem).map_into_right_body())
}
