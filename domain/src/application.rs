//! The application (заявление) state machine of SPEC §3: statuses, the table of allowed
//! transitions with who may fire each, the guards (service policy, appeal and restore
//! windows, information-request due dates) and one pure function that applies an event.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::ServicePolicy;
use crate::ids::{AccountId, ApplicationId};
use crate::time::Instant;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    Draft,
    Submitted,
    Resubmitted,
    InReview,
    NeedsInfo,
    Approved,
    Rejected,
    Appealed,
    Completed,
    Cancelled,
    Expired,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Draft,
        Status::Submitted,
        Status::Resubmitted,
        Status::InReview,
        Status::NeedsInfo,
        Status::Approved,
        Status::Rejected,
        Status::Appealed,
        Status::Completed,
        Status::Cancelled,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The label citizens see (as on Gosuslugi).
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Черновик",
            Status::Submitted => "Получено",
            Status::Resubmitted => "Переподано",
            Status::InReview => "В работе",
            Status::NeedsInfo => "Требуется уточнение",
            Status::Approved => "Одобрено",
            Status::Rejected => "Отказано",
            Status::Appealed => "Обжалуется",
            Status::Completed => "Завершено",
            Status::Cancelled => "Отменено",
            Status::Expired => "Требует продления",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        s.parse().ok()
    }
}

/// Who fires an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Applicant,
    Officer,
    /// Background jobs (expiry).
    System,
}

/// The kind of an event, without its data: what the transition table is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    Submit,
    Edit,
    Take,
    RequestInfo,
    Respond,
    Approve,
    Reject,
    Complete,
    Appeal,
    Cancel,
    Restore,
    Expire,
    Forward,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::Submit,
        EventKind::Edit,
        EventKind::Take,
        EventKind::RequestInfo,
        EventKind::Respond,
        EventKind::Approve,
        EventKind::Reject,
        EventKind::Complete,
        EventKind::Appeal,
        EventKind::Cancel,
        EventKind::Restore,
        EventKind::Expire,
        EventKind::Forward,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl EventKind {
    /// Who fires events of this kind: every kind belongs to one party in the table, so a
    /// caller names the event and the party follows.
    pub fn party(self) -> Party {
        match self {
            EventKind::Submit
            | EventKind::Edit
            | EventKind::Respond
            | EventKind::Appeal
            | EventKind::Cancel
            | EventKind::Restore => Party::Applicant,
            EventKind::Take
            | EventKind::RequestInfo
            | EventKind::Approve
            | EventKind::Reject
            | EventKind::Complete
            | EventKind::Forward => Party::Officer,
            EventKind::Expire => Party::System,
        }
    }
}

/// What happens, with its data.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Submit,
    /// A change of the form after submission.
    Edit {
        form_data: Value,
    },
    Take,
    RequestInfo {
        question: String,
        due_at: Instant,
    },
    Respond {
        answer: String,
    },
    Approve {
        comment: Option<String>,
    },
    Reject {
        reason: String,
    },
    Complete {
        result: String,
    },
    Appeal {
        reason: String,
    },
    Cancel {
        reason: Option<String>,
    },
    Restore,
    Expire,
    Forward {
        to_agency: String,
        comment: Option<String>,
    },
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Submit => EventKind::Submit,
            Event::Edit { .. } => EventKind::Edit,
            Event::Take => EventKind::Take,
            Event::RequestInfo { .. } => EventKind::RequestInfo,
            Event::Respond { .. } => EventKind::Respond,
            Event::Approve { .. } => EventKind::Approve,
            Event::Reject { .. } => EventKind::Reject,
            Event::Complete { .. } => EventKind::Complete,
            Event::Appeal { .. } => EventKind::Appeal,
            Event::Cancel { .. } => EventKind::Cancel,
            Event::Restore => EventKind::Restore,
            Event::Expire => EventKind::Expire,
            Event::Forward { .. } => EventKind::Forward,
        }
    }
}

use EventKind as E;
use Party::{Applicant, Officer, System};
use Status as S;

