//! What the joint actions on an application share: who the other participants are,
//! telling them, and recording the step (history, audit and the live event) in the same
//! transaction.

use domain::application::Application;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use persistence::applications::{self, NewHistory};
use persistence::events::NewEvent;
use persistence::DbConnection;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::lifecycle::Acting;

/// Everyone on the application: the owner and every participant.
pub fn members(tx: &mut DbConnection, app: &Application) -> Result<Vec<AccountId>, ApiError> {
    let mut members = vec![app.owner];
    members.extend(
        persistence::joint::participants_of(tx, app.id)?
            .into_iter()
            .map(|p| p.account),
    );
    Ok(members)
}

/// A notice about the application for everyone on it but `except` (who did it).
pub struct Tidings<'a> {
    pub kind: &'a str,
    pub title: String,
    pub body: String,
    pub data: Value,
}

pub fn tell_others(
    tx: &mut DbConnection,
    app: &Application,
    except: AccountId,
    tidings: &Tidings,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    for member in members(tx, app)?.into_iter().filter(|m| *m != except) {
        tell(tx, member, tidings, at)?;
    }
    Ok(())
}

pub fn tell(
    tx: &mut DbConnection,
    recipient: AccountId,
    tidings: &Tidings,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let notice = Notice {
        recipient,
        kind: tidings.kind.into(),
        title: tidings.title.clone(),
        body: tidings.body.clone(),
        data: tidings.data.clone(),
        important: false,
    };
    persistence::notifications::notify(tx, &notice, at)?;
    Ok(())
}

/// The application's history entry, the audit record and the live event of a joint
/// action; the event goes to everyone on the application at that moment.
pub fn record(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
    event: &str,
    comment: Option<String>,
    details: Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let entry = NewHistory::of(app, event, Some(app.status))
        .by(Some(acting.account), acting.on_behalf_of)
        .comment(comment);
    applications::append_history(tx, &entry, at)?;
    let audit = AuditEntry::new(format!("application.{event}"), "application")
        .by(Some(acting.account))
        .on_behalf_of(acting.on_behalf_of)
        .target(app.id)
        .details(details.clone())
        .from_ip(acting.ip.clone());
    persistence::audit::record(tx, audit, at)?;
    let event = NewEvent {
        application: app.id,
        kind: format!("application.{event}"),
        data: json!({ "actor": acting.account, "details": details }),
        audience: members(tx, app)?,
    };
    persistence::events::publish(tx, &event, at)?;
    Ok(())
}

/// The name people see for an application: its number, or "черновик".
pub fn title(app: &Application) -> String {
    app.number.clone().unwrap_or_else(|| "черновик".into())
}
