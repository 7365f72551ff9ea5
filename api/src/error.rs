//! The one error type of the HTTP layer and its RFC 9457 problem+json form. Status codes
//! are chosen here, explicitly, per cause; anything unexpected is a generic 500 whose
//! detail goes to the log only.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"field": "snils", "code": "invalid_checksum", "message": "SNILS check digits do not match"}))]
pub struct FieldProblem {
    /// JSON path of the field, dotted for nested objects.
    pub field: String,
    /// Machine-readable reason.
    pub code: String,
    pub message: String,
}

/// RFC 9457 problem details with Kabinet's machine `code`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:kabinet:problem:not_found",
    "title": "Not Found",
    "status": 404,
    "detail": "No such resource, or it is not visible to you.",
    "code": "not_found",
    "instance": "/api/v1/applications/01936d6e-7c4f-7000-8000-000000000000"
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable error code, stable across releases: one of `crate::codes::CATALOGUE`.
    #[schema(schema_with = crate::codes::schema)]
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Field errors (validation failures, status 422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Extra machine-readable facts (e.g. the allowed next steps, the current version).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
}

/// Boxed so that `Result<T, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    context: Option<serde_json::Value>,
    headers: Vec<(HeaderName, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.code, self.0.detail)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Details {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            context: None,
            headers: Vec::new(),
        }))
    }

    pub fn with_context(mut self, context: serde_json::Value) -> Self {
        self.0.context = Some(context);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// 404 for anything missing *or not visible to the caller*: existence is never leaked.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such resource, or it is not visible to you.",
        )
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422 with the list of invalid fields.
    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some fields are invalid.",
        );
        error.0.errors = errors;
        error
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldProblem {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }])
    }

    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail).with_header(header::RETRY_AFTER, "5")
    }

    /// An unexpected failure: the cause goes to the log, the caller gets a generic answer.
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let location = std::panic::Location::caller();
        tracing::error!(error = %cause, at = %location, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred; it has been logged.",
        )
    }

    pub fn problem(&self) -> Problem {
        let details = &self.0;
        Problem {
            problem_type: format!("urn:kabinet:problem:{}", details.code),
            title: details.status.canonical_reason().unwrap_or("Error").to_string(),
            status: details.status.as_u16(),
            detail: details.detail.clone(),
            code: details.code.to_string(),
            instance: None,
            errors: details.errors.clone(),
            context: details.context.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        for (name, value) in &self.0.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<StoreError> for ApiError {
    #[track_caller]
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Pool(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ApiError::unavailable(
                    "database_unavailable",
                    "The database is not reachable; try again shortly.",
                )
            }
            other if other.is_contention() => {
                tracing::warn!(error = %other, "write lost a race; the client may retry");
                ApiError::conflict(
                    "write_conflict",
                    "Another change was being written at the same moment; try again.",
                )
            }
            // A duplicate the handler did not expect: two identical writes raced and the
            // first one won. Still not a server failure.
            other if other.is_unique_violation() => {
                tracing::warn!(error = %other, "duplicate write");
                ApiError::conflict("already_exists", "This was just created by another request.")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    #[track_caller]
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::internal(error)
    }
}

/// A domain field error as a 422 with that one field.
pub fn from_field_error(error: domain::field_error::FieldError) -> ApiError {
    from_field_errors(vec![error])
}

pub fn from_field_errors(errors: Vec<domain::field_error::FieldError>) -> ApiError {
    ApiError::validation(
        errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field.to_string(),
                code: e.code.to_string(),
                message: e.message,
            })
            .collect(),
    )
}

impl From<domain::access::Denial> for ApiError {
    /// A denial the caller may not even learn about is a 404; otherwise 403 with its code.
    fn from(denial: domain::access::Denial) -> Self {
        if denial.reveals_resource() {
            ApiError::forbidden(denial.code(), "You are not allowed to do this.")
        } else {
            ApiError::not_found()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_type_status_and_code() {
        let problem = ApiError::conflict("invalid_transition", "no").problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.code, "invalid_transition");
        assert_eq!(problem.problem_type, "urn:kabinet:problem:invalid_transition");
        assert_eq!(problem.title, "Conflict");
    }

    #[test]
    fn pool_exhaustion_is_503_not_500() {
        let error = ApiError::from(StoreError::Pool("timed out".into()));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    fn database_error(kind: diesel::result::DatabaseErrorKind, message: &str) -> StoreError {
        StoreError::Database(diesel::result::Error::DatabaseError(
            kind,
            Box::new(message.to_string()),
        ))
    }

    #[test]
    fn a_lost_race_is_409_to_retry_not_500() {
        use diesel::result::DatabaseErrorKind as Kind;
        for lost in [
            database_error(Kind::SerializationFailure, "could not serialize access"),
            database_error(Kind::Unknown, "deadlock detected"),
            database_error(Kind::Unknown, "database is locked"),
        ] {
            let error = ApiError::from(lost);
            assert_eq!(error.status(), StatusCode::CONFLICT);
            assert_eq!(error.code(), "write_conflict");
        }
        let twice = ApiError::from(database_error(Kind::UniqueViolation, "duplicate key value"));
        assert_eq!(
            (twice.status(), twice.code()),
            (StatusCode::CONFLICT, "already_exists")
        );
        let broken = ApiError::from(database_error(Kind::Unknown, "relation does not exist"));
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
