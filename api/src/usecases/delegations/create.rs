//! Giving powers: the principal (or an organisation's head) issues a delegation to a
//! representative, or a representative passes on part of one they hold. It is pending
//! until the representative accepts it with the one-time code shown here, once.

use domain::access::{authorize, Action, Subject};
use domain::delegation::{check_parties, check_redelegation, check_term, Delegation, Powers, Status};
use domain::ids::{AccountId, DelegationId};
use domain::time::Instant;
use persistence::delegations::{self as store, NewDelegationEvent};
use persistence::{accounts, DbConnection};
use serde_json::json;

use super::{code_hash, load_for, notice, require_second_factors};
use crate::auth::second_factor;
use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// Who is to represent: an account id, or the lookup keys of a login.
pub enum Representative {
    Id(AccountId),
    Login(Vec<String>),
    Unnamed,
}

/// A delegation as asked for, its powers already checked for shape.
pub struct Draft {
    pub representative: Representative,
    pub powers: Powers,
    pub valid_from: Instant,
    pub valid_until: Instant,
    pub redelegation_allowed: bool,
    /// The organisation delegating through its head; the caller when `None`.
    pub principal: Option<AccountId>,
    /// The delegation passed on.
    pub parent: Option<DelegationId>,
}

/// What creating needs besides the draft.
pub struct Issuing<'a> {
    pub pii: &'a PiiCipher,
    pub max_days: i64,
}

/// The new delegation and its acceptance code, shown to the principal once.
pub struct Created {
    pub delegation: Delegation,
    pub code: String,
}

pub fn create(
    tx: &mut DbConnection,
    who: &Acting,
    draft: Draft,
    issuing: &Issuing,
    now: Instant,
) -> Result<Outcome<Created>, ApiError> {
    // Who may issue is decided before the representative is looked up, so a caller who
    // may not delegate gets the same answer for an existing and an unknown login.
    let parent = draft
        .parent
        .map(|id| load_for(tx, &who.subject, id, Action::DelegationsRespond, now))
        .transpose()?;
    let principal = match &parent {
        None => own_principal(tx, &who.subject, &draft, now)?,
        Some(parent) => parent.principal,
    };
    check_term(draft.valid_from, draft.valid_until, now, issuing.max_days).map_err(from_field_error)?;
    if let Some(parent) = &parent {
        check_redelegation(parent, &draft.powers, draft.valid_from, draft.valid_until, now)?;
    }
    let representative = find_representative(tx, &draft.representative)?;
    employees_only(tx, principal, representative)?;
    let parent = parent.map(|p| p.id);
    check_parties(principal, representative, who.account)?;
    require_second_factors(tx, who.account, representative)?;
    let number = format!(
        "МЧД-{}-{:06}",
        now.format("%Y"),
        persistence::applications::next_counter(tx, persistence::applications::Counter::DelegationNumber)?
    );
    let delegation = Delegation {
        id: DelegationId::new(),
        number,
        principal,
        representative,
        parent,
        powers: draft.powers,
        valid_from: draft.valid_from,
        valid_until: draft.valid_until,
        status: Status::Pending,
        redelegation_allowed: draft.redelegation_allowed,
        version: 1,
        created_at: now,
        updated_at: now,
        accepted_at: None,
        ended_at: None,
    };
    let code = second_factor::new_numeric_code();
    store::insert(tx, &delegation, &code_hash(issuing.pii, delegation.id, &code))?;
    let effects = recorded(who, &delegation);
    Ok(Outcome::new(Created { delegation, code }, effects))
}

/// An organisation's powers go to the people who work for it, and only to them.
fn employees_only(
    tx: &mut DbConnection,
    principal: AccountId,
    representative: AccountId,
) -> Result<(), ApiError> {
    if persistence::organisations::head(tx, principal)?.is_some()
        && !persistence::organisations::is_employee(tx, principal, representative)?
    {
        return Err(ApiError::field(
            "representative_id",
            "not_an_employee",
            "An organisation delegates to its employees only; the head adds them first.",
        ));
    }
    Ok(())
}

fn find_representative(tx: &mut DbConnection, named: &Representative) -> Result<AccountId, ApiError> {
    let found = match named {
        Representative::Id(id) => accounts::find(tx, *id)?,
        Representative::Login(keys) => accounts::find_by_login(tx, keys)?,
        Representative::Unnamed => {
            return Err(ApiError::field(
                "representative_id",
                "required",
                "Name the representative.",
            ))
        }
    };
    found
        .map(|account| account.id)
        .ok_or_else(|| ApiError::field("representative_id", "unknown_account", "No such account."))
}

/// The principal of a new delegation: the caller, or the organisation they head, when
/// the core lets the caller issue in its name.
fn own_principal(
    tx: &mut DbConnection,
    who: &Subject,
    draft: &Draft,
    now: Instant,
) -> Result<AccountId, ApiError> {
    let principal = draft.principal.unwrap_or(who.account);
    let head = persistence::organisations::head(tx, principal)?;
    let target = domain::access::Resource::NewDelegation { principal, head };
    authorize(who, Action::DelegationsManage, &target, now)?;
    Ok(principal)
}

/// History, audit, and the representative told (no live event: the event stream carries
/// application events only).
fn recorded(who: &Acting, d: &Delegation) -> Effects {
    let history =
        NewDelegationEvent::of(d, Some(who.account), "create", None).details(json!({ "parent": d.parent }));
    let audit = who
        .audit("delegation.create", "delegation")
        .on_behalf_of(Some(d.principal.as_uuid()))
        .target(d.id)
        .details(json!({ "representative": d.representative, "kind": d.powers.kind.as_str() }));
    let body = format!(
        "Вам выдана доверенность {}. Примите её с кодом, который вам сообщит доверитель.",
        d.number
    );
    let told = notice(d.representative, d, "created", "Новая доверенность", body);
    Effects::none().history(history).audit(audit).notice(told)
}
