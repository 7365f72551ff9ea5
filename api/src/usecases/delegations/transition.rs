//! Moving a delegation through its lifecycle table, with the record of it: the history
//! entry, the audit record and a notice to the other party. Any end of a delegation ends
//! everything passed on from it as well, down the whole chain.

use domain::access::Action;
use domain::delegation::{Delegation, Event, Status};
use domain::ids::{AccountId, DelegationId};
use domain::time::Instant;
use persistence::delegations::{self as store, NewDelegationEvent};
use persistence::DbConnection;
use serde_json::json;

use super::{load_for, notice};
use crate::concurrency::stale;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// `event` on the delegation `id`, when the core lets `who` act on the event's side.
pub(super) fn change(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    version: i64,
    event: Event,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    let action = Action::on_delegation(event.side());
    let current = load_for(tx, &who.subject, id, action, now)?;
    transition(tx, who, &current, version, event, now)
}

/// `event` on `current`, which the caller read at `version`.
pub(super) fn transition(
    tx: &mut DbConnection,
    who: &Acting,
    current: &Delegation,
    version: i64,
    event: Event,
    now: Instant,
) -> Result<Outcome<Delegation>, ApiError> {
    if current.version != version {
        return Err(stale(current.version));
    }
    let next = current.step(event, event.side(), now)?;
    if !store::update(tx, &next, version)? {
        return Err(stale(version + 1));
    }
    let mut effects = recorded(who, current, &next, event);
    // Whatever ends a delegation — revoked, renounced, declined, cancelled — ends what was
    // passed on from it (the per-request check refuses them anyway; this keeps the stored
    // status and the parties' lists truthful, and tells them).
    if next.status.is_final() {
        effects = effects.and(end_children(tx, who, next.id, now)?);
    }
    Ok(Outcome::new(next, effects))
}

/// What a lifecycle step leaves behind: history, audit, and the other party told.
fn recorded(who: &Acting, current: &Delegation, next: &Delegation, event: Event) -> Effects {
    let history = NewDelegationEvent::of(next, Some(who.account), event.as_str(), Some(current.status));
    let audit = who
        .audit(format!("delegation.{}", event.as_str()), "delegation")
        .target(next.id)
        .details(json!({ "from": current.status.as_str(), "to": next.status.as_str() }));
    let body = format!("Доверенность {}: {}.", next.number, next.status.as_str());
    let told = notice(
        next.counterpart(who.account),
        next,
        event.as_str(),
        "Доверенность изменена",
        body,
    );
    Effects::none().history(history).audit(audit).notice(told)
}

/// Ends every delegation passed on from `parent`, down the whole chain: a pending one is
/// cancelled, an active one revoked.
fn end_children(
    tx: &mut DbConnection,
    who: &Acting,
    parent: DelegationId,
    now: Instant,
) -> Result<Effects, ApiError> {
    let mut effects = Effects::none();
    let mut queue = vec![parent];
    while let Some(id) = queue.pop() {
        for child in store::children(tx, id)? {
            effects = effects.and(end(tx, who, &child, now)?);
            queue.push(child.id);
        }
    }
    Ok(effects)
}

/// Ends `d` if it is still in force or pending (a pending one is cancelled, an active one
/// revoked), with its record; nothing for one that has ended.
fn end(tx: &mut DbConnection, who: &Acting, d: &Delegation, now: Instant) -> Result<Effects, ApiError> {
    let event = if d.status == Status::Pending {
        Event::Cancel
    } else {
        Event::Revoke
    };
    if d.step(event, event.side(), now).is_err() {
        return Ok(Effects::none());
    }
    Ok(transition(tx, who, d, d.version, event, now)?.into_parts().1)
}

/// Ends every delegation from `principal` to `representative` (and what was passed on
/// from them): an employee who leaves an organisation keeps none of its powers. The
/// caller has been authorized to manage the principal.
pub fn end_between(
    tx: &mut DbConnection,
    who: &Acting,
    (principal, representative): (AccountId, AccountId),
    now: Instant,
) -> Result<Effects, ApiError> {
    let mut effects = Effects::none();
    for d in store::between(tx, principal, representative)? {
        effects = effects.and(end(tx, who, &d, now)?);
    }
    Ok(effects)
}
