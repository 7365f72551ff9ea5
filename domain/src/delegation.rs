//! Delegation of powers (SPEC §2): kinds and powers, the validity window, the lifecycle, and
//! the rules for re-delegation and term changes. What a delegation allows on a request is
//! decided by the authorization core (`access`), which consults [`Grant`]s built from here.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

mod rules;
mod term_change;

pub use rules::{check_parties, check_redelegation, require_second_factor, Refusal};
pub use term_change::{TermChange, TermChangeStatus};

use crate::actions::Action;
use crate::field_error::FieldError;
use crate::ids::{AccountId, DelegationId};
use crate::time::Instant;

/// The wire names (JSON, database, query strings) come from the one `snake_case` rule that
/// serde and strum share; a test checks that they agree.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    /// Everything the principal can do, except their credentials, 2FA and delegations.
    Full,
    /// Read-only: applications, statuses, documents, notifications.
    Limited,
    /// An explicit list of actions, optionally for listed services only.
    Specific,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Full, Kind::Limited, Kind::Specific];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Kind> {
        s.parse().ok()
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    Pending,
    Active,
    Declined,
    Cancelled,
    Revoked,
    Renounced,
    Expired,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Active,
        Status::Declined,
        Status::Cancelled,
        Status::Revoked,
        Status::Renounced,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Status> {
        s.parse().ok()
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Status::Pending | Status::Active)
    }
}

/// Actions no delegation ever covers, whatever its kind: what guards the account itself
/// (credentials, second factor, login contacts, sessions, the IP allow-list, the identity
/// documents that set its level) and delegations themselves — a representative who could
/// reach these could take the account from its holder.
pub fn never_delegable(action: Action) -> bool {
    matches!(
        action,
        Action::CredentialsManage
            | Action::IdentityManage
            | Action::DelegationsManage
            | Action::DelegationsRespond
            | Action::DelegationsRead
            | Action::ConfirmationsDecide
            | Action::ConfirmationsRead
            | Action::OrganisationsManage
            | Action::OrganisationsRead
            | Action::AccountsConfirmIdentity
            | Action::ApplicationsSign
    ) || crate::actions::Action::OFFICER.contains(&action)
        || matches!(
            action,
            Action::AgencyQueueRead | Action::AuditVerify | Action::AuditRead | Action::CatalogManage
        )
}

/// The powers a delegation grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Powers {
    pub kind: Kind,
    /// For `specific`: the actions granted.
    pub actions: Vec<Action>,
    /// For `specific`: when present, only these services.
    pub services: Option<Vec<String>>,
}

/// Why a power is not granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotCovered {
    Action,
    Service,
}

