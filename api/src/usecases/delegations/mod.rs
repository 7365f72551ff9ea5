//! Delegation use cases: creating one (or passing one on), the representative's answers
//! (accept, decline, renounce), the principal's (cancel, revoke), term changes, and reads.
//! Each runs in one transaction: load, ask the authorization core and the delegation
//! rules, store its rows, and return its history, audit records and notices as effects.

pub mod create;
pub mod manage;
pub mod read;
pub mod respond;
pub mod term;
mod transition;

pub use transition::end_between;

use domain::access::{authorize, Action, Resource, Subject};
use domain::delegation::{require_second_factor, Delegation, Refusal, Side};
use domain::field_error::FieldError;
use domain::ids::{AccountId, DelegationId};
use domain::notice::Notice;
use domain::time::Instant;
use persistence::delegations as store;
use persistence::DbConnection;
use serde_json::json;

use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};

/// The delegation as the authorization core sees it; `head` heads the principal when the
/// principal is an organisation.
fn resource(d: &Delegation, head: Option<AccountId>) -> Resource {
    Resource::Delegation {
        principal: d.principal,
        representative: d.representative,
        head,
    }
}

/// The delegation `id` as the core sees it, when `who` may read it (404 otherwise).
fn load(
    tx: &mut DbConnection,
    who: &Subject,
    id: DelegationId,
    now: Instant,
) -> Result<(Delegation, Resource), ApiError> {
    let found = store::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    let head = persistence::organisations::head(tx, found.principal)?;
    let resource = resource(&found, head);
    authorize(who, Action::DelegationsRead, &resource, now)?;
    Ok((found, resource))
}

/// The delegation `id`, when `who` may read it and take `action` on it.
fn load_for(
    tx: &mut DbConnection,
    who: &Subject,
    id: DelegationId,
    action: Action,
    now: Instant,
) -> Result<Delegation, ApiError> {
    let (found, resource) = load(tx, who, id, now)?;
    authorize(who, action, &resource, now)?;
    Ok(found)
}

/// Asks the delegation rules whether both sides have a second factor on.
fn require_second_factors(
    tx: &mut DbConnection,
    principal: AccountId,
    representative: AccountId,
) -> Result<(), ApiError> {
    let principal = store::second_factor_on(tx, principal)?;
    let representative = store::second_factor_on(tx, representative)?;
    Ok(require_second_factor(principal, representative)?)
}

/// The acceptance code as kept: a keyed hash bound to the delegation.
fn code_hash(pii: &PiiCipher, id: DelegationId, code: &str) -> String {
    pii.keyed_hash("delegation", &format!("{id}:{code}"))
}

fn notice(to: AccountId, d: &Delegation, kind: &str, title: &str, body: String) -> Notice {
    Notice {
        recipient: to,
        kind: format!("delegation.{kind}"),
        title: title.into(),
        body,
        data: json!({ "delegation_id": d.id, "number": d.number, "status": d.status.as_str() }),
        important: true,
    }
}

impl From<Refusal> for ApiError {
    /// The HTTP answer to each delegation rule, chosen by variant.
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::TwoFactorRequired(side) => {
                let who = if side == Side::Principal {
                    "principal"
                } else {
                    "representative"
                };
                ApiError::forbidden(
                    "two_factor_required",
                    format!("The {who} must have two-factor authentication enabled."),
                )
            }
            Refusal::RedelegationNotAllowed => ApiError::forbidden(
                "redelegation_not_allowed",
                "This delegation may not be passed on.",
            ),
            Refusal::ParentNotInForce => ApiError::conflict(
                "delegation_not_in_force",
                "Only a delegation in force can be passed on.",
            ),
            Refusal::InvalidTransition { event, status } => ApiError::conflict(
                "invalid_transition",
                format!(
                    "Cannot {} a delegation that is {}.",
                    event.as_str(),
                    status.as_str()
                ),
            )
            .with_context(json!({ "status": status.as_str() })),
            Refusal::NotPending => {
                ApiError::conflict("invalid_transition", "Only a pending delegation can be accepted.")
            }
            Refusal::TermPassed => {
                ApiError::conflict("delegation_expired", "This delegation's term has passed.")
            }
            Refusal::CodeAttemptsExceeded => ApiError::conflict(
                "code_attempts_exceeded",
                "The code was mistyped too often; ask for a new delegation.",
            ),
            Refusal::NotActive(status) => ApiError::conflict(
                "delegation_not_active",
                "Only an active delegation's term can change; a new term is a new delegation.",
            )
            .with_context(json!({ "status": status.as_str() })),
            Refusal::TermChangeClosed => {
                ApiError::conflict("term_change_closed", "This proposal is no longer pending.")
            }
            field @ (Refusal::SelfDelegation
            | Refusal::ExceedsParentPowers
            | Refusal::ExceedsParentTerm
            | Refusal::WrongCode { .. }
            | Refusal::Invalid(_)) => from_field_error(field_error(field)),
        }
    }
}

/// The refusals that name one field of the request (422).
fn field_error(refusal: Refusal) -> FieldError {
    match refusal {
        Refusal::SelfDelegation => FieldError::new(
            "representative_id",
            "self_delegation",
            "You cannot delegate to yourself.",
        ),
        Refusal::ExceedsParentPowers => FieldError::new(
            "actions",
            "exceeds_parent",
            "Only a subset of your own powers can be passed on.",
        ),
        Refusal::ExceedsParentTerm => FieldError::new(
            "valid_until",
            "exceeds_parent",
            "Stay within your own delegation's term.",
        ),
        Refusal::WrongCode { tries_left } => FieldError::new(
            "code",
            "invalid_code",
            format!("The code does not match; {tries_left} tries left."),
        ),
        Refusal::Invalid(error) => error,
        // Only the field refusals above are sent here.
        other => FieldError::new("request", "refused", format!("{other:?}")),
    }
}

/// Whether `who` may still act on delegation `id` as when they created something on it
/// (the delegation itself, a term proposal): asked before an `Idempotency-Key` replay.
pub fn may_replay(
    tx: &mut DbConnection,
    who: &Subject,
    id: DelegationId,
    now: Instant,
) -> Result<(), ApiError> {
    let (_, resource) = load(tx, who, id, now)?;
    domain::access::delegation_side(who, &resource, now)?;
    Ok(())
}