/// Every allowed transition: from, event, who, to. `Restore` goes back to the status the
/// application had before it was cancelled; its row names `Cancelled` as a placeholder.
/// Anything not here is refused with `invalid_transition`.
pub const TRANSITIONS: &[(Status, EventKind, Party, Status)] = &[
    (S::Draft, E::Submit, Applicant, S::Submitted),
    (S::Submitted, E::Edit, Applicant, S::Resubmitted),
    (S::Resubmitted, E::Edit, Applicant, S::Resubmitted),
    (S::Submitted, E::Take, Officer, S::InReview),
    (S::Resubmitted, E::Take, Officer, S::InReview),
    (S::InReview, E::RequestInfo, Officer, S::NeedsInfo),
    (S::NeedsInfo, E::Respond, Applicant, S::InReview),
    (S::InReview, E::Approve, Officer, S::Approved),
    (S::InReview, E::Reject, Officer, S::Rejected),
    (S::Approved, E::Complete, Officer, S::Completed),
    (S::Rejected, E::Appeal, Applicant, S::Appealed),
    (S::Appealed, E::Approve, Officer, S::Approved),
    (S::Appealed, E::Reject, Officer, S::Rejected),
    (S::Draft, E::Cancel, Applicant, S::Cancelled),
    (S::Submitted, E::Cancel, Applicant, S::Cancelled),
    (S::Resubmitted, E::Cancel, Applicant, S::Cancelled),
    (S::InReview, E::Cancel, Applicant, S::Cancelled),
    (S::Cancelled, E::Restore, Applicant, S::Cancelled),
    (S::NeedsInfo, E::Expire, System, S::Expired),
    (S::Submitted, E::Forward, Officer, S::Submitted),
    (S::Resubmitted, E::Forward, Officer, S::Submitted),
    (S::InReview, E::Forward, Officer, S::Submitted),
];

/// The table's target for `(from, event, by)`, if the table has the row.
pub fn table_target(from: Status, event: EventKind, by: Party) -> Option<Status> {
    TRANSITIONS
        .iter()
        .find(|(f, e, p, _)| *f == from && *e == event && *p == by)
        .map(|(_, _, _, to)| *to)
}

/// The events `by` may try from `from` (the guards may still refuse them).
pub fn allowed_events(from: Status, by: Party) -> Vec<EventKind> {
    TRANSITIONS
        .iter()
        .filter(|(f, _, p, _)| *f == from && *p == by)
        .map(|(_, e, _, _)| *e)
        .collect()
}

/// An application as the rules see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub id: ApplicationId,
    pub number: Option<String>,
    pub owner: AccountId,
    pub service_code: String,
    /// The agency handling it now (forwarding changes it).
    pub agency_code: String,
    pub status: Status,
    /// The status before a cancellation, for `restore`.
    pub previous_status: Option<Status>,
    pub form_data: Value,
    pub version: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub submitted_at: Option<Instant>,
    pub decided_at: Option<Instant>,
    pub cancelled_at: Option<Instant>,
    pub info_request: Option<String>,
    pub info_due_at: Option<Instant>,
    /// An appeal was decided: the second decision is final.
    pub appeal_used: bool,
    pub rejection_reason: Option<String>,
    pub result_note: Option<String>,
}

impl Application {
    pub fn new_draft(
        id: ApplicationId,
        owner: AccountId,
        service_code: String,
        agency_code: String,
        form_data: Value,
        now: Instant,
    ) -> Application {
        Application {
            id,
            number: None,
            owner,
            service_code,
            agency_code,
            status: Status::Draft,
            previous_status: None,
            form_data,
            version: 1,
            created_at: now,
            updated_at: now,
            submitted_at: None,
            decided_at: None,
            cancelled_at: None,
            info_request: None,
            info_due_at: None,
            appeal_used: false,
            rejection_reason: None,
            result_note: None,
        }
    }
}

/// Why an event was refused. The wire code is the variant's snake_case name; the api
/// chooses the HTTP status by variant (bad input or the wrong state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    /// The table has no such transition from the current status for this party.
    InvalidTransition,
    NotEditable,
    NotCancellable,
    AppealUsed,
    AppealWindowClosed,
    RestoreWindowClosed,
    NotDue,
    NotADraft,
    /// A text the event needs (question, reason, answer, result, agency) is empty.
    CommentRequired,
    DueDateInPast,
    SameAgency,
}

impl Reason {
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Every reason, in declaration order.
    pub fn all() -> impl Iterator<Item = Reason> {
        <Reason as strum::IntoEnumIterator>::iter()
    }
}

