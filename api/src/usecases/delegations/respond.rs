//! The representative's answers: accept with the principal's code, decline a pending
//! delegation, renounce an active one.

use domain::access::Action;
use domain::delegation::{Delegation, Event, Refusal};
use domain::ids::DelegationId;
use domain::time::Instant;
use persistence::delegations as store;
use persistence::DbConnection;

use super::transition::{change, transition};
use super::{code_hash, load_for, require_second_factors};
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::Outcome;

/// How acceptance codes are checked.
pub struct CodeCheck<'a> {
    pub pii: &'a PiiCipher,
    /// Tries before the delegation can no longer be accepted.
    pub max_attempts: i32,
}

/// Accepts with `code`. A refusal after the code was tried comes back as the value, not
/// as an error, so that the try counts: the caller commits, then answers the refusal.
pub fn accept(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    code: &str,
    check: &CodeCheck,
    now: Instant,
) -> Result<Outcome<Result<Delegation, Refusal>>, ApiError> {
    let current = load_for(tx, &who.subject, id, Action::DelegationsRespond, now)?;
    require_second_factors(tx, current.principal, current.representative)?;
    let (hash, attempts) = store::code(tx, current.id)?.ok_or_else(ApiError::not_found)?;
    if let Err(refusal) = current.check_acceptance(attempts, check.max_attempts, now) {
        return Ok(Outcome::quiet(Err(refusal)));
    }
    let Some(used) = store::take_code_attempt(tx, current.id, check.max_attempts)? else {
        // Concurrent tries used the last ones up since the load.
        return Ok(Outcome::quiet(Err(Refusal::CodeAttemptsExceeded)));
    };
    if code_hash(check.pii, current.id, code.trim()) != hash {
        let tries_left = check.max_attempts - used;
        return Ok(Outcome::quiet(Err(Refusal::WrongCode { tries_left })));
    }
    Ok(transition(tx, who, &current, version, Event::Accept, now)?.map(Ok))
}

pub fn decline(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    change(tx, who, id, version, Event::Decline, now)
}

pub fn renounce(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    change(tx, who, id, version, Event::Renounce, now)
}
