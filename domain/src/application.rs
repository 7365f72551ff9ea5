//! The application (заявление) state machine of SPEC §3: statuses, the table of allowed
//! transitions with who may fire each, the guards (service policy, appeal and restore
//! windows, information-request due dates) and one pure function that applies an event.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::ServicePolicy;
use crate::form::Form;
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
    /// The agency gives the applicant more time to answer (also after the due date).
    Extend,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
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
        EventKind::Extend,
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
            | EventKind::Forward
            | EventKind::Extend => Party::Officer,
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
        /// The shortest time to answer, in days (config): see [`earliest_due`].
        min_days: i64,
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
    Extend {
        due_at: Instant,
        min_days: i64,
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
            Event::Extend { .. } => EventKind::Extend,
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
    // An expired request is not a dead end: the agency may give more time.
    (S::NeedsInfo, E::Extend, Officer, S::NeedsInfo),
    (S::Expired, E::Extend, Officer, S::NeedsInfo),
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
    pub form_data: Form,
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
    /// Who had to sign, fixed at the first submission (empty: not a joint application).
    /// Later role changes do not change it: everyone signed what the agency received.
    pub signers: Vec<AccountId>,
    /// The content hash every signer signed last (set at submission, renewed by an answer).
    pub signed_hash: Option<String>,
    /// The agencies that held it before the current one, oldest first (forwarding adds
    /// to it; no application comes back to an agency that passed it on).
    pub route: Vec<String>,
    /// Until when an appeal is possible, fixed at the decision: a later change of the
    /// service's window does not move it. `None` for decisions made before it was kept.
    pub appeal_until: Option<Instant>,
    /// Until when a cancelled application may be restored, fixed at the cancellation.
    pub restore_until: Option<Instant>,
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
            form_data: form_data.into(),
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
            signers: vec![],
            signed_hash: None,
            route: vec![],
            appeal_until: None,
            restore_until: None,
        }
    }

    /// The status that time gives the application: an information request past its due
    /// date is `expired` whether or not the expiry job has run yet.
    pub fn effective_status(&self, now: Instant) -> Status {
        match (self.status, self.info_due_at) {
            (Status::NeedsInfo, Some(due)) if due <= now => Status::Expired,
            (status, _) => status,
        }
    }

    /// The application as seen at `now` (see [`Application::effective_status`]).
    pub fn at(mut self, now: Instant) -> Application {
        self.status = self.effective_status(now);
        self
    }

    /// Whether the content is fixed by the co-applicants' signatures.
    pub fn is_joint(&self) -> bool {
        !self.signers.is_empty()
    }

    /// The last moment of the appeal window: as fixed at the decision, or (for decisions
    /// made before windows were kept) as the service's policy gives it.
    pub fn appeal_deadline(&self, policy: &ServicePolicy) -> Instant {
        self.appeal_until.unwrap_or_else(|| {
            self.decided_at.unwrap_or(self.updated_at) + TimeDelta::days(policy.appeal_window_days)
        })
    }

    /// The last moment of the restore window (see [`Application::appeal_deadline`]).
    pub fn restore_deadline(&self, policy: &ServicePolicy) -> Instant {
        self.restore_until.unwrap_or_else(|| {
            self.cancelled_at.unwrap_or(self.updated_at) + TimeDelta::days(policy.restore_window_days)
        })
    }

    /// Whether forwarding to `agency` is possible: one the service names as able to handle
    /// its applications, that has not held this one before (no loops).
    fn forward_target(&self, agency: &str, policy: &ServicePolicy) -> Result<(), (Reason, String)> {
        if agency == self.agency_code {
            return Err((
                Reason::SameAgency,
                "The application is with this agency already.".into(),
            ));
        }
        if self.route.iter().any(|held| held == agency) {
            return Err((
                Reason::ForwardLoop,
                format!(
                    "The application came from {agency}: it goes back only through the applicant, not in a loop ({}).",
                    self.route_text()
                ),
            ));
        }
        if !policy.forward_to.iter().any(|able| able == agency) {
            return Err((
                Reason::AgencyCannotHandle,
                format!(
                    "This service's applications can be forwarded only to: {}.",
                    if policy.forward_to.is_empty() {
                        "no other agency".to_string()
                    } else {
                        policy.forward_to.join(", ")
                    }
                ),
            ));
        }
        Ok(())
    }

    /// Where an officer may forward it now: the service's other agencies that have not
    /// held it.
    pub fn forward_targets<'a>(&self, policy: &'a ServicePolicy) -> Vec<&'a str> {
        policy
            .forward_to
            .iter()
            .filter(|agency| self.forward_target(agency, policy).is_ok())
            .map(String::as_str)
            .collect()
    }

    /// The agencies that held it, the current one last: `mvd → fns`.
    pub fn route_text(&self) -> String {
        self.route
            .iter()
            .chain(std::iter::once(&self.agency_code))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// The earliest due date an information request (or its extension) may have at `now`:
/// the start of the agencies' calendar day (Moscow) `min_days` days after today, so an
/// applicant has that many calendar days to answer, and a client that asks for
/// "now + N days" is not refused for the milliseconds its request took.
pub fn earliest_due(now: Instant, min_days: i64) -> Instant {
    crate::time::day_start(now, crate::time::DEFAULT_ZONE) + TimeDelta::days(min_days)
}

/// A moment as people read it in messages and the history: local time on the agencies'
/// calendar (Moscow), never "UTC" (`02.12.2026 23:15 MSK`).
fn local(at: Instant) -> String {
    crate::time::local_text(at, crate::time::DEFAULT_ZONE)
}

/// Whether the applicant may start a new application prefilled from this one: the way
/// out of an expired request (the old one stays as it is).
pub fn may_copy(status: Status) -> bool {
    status == Status::Expired
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
    /// A due date closer than the minimum (see [`earliest_due`]).
    DueDateTooSoon,
    /// A joint application's content changes only when the agency asks (the co-applicants
    /// signed what the agency received).
    SignedContentLocked,
    /// Forwarding back to an agency that already passed the application on.
    ForwardLoop,
    /// Forwarding to an agency the service does not name as able to handle it.
    AgencyCannotHandle,
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

fn required(text: &str, what: &str) -> Result<String, (Reason, String)> {
    let text = text.trim();
    if text.is_empty() {
        return Err((Reason::CommentRequired, format!("{what} is required.")));
    }
    Ok(text.to_string())
}

/// A due date the applicant can meet: in the future, and at least `min_days` away.
fn due_date(due_at: Instant, min_days: i64, now: Instant) -> Result<(), (Reason, String)> {
    if due_at <= now {
        return Err((
            Reason::DueDateInPast,
            "The due date must be in the future.".into(),
        ));
    }
    if due_at < earliest_due(now, min_days) {
        return Err((
            Reason::DueDateTooSoon,
            format!("Give the applicant at least {min_days} days to answer."),
        ));
    }
    Ok(())
}

impl Application {
    /// Whether `by` may fire an event of `kind` now, whatever its data: the table and
    /// every guard that depends on the application, the service and time. Where it goes
    /// when allowed. `apply` decides through this function and `next_steps` offers
    /// exactly what it allows, so a hint never promises what a transition refuses.
    pub fn guard(
        &self,
        kind: EventKind,
        by: Party,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Result<Status, (Reason, String)> {
        let from = self.starting_status(kind, now);
        let Some(to) = table_target(from, kind, by) else {
            return Err((
                Reason::InvalidTransition,
                format!(
                    "Cannot {} an application that is {}.",
                    kind.as_str(),
                    from.as_str()
                ),
            ));
        };
        match kind {
            EventKind::Edit if !policy.editable_after_submit => Err((
                Reason::NotEditable,
                "This service does not allow edits after submission.".into(),
            )),
            EventKind::Edit if self.is_joint() => Err((
                Reason::SignedContentLocked,
                "Every co-applicant signed what the agency received: it changes only when the agency asks for information.".into(),
            )),
            EventKind::Cancel if from == Status::InReview && !policy.cancellable_in_review => Err((
                Reason::NotCancellable,
                "This service does not allow cancelling during review.".into(),
            )),
            EventKind::Appeal if self.appeal_used => Err((
                Reason::AppealUsed,
                "The decision on the appeal is final.".into(),
            )),
            EventKind::Appeal if now > self.appeal_deadline(policy) => {
                Err((
                    Reason::AppealWindowClosed,
                    format!(
                        "An appeal was possible until {}.",
                        local(self.appeal_deadline(policy))
                    ),
                ))
            }
            EventKind::Restore if now > self.restore_deadline(policy) => Err((
                Reason::RestoreWindowClosed,
                format!(
                    "A restore was possible until {}.",
                    local(self.restore_deadline(policy))
                ),
            )),
            EventKind::Restore => Ok(self.previous_status.unwrap_or(Status::Draft)),
            EventKind::Forward if self.forward_targets(policy).is_empty() => Err((
                Reason::AgencyCannotHandle,
                format!(
                    "No other agency can take this application (its route: {}).",
                    self.route_text()
                ),
            )),
            EventKind::Expire if self.info_due_at.is_some_and(|due| due > now) => Err((
                Reason::NotDue,
                "The information request is not due yet.".into(),
            )),
            _ => Ok(to),
        }
    }

    /// The status an event of `kind` starts from: the effective one, except for the
    /// expiry job, which records what time has already decided.
    fn starting_status(&self, kind: EventKind, now: Instant) -> Status {
        if kind == EventKind::Expire {
            self.status
        } else {
            self.effective_status(now)
        }
    }

    /// The events `by` may fire now: exactly those [`Application::guard`] allows.
    pub fn next_steps(&self, by: Party, policy: &ServicePolicy, now: Instant) -> Vec<EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(|kind| kind.party() == by && self.guard(*kind, by, policy, now).is_ok())
            .collect()
    }

    /// Applies `event` fired by `by` under `policy` at `now`. Pure: the caller stores the
    /// result (and its history entry) or answers the refusal.
    pub fn apply(
        &self,
        event: Event,
        by: Party,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Result<Step, Refusal> {
        let kind = event.kind();
        let from = self.starting_status(kind, now);
        let refuse = |(reason, message): (Reason, String)| Refusal {
            reason,
            message,
            allowed: self.next_steps(by, policy, now),
        };
        // Where a forward may not go says more than "nowhere left to go".
        if let Event::Forward { to_agency, .. } = &event {
            let named = to_agency.trim();
            if !named.is_empty() && table_target(from, kind, by).is_some() {
                self.forward_target(named, policy).map_err(refuse)?;
            }
        }
        let to = self.guard(kind, by, policy, now).map_err(refuse)?;
        let mut next = self.clone();
        let comment = next.change(event, from, policy, now).map_err(refuse)?;
        next.status = to;
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(Step {
            application: next,
            event: kind,
            from,
            to,
            comment,
        })
    }

    /// What `event` changes besides the status (which [`Application::guard`] decided),
    /// and the history comment it leaves.
    fn change(
        &mut self,
        event: Event,
        from: Status,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Result<Option<String>, (Reason, String)> {
        let days = |n: i64| now + TimeDelta::days(n);
        match event {
            Event::Submit => self.submitted_at = Some(now),
            Event::Edit { form_data } => self.form_data = form_data.into(),
            Event::Take | Event::Expire => {}
            Event::RequestInfo {
                question,
                due_at,
                min_days,
            } => return self.ask(question, due_at, min_days, now).map(Some),
            Event::Extend {
                due_at,
                min_days,
                comment,
            } => return self.extend(due_at, min_days, comment, now).map(Some),
            Event::Respond { answer } => {
                self.info_request = None;
                self.info_due_at = None;
                return required(&answer, "An answer").map(Some);
            }
            Event::Approve { comment } => {
                self.decide(from, days(policy.appeal_window_days), now);
                return Ok(comment.filter(|n| !n.trim().is_empty()));
            }
            Event::Reject { reason } => {
                let reason = required(&reason, "A reason")?;
                self.decide(from, days(policy.appeal_window_days), now);
                self.rejection_reason = Some(reason.clone());
                return Ok(Some(reason));
            }
            Event::Complete { result } => {
                let result = required(&result, "A result")?;
                self.result_note = Some(result.clone());
                return Ok(Some(result));
            }
            Event::Appeal { reason } => return required(&reason, "A reason").map(Some),
            Event::Cancel { reason } => {
                self.previous_status = Some(from);
                self.cancelled_at = Some(now);
                self.restore_until = Some(days(policy.restore_window_days));
                return Ok(reason.filter(|r| !r.trim().is_empty()));
            }
            Event::Restore => {
                self.previous_status = None;
                self.cancelled_at = None;
                self.restore_until = None;
            }
            Event::Forward { to_agency, comment } => {
                return self.forward(to_agency, comment, policy).map(Some)
            }
        }
        Ok(None)
    }

    fn ask(
        &mut self,
        question: String,
        due_at: Instant,
        min_days: i64,
        now: Instant,
    ) -> Result<String, (Reason, String)> {
        let question = required(&question, "A question")?;
        due_date(due_at, min_days, now)?;
        self.info_request = Some(question.clone());
        self.info_due_at = Some(due_at);
        Ok(question)
    }

    fn extend(
        &mut self,
        due_at: Instant,
        min_days: i64,
        note: Option<String>,
        now: Instant,
    ) -> Result<String, (Reason, String)> {
        due_date(due_at, min_days, now)?;
        self.info_due_at = Some(due_at);
        Ok(match note.filter(|n| !n.trim().is_empty()) {
            Some(note) => format!("до {}: {}", local(due_at), note.trim()),
            None => format!("до {}", local(due_at)),
        })
    }

    /// A decision opens the appeal window, fixed now; one on an appeal is final.
    fn decide(&mut self, from: Status, appeal_until: Instant, now: Instant) {
        self.decided_at = Some(now);
        self.appeal_until = Some(appeal_until);
        self.appeal_used = from == Status::Appealed;
    }

    fn forward(
        &mut self,
        to_agency: String,
        note: Option<String>,
        policy: &ServicePolicy,
    ) -> Result<String, (Reason, String)> {
        let to_agency = required(&to_agency, "The target agency")?;
        self.forward_target(&to_agency, policy)?;
        let hop = format!("{} → {}", self.agency_code, to_agency);
        self.route
            .push(std::mem::replace(&mut self.agency_code, to_agency));
        Ok(match note.filter(|n| !n.trim().is_empty()) {
            Some(note) => format!("{hop}: {}", note.trim()),
            None => hop,
        })
    }

    /// Saving a draft's form is not a transition: only drafts change in place.
    pub fn save_draft(
        &self,
        form_data: Value,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Result<Application, Refusal> {
        if self.status != Status::Draft {
            return Err(Refusal {
                reason: Reason::NotADraft,
                message: "Only drafts are saved in place; after submission an edit resubmits.".into(),
                allowed: self.next_steps(Party::Applicant, policy, now),
            });
        }
        let mut next = self.clone();
        next.form_data = form_data.into();
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
        // Expired applications were asked and not answered in time; the others are not due.
        app.info_due_at = Some(if status == Status::Expired {
            t0()
        } else {
            t0() + TimeDelta::days(30)
        });
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
                min_days: 3,
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
            E::Extend => Event::Extend {
                due_at: now + TimeDelta::days(5),
                min_days: 3,
                comment: None,
            },
        }
    }

    fn permissive() -> ServicePolicy {
        ServicePolicy {
            cancellable_in_review: true,
            forward_to: vec!["fns".into()],
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
                    let mut app = at(status);
                    if kind == E::Expire {
                        app.info_due_at = Some(t0());
                    }
                    let result = app.apply(event(kind, now), by, &permissive(), now);
                    match table_target(status, kind, by) {
                        None => {
                            let refusal = result.unwrap_err();
                            assert_eq!(refusal.code(), "invalid_transition", "{status:?} {kind:?} {by:?}");
                            assert_eq!(refusal.allowed, app.next_steps(by, &permissive(), now));
                            assert!(refusal
                                .allowed
                                .iter()
                                .all(|e| allowed_events(status, by).contains(e)));
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
                "same_agency",
                "due_date_too_soon",
                "signed_content_locked",
                "forward_loop",
                "agency_cannot_handle"
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
            min_days: 3,
        };
        assert_eq!(code(&at(S::InReview), past, Officer), "due_date_in_past");
        let soon = Event::RequestInfo {
            question: "?".into(),
            due_at: now + TimeDelta::seconds(2),
            min_days: 3,
        };
        assert_eq!(code(&at(S::InReview), soon, Officer), "due_date_too_soon");
        let extension = |days| Event::Extend {
            due_at: now + TimeDelta::days(days),
            min_days: 3,
            comment: None,
        };
        assert_eq!(code(&at(S::Expired), extension(2), Officer), "due_date_too_soon");
        assert!(at(S::Expired).apply(extension(3), Officer, &strict, now).is_ok());
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
        let elsewhere = ServicePolicy {
            forward_to: vec!["fns".into(), "gibdd".into()],
            ..ServicePolicy::default()
        };
        let refusal = here.apply(event(E::Forward, now), Officer, &elsewhere, now);
        assert_eq!(refusal.unwrap_err().code(), "same_agency");
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

    fn forward(app: &Application, to: &str, policy: &ServicePolicy) -> Result<Step, Refusal> {
        let event = Event::Forward {
            to_agency: to.into(),
            comment: Some("по подведомственности".into()),
        };
        app.apply(event, Officer, policy, t0())
    }

    #[test]
    fn forwarding_keeps_the_route_in_the_comment() {
        let policy = ServicePolicy {
            forward_to: vec!["fns".into(), "gibdd".into()],
            ..ServicePolicy::default()
        };
        let step = forward(&at(S::InReview), "fns", &policy).unwrap();
        assert_eq!(step.to, S::Submitted);
        assert_eq!(step.application.agency_code, "fns");
        assert_eq!(step.comment.as_deref(), Some("mvd → fns: по подведомственности"));
        let onward = forward(&step.application, "gibdd", &policy).unwrap();
        assert_eq!(onward.application.route, ["mvd", "fns"]);
        assert_eq!(onward.application.route_text(), "mvd → fns → gibdd");
    }

    /// mvd → fns → mvd is a loop; a passport case does not go to an agency the service
    /// does not name; with nowhere left to go, forwarding is not offered.
    #[test]
    fn forwarding_goes_only_where_the_service_allows_and_never_back() {
        let policy = ServicePolicy {
            forward_to: vec!["fns".into(), "gibdd".into()],
            ..ServicePolicy::default()
        };
        let away = forward(&at(S::InReview), "fns", &policy).unwrap().application;
        assert_eq!(forward(&away, "mvd", &policy).unwrap_err().code(), "forward_loop");
        let last = forward(&away, "gibdd", &policy).unwrap().application;
        assert_eq!(
            forward(&at(S::InReview), "rosreestr", &policy)
                .unwrap_err()
                .code(),
            "agency_cannot_handle"
        );
        assert!(!last.next_steps(Officer, &policy, t0()).contains(&E::Forward));
        assert_eq!(forward(&last, "fns", &policy).unwrap_err().code(), "forward_loop");
        assert!(at(S::InReview)
            .next_steps(Officer, &policy, t0())
            .contains(&E::Forward));
        let nowhere = ServicePolicy::default();
        assert!(!at(S::InReview)
            .next_steps(Officer, &nowhere, t0())
            .contains(&E::Forward));
    }

    /// A window is what it was when it opened: shortening the service's restore or appeal
    /// window does not shorten it for applications already cancelled or decided.
    #[test]
    fn windows_are_fixed_when_they_open() {
        let long = ServicePolicy {
            restore_window_days: 30,
            appeal_window_days: 30,
            ..ServicePolicy::default()
        };
        let short = ServicePolicy {
            restore_window_days: 1,
            appeal_window_days: 1,
            ..ServicePolicy::default()
        };
        let later = t0() + TimeDelta::days(10);
        let cancelled = at(S::Submitted)
            .apply(Event::Cancel { reason: None }, Applicant, &long, t0())
            .unwrap()
            .application;
        assert!(cancelled.apply(Event::Restore, Applicant, &short, later).is_ok());
        let rejected = at(S::InReview)
            .apply(event(E::Reject, t0()), Officer, &long, t0())
            .unwrap()
            .application;
        assert!(rejected
            .apply(event(E::Appeal, later), Applicant, &short, later)
            .is_ok());
        // Windows opened under the short policy stay short.
        let briefly = at(S::Submitted)
            .apply(Event::Cancel { reason: None }, Applicant, &short, t0())
            .unwrap()
            .application;
        let refused = briefly
            .apply(Event::Restore, Applicant, &long, later)
            .unwrap_err();
        assert_eq!(refused.code(), "restore_window_closed");
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

    /// An event of `kind` with data the guards accept for `app` (a forward goes to an
    /// agency it may still go to).
    fn valid_event(kind: EventKind, app: &Application, policy: &ServicePolicy, now: Instant) -> Event {
        match kind {
            E::Forward => Event::Forward {
                to_agency: app.forward_targets(policy).first().unwrap_or(&"fns").to_string(),
                comment: None,
            },
            _ => event(kind, now),
        }
    }

    fn any_policy() -> impl Strategy<Value = ServicePolicy> {
        let agencies = proptest::sample::subsequence(vec!["fns", "gibdd", "sfr"], 0..=3);
        (any::<bool>(), any::<bool>(), 1..40i64, 1..40i64, agencies).prop_map(
            |(edit, cancel, appeal, restore, forward_to)| ServicePolicy {
                editable_after_submit: edit,
                cancellable_in_review: cancel,
                appeal_window_days: appeal,
                restore_window_days: restore,
                forward_to: forward_to.into_iter().map(String::from).collect(),
                ..ServicePolicy::default()
            },
        )
    }

    /// The seen lies: `appeal` after the final decision, `edit` where the service forbids
    /// it, and `restore` offered in the refusal that says the restore window closed.
    #[test]
    fn hints_do_not_offer_what_is_refused() {
        let now = t0() + TimeDelta::days(1);
        let mut final_rejection = at(S::Rejected);
        final_rejection.appeal_used = true;
        assert!(!final_rejection
            .next_steps(Applicant, &permissive(), now)
            .contains(&E::Appeal));
        let strict = ServicePolicy {
            editable_after_submit: false,
            ..ServicePolicy::default()
        };
        assert_eq!(at(S::Submitted).next_steps(Applicant, &strict, now), [E::Cancel]);
        let late = t0() + TimeDelta::days(31);
        let refusal = at(S::Cancelled)
            .apply(Event::Restore, Applicant, &permissive(), late)
            .unwrap_err();
        assert_eq!(refusal.code(), "restore_window_closed");
        assert!(!refusal.allowed.contains(&E::Restore), "{:?}", refusal.allowed);
        let mut joint = at(S::Submitted);
        joint.signers = vec![joint.owner, AccountId::new()];
        assert!(!joint.next_steps(Applicant, &permissive(), now).contains(&E::Edit));
    }

    #[test]
    fn the_minimum_counts_calendar_days_in_moscow() {
        // 23:30 UTC on 1 Nov is 02:30 on 2 Nov in Moscow: three days on is 5 Nov, 00:00 MSK.
        let late_evening = Utc.with_ymd_and_hms(2026, 11, 1, 23, 30, 0).unwrap();
        assert_eq!(
            earliest_due(late_evening, 3),
            Utc.with_ymd_and_hms(2026, 11, 4, 21, 0, 0).unwrap()
        );
        assert_eq!(
            earliest_due(t0(), 3),
            Utc.with_ymd_and_hms(2026, 11, 3, 21, 0, 0).unwrap()
        );
    }

    #[test]
    fn an_unanswered_request_expires_with_time_and_the_agency_may_extend() {
        let mut asked = at(S::NeedsInfo);
        asked.info_due_at = Some(t0() + TimeDelta::days(3));
        let policy = ServicePolicy::default();
        let before = t0() + TimeDelta::days(3) - TimeDelta::seconds(1);
        let after = t0() + TimeDelta::days(3) + TimeDelta::seconds(2);
        assert_eq!(asked.effective_status(before), S::NeedsInfo);
        assert_eq!(asked.effective_status(after), S::Expired);
        assert!(asked
            .apply(event(E::Respond, before), Applicant, &policy, before)
            .is_ok());
        let late = asked
            .apply(event(E::Respond, after), Applicant, &policy, after)
            .unwrap_err();
        assert_eq!(late.code(), "invalid_transition");
        assert_eq!(asked.next_steps(Officer, &policy, after), [E::Extend]);
        let extended = asked
            .apply(event(E::Extend, after), Officer, &policy, after)
            .unwrap();
        assert_eq!((extended.from, extended.to), (S::Expired, S::NeedsInfo));
        // Five days after that is 9 Nov, 09:00 UTC: 12:00 in Moscow, as people read it.
        assert_eq!(extended.comment.as_deref(), Some("до 09.11.2026 12:00 MSK"));
        assert!(extended
            .application
            .apply(event(E::Respond, after), Applicant, &policy, after)
            .is_ok());
        assert!(may_copy(S::Expired) && !may_copy(S::NeedsInfo));
    }

    proptest! {
        /// Hints tell the truth: along random histories (random services, random pauses),
        /// every step offered to a party is accepted with valid data, every step not
        /// offered is refused, and a refusal's context lists exactly what is offered.
        #[test]
        fn every_offered_step_is_accepted_and_every_refused_one_is_not_offered(
            policy in any_policy(),
            joint in any::<bool>(),
            events in proptest::collection::vec((0..EventKind::ALL.len(), 0..24 * 40i64), 0..50),
        ) {
            let mut app = draft();
            if joint {
                app.signers = vec![app.owner, AccountId::new()];
            }
            let mut now = t0();
            for (index, pause_hours) in events {
                now += TimeDelta::hours(pause_hours);
                for kind in EventKind::ALL {
                    let by = kind.party();
                    let offered = app.next_steps(by, &policy, now);
                    match app.apply(valid_event(kind, &app, &policy, now), by, &policy, now) {
                        Ok(_) => prop_assert!(offered.contains(&kind), "{:?} accepted, not offered", kind),
                        Err(refusal) => {
                            prop_assert!(!offered.contains(&kind), "{:?} offered, refused: {:?}", kind, refusal);
                            prop_assert_eq!(refusal.allowed, offered);
                        }
                    }
                }
                let kind = EventKind::ALL[index];
                if let Ok(step) = app.apply(valid_event(kind, &app, &policy, now), kind.party(), &policy, now) {
                    app = step.application;
                }
            }
        }
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
                let was = if kind == E::Expire { app.status } else { app.effective_status(now) };
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
                        prop_assert!(was != S::Completed, "left a terminal state");
                        app = step.application;
                    }
                    Err(refusal) => prop_assert!(!refusal.code().is_empty()),
                }
            }
            prop_assert_eq!(app.version as usize, 1 + history);
        }
    }
}