/// A refused event: why, in words, and what could be done instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
    pub allowed: Vec<EventKind>,
}

impl Refusal {
    /// The machine code clients see.
    pub fn code(&self) -> &'static str {
        self.reason.code()
    }
}

/// An accepted event: the application after it, and the history entry it writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub application: Application,
    pub event: EventKind,
    pub from: Status,
    pub to: Status,
    pub comment: Option<String>,
}

fn required(text: &str, what: &str, allowed: &[EventKind]) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal {
            reason: Reason::CommentRequired,
            message: format!("{what} is required."),
            allowed: allowed.to_vec(),
        });
    }
    Ok(text.to_string())
}

impl Application {
    /// Applies `event` fired by `by` under `policy` at `now`. Pure: the caller stores the
    /// result (and its history entry) or answers the refusal.
    pub fn apply(
        &self,
        event: Event,
        by: Party,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Result<Step, Refusal> {
        let allowed = allowed_events(self.status, by);
        let kind = event.kind();
        let refuse = |reason: Reason, message: String| {
            Err(Refusal {
                reason,
                message,
                allowed: allowed.clone(),
            })
        };
        let Some(mut to) = table_target(self.status, kind, by) else {
            return refuse(
                Reason::InvalidTransition,
                format!(
                    "Cannot {} an application that is {}.",
                    kind.as_str(),
                    self.status.as_str()
                ),
            );
        };
        let mut next = self.clone();
        let mut comment = None;
        match event {
            Event::Submit => {
                next.submitted_at = Some(now);
            }
            Event::Edit { form_data } => {
                if !policy.editable_after_submit {
                    return refuse(
                        Reason::NotEditable,
                        "This service does not allow edits after submission.".into(),
                    );
                }
                next.form_data = form_data;
            }
            Event::Take => {}
            Event::RequestInfo { question, due_at } => {
                let question = required(&question, "A question", &allowed)?;
                if due_at <= now {
                    return refuse(
                        Reason::DueDateInPast,
                        "The due date must be in the future.".into(),
                    );
                }
                next.info_request = Some(question.clone());
                next.info_due_at = Some(due_at);
                comment = Some(question);
            }
            Event::Respond { answer } => {
                comment = Some(required(&answer, "An answer", &allowed)?);
                next.info_request = None;
                next.info_due_at = None;
            }
            Event::Approve { comment: note } => {
                next.decided_at = Some(now);
                next.appeal_used = self.status == Status::Appealed;
                comment = note.filter(|n| !n.trim().is_empty());
            }
            Event::Reject { reason } => {
                let reason = required(&reason, "A reason", &allowed)?;
                next.decided_at = Some(now);
                next.appeal_used = self.status == Status::Appealed;
                next.rejection_reason = Some(reason.clone());
                comment = Some(reason);
            }
            Event::Complete { result } => {
                let result = required(&result, "A result", &allowed)?;
                next.result_note = Some(result.clone());
                comment = Some(result);
            }
            Event::Appeal { reason } => {
                if self.appeal_used {
                    return refuse(Reason::AppealUsed, "The decision on the appeal is final.".into());
                }
                let decided = self.decided_at.unwrap_or(self.updated_at);
                if now > decided + TimeDelta::days(policy.appeal_window_days) {
                    return refuse(
                        Reason::AppealWindowClosed,
                        format!(
                            "An appeal is possible within {} days of the decision.",
                            policy.appeal_window_days
                        ),
                    );
                }
                comment = Some(required(&reason, "A reason", &allowed)?);
            }
            Event::Cancel { reason } => {
                if self.status == Status::InReview && !policy.cancellable_in_review {
                    return refuse(
                        Reason::NotCancellable,
                        "This service does not allow cancelling during review.".into(),
                    );
                }
                next.previous_status = Some(self.status);
                next.cancelled_at = Some(now);
                comment = reason.filter(|r| !r.trim().is_empty());
            }
            Event::Restore => {
                let cancelled = self.cancelled_at.unwrap_or(self.updated_at);
                if now > cancelled + TimeDelta::days(policy.restore_window_days) {
                    return refuse(
                        Reason::RestoreWindowClosed,
                        format!(
                            "A restore is possible within {} days of the cancellation.",
                            policy.restore_window_days
                        ),
                    );
                }
                to = self.previous_status.unwrap_or(Status::Draft);
                next.previous_status = None;
                next.cancelled_at = None;
            }
            Event::Expire => {
                if self.info_due_at.is_some_and(|due| due > now) {
                    return refuse(Reason::NotDue, "The information request is not due yet.".into());
                }
            }
            Event::Forward {
                to_agency,
                comment: note,
            } => {
                let to_agency = required(&to_agency, "The target agency", &allowed)?;
                if to_agency == self.agency_code {
                    return refuse(
                        Reason::SameAgency,
                        "The application is with this agency already.".into(),
                    );
                }
                comment = Some(match note.filter(|n| !n.trim().is_empty()) {
                    Some(note) => format!("{} → {}: {}", self.agency_code, to_agency, note.trim()),
                    None => format!("{} → {}", self.agency_code, to_agency),
                });
                next.agency_code = to_agency;
            }
        }
        next.status = to;
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(Step {
            application: next,
            event: kind,
            from: self.status,
            to,
            comment,
        })
    }

    /// Saving a draft's form is not a transition: only drafts change in place.
    pub fn save_draft(&self, form_data: Value, now: Instant) -> Result<Application, Refusal> {
        if self.status != Status::Draft {
            return Err(Refusal {
                reason: Reason::NotADraft,
                message: "Only drafts are saved in place; after submission an edit resubmits.".into(),
                allowed: allowed_events(self.status, Party::Applicant),
            });
        }
        let mut next = self.clone();
        next.form_data = form_data;
        next.version += 1;
        next.updated_at = now;
        Ok(next)
    }

    /// Overdue: submitted longer ago than the service's processing time, still undecided.
    pub fn is_overdue(&self, policy: &ServicePolicy, now: Instant) -> bool {
        let open = matches!(
            self.status,
            S::Submitted | S::Resubmitted | S::InReview | S::NeedsInfo | S::Appealed
        );
        open && self
            .submitted_at
            .is_some_and(|at| now > at + TimeDelta::days(policy.processing_days))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn t0() -> Instant {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
    }

    fn draft() -> Application {
        Application::new_draft(
            ApplicationId::new(),
            AccountId::new(),
            "svc".into(),
            "mvd".into(),
            Value::Null,
            t0(),
        )
    }

    fn at(status: Status) -> Application {
        let mut app = draft();
        app.status = status;
        app.previous_status = (status == Status::Cancelled).then_some(Status::Submitted);
        app.decided_at = Some(t0());
        app.cancelled_at = Some(t0());
        app.info_due_at = Some(t0());
        app
    }

    /// An event of `kind` with valid data.
    fn event(kind: EventKind, now: Instant) -> Event {
        match kind {
            E::Submit => Event::Submit,
            E::Edit => Event::Edit {
                form_data: serde_json::json!({"x": 1}),
            },
            E::Take => Event::Take,
            E::RequestInfo => Event::RequestInfo {
                question: "Паспорт?".into(),
                due_at: now + TimeDelta::days(5),
            },
            E::Respond => Event::Respond {
                answer: "Вот".into()
            },
            E::Approve => Event::Approve { comment: None },
            E::Reject => Event::Reject {
                reason: "Нет оснований".into(),
            },
            E::Complete => Event::Complete {
                result: "Выдано".into(),
            },
            E::Appeal => Event::Appeal {
                reason: "Не согласен".into(),
            },
            E::Cancel => Event::Cancel { reason: None },
            E::Restore => Event::Restore,
            E::Expire => Event::Expire,
            E::Forward => Event::Forward {
                to_agency: "fns".into(),
                comment: None,
            },
        }
    }

    fn permissive() -> ServicePolicy {
        ServicePolicy {
            cancellable_in_review: true,
            ..ServicePolicy::default()
        }
    }

    /// Every status × event × party: accepted exactly when the table has the row, landing
    /// where the table says.
    #[test]
    fn the_table_decides_every_combination() {
        let now = t0() + TimeDelta::days(1);
        for status in Status::ALL {
            for kind in EventKind::ALL {
                for by in [Applicant, Officer, System] {
                    let result = at(status).apply(event(kind, now), by, &permissive(), now);
                    match table_target(status, kind, by) {
                        None => {
                            let refusal = result.unwrap_err();
                            assert_eq!(refusal.code(), "invalid_transition", "{status:?} {kind:?} {by:?}");
                            assert_eq!(refusal.allowed, allowed_events(status, by));
                        }
                        Some(target) => {
                            let step = result.unwrap_or_else(|r| panic!("{status:?} {kind:?} {by:?}: {r:?}"));
                            let expected = if kind == E::Restore {
                                Status::Submitted
                            } else {
                                target
                            };
                            assert_eq!(step.to, expected, "{status:?} {kind:?} {by:?}");
                            assert_eq!(step.application.status, expected);
                            assert_eq!(step.application.version, 2);
                        }
                    }
                }
            }
        }
    }

    /// The party an event kind names is the one party the table lets fire it.
    #[test]
    fn each_event_kind_has_the_party_of_its_table_rows() {
        for kind in EventKind::ALL {
            let parties: Vec<Party> = TRANSITIONS
                .iter()
                .filter(|(_, e, _, _)| *e == kind)
                .map(|(_, _, p, _)| *p)
                .collect();
            assert!(!parties.is_empty(), "{kind:?} has no row");
            assert!(
                parties.iter().all(|p| *p == kind.party()),
                "{kind:?}: {parties:?}"
            );
        }
    }

    /// One declaration gives each status and event kind its wire name: the strings the
    /// api answers are the ones serde writes.
    #[test]
    fn wire_names_come_from_one_declaration() {
        for status in Status::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::InReview.as_str(), "in_review");
        assert_eq!(Status::parse("nonsense"), None);
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventKind::RequestInfo.as_str(), "request_info");
    }