impl Powers {
    /// Whether these powers cover `action` on something of `service` (when it has one).
    pub fn covers(&self, action: Action, service: Option<&str>) -> Result<(), NotCovered> {
        if never_delegable(action) {
            return Err(NotCovered::Action);
        }
        match self.kind {
            Kind::Full => Ok(()),
            Kind::Limited if action.is_write() => Err(NotCovered::Action),
            Kind::Limited => Ok(()),
            Kind::Specific => {
                if !self.actions.contains(&action) {
                    return Err(NotCovered::Action);
                }
                match (&self.services, service) {
                    (Some(allowed), Some(service)) if !allowed.iter().any(|s| s == service) => {
                        Err(NotCovered::Service)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Whether these powers cover `action` on something that belongs to `services` (a vault
    /// document: the services of the applications it is attached to or that it is shared
    /// with). Powers limited to services cover it only when one of those is theirs, so
    /// something of no service at all is outside them.
    pub fn covers_any(&self, action: Action, services: &[String]) -> Result<(), NotCovered> {
        self.covers(action, None)?;
        match &self.services {
            Some(allowed) if !services.iter().any(|s| allowed.contains(s)) => Err(NotCovered::Service),
            _ => Ok(()),
        }
    }

    /// Whether `self` grants nothing beyond `parent` (for re-delegation).
    pub fn is_subset_of(&self, parent: &Powers) -> bool {
        match (parent.kind, self.kind) {
            (Kind::Full, _) => true,
            (Kind::Limited, Kind::Limited) => true,
            (Kind::Limited, Kind::Specific) => self.actions.iter().all(|a| !a.is_write()),
            (Kind::Limited, Kind::Full) => false,
            (Kind::Specific, Kind::Specific) => {
                let actions = self.actions.iter().all(|a| parent.actions.contains(a));
                let services = match (&parent.services, &self.services) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(p), Some(c)) => c.iter().all(|s| p.contains(s)),
                };
                actions && services
            }
            (Kind::Specific, _) => false,
        }
    }

    /// Checks the shape: a `specific` delegation names at least one delegable action.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.kind == Kind::Specific && self.actions.is_empty() {
            return Err(FieldError::new(
                "actions",
                "required",
                "A specific delegation lists its actions.",
            ));
        }
        if let Some(action) = self.actions.iter().find(|a| never_delegable(**a)) {
            return Err(FieldError::new(
                "actions",
                "not_delegable",
                format!("{} cannot be delegated.", action.as_str()),
            ));
        }
        if self.kind != Kind::Specific && (!self.actions.is_empty() || self.services.is_some()) {
            return Err(FieldError::new(
                "actions",
                "only_for_specific",
                "Only specific delegations list actions or services.",
            ));
        }
        Ok(())
    }
}

/// Checks a validity window: starting now or later, ending after it starts, and at most
/// `max_days` long. A minute of slack absorbs clock differences between client and server.
pub fn check_term(
    valid_from: Instant,
    valid_until: Instant,
    now: Instant,
    max_days: i64,
) -> Result<(), FieldError> {
    if valid_from < now - TimeDelta::minutes(1) {
        return Err(FieldError::new(
            "valid_from",
            "in_past",
            "The delegation cannot start in the past.",
        ));
    }
    if valid_until <= valid_from {
        return Err(FieldError::new(
            "valid_until",
            "before_start",
            "The end must come after the start.",
        ));
    }
    if valid_until - valid_from > TimeDelta::days(max_days) {
        return Err(FieldError::new(
            "valid_until",
            "too_long",
            format!("At most {max_days} days."),
        ));
    }
    Ok(())
}

/// A delegation as the authorization core needs it on a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub delegation: DelegationId,
    pub principal: AccountId,
    pub status: Status,
    pub valid_from: Instant,
    pub valid_until: Instant,
    pub powers: Powers,
}

/// Why a grant does not apply right now, before looking at what it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lapse {
    Pending,
    Revoked,
    Expired,
}

impl Grant {
    /// This grant as the delegation it was passed on from allows it: in force only while
    /// the parent is, and never outside the parent's term. Applied for every ancestor on
    /// every request, so ending or shortening a parent ends or clips its children at once,
    /// whatever has been stored for them yet.
    pub fn within(mut self, parent: &Grant) -> Grant {
        self.valid_from = self.valid_from.max(parent.valid_from);
        self.valid_until = self.valid_until.min(parent.valid_until);
        self.status = match (self.status, parent.status) {
            (own, Status::Active) => own,
            (own, _) if own.is_final() => own,
            (_, Status::Expired) => Status::Expired,
            // A child of a pending parent cannot arise; were it to, it waits as the parent does.
            (_, Status::Pending) => Status::Pending,
            // Revoked, renounced, declined, cancelled: the child ends as revoked.
            (_, _) => Status::Revoked,
        };
        self
    }

    /// In force at `now`: active *and* inside its window, whatever a background job has or
    /// has not recorded yet.
    pub fn in_force(&self, now: Instant) -> Result<(), Lapse> {
        match self.status {
            Status::Pending => Err(Lapse::Pending),
            Status::Declined | Status::Cancelled | Status::Revoked | Status::Renounced => Err(Lapse::Revoked),
            Status::Expired => Err(Lapse::Expired),
            Status::Active if now < self.valid_from => Err(Lapse::Pending),
            Status::Active if now >= self.valid_until => Err(Lapse::Expired),
            Status::Active => Ok(()),
        }
    }
}

/// A lifecycle event and who may fire it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Event {
    Accept,
    Decline,
    Cancel,
    Revoke,
    Renounce,
    Expire,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Principal,
    Representative,
    System,
}

