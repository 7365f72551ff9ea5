//! The use-case layer: one function per thing a caller can do, in modules per area.
//!
//! Every use case has one shape: it takes the transaction, the acting subject, a typed
//! input and `now`; it loads what it needs, asks the authorization core, calls the pure
//! domain, stores its rows and returns an [`Outcome`] — the value for the caller plus the
//! [`Effects`] (history, audit, live events, notices) that [`AppState::run`] writes with
//! one writer before it commits. Use cases know nothing of HTTP; handlers extract, call
//! `run` and respond.
//!
//! [`AppState::run`]: crate::state::AppState::run

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod catalog;
pub mod confirmations;
pub mod delegations;
pub mod documents;
pub mod effects;
pub mod joint;
pub mod organisations;
pub mod sessions;
pub mod stream_tickets;
pub mod templates;

pub mod proof;
pub mod replays;

pub use effects::{Effects, History, Outcome};

/// A use case's answer, or a refusal whose effects (and counters) are still written: the
/// use case returns it as `Ok(Err(..))` so its transaction commits.
pub type Answered<T> = Result<T, crate::error::ApiError>;

use domain::access::Subject;
use domain::ids::AccountId;

/// Who acts: the caller, and the principal when acting on someone's behalf. Every use case
/// takes it as its acting subject.
#[derive(Clone, Debug)]
pub struct Acting {
    pub subject: Subject,
    pub account: AccountId,
    pub on_behalf_of: Option<uuid::Uuid>,
    pub ip: Option<String>,
}

impl Acting {
    /// Refuses unless the caller acts for themselves on their own credentials (password,
    /// second factor, contacts, sessions): `credentials.manage`, which no delegation covers.
    pub fn manages_own_credentials(&self, now: domain::time::Instant) -> Result<(), crate::error::ApiError> {
        domain::access::authorize(
            &self.subject,
            domain::access::Action::CredentialsManage,
            &domain::access::Resource::Account(self.principal()),
            now,
        )?;
        Ok(())
    }

    /// An audit record of something this caller did: the caller as its actor and, when
    /// acting on behalf, the principal as `on_behalf_of`. Use cases with an acting caller
    /// start their records here, so none names the principal as the one who acted.
    pub fn audit(
        &self,
        action: impl Into<String>,
        target_type: impl Into<String>,
    ) -> domain::audit::AuditEntry {
        domain::audit::AuditEntry::new(action, target_type)
            .by(Some(self.account))
            .on_behalf_of(self.on_behalf_of)
            .from_ip(self.ip.clone())
    }

    /// Whose behalf the caller acts on: the principal, or the caller.
    pub fn principal(&self) -> AccountId {
        self.on_behalf_of
            .map(AccountId::from_uuid)
            .unwrap_or(self.account)
    }
}

impl From<&crate::auth::Actor> for Acting {
    fn from(actor: &crate::auth::Actor) -> Self {
        Acting {
            subject: actor.subject.clone(),
            account: actor.account,
            on_behalf_of: actor.on_behalf_of().map(|p| p.as_uuid()),
            ip: actor.ip.clone(),
        }
    }
}