    /// The wire codes of refusals are part of the HTTP contract.
    #[test]
    fn refusal_codes_keep_their_wire_names() {
        let codes: Vec<&str> = Reason::all().map(Reason::code).collect();
        assert_eq!(
            codes,
            [
                "invalid_transition",
                "not_editable",
                "not_cancellable",
                "appeal_used",
                "appeal_window_closed",
                "restore_window_closed",
                "not_due",
                "not_a_draft",
                "comment_required",
                "due_date_in_past",
                "same_agency"
            ]
        );
    }

    #[test]
    fn the_full_story_with_an_appeal() {
        let policy = ServicePolicy::default();
        let mut app = draft();
        let mut now = t0();
        let story = [
            (Event::Submit, Applicant, S::Submitted),
            (
                Event::Edit {
                    form_data: serde_json::json!({"a": 2}),
                },
                Applicant,
                S::Resubmitted,
            ),
            (Event::Take, Officer, S::InReview),
            (event(E::RequestInfo, t0()), Officer, S::NeedsInfo),
            (
                Event::Respond {
                    answer: "Копия".into(),
                },
                Applicant,
                S::InReview,
            ),
            (
                Event::Reject {
                    reason: "Неполный пакет".into(),
                },
                Officer,
                S::Rejected,
            ),
            (
                Event::Appeal {
                    reason: "Пакет полный".into(),
                },
                Applicant,
                S::Appealed,
            ),
            (Event::Approve { comment: None }, Officer, S::Approved),
            (
                Event::Complete {
                    result: "Паспорт готов".into(),
                },
                Officer,
                S::Completed,
            ),
        ];
        for (event, by, expected) in story {
            now += TimeDelta::hours(1);
            app = app.apply(event, by, &policy, now).unwrap().application;
            assert_eq!(app.status, expected);
        }
        assert_eq!(app.version, 10);
    }

