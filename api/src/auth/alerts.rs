//! Security alerts (SPEC §6, §8): a login from a new address, a lockout, a changed password,
//! second factor or contact, a reused refresh token. Each is an important notice to the
//! account holder (in-app, e-mail and SMS) and an audit record, written together in the
//! caller's transaction.

use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use domain::time::Instant;
use persistence::{DbConnection, StoreError};
use serde_json::json;

pub struct Alert {
    pub account: AccountId,
    /// Notification type, stored as `security.<kind>`.
    pub kind: &'static str,
    pub title: &'static str,
    pub body: String,
    /// The audit record of the event the alert is about.
    pub audit: AuditEntry,
}

pub fn raise(tx: &mut DbConnection, alert: Alert, at: Instant) -> Result<(), StoreError> {
    let notice = Notice {
        recipient: alert.account,
        kind: format!("security.{}", alert.kind),
        title: alert.title.into(),
        body: alert.body,
        data: json!({}),
        important: true,
    };
    persistence::notifications::notify(tx, &notice, at)?;
    persistence::audit::record(tx, alert.audit, at)?;
    Ok(())
}
