//! Security alerts (SPEC §6, §8): a login from a new address, a lockout, a changed password,
//! second factor or contact, a reused refresh token. Each is an important notice to the
//! account holder (in-app, e-mail and SMS) and an audit record: one value of effects, so
//! the two are always written together, by the one writer, in the use case's transaction.

use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use serde_json::json;

use crate::usecases::Effects;

pub struct Alert {
    pub account: AccountId,
    /// Notification type, stored as `security.<kind>`.
    pub kind: &'static str,
    pub title: &'static str,
    pub body: String,
    /// The audit record of the event the alert is about.
    pub audit: AuditEntry,
}

impl Alert {
    /// The notice and the audit record this alert writes.
    pub fn effects(self) -> Effects {
        let notice = Notice {
            recipient: self.account,
            kind: format!("security.{}", self.kind),
            title: self.title.into(),
            body: self.body,
            data: json!({}),
            important: true,
        };
        Effects::none().notice(notice).audit(self.audit)
    }
}