    #[test]
    fn guards() {
        let strict = ServicePolicy {
            editable_after_submit: false,
            cancellable_in_review: false,
            ..ServicePolicy::default()
        };
        let now = t0() + TimeDelta::days(1);
        let code = |app: &Application, e: Event, by| app.apply(e, by, &strict, now).unwrap_err().code();
        assert_eq!(
            code(&at(S::Submitted), event(E::Edit, now), Applicant),
            "not_editable"
        );
        assert_eq!(
            code(&at(S::InReview), Event::Cancel { reason: None }, Applicant),
            "not_cancellable"
        );
        assert_eq!(
            code(&at(S::InReview), Event::Reject { reason: " ".into() }, Officer),
            "comment_required"
        );
        let past = Event::RequestInfo {
            question: "?".into(),
            due_at: now - TimeDelta::hours(1),
        };
        assert_eq!(code(&at(S::InReview), past, Officer), "due_date_in_past");
        let mut final_rejection = at(S::Rejected);
        final_rejection.appeal_used = true;
        assert_eq!(
            code(&final_rejection, event(E::Appeal, now), Applicant),
            "appeal_used"
        );
        let mut not_due = at(S::NeedsInfo);
        not_due.info_due_at = Some(now + TimeDelta::days(1));
        assert_eq!(code(&not_due, Event::Expire, System), "not_due");
        let mut here = at(S::Submitted);
        here.agency_code = "fns".into();
        assert_eq!(code(&here, event(E::Forward, now), Officer), "same_agency");
    }

