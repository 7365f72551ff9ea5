//! Sessions: logging in (password, then a second factor when enabled), refreshing and
//! ending sessions, and resetting a forgotten password. A refusal that must still be
//! recorded (a counted failure, a revoked session) is the use case's value — `Ok(Err(..))` —
//! so its effects commit; the handler answers it after the commit.

pub mod login;
pub mod own;
pub mod refresh;
pub mod reset;

use domain::audit::AuditEntry;
use domain::ids::AccountId;

use crate::error::ApiError;
use crate::usecases::{Answered, Effects, Outcome};

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
