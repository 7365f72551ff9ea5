//! Who is on an application and what a joint action records: the history entry, the
//! audit record and the live event to everyone on it, and notices to some of them.

use domain::application::Application;
use domain::ids::AccountId;
use domain::joint::Participant;
use domain::notice::Notice;
use persistence::applications::NewHistory;
use persistence::events::NewLiveEvent;
use persistence::DbConnection;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::Effects;

/// Everyone on the application: the owner and every participant.
pub fn members(tx: &mut DbConnection, app: &Application) -> Result<Vec<AccountId>, ApiError> {
    Ok(members_among(
        app,
        &persistence::joint::participants_of(tx, app.id)?,
    ))
}

/// [`members`] from its participants, already loaded.
pub fn members_among(app: &Application, participants: &[Participant]) -> Vec<AccountId> {
    std::iter::once(app.owner)
        .chain(participants.iter().map(|p| p.account))
        .collect()
}

/// A notice about the application, for some of the people on it.
#[derive(Clone, Debug)]
pub struct Tidings {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub data: Value,
}

impl Tidings {
    pub fn to(&self, recipient: AccountId) -> Notice {
        Notice {
            recipient,
            kind: self.kind.into(),
            title: self.title.clone(),
            body: self.body.clone(),
            data: self.data.clone(),
            important: false,
        }
    }

    /// The notice for each of `recipients`.
    pub fn to_each<'a>(&'a self, recipients: impl IntoIterator<Item = &'a AccountId> + 'a) -> Vec<Notice> {
        recipients.into_iter().map(|r| self.to(*r)).collect()
    }

    /// The notice for everyone in `members` but `except` (who did it).
    pub fn to_others(&self, members: &[AccountId], except: AccountId) -> Vec<Notice> {
        self.to_each(members.iter().filter(|m| **m != except))
    }
}

/// The application's history entry, the audit record and the live event of a joint
/// action named `step`; the live event goes to `audience` (everyone on the application
/// at that moment).
pub fn recorded(
    acting: &Acting,
    app: &Application,
    step: &str,
    comment: Option<String>,
    details: Value,
    audience: Vec<AccountId>,
) -> Effects {
    let entry = NewHistory::of(app, step, Some(app.status))
        .by(Some(acting.account), acting.on_behalf_of)
        .comment(comment);
    let audit = acting
        .audit(format!("application.{step}"), "application")
        .target(app.id)
        .details(details.clone());
    let live = NewLiveEvent {
        application: app.id,
        service: app.service_code.clone(),
        kind: format!("application.{step}"),
        data: json!({ "actor": acting.account, "details": details }),
        audience,
    };
    Effects::none().history(entry).audit(audit).event(live)
}

/// The name people see for an application: its number, or "черновик".
pub fn title(app: &Application) -> String {
    app.number.clone().unwrap_or_else(|| "черновик".into())
}
