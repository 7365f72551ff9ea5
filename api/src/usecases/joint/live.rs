//! Who may watch live events (the Server-Sent Events streams): an application's stream
//! is for those who may read the application; one's own stream for the account and those
//! who may read its applications on its behalf. Asked when a stream opens and at every
//! recheck, with the caller as the database has it then.

use domain::access::{authorize, Action, Resource};
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;
use persistence::DbConnection;

use crate::error::ApiError;
use crate::usecases::Acting;

pub fn may_watch_application(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<(), ApiError> {
    crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now).map(|_| ())
}

/// The services whose events the caller's own stream may carry: `None` for all, or, on
/// behalf under powers limited to services, the services they cover (the core decides).
pub fn services_watched(acting: &Acting, now: Instant) -> Option<std::sync::Arc<[String]>> {
    acting
        .subject
        .visible_services(Action::ApplicationsRead, now)
        .map(Into::into)
}

/// Whether the caller may watch the live events addressed to `principal`.
pub fn may_watch_own(acting: &Acting, principal: AccountId, now: Instant) -> Result<(), ApiError> {
    Ok(authorize(
        &acting.subject,
        Action::ApplicationsRead,
        &Resource::Account(principal),
        now,
    )?)
}
