//! What a use case changes besides its own rows: history entries, audit records, live
//! events and notices. A use case returns them in its [`Outcome`]; [`commit`] writes them
//! in the use case's transaction. It is the only caller of the audit, event and notice
//! writers, so no path can forget one of them or write one twice.

use domain::audit::AuditEntry;
use domain::notice::Notice;
use domain::time::Instant;
use persistence::applications::NewHistory;
use persistence::delegations::NewDelegationEvent;
use persistence::events::NewLiveEvent;
use persistence::{DbConnection, StoreError};

/// One history row: of an application or of a delegation.
#[derive(Clone, Debug)]
pub enum History {
    Application(NewHistory),
    Delegation(NewDelegationEvent),
}

/// Everything a use case wants recorded next to its change, in the order it was added.
#[derive(Clone, Debug, Default)]
#[must_use = "effects are written only when returned in an Outcome"]
pub struct Effects {
    history: Vec<History>,
    audit: Vec<AuditEntry>,
    events: Vec<NewLiveEvent>,
    notices: Vec<Notice>,
}

impl Effects {
    pub fn none() -> Effects {
        Effects::default()
    }

    pub fn history(mut self, entry: impl Into<History>) -> Self {
        self.history.push(entry.into());
        self
    }

    pub fn audit(mut self, entry: AuditEntry) -> Self {
        self.audit.push(entry);
        self
    }

    pub fn event(mut self, event: NewLiveEvent) -> Self {
        self.events.push(event);
        self
    }

    pub fn notice(mut self, notice: Notice) -> Self {
        self.notices.push(notice);
        self
    }

    pub fn notices(mut self, notices: impl IntoIterator<Item = Notice>) -> Self {
        self.notices.extend(notices);
        self
    }

    /// Adds another use case's effects after these (a use case built from smaller ones).
    pub fn and(mut self, other: Effects) -> Self {
        self.history.extend(other.history);
        self.audit.extend(other.audit);
        self.events.extend(other.events);
        self.notices.extend(other.notices);
        self
    }
}

impl From<NewHistory> for History {
    fn from(entry: NewHistory) -> History {
        History::Application(entry)
    }
}

impl From<NewDelegationEvent> for History {
    fn from(entry: NewDelegationEvent) -> History {
        History::Delegation(entry)
    }
}

/// What a use case produced: the value the caller gets, and the effects to record.
#[derive(Debug)]
#[must_use]
pub struct Outcome<T> {
    pub value: T,
    pub effects: Effects,
}

impl<T> Outcome<T> {
    pub fn new(value: T, effects: Effects) -> Outcome<T> {
        Outcome { value, effects }
    }

    /// A result with nothing to record (a replayed answer, a no-op).
    pub fn quiet(value: T) -> Outcome<T> {
        Outcome::new(value, Effects::none())
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            value: f(self.value),
            effects: self.effects,
        }
    }

    /// Splits off the effects, so a composing use case can add them to its own.
    pub fn into_parts(self) -> (T, Effects) {
        (self.value, self.effects)
    }
}

/// Writes `effects` in the caller's transaction, at `at`. The one writer of history,
/// audit records, live events and notices.
pub fn commit(tx: &mut DbConnection, effects: Effects, at: Instant) -> Result<(), StoreError> {
    let Effects {
        history,
        audit,
        events,
        notices,
    } = effects;
    let mut applications = Vec::with_capacity(history.len());
    for entry in history {
        match entry {
            History::Application(entry) => applications.push(entry),
            History::Delegation(entry) => persistence::delegations::append_history(tx, &entry, at)?,
        }
    }
    let records = persistence::records::Records {
        history: &applications,
        audit: &audit,
        events: &events,
        notices: &notices,
    };
    persistence::records::write(tx, records, at)
}
