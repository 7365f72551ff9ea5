//! The caller's own sessions: the list, and ending one (or the current one, logging out).

use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::ids::SessionId;
use domain::time::Instant;
use persistence::sessions::{self, Session};
use persistence::DbConnection;
use serde_json::json;

use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// Ends the caller's current session (logout).
pub fn log_out(
    tx: &mut DbConnection,
    who: &Acting,
    session: SessionId,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    end(tx, who, session, "logout", now)
}

/// Ends one of the caller's sessions.
pub fn end_one(
    tx: &mut DbConnection,
    who: &Acting,
    session: SessionId,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    let owner = sessions::owner(tx, session)?.ok_or_else(ApiError::not_found)?;
    authorize(
        &who.subject,
        Action::CredentialsManage,
        &Resource::Account(owner),
        now,
    )?;
    end(tx, who, session, "ended_by_owner", now)
}

fn end(
    tx: &mut DbConnection,
    who: &Acting,
    session: SessionId,
    reason: &'static str,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    if !sessions::revoke(tx, session, reason, now)? {
        return Ok(Outcome::quiet(()));
    }
    let entry = AuditEntry::new("auth.session_ended", "session")
        .by(Some(who.account))
        .target(session)
        .details(json!({ "reason": reason }))
        .from_ip(who.ip.clone());
    Ok(Outcome::new((), Effects::none().audit(entry)))
}

/// The caller's sessions (the 50 most recent).
pub fn list(conn: &mut DbConnection, who: &Acting, now: Instant) -> Result<Vec<Session>, ApiError> {
    who.manages_own_credentials(now)?;
    Ok(sessions::list(conn, who.account)?)
}
