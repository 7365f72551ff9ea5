//! Term changes: either party proposes a new term (confirming it), the other confirms,
//! and only then does the delegation take it.

use domain::access::delegation_side;
use domain::delegation::{Delegation, Side, TermChange};
use domain::ids::DelegationId;
use domain::time::Instant;
use persistence::delegations::{self as store, NewDelegationEvent};
use persistence::DbConnection;
use serde_json::json;

use super::{load, notice, require_second_factors};
use crate::concurrency::stale;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// A new term asked for.
pub struct NewTerm {
    pub valid_from: Instant,
    pub valid_until: Instant,
}

pub fn propose(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    term: NewTerm,
    max_days: i64,
    now: Instant,
) -> Result<Outcome<TermChange>, ApiError> {
    let (current, resource) = load(tx, &who.subject, id, now)?;
    let side = delegation_side(&who.subject, &resource, now)?;
    let change = TermChange::propose(&current, side, term.valid_from, term.valid_until, now, max_days)?;
    require_second_factors(tx, current.principal, current.representative)?;
    store::insert_term_change(tx, &change, who.account, now)?;
    let history = NewDelegationEvent::of(
        &current,
        Some(who.account),
        "term_change_proposed",
        Some(current.status),
    )
    .details(json!({ "valid_from": change.valid_from, "valid_until": change.valid_until }));
    let audit = who
        .audit("delegation.term_change_proposed", "delegation")
        .target(current.id);
    let other = if side == Side::Principal {
        current.representative
    } else {
        current.principal
    };
    let body = format!(
        "Предложено изменить срок доверенности {}; подтвердите изменение.",
        current.number
    );
    let told = notice(
        other,
        &current,
        "term_change",
        "Изменение срока доверенности",
        body,
    );
    let effects = Effects::none().history(history).audit(audit).notice(told);
    Ok(Outcome::new(change, effects))
}

/// Confirms the proposal `change_id`; with both sides agreed the delegation takes the term.
pub fn confirm(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    change_id: &str,
    max_days: i64,
    now: Instant,
) -> Result<Outcome<TermChange>, ApiError> {
    let (current, resource) = load(tx, &who.subject, id, now)?;
    let side = delegation_side(&who.subject, &resource, now)?;
    require_second_factors(tx, current.principal, current.representative)?;
    let mut change = store::find_term_change(tx, current.id, change_id)?.ok_or_else(ApiError::not_found)?;
    change.confirm(&current, side, now)?;
    let mut effects = Effects::none();
    if change.agreed() {
        let next = change.apply_to(&current, now, max_days)?;
        if !store::update(tx, &next, current.version)? {
            return Err(stale(current.version + 1));
        }
        effects = term_changed(who, &current, &next).and(clip_children(tx, who, &next, now)?);
    }
    store::update_term_change(tx, &change, now)?;
    Ok(Outcome::new(change, effects))
}

/// Keeps everything passed on from `parent` inside its new term, down the whole chain: a
/// child's window is clipped to its parent's, and one left with no window at all ends.
/// (The per-request check clips them anyway; this keeps what is stored and shown true.)
fn clip_children(
    tx: &mut DbConnection,
    who: &Acting,
    parent: &Delegation,
    now: Instant,
) -> Result<Effects, ApiError> {
    let mut effects = Effects::none();
    let mut queue = vec![parent.clone()];
    while let Some(parent) = queue.pop() {
        for child in store::children(tx, parent.id)? {
            if child.status.is_final() {
                continue;
            }
            let valid_from = child.valid_from.max(parent.valid_from);
            let valid_until = child.valid_until.min(parent.valid_until);
            if (valid_from, valid_until) == (child.valid_from, child.valid_until) {
                continue;
            }
            if valid_from >= valid_until {
                // Ending it ends its own children too.
                let event = if child.status == domain::delegation::Status::Pending {
                    domain::delegation::Event::Cancel
                } else {
                    domain::delegation::Event::Revoke
                };
                let (_, done) =
                    super::transition::transition(tx, who, &child, child.version, event, now)?.into_parts();
                effects = effects.and(done);
                continue;
            }
            let (clipped, told) = clip(tx, who, &parent, &child, (valid_from, valid_until), now)?;
            effects = effects.and(told);
            queue.push(clipped);
        }
    }
    Ok(effects)
}

/// Shortens `child` to `term`, inside its `parent`'s; tells both its parties.
fn clip(
    tx: &mut DbConnection,
    who: &Acting,
    parent: &Delegation,
    child: &Delegation,
    (valid_from, valid_until): (Instant, Instant),
    now: Instant,
) -> Result<(Delegation, Effects), ApiError> {
    let clipped = Delegation {
        valid_from,
        valid_until,
        version: child.version + 1,
        updated_at: now,
        ..child.clone()
    };
    if !store::update(tx, &clipped, child.version)? {
        return Err(stale(child.version + 1));
    }
    let history = NewDelegationEvent::of(&clipped, Some(who.account), "term_clipped", Some(child.status))
        .details(json!({ "valid_from": valid_from, "valid_until": valid_until, "parent": parent.id }));
    let audit = who
        .audit("delegation.term_clipped", "delegation")
        .target(clipped.id)
        .details(json!({ "parent": parent.id }));
    let body = format!(
        "Срок доверенности {} сокращён вслед за исходной: до {}.",
        clipped.number,
        clipped.valid_until.format("%d.%m.%Y")
    );
    let told = [clipped.principal, clipped.representative].map(|party| {
        notice(
            party,
            &clipped,
            "term_changed",
            "Срок доверенности изменён",
            body.clone(),
        )
    });
    Ok((
        clipped,
        Effects::none().history(history).audit(audit).notices(told),
    ))
}

/// History, audit, and both parties told of the new term.
fn term_changed(who: &Acting, current: &Delegation, next: &Delegation) -> Effects {
    let history = NewDelegationEvent::of(next, Some(who.account), "term_changed", Some(current.status))
        .details(json!({ "valid_from": next.valid_from, "valid_until": next.valid_until }));
    let audit = who.audit("delegation.term_changed", "delegation").target(next.id);
    let body = format!(
        "Срок доверенности {} изменён: до {}.",
        next.number,
        next.valid_until.format("%d.%m.%Y")
    );
    let told = [next.principal, next.representative].map(|party| {
        notice(
            party,
            next,
            "term_changed",
            "Срок доверенности изменён",
            body.clone(),
        )
    });
    Effects::none().history(history).audit(audit).notices(told)
}