impl Event {
    pub const ALL: [Event; 6] = [
        Event::Accept,
        Event::Decline,
        Event::Cancel,
        Event::Revoke,
        Event::Renounce,
        Event::Expire,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The side that fires this event, as the lifecycle table says.
    pub fn side(self) -> Side {
        LIFECYCLE
            .iter()
            .find(|(_, e, _, _)| *e == self)
            .map_or(Side::System, |(_, _, side, _)| *side)
    }
}

/// The lifecycle table: from, event, who → to.
pub const LIFECYCLE: &[(Status, Event, Side, Status)] = &[
    (
        Status::Pending,
        Event::Accept,
        Side::Representative,
        Status::Active,
    ),
    (
        Status::Pending,
        Event::Decline,
        Side::Representative,
        Status::Declined,
    ),
    (Status::Pending, Event::Cancel, Side::Principal, Status::Cancelled),
    (Status::Active, Event::Revoke, Side::Principal, Status::Revoked),
    (
        Status::Active,
        Event::Renounce,
        Side::Representative,
        Status::Renounced,
    ),
    (Status::Active, Event::Expire, Side::System, Status::Expired),
    (Status::Pending, Event::Expire, Side::System, Status::Expired),
];

/// The status after `event` by `side` from `from`, if the table allows it.
pub fn next_status(from: Status, event: Event, side: Side) -> Option<Status> {
    LIFECYCLE
        .iter()
        .find(|(f, e, s, _)| *f == from && *e == event && *s == side)
        .map(|(_, _, _, to)| *to)
}

/// A delegation as stored: the record of a machine-readable power of attorney (МЧД):
/// number, issue date, validity, principal and representative, powers and the
/// re-delegation flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Delegation {
    pub id: DelegationId,
    pub number: String,
    pub principal: AccountId,
    pub representative: AccountId,
    /// The delegation this one was passed on from.
    pub parent: Option<DelegationId>,
    pub powers: Powers,
    pub valid_from: Instant,
    pub valid_until: Instant,
    pub status: Status,
    pub redelegation_allowed: bool,
    pub version: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub accepted_at: Option<Instant>,
    pub ended_at: Option<Instant>,
}

impl Delegation {
    pub fn grant(&self) -> Grant {
        Grant {
            delegation: self.id,
            principal: self.principal,
            status: self.status,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            powers: self.powers.clone(),
        }
    }

    /// The delegation after `event` by `side`, or `None` when the lifecycle refuses it.
    pub fn apply(&self, event: Event, side: Side, now: Instant) -> Option<Delegation> {
        let to = next_status(self.status, event, side)?;
        let mut next = self.clone();
        next.status = to;
        next.version += 1;
        next.updated_at = now;
        if to == Status::Active {
            next.accepted_at = Some(now);
        }
        if to.is_final() {
            next.ended_at = Some(now);
        }
        Some(next)
    }

    /// The status as of `now`: an active delegation past its end has expired, whatever
    /// the stored row says yet.
    pub fn effective_status(&self, now: Instant) -> Status {
        if self.status == Status::Active && now >= self.valid_until {
            Status::Expired
        } else {
            self.status
        }
    }
}

