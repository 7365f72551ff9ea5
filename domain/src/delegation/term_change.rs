//! Changing a delegation's term takes both parties: one side proposes (and so confirms),
//! the other confirms, and only then does the new term replace the old one.

use serde::{Deserialize, Serialize};

use crate::ids::DelegationId;
use crate::time::Instant;

use super::{check_term, Delegation, Refusal, Side, Status};

/// Only a delegation in force now takes a new term: its status is computed from the clock,
/// so one past its end is over even before the job marks it, and stays over — a new term
/// for it is a new delegation.
fn require_active(d: &Delegation, now: Instant) -> Result<(), Refusal> {
    match d.effective_status(now) {
        Status::Active => Ok(()),
        status => Err(Refusal::NotActive(status)),
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TermChangeStatus {
    /// Awaiting the other party.
    Pending,
    /// Both confirmed; the delegation has the new term.
    Applied,
    /// A newer proposal replaced it.
    Superseded,
}

impl TermChangeStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<TermChangeStatus> {
        s.parse().ok()
    }
}

/// A proposed new term.
#[derive(Clone, Debug, PartialEq)]
pub struct TermChange {
    pub id: String,
    pub delegation: DelegationId,
    pub valid_from: Instant,
    pub valid_until: Instant,
    pub principal_confirmed: bool,
    pub representative_confirmed: bool,
    pub status: TermChangeStatus,
}

impl TermChange {
    /// `by`'s proposal of a new term for `d`, confirmed by `by`. A term that started already
    /// may keep its start; a new start must not be in the past.
    pub fn propose(
        d: &Delegation,
        by: Side,
        valid_from: Instant,
        valid_until: Instant,
        now: Instant,
        max_days: i64,
    ) -> Result<TermChange, Refusal> {
        let earliest = if valid_from == d.valid_from {
            now.min(valid_from)
        } else {
            now
        };
        require_active(d, now)?;
        check_term(valid_from, valid_until, earliest, max_days)?;
        Ok(TermChange {
            id: uuid::Uuid::now_v7().to_string(),
            delegation: d.id,
            valid_from,
            valid_until,
            principal_confirmed: by == Side::Principal,
            representative_confirmed: by != Side::Principal,
            status: TermChangeStatus::Pending,
        })
    }

    /// `by`'s confirmation of a pending proposal.
    pub fn confirm(&mut self, d: &Delegation, by: Side, now: Instant) -> Result<(), Refusal> {
        require_active(d, now)?;
        if self.status != TermChangeStatus::Pending {
            return Err(Refusal::TermChangeClosed);
        }
        if by == Side::Principal {
            self.principal_confirmed = true;
        } else {
            self.representative_confirmed = true;
        }
        Ok(())
    }

    /// Both parties have confirmed.
    pub fn agreed(&self) -> bool {
        self.principal_confirmed && self.representative_confirmed
    }

    /// `d` with this change's term, once both agreed; the change is then applied. The term
    /// is checked again: time passed since it was proposed.
    pub fn apply_to(&mut self, d: &Delegation, now: Instant, max_days: i64) -> Result<Delegation, Refusal> {
        require_active(d, now)?;
        check_term(
            self.valid_from,
            self.valid_until,
            now.min(self.valid_from),
            max_days,
        )?;
        let mut next = d.clone();
        next.valid_from = self.valid_from;
        next.valid_until = self.valid_until;
        next.version += 1;
        next.updated_at = now;
        self.status = TermChangeStatus::Applied;
        Ok(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{Kind, Powers, Status};
    use super::*;
    use crate::ids::AccountId;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn t0() -> Instant {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn active() -> Delegation {
        Delegation {
            id: DelegationId::new(),
            number: "МЧД-2026-000001".into(),
            principal: AccountId::new(),
            representative: AccountId::new(),
            parent: None,
            powers: Powers {
                kind: Kind::Full,
                actions: vec![],
                services: None,
            },
            valid_from: t0(),
            valid_until: t0() + TimeDelta::days(10),
            status: Status::Active,
            redelegation_allowed: false,
            version: 3,
            created_at: t0(),
            updated_at: t0(),
            accepted_at: Some(t0()),
            ended_at: None,
        }
    }

    #[test]
    fn a_change_needs_both_sides() {
        let d = active();
        let now = t0() + TimeDelta::days(2);
        let until = t0() + TimeDelta::days(20);
        let mut change = TermChange::propose(&d, Side::Principal, d.valid_from, until, now, 30).unwrap();
        assert!((change.principal_confirmed, change.representative_confirmed) == (true, false));
        assert!(!change.agreed());
        change.confirm(&d, Side::Representative, now).unwrap();
        assert!(change.agreed());
        let next = change.apply_to(&d, now, 30).unwrap();
        assert_eq!((next.valid_until, next.version), (until, 4));
        assert_eq!(change.status, TermChangeStatus::Applied);
        assert_eq!(
            change.confirm(&d, Side::Principal, now),
            Err(Refusal::TermChangeClosed)
        );
    }

    #[test]
    fn the_proposal_table() {
        let d = active();
        let now = t0() + TimeDelta::days(2);
        let ended = Delegation {
            status: Status::Revoked,
            ..active()
        };
        let pending = Delegation {
            status: Status::Pending,
            ..active()
        };
        let after_end = d.valid_until + TimeDelta::minutes(1);
        let code = |r: Result<TermChange, Refusal>| match r {
            Ok(_) => "ok",
            Err(Refusal::Invalid(e)) => e.code,
            Err(Refusal::NotActive(_)) => "not_active",
            Err(_) => "other",
        };
        let table = [
            (
                "keeps its start",
                &d,
                d.valid_from,
                now + TimeDelta::days(5),
                "ok",
            ),
            ("new start later", &d, now, now + TimeDelta::days(5), "ok"),
            (
                "new start in the past",
                &d,
                now - TimeDelta::days(1),
                now + TimeDelta::days(5),
                "in_past",
            ),
            (
                "too long",
                &d,
                d.valid_from,
                d.valid_from + TimeDelta::days(31),
                "too_long",
            ),
            (
                "ended",
                &ended,
                d.valid_from,
                now + TimeDelta::days(5),
                "not_active",
            ),
            (
                "pending",
                &pending,
                d.valid_from,
                now + TimeDelta::days(5),
                "not_active",
            ),
        ];
        for (case, delegation, from, until, expected) in table {
            let proposed = TermChange::propose(delegation, Side::Representative, from, until, now, 30);
            assert_eq!(code(proposed), expected, "{case}");
        }
        // Past its end, still stored as active because no job ran yet: over all the same.
        let late = TermChange::propose(
            &d,
            Side::Principal,
            after_end,
            after_end + TimeDelta::days(5),
            after_end,
            30,
        );
        assert_eq!(code(late), "not_active");
    }

    /// A proposal made in time is not confirmed, nor applied, once the delegation ran out.
    #[test]
    fn a_proposal_dies_with_its_delegation() {
        let d = active();
        let now = t0() + TimeDelta::days(2);
        let mut change = TermChange::propose(
            &d,
            Side::Principal,
            d.valid_from,
            t0() + TimeDelta::days(20),
            now,
            30,
        )
        .unwrap();
        let after_end = d.valid_until + TimeDelta::seconds(1);
        assert_eq!(
            change.confirm(&d, Side::Representative, after_end),
            Err(Refusal::NotActive(Status::Expired))
        );
        change.representative_confirmed = true;
        assert_eq!(
            change.apply_to(&d, after_end, 30),
            Err(Refusal::NotActive(Status::Expired))
        );
        assert_eq!(change.status, TermChangeStatus::Pending);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in [
            TermChangeStatus::Pending,
            TermChangeStatus::Applied,
            TermChangeStatus::Superseded,
        ] {
            assert_eq!(TermChangeStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_value(status).ok();
            assert_eq!(json, Some(serde_json::Value::String(status.as_str().into())));
        }
    }
}
