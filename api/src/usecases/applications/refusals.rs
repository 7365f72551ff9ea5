//! A refused event as an HTTP answer: the status is chosen by the refusal's variant.

use domain::application::{Reason, Refusal, Status};
use serde_json::json;

use crate::error::ApiError;

/// Bad input is 422 (on the body); the wrong state is 409 with the allowed next steps.
pub fn refused(refusal: Refusal, status: Status) -> ApiError {
    let code = refusal.code();
    match refusal.reason {
        Reason::CommentRequired | Reason::DueDateInPast | Reason::SameAgency => {
            ApiError::field("body", code, refusal.message)
        }
        Reason::DueDateTooSoon => ApiError::field("due_at", code, refusal.message),
        Reason::AgencyCannotHandle => ApiError::field("agency_code", code, refusal.message),
        Reason::ForwardLoop
        | Reason::SignedContentLocked
        | Reason::InvalidTransition
        | Reason::NotEditable
        | Reason::NotCancellable
        | Reason::AppealUsed
        | Reason::AppealWindowClosed
        | Reason::RestoreWindowClosed
        | Reason::NotDue
        | Reason::NotADraft => {
            let allowed: Vec<&str> = refusal.allowed.iter().map(|e| e.as_str()).collect();
            ApiError::conflict(code, refusal.message)
                .with_context(json!({ "status": status.as_str(), "allowed": allowed }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;

    /// Every refusal has its status: input problems 422, the wrong state 409.
    #[test]
    fn each_refusal_has_its_status() {
        for reason in Reason::all() {
            let refusal = Refusal {
                reason,
                message: "no".into(),
                allowed: vec![],
            };
            let expected = match reason {
                Reason::CommentRequired
                | Reason::DueDateInPast
                | Reason::SameAgency
                | Reason::DueDateTooSoon
                | Reason::AgencyCannotHandle => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            assert_eq!(refused(refusal, Status::Draft).status(), expected, "{reason:?}");
        }
    }
}
