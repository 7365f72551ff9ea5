//! The audit log's integrity check (admins).

use domain::access::{authorize, Action, Resource};
use domain::time::Instant;
use persistence::audit::Verification;
use persistence::DbConnection;

use crate::error::ApiError;
use crate::usecases::Acting;

/// Recomputes the whole hash chain.
pub fn verify(conn: &mut DbConnection, who: &Acting, now: Instant) -> Result<Verification, ApiError> {
    authorize(&who.subject, Action::AuditVerify, &Resource::System, now)?;
    Ok(persistence::audit::verify(conn)?)
}
