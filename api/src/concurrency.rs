//! Optimistic concurrency over HTTP: mutable resources carry a version, sent as a strong
//! `ETag` (`"7"`); writes must send it back in `If-Match`, so a stale write is refused (412)
//! instead of silently overwriting someone else's change.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest};
use serde_json::json;
use utoipa::IntoParams;

use crate::error::ApiError;

/// The header as an operation parameter, for the writes that require it.
#[derive(IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
pub struct IfMatchHeader(
    /// The `ETag` you read (`"7"`; a weak `W/"7"` is taken as the same). Missing or empty:
    /// 428; naming another version, or not a version at all: 412 with the current one.
    #[param(pattern = r#"^(W/)?"[0-9]+"$"#, example = "\"7\"")]
    #[allow(dead_code)]
    String,
);

/// The version a write is based on, from `If-Match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfMatch(pub i64);

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// 412 with the current version, so the client can reload and retry.
pub fn stale(current: i64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
        "Someone changed this resource since you read it; reload and retry.",
    )
    .with_context(json!({ "current_version": current }))
    .with_header(header::ETAG, etag(current))
}

fn parse(value: &str) -> Option<i64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<IfMatch, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // An empty If-Match names nothing: as if it were not sent.
        let sent = req
            .headers()
            .get(header::IF_MATCH)
            .filter(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
        let result = match sent.map(|v| v.to_str().ok().and_then(parse)) {
            None => Err(ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                "Send If-Match with the ETag you read.",
            )),
            // An unparsable tag matches no version.
            Some(None) => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                "If-Match does not name a version of this resource.",
            )),
            Some(Some(version)) => Ok(IfMatch(version)),
        };
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_strong_and_weak() {
        assert_eq!(parse("\"7\""), Some(7));
        assert_eq!(parse("W/\"7\""), Some(7));
        assert_eq!(parse("7"), None);
        assert_eq!(parse("\"x\""), None);
        assert_eq!(etag(7), "\"7\"");
    }
}
