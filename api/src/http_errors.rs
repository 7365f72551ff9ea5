//! Every failure the framework itself produces (bad JSON, wrong content type, oversized
//! bodies, unknown routes, wrong methods, timeouts) answered as problem+json, never as
//! actix's plain-text defaults.

use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::{ApiError, FieldProblem, PROBLEM_JSON};

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(json_error)
}

fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        ),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The body exceeds the limit of {limit} bytes."),
            )
        }
        // Well-formed JSON of the wrong shape is a validation problem (422); anything that
        // is not JSON at all is malformed (400).
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::validation(vec![FieldProblem {
            field: "body".into(),
            code: "invalid_value".into(),
            message: e.to_string(),
        }]),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {e}"))
        }
        other => ApiError::bad_request("unreadable_body", format!("The body could not be read: {other}")),
    };
    api_error.into()
}

pub fn path_config() -> web::PathConfig {
    // A path segment that does not parse (not a UUID, say) names nothing that exists.
    web::PathConfig::default().error_handler(|_: PathError, _| ApiError::not_found().into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _| {
        ApiError::validation(vec![FieldProblem {
            field: "query".into(),
            code: "invalid_value".into(),
            message: error.to_string(),
        }])
        .into()
    })
}

/// The paths the spec documents, with their methods, for answering 405 with `Allow`
/// instead of 404 when only the method is wrong.
#[derive(Clone, Default)]
pub struct KnownRoutes {
    routes: Vec<(Vec<String>, Vec<Method>)>,
}

impl KnownRoutes {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> KnownRoutes {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_string).collect();
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        KnownRoutes { routes }
    }

    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes.iter().find_map(|(template, methods)| {
            let matches = template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s);
            matches.then(|| methods.clone())
        })
    }
}

/// The default service: 405 with `Allow` for a known path, 404 otherwise.
pub async fn no_route(req: HttpRequest, known: web::Data<KnownRoutes>) -> HttpResponse {
    match known.allowed(req.path()) {
        Some(methods) if !methods.is_empty() => {
            let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed here; use {allow}.", req.method()),
            )
            .with_header(header::ALLOW, allow)
            .error_response()
        }
        _ => ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such route.").error_response(),
    }
}

/// Safety net: any error response that is not problem+json yet (framework internals, a
/// middleware's own refusal) is rewritten as one, keeping its status and headers.
pub fn normalize<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let (code, detail) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "The request could not be understood."),
        StatusCode::UNAUTHORIZED => ("unauthorized", "Authentication is required."),
        StatusCode::NOT_FOUND => ("not_found", "No such resource, or it is not visible to you."),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "This method is not allowed here."),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The body is too large."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "This media type is not accepted."),
        s if s.is_server_error() => (
            "internal_error",
            "An unexpected error occurred; it has been logged.",
        ),
        _ => ("request_refused", "The request was refused."),
    };
    let (request, original) = response.into_parts();
    let mut problem = ApiError::new(status, code, detail).error_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = original.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    let rewritten: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(request, problem).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(rewritten))
}

/// Bounds the time to produce a response head; the client gets 503 `request_timeout`.
/// The refusal travels as an error rather than a response because building a response
/// needs the request, and holding a clone of it breaks the inner services' access to it.
pub async fn timeout(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<crate::state::AppState>>()
        .map(|s| Duration::from_secs(s.config.request_timeout_secs))
        .unwrap_or(Duration::from_secs(30));
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            "The request took too long and was abandoned.",
        )
        .with_header(header::RETRY_AFTER, "5")
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segment_by_segment() {
        let known = KnownRoutes {
            routes: vec![(
                "/api/v1/things/{id}".split('/').map(str::to_string).collect(),
                vec![Method::GET],
            )],
        };
        assert_eq!(known.allowed("/api/v1/things/42"), Some(vec![Method::GET]));
        assert_eq!(known.allowed("/api/v1/things/"), None);
        assert_eq!(known.allowed("/api/v1/things/42/more"), None);
        assert_eq!(known.allowed("/api/v1/other/42"), None);
    }
}
