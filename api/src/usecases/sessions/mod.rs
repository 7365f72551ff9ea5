//! Sessions: logging in (password, then a second factor when enabled), refreshing and
//! ending sessions, and resetting a forgotten password. A refusal that must still be
//! recorded (a counted failure, a revoked session) is the use case's value — `Ok(Err(..))` —
//! so its effects commit; the handler answers it after the commit.

pub mod login;
pub mod own;
pub mod refresh;
pub mod reset;

use actix_web::http::{header, StatusCode};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::time::Instant;

use crate::error::ApiError;
use crate::usecases::{Effects, Outcome};

/// A use case's answer, or a refusal whose effects are still written.
pub type Answered<T> = Result<T, ApiError>;

pub(crate) fn locked(until: Instant, now: Instant) -> ApiError {
    let seconds = (until - now).num_seconds().max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        "Too many failed attempts; the account is locked for a while.",
    )
    .with_header(header::RETRY_AFTER, seconds.to_string())
}

/// A refusal that leaves only its audit record behind.
pub(crate) fn refused<T>(
    action: &'static str,
    account: Option<AccountId>,
    ip: Option<String>,
    error: ApiError,
) -> Outcome<Answered<T>> {
    let mut entry = AuditEntry::new(action, "account").by(account).from_ip(ip);
    if let Some(account) = account {
        entry = entry.target(account);
    }
    Outcome::new(Err(error), Effects::none().audit(entry))
}
