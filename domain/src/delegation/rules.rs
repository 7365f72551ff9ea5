//! The rules a delegation's parties meet beyond the authorization core: a second factor on
//! both sides, no delegating to oneself, passing on only what one holds, accepting with
//! the code while tries remain, and the lifecycle table. Each refusal is a [`Refusal`];
//! `api` answers it by variant.

use crate::field_error::FieldError;
use crate::ids::AccountId;
use crate::time::Instant;

use super::{Delegation, Event, Powers, Side, Status};

/// Why a delegation rule refuses a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The principal's or the representative's side has no second factor on.
    TwoFactorRequired(Side),
    /// The representative is the principal or the one issuing the delegation.
    SelfDelegation,
    /// The parent delegation does not allow passing it on.
    RedelegationNotAllowed,
    /// Only a delegation in force can be passed on.
    ParentNotInForce,
    /// A passed-on delegation grants more than its parent.
    ExceedsParentPowers,
    /// A passed-on delegation runs outside its parent's term.
    ExceedsParentTerm,
    /// The lifecycle table has no such move from the current status.
    InvalidTransition { event: Event, status: Status },
    /// Only a pending delegation can be accepted.
    NotPending,
    /// The delegation's term passed before it was accepted.
    TermPassed,
    /// The code was mistyped too often.
    CodeAttemptsExceeded,
    /// The code does not match; `tries_left` remain.
    WrongCode { tries_left: i32 },
    /// The delegation is not in force now (pending, ended, or past its end): its term
    /// can no longer change.
    NotActive(Status),
    /// The term change was applied or superseded already.
    TermChangeClosed,
    /// A field of the request breaks a shape rule (a term too long, say).
    Invalid(FieldError),
}

impl From<FieldError> for Refusal {
    fn from(error: FieldError) -> Refusal {
        Refusal::Invalid(error)
    }
}

/// Both sides need a second factor on to create, accept or change a delegation. `principal`
/// and `representative` say whether each side has one (an organisation's is its head's).
pub fn require_second_factor(principal: bool, representative: bool) -> Result<(), Refusal> {
    if !principal {
        return Err(Refusal::TwoFactorRequired(Side::Principal));
    }
    if !representative {
        return Err(Refusal::TwoFactorRequired(Side::Representative));
    }
    Ok(())
}

/// Nobody delegates to themselves: the representative is neither the principal nor the
/// one issuing the delegation (an organisation's head, or a representative passing on).
pub fn check_parties(
    principal: AccountId,
    representative: AccountId,
    issuer: AccountId,
) -> Result<(), Refusal> {
    if representative == principal || representative == issuer {
        return Err(Refusal::SelfDelegation);
    }
    Ok(())
}

/// Passing on (part of) `parent`: it must allow that and be in force, and the new powers
/// and term must stay within its own. (Who may pass it on — its representative — is the
/// authorization core's `DelegationsRespond` rule.)
pub fn check_redelegation(
    parent: &Delegation,
    powers: &Powers,
    valid_from: Instant,
    valid_until: Instant,
    now: Instant,
) -> Result<(), Refusal> {
    if !parent.redelegation_allowed {
        return Err(Refusal::RedelegationNotAllowed);
    }
    parent
        .grant()
        .in_force(now)
        .map_err(|_| Refusal::ParentNotInForce)?;
    if !powers.is_subset_of(&parent.powers) {
        return Err(Refusal::ExceedsParentPowers);
    }
    if valid_from < parent.valid_from || valid_until > parent.valid_until {
        return Err(Refusal::ExceedsParentTerm);
    }
    Ok(())
}

impl Delegation {
    /// Whether the representative may try a code now: the delegation is pending, its term
    /// has not passed, and fewer than `max` tries were used.
    pub fn check_acceptance(&self, attempts: i32, max: i32, now: Instant) -> Result<(), Refusal> {
        if self.status != Status::Pending {
            return Err(Refusal::NotPending);
        }
        if self.valid_until <= now {
            return Err(Refusal::TermPassed);
        }
        if attempts >= max {
            return Err(Refusal::CodeAttemptsExceeded);
        }
        Ok(())
    }

    /// The delegation after `event` by `side`, or why the lifecycle table refuses it.
    pub fn step(&self, event: Event, side: Side, now: Instant) -> Result<Delegation, Refusal> {
        self.apply(event, side, now).ok_or(Refusal::InvalidTransition {
            event,
            status: self.status,
        })
    }

    /// The other party of `actor`'s side: the representative hears from the principal's
    /// side (an organisation's head included) and the principal from the representative.
    pub fn counterpart(&self, actor: AccountId) -> AccountId {
        if actor == self.representative {
            self.principal
        } else {
            self.representative
        }
    }

