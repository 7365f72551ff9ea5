//! Headers every answer carries: `X-Content-Type-Options: nosniff` everywhere; API answers
//! (which carry personal data) are never stored by a cache (`Cache-Control: no-store`,
//! unless the handler chose its own policy); Swagger UI and Redoc each get a Content
//! Security Policy; in production, HSTS.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use crate::config::Environment;

/// Only Swagger UI's own files, no inline scripts, no framing.
const SWAGGER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Only Redoc's bundle and the document; Redoc styles with inline `<style>` elements and
/// runs its search index in a worker it creates from a `blob:` URL. Its footer's logo from
/// Redocly's CDN is refused (the bundle then hides it): the page contacts no other origin.
const REDOC_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; worker-src blob:; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// A year, subdomains included (only ever sent in production, behind TLS).
const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn secure(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path().to_string();
    let production = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .is_some_and(|s| s.config.environment == Environment::Production);
    // Handlers' errors are responses by now; the layers inside this one answer rather than
    // fail, so every answer passes here.
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path.starts_with("/api/") && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if path.starts_with("/swagger-ui") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SWAGGER_CSP),
        );
    }
    if path == "/docs" || path.starts_with("/docs/") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REDOC_CSP),
        );
    }
    if production {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    Ok(response)
}
