//! The shape rules of request bodies — lengths, ranges, patterns, nested items — declared
//! with `validator` on the request type and checked by one extractor, [`Valid`], which
//! answers 422 with every field problem at once (the same `errors: [{field, code,
//! message}]` as every other validation failure). Semantic rules (a SNILS checksum, a
//! state transition) stay in `domain`'s value objects and state machines.
//!
//! The spec documents the same limits (`maxLength`, `minimum`, `pattern`) through utoipa's
//! `#[schema(...)]`; a test holds the two declarations of a sample type to each other.

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Json;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldProblem};

/// The spec's `pattern` for text that must not be blank once trimmed: some character that
/// Rust's `trim` keeps (`char::is_whitespace`, Unicode's White_Space). Not `\S`: JSON
/// Schema's regexes are ECMA-262's, whose `\s` leaves out U+0085 and takes in U+FEFF, so a
/// generated U+0085 passed the spec and was then trimmed to nothing (422 `required`).
pub const NOT_BLANK: &str = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// A JSON body that parsed and passed its type's `#[validate(...)]` rules.
#[derive(Debug)]
pub struct Valid<T>(pub T);

impl<T> Valid<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Valid<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Valid<T>, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Parsing keeps the application's JsonConfig (400 for broken JSON, 413, 415).
        let parsed = Json::<T>::from_request(req, payload);
        Box::pin(async move {
            let Json(body) = parsed.await?;
            body.validate()
                .map_err(|errors| ApiError::validation(problems(&errors)))?;
            Ok(Valid(body))
        })
    }
}

/// A JSON body the request may leave out: `None` when it sends no body or `null`. A body it does send
/// must parse, with the same answers as `Json` (400 for broken JSON, 413, 415, 422):
/// actix's own `Option<Json<T>>` takes any body that fails to parse for no body at all.
#[derive(Debug)]
pub struct MaybeJson<T>(pub Option<T>);

impl<T> MaybeJson<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for MaybeJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<MaybeJson<T>, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if !chunked && length.unwrap_or(0) == 0 {
            return Box::pin(async { Ok(MaybeJson(None)) });
        }
        // `null` is no body too (the spec's body is nullable).
        let parsed = Json::<Option<T>>::from_request(req, payload);
        Box::pin(async move { Ok(MaybeJson(parsed.await?.into_inner())) })
    }
}

/// Every problem in `errors`, flattened to dotted field paths (`items.2.name`), in a
/// stable order.
pub fn problems(errors: &ValidationErrors) -> Vec<FieldProblem> {
    let mut found = BTreeMap::new();
    collect("", errors, &mut found);
    found.into_values().flatten().collect()
}

fn collect(prefix: &str, errors: &ValidationErrors, into: &mut BTreeMap<String, Vec<FieldProblem>>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                let problems = list.iter().map(|e| problem(&path, e)).collect();
                into.insert(path, problems);
            }
            ValidationErrorsKind::Struct(inner) => collect(&path, inner, into),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(&format!("{path}.{index}"), inner, into);
                }
            }
        }
    }
}

