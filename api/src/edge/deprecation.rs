//! Deprecated operations: one list makes the spec mark them `deprecated` and makes every
//! answer of theirs say so (`Deprecation`, RFC 9745; `Sunset`, RFC 8594; a `Link` to the
//! notice with `rel="deprecation"`). See the README's "Versioning and deprecation".

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use chrono::DateTime;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, PathItem};

/// One deprecated operation, named as in the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deprecated {
    /// Upper case, as HTTP sends it: `GET`, `POST`, …
    pub method: &'static str,
    /// The path template as the spec writes it: `/api/v1/applications/{id}`.
    pub path: &'static str,
    /// When it was deprecated (Unix seconds).
    pub since: i64,
    /// When it may stop answering (Unix seconds); at least one major version later.
    pub sunset: i64,
    /// Where the notice says what to use instead (the CHANGELOG entry).
    pub notice: &'static str,
}

/// Nothing is deprecated in API 1.0.0. An entry here is also recorded in CHANGELOG.md.
pub const DEPRECATED: &[Deprecated] = &[];

/// The list the middleware reads from the app's data (tests register their own).
#[derive(Clone, Debug)]
pub struct Deprecations(pub Vec<Deprecated>);

impl Default for Deprecations {
    fn default() -> Self {
        Self(DEPRECATED.to_vec())
    }
}

impl Deprecated {
    /// The three headers, valued per RFC 9745 (`@` and Unix seconds), RFC 8594 (an
    /// HTTP-date) and RFC 8288 (a link to the notice).
    fn headers(&self) -> [(HeaderName, String); 3] {
        let sunset = DateTime::from_timestamp(self.sunset, 0)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT");
        [
            (HeaderName::from_static("deprecation"), format!("@{}", self.since)),
            (HeaderName::from_static("sunset"), sunset.to_string()),
            (header::LINK, format!("<{}>; rel=\"deprecation\"", self.notice)),
        ]
    }
}

/// Adds the headers to every answer of a deprecated operation, whatever its status.
pub async fn announce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let request = response.request();
    let found = request
        .app_data::<web::Data<Deprecations>>()
        .zip(request.match_pattern())
        .and_then(|(list, pattern)| {
            let method = request.method().as_str();
            list.0
                .iter()
                .find(|d| d.method == method && d.path == pattern)
                .copied()
        });
    if let Some(deprecated) = found {
        for (name, value) in deprecated.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(name, value);
            }
        }
    }
    Ok(response)
}

fn operation<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "PATCH" => item.patch.as_mut(),
        "DELETE" => item.delete.as_mut(),
        "HEAD" => item.head.as_mut(),
        "OPTIONS" => item.options.as_mut(),
        "TRACE" => item.trace.as_mut(),
        _ => None,
    }
}

/// Marks each listed operation `deprecated: true` in the spec; names the entries that
/// match no operation (a typo would otherwise deprecate nothing, silently).
pub fn mark(api: &mut OpenApi, list: &[Deprecated]) -> Result<(), Vec<Deprecated>> {
    let mut unknown = Vec::new();
    for deprecated in list {
        let found = api
            .paths
            .paths
            .get_mut(deprecated.path)
            .and_then(|item| operation(item, deprecated.method));
        match found {
            Some(op) => op.deprecated = Some(utoipa::openapi::Deprecated::True),
            None => unknown.push(*deprecated),
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::test::{call_service, init_service, TestRequest};
    use actix_web::{App, HttpResponse};

    use super::*;

    const OLD: Deprecated = Deprecated {
        method: "GET",
        path: "/api/v1/old/{id}",
        since: 1_767_225_600,  // 2026-01-01T00:00:00Z
        sunset: 1_798_761_600, // 2027-01-01T00:00:00Z
        notice: "https://kabinet.example/changelog#api-2-0-0",
    };

    fn header<B>(response: &ServiceResponse<B>, name: &str) -> Option<String> {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[actix_web::test]
    async fn a_deprecated_operation_says_so_in_every_answer_and_others_do_not() {
        let app = init_service(
            App::new()
                .app_data(web::Data::new(Deprecations(vec![OLD])))
                .wrap(from_fn(announce))
                .route(
                    "/api/v1/old/{id}",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/api/v1/old/{id}",
                    web::post().to(|| async { HttpResponse::Conflict().finish() }),
                )
                .route(
                    "/api/v1/new/{id}",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let old = call_service(&app, TestRequest::get().uri("/api/v1/old/7").to_request()).await;
        assert_eq!(header(&old, "deprecation").as_deref(), Some("@1767225600"));
        assert_eq!(
            header(&old, "sunset").as_deref(),
            Some("Fri, 01 Jan 2027 00:00:00 GMT")
        );
        assert_eq!(
            header(&old, "link").as_deref(),
            Some("<https://kabinet.example/changelog#api-2-0-0>; rel=\"deprecation\"")
        );

        for other in [
            TestRequest::post().uri("/api/v1/old/7").to_request(),
            TestRequest::get().uri("/api/v1/new/7").to_request(),
        ] {
            let answer = call_service(&app, other).await;
            assert_eq!(header(&answer, "deprecation"), None);
            assert_eq!(header(&answer, "sunset"), None);
        }
    }

    #[test]
    fn the_spec_marks_exactly_the_listed_operations() {
        let mut api = crate::spec();
        let health = Deprecated {
            path: "/health",
            ..OLD
        };
        assert_eq!(mark(&mut api, &[health]), Ok(()));
        let spec = serde_json::to_value(&api).unwrap_or_default();
        assert_eq!(spec["paths"]["/health"]["get"]["deprecated"], true);
        assert_eq!(spec["paths"]["/ready"]["get"].get("deprecated"), None);
        assert_eq!(mark(&mut api, &[OLD]), Err(vec![OLD]));
    }

    /// The served spec carries the real list, and every entry names an operation.
    #[test]
    fn every_deprecated_operation_exists_and_is_marked() {
        let spec = serde_json::to_value(crate::spec()).unwrap_or_default();
        for d in DEPRECATED {
            let op = &spec["paths"][d.path][d.method.to_lowercase()];
            assert_eq!(op["deprecated"], true, "{} {}", d.method, d.path);
        }
        let marked = spec["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.values())
            .filter(|op| op["deprecated"] == true)
            .count();
        assert_eq!(marked, DEPRECATED.len());
    }
}