/// One entry of a delegation's history, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub seq: i32,
    pub occurred_at: Instant,
    pub actor: Option<AccountId>,
    /// What happened: a lifecycle event's name, `create`, `term_change_proposed`, ….
    pub event: String,
    pub from: Option<Status>,
    pub to: Status,
    pub details: serde_json::Value,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn t0() -> Instant {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn grant(kind: Kind, actions: Vec<Action>, services: Option<Vec<String>>, status: Status) -> Grant {
        Grant {
            delegation: DelegationId::new(),
            principal: AccountId::new(),
            status,
            valid_from: t0(),
            valid_until: t0() + TimeDelta::days(10),
            powers: Powers {
                kind,
                actions,
                services,
            },
        }
    }

    #[test]
    fn terms_are_bounded() {
        let now = t0();
        assert!(check_term(now, now + TimeDelta::days(30), now, 30).is_ok());
        assert_eq!(
            check_term(now, now + TimeDelta::days(31), now, 30)
                .unwrap_err()
                .code,
            "too_long"
        );
        assert_eq!(
            check_term(now - TimeDelta::hours(1), now + TimeDelta::days(1), now, 30)
                .unwrap_err()
                .code,
            "in_past"
        );
        assert_eq!(check_term(now, now, now, 30).unwrap_err().code, "before_start");
    }

    #[test]
    fn the_lifecycle_table() {
        assert_eq!(
            next_status(Status::Pending, Event::Accept, Side::Representative),
            Some(Status::Active)
        );
        assert_eq!(next_status(Status::Pending, Event::Accept, Side::Principal), None);
        assert_eq!(
            next_status(Status::Active, Event::Revoke, Side::Principal),
            Some(Status::Revoked)
        );
        assert_eq!(next_status(Status::Revoked, Event::Revoke, Side::Principal), None);
        for status in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for event in [
                Event::Accept,
                Event::Decline,
                Event::Cancel,
                Event::Revoke,
                Event::Renounce,
                Event::Expire,
            ] {
                for side in [Side::Principal, Side::Representative, Side::System] {
                    assert_eq!(next_status(status, event, side), None, "final {status:?} moved");
                }
            }
        }
    }

    #[test]
    fn kinds_cover_what_they_say() {
        let specific = Powers {
            kind: Kind::Specific,
            actions: vec![Action::ApplicationsRead, Action::ApplicationsCreate],
            services: Some(vec!["passport".into()]),
        };
        assert_eq!(
            specific.covers(Action::ApplicationsCreate, Some("passport")),
            Ok(())
        );
        assert_eq!(
            specific.covers(Action::ApplicationsCreate, Some("tax")),
            Err(NotCovered::Service)
        );
        assert_eq!(
            specific.covers(Action::ApplicationsSubmit, Some("passport")),
            Err(NotCovered::Action)
        );
        let limited = Powers {
            kind: Kind::Limited,
            actions: vec![],
            services: None,
        };
        assert_eq!(limited.covers(Action::ApplicationsRead, None), Ok(()));
        assert_eq!(
            limited.covers(Action::ApplicationsCreate, None),
            Err(NotCovered::Action)
        );
        let full = Powers {
            kind: Kind::Full,
            actions: vec![],
            services: None,
        };
        assert_eq!(full.covers(Action::PaymentsPay, None), Ok(()));
        assert_eq!(
            full.covers(Action::CredentialsManage, None),
            Err(NotCovered::Action)
        );
        assert!(specific.is_subset_of(&full));
        assert!(!full.is_subset_of(&specific));
        let narrower = Powers {
            kind: Kind::Specific,
            actions: vec![Action::ApplicationsRead],
            services: Some(vec!["passport".into()]),
        };
        assert!(narrower.is_subset_of(&specific));
        let wider = Powers {
            kind: Kind::Specific,
            actions: vec![Action::ApplicationsRead],
            services: None,
        };
        assert!(!wider.is_subset_of(&specific));
    }

    #[test]
    fn grants_apply_only_inside_their_window() {
        let g = grant(Kind::Full, vec![], None, Status::Active);
        assert_eq!(g.in_force(t0() - TimeDelta::seconds(1)), Err(Lapse::Pending));
        assert_eq!(g.in_force(t0()), Ok(()));
        assert_eq!(g.in_force(t0() + TimeDelta::days(10)), Err(Lapse::Expired));
        assert_eq!(
            grant(Kind::Full, vec![], None, Status::Revoked).in_force(t0()),
            Err(Lapse::Revoked)
        );
    }

    /// A document belongs to the services of the applications it is attached to; powers
    /// limited to services reach it only through one of theirs, and a document of no
    /// service not at all. Unrestricted powers reach every one.
    #[test]
    fn powers_limited_to_services_cover_documents_of_those_services_only() {
        let specific = Powers {
            kind: Kind::Specific,
            actions: vec![Action::DocumentsRead],
            services: Some(vec!["passport".into()]),
        };
        let of = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            specific.covers_any(Action::DocumentsRead, &of(&["tax", "passport"])),
            Ok(())
        );
        assert_eq!(
            specific.covers_any(Action::DocumentsRead, &of(&["tax"])),
            Err(NotCovered::Service)
        );
        assert_eq!(
            specific.covers_any(Action::DocumentsRead, &[]),
            Err(NotCovered::Service)
        );
        assert_eq!(
            specific.covers_any(Action::DocumentsUpload, &of(&["passport"])),
            Err(NotCovered::Action)
        );
        for kind in [Kind::Full, Kind::Limited] {
            let unrestricted = Powers {
                kind,
                actions: vec![],
                services: None,
            };
            assert_eq!(unrestricted.covers_any(Action::DocumentsRead, &[]), Ok(()));
        }
    }

    /// A child grant never outlives or outgrows its parent: every end of the parent ends
    /// it, and its window is clipped to the parent's.
    #[test]
    fn a_child_grant_lives_within_its_parent() {
        let child = grant(Kind::Limited, vec![], None, Status::Active);
        let mut parent = grant(Kind::Full, vec![], None, Status::Active);
        parent.valid_until = t0() + TimeDelta::days(3);
        let clipped = child.clone().within(&parent);
        assert_eq!(clipped.valid_until, t0() + TimeDelta::days(3));
        assert_eq!(clipped.in_force(t0() + TimeDelta::days(4)), Err(Lapse::Expired));
        assert_eq!(clipped.in_force(t0()), Ok(()));
        for (end, lapse) in [
            (Status::Revoked, Lapse::Revoked),
            (Status::Renounced, Lapse::Revoked),
            (Status::Declined, Lapse::Revoked),
            (Status::Cancelled, Lapse::Revoked),
            (Status::Expired, Lapse::Expired),
        ] {
            let ended = Grant {
                status: end,
                ..parent.clone()
            };
            assert_eq!(child.clone().within(&ended).in_force(t0()), Err(lapse), "{end:?}");
        }
        // A child that ended on its own stays as it ended.
        let renounced = grant(Kind::Limited, vec![], None, Status::Renounced);
        assert_eq!(renounced.within(&parent).status, Status::Renounced);
    }

    /// serde (JSON) and strum (database, query strings) give every variant one name.
    #[test]
    fn kinds_statuses_and_events_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(kind.as_str().into()));
        }
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).ok(), Some(status.as_str().into()));
        }
        for event in Event::ALL {
            assert_eq!(event.as_str().parse::<Event>().ok(), Some(event));
        }
        assert_eq!(Kind::parse("Full"), None);
        assert_eq!(Event::Revoke.side(), Side::Principal);
        assert_eq!(Event::Renounce.side(), Side::Representative);
        assert_eq!(Event::Expire.side(), Side::System);
    }

    fn any_action() -> impl Strategy<Value = Action> {
        (0..Action::ALL.len()).prop_map(|i| Action::ALL[i])
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        (0..3usize).prop_map(|i| Kind::ALL[i])
    }

    proptest! {
        /// No delegation, of any kind or list, ever covers managing the principal's
        /// credentials, 2FA or delegations.
        #[test]
        fn credentials_and_delegations_are_never_covered(kind in any_kind(), actions in proptest::collection::vec(any_action(), 0..8)) {
            let powers = Powers { kind, actions, services: None };
            for action in [
                Action::CredentialsManage,
                Action::IdentityManage,
                Action::DelegationsManage,
                Action::DelegationsRespond,
                Action::DelegationsRead,
            ] {
                prop_assert_eq!(powers.covers(action, None), Err(NotCovered::Action));
            }
        }

        /// A limited delegation never allows a write.
        #[test]
        fn limited_never_writes(action in any_action()) {
            let limited = Powers { kind: Kind::Limited, actions: vec![], services: None };
            if action.is_write() {
                prop_assert!(limited.covers(action, None).is_err());
            }
        }

        /// Nothing outside the validity window is ever in force, whatever the status says.
        #[test]
        fn nothing_outside_the_window(offset in -100_000i64..100_000, length in 1i64..(30 * 86_400)) {
            let mut g = grant(Kind::Full, vec![], None, Status::Active);
            g.valid_until = g.valid_from + TimeDelta::seconds(length);
            let now = g.valid_from + TimeDelta::seconds(offset);
            if now < g.valid_from || now >= g.valid_until {
                prop_assert!(g.in_force(now).is_err());
            } else {
                prop_assert!(g.in_force(now).is_ok());
            }
        }
    }
}