/// One problem with our machine code: `validator`'s rule names are not part of our
/// contract, so they are translated here.
fn problem(field: &str, error: &ValidationError) -> FieldProblem {
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    let (code, message) = match error.code.as_ref() {
        "length" => match (param("min"), param("max"), param("value")) {
            (_, Some(max), Some(value))
                if value.trim_matches('"').chars().count() > max.parse().unwrap_or(usize::MAX) =>
            {
                ("too_long", format!("At most {max} characters."))
            }
            (Some(min), _, _) => ("too_short", format!("At least {min} characters.")),
            (_, Some(max), _) => ("too_long", format!("At most {max} characters.")),
            _ => ("invalid_length", "The length is out of range.".to_string()),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => ("out_of_range", format!("Between {min} and {max}.")),
            (Some(min), None) => ("out_of_range", format!("At least {min}.")),
            (None, Some(max)) => ("out_of_range", format!("At most {max}.")),
            _ => ("out_of_range", "Out of range.".to_string()),
        },
        "regex" => (
            "invalid_format",
            "The value does not have the expected format.".to_string(),
        ),
        "email" => ("invalid_email", "Not an e-mail address.".to_string()),
        "required" => ("required", "Required.".to_string()),
        other => (other, "The value is not accepted.".to_string()),
    };
    let message = error.message.as_ref().map_or(message, |m| m.to_string());
    FieldProblem {
        field: field.to_string(),
        code: code.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use validator::Validate;

    use super::*;

    /// The pattern matches a character exactly when `trim` would keep it, over the whole
    /// Basic Multilingual Plane (every White_Space character is in it).
    #[test]
    fn not_blank_is_what_trim_leaves() {
        let pattern = regex::Regex::new(NOT_BLANK).unwrap_or_else(|e| panic!("{e}"));
        let disagree: Vec<u32> = (0..=0xFFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| pattern.is_match(c.encode_utf8(&mut [0; 4])) == c.is_whitespace())
            .map(u32::from)
            .collect();
        assert_eq!(disagree, Vec::<u32>::new());
    }

    /// Every "not blank" field of the committed document says so with [`NOT_BLANK`] (its
    /// `#[schema(pattern = ...)]` takes a literal only), never with ECMA-262's `\S`.
    #[test]
    fn the_document_states_not_blank_as_trim_has_it() {
        let document: serde_json::Value = serde_json::from_str(include_str!("../../openapi/openapi.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let schemas = &document["components"]["schemas"];
        for (schema, field) in [
            ("CommentBody", "body"),
            ("LoginRequest", "login"),
            ("NewOrganisation", "name"),
            ("RejectOrganisation", "reason"),
            ("TemplateBody", "name"),
        ] {
            assert_eq!(
                schemas[schema]["properties"][field]["pattern"].as_str(),
                Some(NOT_BLANK),
                "{schema}.{field}"
            );
        }
        assert!(!document.to_string().contains(r#""pattern":"\\S""#));
    }

    #[derive(Deserialize, Validate)]
    struct Item {
        #[validate(length(min = 1, max = 3))]
        name: String,
    }

    #[derive(Deserialize, Validate)]
    struct Body {
        #[validate(length(max = 5))]
        title: String,
        #[validate(range(min = 1, max = 100))]
        limit: i64,
        #[validate(nested)]
        items: Vec<Item>,
    }

    fn problems_of(body: serde_json::Value) -> Vec<(String, String)> {
        let body: Body = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        match body.validate() {
            Ok(()) => vec![],
            Err(errors) => problems(&errors).into_iter().map(|p| (p.field, p.code)).collect(),
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_dotted_paths() {
        let found = problems_of(serde_json::json!({
            "title": "longer than five", "limit": 0,
            "items": [{"name": "ok"}, {"name": ""}, {"name": "long"}]
        }));
        assert_eq!(
            found,
            vec![
                ("items.1.name".to_string(), "too_short".to_string()),
                ("items.2.name".to_string(), "too_long".to_string()),
                ("limit".to_string(), "out_of_range".to_string()),
                ("title".to_string(), "too_long".to_string()),
            ]
        );
    }

    /// The spec's `minLength`/`maxLength` of a sample field are exactly where the
    /// validator starts refusing (counted in characters, as JSON Schema counts them).
    #[test]
    fn the_spec_documents_the_limits_the_validator_enforces() {
        use crate::routes::comments::CommentBody;
        let spec = serde_json::to_value(crate::spec()).unwrap_or_default();
        let field = &spec["components"]["schemas"]["CommentBody"]["properties"]["body"];
        let (min, max) = (field["minLength"].as_u64(), field["maxLength"].as_u64());
        let (Some(min), Some(max)) = (
            min.and_then(|m| usize::try_from(m).ok()),
            max.and_then(|m| usize::try_from(m).ok()),
        ) else {
            panic!("CommentBody.body documents no length limits: {field}");
        };
        let passes = |n: usize| CommentBody { body: "я".repeat(n) }.validate().is_ok();
        assert!(passes(min) && passes(max), "the documented limits are refused");
        assert!(!passes(max + 1), "longer than maxLength {max} is accepted");
        assert!(
            min == 0 || !passes(min - 1),
            "shorter than minLength {min} is accepted"
        );
    }

    #[test]
    fn a_body_within_its_rules_passes() {
        let found =
            problems_of(serde_json::json!({"title": "fine", "limit": 100, "items": [{"name": "abc"}]}));
        assert!(found.is_empty(), "{found:?}");
    }
}
