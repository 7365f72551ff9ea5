//! Typed identifiers: one newtype per entity so an account id can never be passed
//! where an application id is expected. All are UUIDs (v7, time-ordered, per CONTRACT.md).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person's account (citizen, officer, notary or admin).
    AccountId
);
id_type!(
    /// An application (заявление) for a service.
    ApplicationId
);
id_type!(
    /// A delegation of powers (доверенность).
    DelegationId
);
id_type!(
    /// A request for a principal to approve what a representative could not do alone.
    ConfirmationId
);
id_type!(
    /// A proposed change of a delegation's term, awaiting both parties.
    TermChangeId
);
id_type!(
    /// A saved application template.
    TemplateId
);
id_type!(
    /// One record of the audit log.
    AuditRecordId
);
id_type!(
    /// An in-app notification.
    NotificationId
);
id_type!(
    /// A message waiting in (or sent from) the transactional outbox.
    OutboxMessageId
);
id_type!(
    /// An authenticated session (refresh-token family).
    SessionId
);
id_type!(
    /// A document in someone's vault.
    DocumentId
);
id_type!(
    /// A document attached to an application (a snapshot, frozen at submission).
    AttachmentId
);
id_type!(
    /// An invitation to join an application.
    InvitationId
);
id_type!(
    /// A participant's signature of one version of an application.
    SignatureId
);
id_type!(
    /// A comment in an application's thread.
    CommentId
);
id_type!(
    /// A request between participants (for a signature or a document).
    RequestId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = AccountId::new();
        let parsed: AccountId = id.to_string().parse().unwrap_or_default();
        assert_eq!(parsed, id);
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let first = AccountId::new();
        let second = AccountId::new();
        assert!(first < second);
    }
}
