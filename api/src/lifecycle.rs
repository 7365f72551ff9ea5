//! Re-exports for callers not yet moved to `crate::usecases::applications`: the old names
//! and signatures, so the joint-work and document routes keep compiling until they move.
//! New code calls the use cases (which take `now`) directly.

use domain::access::Action;
use domain::application::Application;
use domain::catalog::Service;
use domain::ids::ApplicationId;
use persistence::DbConnection;

use crate::error::ApiError;

pub use crate::usecases::applications::{
    content_hash, facts, precheck, refused, status_notice, unasked_change, unsigned,
};
pub use crate::usecases::Acting;

/// The application alone, when the caller may take `action` on it now.
pub fn visible(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
) -> Result<Application, ApiError> {
    crate::usecases::applications::visible(tx, acting, id, action, crate::clock::now())
}

/// An application (with its service) the caller may take `action` on now.
pub fn load(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
) -> Result<(Application, Service), ApiError> {
    crate::usecases::applications::load(tx, acting, id, action, crate::clock::now())
}