    #[test]
    fn appeal_and_restore_windows() {
        let policy = ServicePolicy::default();
        let inside = t0() + TimeDelta::days(30);
        let outside = t0() + TimeDelta::days(30) + TimeDelta::seconds(1);
        assert!(at(S::Rejected)
            .apply(event(E::Appeal, inside), Applicant, &policy, inside)
            .is_ok());
        let late = at(S::Rejected).apply(event(E::Appeal, outside), Applicant, &policy, outside);
        assert_eq!(late.unwrap_err().code(), "appeal_window_closed");
        let restored = at(S::Cancelled)
            .apply(Event::Restore, Applicant, &policy, inside)
            .unwrap();
        assert_eq!(restored.to, S::Submitted);
        let late = at(S::Cancelled).apply(Event::Restore, Applicant, &policy, outside);
        assert_eq!(late.unwrap_err().code(), "restore_window_closed");
    }

    #[test]
    fn forwarding_keeps_the_route_in_the_comment() {
        let step = at(S::InReview)
            .apply(
                Event::Forward {
                    to_agency: "fns".into(),
                    comment: Some("по подведомственности".into()),
                },
                Officer,
                &ServicePolicy::default(),
                t0(),
            )
            .unwrap();
        assert_eq!(step.to, S::Submitted);
        assert_eq!(step.application.agency_code, "fns");
        assert_eq!(step.comment.as_deref(), Some("mvd → fns: по подведомственности"));
    }

    #[test]
    fn overdue_after_the_processing_time() {
        let policy = ServicePolicy {
            processing_days: 10,
            ..ServicePolicy::default()
        };
        let mut app = at(S::Submitted);
        app.submitted_at = Some(t0());
        assert!(!app.is_overdue(&policy, t0() + TimeDelta::days(10)));
        assert!(app.is_overdue(&policy, t0() + TimeDelta::days(11)));
        app.status = S::Completed;
        assert!(!app.is_overdue(&policy, t0() + TimeDelta::days(11)));
    }

    fn any_event() -> impl Strategy<Value = (EventKind, Party)> {
        (0..EventKind::ALL.len(), 0..3usize)
            .prop_map(|(e, p)| (EventKind::ALL[e], [Applicant, Officer, System][p]))
    }

    proptest! {
        /// Random sequences: every accepted step is a table row (restore returns to the
        /// status before the cancellation), history grows by one per accepted event, and
        /// terminal states never move again.
        #[test]
        fn random_sequences_follow_the_table(events in proptest::collection::vec(any_event(), 0..60)) {
            let mut app = draft();
            let mut now = t0();
            let mut history = 0usize;
            let mut before_cancel = None;
            for (kind, by) in events {
                now += TimeDelta::hours(1);
                let was = app.status;
                match app.apply(event(kind, now), by, &permissive(), now) {
                    Ok(step) => {
                        history += 1;
                        prop_assert_eq!(step.from, was);
                        let target = table_target(was, kind, by);
                        prop_assert!(target.is_some());
                        if kind == E::Restore {
                            prop_assert_eq!(Some(step.to), before_cancel);
                        } else {
                            prop_assert_eq!(Some(step.to), target);
                        }
                        if kind == E::Cancel {
                            before_cancel = Some(was);
                        }
                        prop_assert!(!matches!(was, S::Completed | S::Expired), "left a terminal state");
                        app = step.application;
                    }
                    Err(refusal) => prop_assert!(!refusal.code().is_empty()),
                }
            }
            prop_assert_eq!(app.version as usize, 1 + history);
        }
    }
}