    /// This delegation as a reader sees it at `now`: an active one past its end shows as
    /// expired, whatever the stored row says yet.
    pub fn seen_at(&self, now: Instant) -> Delegation {
        Delegation {
            status: self.effective_status(now),
            ..self.clone()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{Kind, Powers};
    use super::*;
    use crate::actions::Action;
    use crate::ids::DelegationId;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn t0() -> Instant {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn powers(kind: Kind, actions: &[Action]) -> Powers {
        Powers {
            kind,
            actions: actions.to_vec(),
            services: None,
        }
    }

    fn delegation(status: Status, redelegation_allowed: bool) -> Delegation {
        Delegation {
            id: DelegationId::new(),
            number: "МЧД-2026-000001".into(),
            principal: AccountId::new(),
            representative: AccountId::new(),
            parent: None,
            powers: powers(
                Kind::Specific,
                &[Action::ApplicationsRead, Action::ApplicationsCreate],
            ),
            valid_from: t0(),
            valid_until: t0() + TimeDelta::days(10),
            status,
            redelegation_allowed,
            version: 1,
            created_at: t0(),
            updated_at: t0(),
            accepted_at: None,
            ended_at: None,
        }
    }

    #[test]
    fn both_sides_need_a_second_factor() {
        let table = [
            (true, true, Ok(())),
            (false, true, Err(Refusal::TwoFactorRequired(Side::Principal))),
            (true, false, Err(Refusal::TwoFactorRequired(Side::Representative))),
            (false, false, Err(Refusal::TwoFactorRequired(Side::Principal))),
        ];
        for (principal, representative, expected) in table {
            assert_eq!(
                require_second_factor(principal, representative),
                expected,
                "principal {principal}, representative {representative}"
            );
        }
    }

    #[test]
    fn nobody_delegates_to_themselves() {
        let (principal, head, other) = (AccountId::new(), AccountId::new(), AccountId::new());
        let table = [
            ("to another", principal, other, principal, Ok(())),
            (
                "to oneself",
                principal,
                principal,
                principal,
                Err(Refusal::SelfDelegation),
            ),
            (
                "head to the organisation",
                principal,
                principal,
                head,
                Err(Refusal::SelfDelegation),
            ),
            (
                "head to themselves",
                principal,
                head,
                head,
                Err(Refusal::SelfDelegation),
            ),
            ("head to another", principal, other, head, Ok(())),
        ];
        for (case, principal, representative, issuer, expected) in table {
            assert_eq!(
                check_parties(principal, representative, issuer),
                expected,
                "{case}"
            );
        }
    }

    /// Re-delegation: every reason a child is refused, in the order they are checked.
    #[test]
    fn the_redelegation_table() {
        let now = t0() + TimeDelta::days(1);
        let narrower = powers(Kind::Specific, &[Action::ApplicationsRead]);
        let wider = powers(Kind::Full, &[]);
        let (from, until) = (now, now + TimeDelta::days(5));
        let after_parent = t0() + TimeDelta::days(11);
        let table = [
            ("within", Status::Active, true, &narrower, from, until, Ok(())),
            (
                "not allowed",
                Status::Active,
                false,
                &narrower,
                from,
                until,
                Err(Refusal::RedelegationNotAllowed),
            ),
            (
                "parent pending",
                Status::Pending,
                true,
                &narrower,
                from,
                until,
                Err(Refusal::ParentNotInForce),
            ),
            (
                "parent revoked",
                Status::Revoked,
                true,
                &narrower,
                from,
                until,
                Err(Refusal::ParentNotInForce),
            ),
            (
                "wider powers",
                Status::Active,
                true,
                &wider,
                from,
                until,
                Err(Refusal::ExceedsParentPowers),
            ),
            (
                "starts before the parent",
                Status::Active,
                true,
                &narrower,
                t0() - TimeDelta::days(1),
                until,
                Err(Refusal::ExceedsParentTerm),
            ),
            (
                "ends after the parent",
                Status::Active,
                true,
                &narrower,
                from,
                after_parent,
                Err(Refusal::ExceedsParentTerm),
            ),
        ];
        for (case, status, allowed, powers, from, until, expected) in table {
            let parent = delegation(status, allowed);
            assert_eq!(
                check_redelegation(&parent, powers, from, until, now),
                expected,
                "{case}"
            );
        }
        let lapsed = delegation(Status::Active, true);
        assert_eq!(
            check_redelegation(&lapsed, &narrower, from, until, t0() + TimeDelta::days(10)),
            Err(Refusal::ParentNotInForce),
            "past its end"
        );
    }

    #[test]
    fn the_acceptance_table() {
        let now = t0() + TimeDelta::days(1);
        let table = [
            ("pending", Status::Pending, now, 0, Ok(())),
            ("last try", Status::Pending, now, 4, Ok(())),
            (
                "tries used",
                Status::Pending,
                now,
                5,
                Err(Refusal::CodeAttemptsExceeded),
            ),
            ("active", Status::Active, now, 0, Err(Refusal::NotPending)),
            ("cancelled", Status::Cancelled, now, 0, Err(Refusal::NotPending)),
            (
                "term passed",
                Status::Pending,
                t0() + TimeDelta::days(10),
                0,
                Err(Refusal::TermPassed),
            ),
        ];
        for (case, status, at, attempts, expected) in table {
            assert_eq!(
                delegation(status, false).check_acceptance(attempts, 5, at),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn steps_follow_the_lifecycle_table_and_say_why_not() {
        let pending = delegation(Status::Pending, false);
        let active = pending.step(Event::Accept, Side::Representative, t0()).unwrap();
        assert_eq!((active.status, active.version), (Status::Active, 2));
        assert_eq!(
            active.step(Event::Cancel, Side::Principal, t0()),
            Err(Refusal::InvalidTransition {
                event: Event::Cancel,
                status: Status::Active
            })
        );
        assert_eq!(active.counterpart(active.representative), active.principal);
        assert_eq!(active.counterpart(active.principal), active.representative);
        let later = active.seen_at(active.valid_until);
        assert_eq!(later.status, Status::Expired);
    }
}
