//! NUL characters are refused at the edge, in every field: PostgreSQL's text type cannot
//! hold U+0000, so a NUL that got through would be a 500 on one backend and stored data on
//! the other. JSON bodies are scanned for the `\u0000` escape (a raw NUL byte is not valid
//! JSON and fails parsing with 400 anyway); query strings and paths for `%00`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use serde_json::Value;

use crate::error::{ApiError, FieldProblem};

/// Whether a JSON text contains the escape of U+0000. An escape starts at a backslash that
/// is not itself escaped, so `\\u0000` (a backslash, then the letters) is no NUL.
pub fn json_has_nul(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            let escape = text.get(i + 1..i + 6);
            if escape.is_some_and(|e| e.eq_ignore_ascii_case(b"u0000")) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The dotted path of the first string (or key) holding a NUL, for the 422.
fn nul_path(value: &Value, prefix: &str) -> Option<String> {
    let at = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if prefix.is_empty() {
            "body".into()
        } else {
            prefix.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &at(&i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(at(k))
            } else {
                nul_path(v, &at(k))
            }
        }),
        _ => None,
    }
}

fn refused(field: String) -> ApiError {
    ApiError::validation(vec![FieldProblem {
        field,
        code: "nul_character".into(),
        message: "Text may not contain the NUL character (U+0000).".into(),
    }])
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

/// Middleware: refuses a NUL in the query string or, for JSON requests, anywhere in the
/// body; the body is handed on unchanged otherwise.
pub async fn refuse(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // A refusal is answered here (not returned as an error), so the layers outside see an
    // ordinary answer and add their headers to it.
    let answer =
        |req: ServiceRequest, field: String| Ok(req.error_response(refused(field)).map_into_right_body());
    let query = req.query_string();
    if query.contains("%00") || query.contains('\0') {
        return answer(req, "query".into());
    }
    if is_json(&req) {
        let limit = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map_or(0, |s| s.config.body_limit_bytes);
        let body = super::body::peek(&mut req, limit).await?;
        if body.complete && json_has_nul(&body.bytes) {
            let field = serde_json::from_slice::<Value>(&body.bytes)
                .ok()
                .and_then(|v| nul_path(&v, ""))
                .unwrap_or_else(|| "body".into());
            return answer(req, field);
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nul_escape_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(json_has_nul(br#"{"a":"x\u0000y"}"#));
        assert!(json_has_nul(br#"{"a":"\\\u0000"}"#));
        assert!(json_has_nul(br#"{"a\U0000":1}"#));
        assert!(!json_has_nul(br#"{"a":"\\u0000"}"#));
        assert!(!json_has_nul(br#"{"a":"\u0001 and u0000"}"#));
    }

    #[test]
    fn the_refusal_names_the_field() {
        let body: Value = serde_json::json!({"form_data": {"items": ["ok", "bad\u{0}"]}});
        assert_eq!(nul_path(&body, "").as_deref(), Some("form_data.items.1"));
        assert_eq!(
            nul_path(&serde_json::json!("x\u{0}"), "").as_deref(),
            Some("body")
        );
    }
}
