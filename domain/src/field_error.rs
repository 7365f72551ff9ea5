//! `FieldError`: the validation error shared by all domain value objects.
//! It names the offending field and a stable machine-readable code.

use serde::Serialize;

/// A single field failed validation.
///
/// `code` is stable and meant for clients to localise; `message` is a human
/// hint in English. Neither ever contains the rejected input, because the
/// inputs are personal data and errors end up in logs and API responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    /// The input is empty (after trimming surrounding whitespace).
    pub const REQUIRED: &'static str = "required";
    /// Wrong characters, wrong length or wrong structure.
    pub const INVALID_FORMAT: &'static str = "invalid_format";
    /// Well-formed, but the check digits do not match.
    pub const INVALID_CHECKSUM: &'static str = "invalid_checksum";
    /// Longer than the format allows.
    pub const TOO_LONG: &'static str = "too_long";
    /// A date that must not be later than "today" is.
    pub const IN_FUTURE: &'static str = "in_future";

    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }

    pub fn required(field: &'static str) -> Self {
        Self::new(field, Self::REQUIRED, "value is required")
    }

    pub fn invalid_format(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(field, Self::INVALID_FORMAT, message)
    }

    pub fn invalid_checksum(field: &'static str) -> Self {
        Self::new(field, Self::INVALID_CHECKSUM, "check digits do not match")
    }

    pub fn too_long(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(field, Self::TOO_LONG, message)
    }

    pub fn in_future(field: &'static str) -> Self {
        Self::new(field, Self::IN_FUTURE, "date must not be in the future")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_message() {
        let e = FieldError::invalid_checksum("snils");
        assert_eq!(e.to_string(), "snils: check digits do not match");
        assert_eq!(e.code, "invalid_checksum");
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn serializes_as_flat_object() {
        let e = FieldError::too_long("email", "at most 254 characters");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "field": "email",
                "code": "too_long",
                "message": "at most 254 characters"
            })
        );
    }
}
