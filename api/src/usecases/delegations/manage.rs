//! The principal's side ends a delegation: cancels one not yet accepted, revokes an active
//! one (and everything passed on from it).

use domain::delegation::{Delegation, Event};
use domain::ids::DelegationId;
use domain::time::Instant;
use persistence::DbConnection;

use super::transition::change;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::Outcome;

pub fn cancel(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    change(tx, who, id, version, Event::Cancel, now)
}

pub fn revoke(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    change(tx, who, id, version, Event::Revoke, now)
}
