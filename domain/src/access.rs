//! The one authorization core: every handler asks [`authorize`] whether an actor may take
//! an action on a resource, and gets allow or a denial with a machine code. No handler
//! decides permissions itself.

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;
use crate::time::Instant;

/// What an account is in the service. An account may hold several roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Officer,
    Notary,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Citizen, Role::Officer, Role::Notary, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Officer => "officer",
            Role::Notary => "notary",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Actions are a closed set: adding a capability means adding a variant here, where the
/// rule for it must also be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "audit.verify")]
    AuditVerify,
}

impl Action {
    pub const ALL: [Action; 1] = [Action::AuditVerify];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuditVerify => "audit.verify",
        }
    }
}

/// Who is acting, as established by authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub account: AccountId,
    pub roles: Vec<Role>,
}

impl Subject {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What the action is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The service as a whole (audit log, catalog administration).
    System,
}

/// Why an action is refused; the code is part of the HTTP contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The caller lacks the role the action needs.
    RoleRequired,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::RoleRequired => "role_required",
        }
    }

    /// Whether the caller may know the resource exists; if not, the answer is 404.
    pub fn reveals_resource(self) -> bool {
        match self {
            Denial::RoleRequired => true,
        }
    }
}

pub fn authorize(
    subject: &Subject,
    action: Action,
    resource: &Resource,
    _now: Instant,
) -> Result<(), Denial> {
    match (action, resource) {
        (Action::AuditVerify, Resource::System) => {
            if subject.has_role(Role::Admin) {
                Ok(())
            } else {
                Err(Denial::RoleRequired)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn subject(roles: &[Role]) -> Subject {
        Subject {
            account: AccountId::new(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn only_admins_verify_the_audit_log() {
        for role in Role::ALL {
            let decision = authorize(
                &subject(&[role]),
                Action::AuditVerify,
                &Resource::System,
                Utc::now(),
            );
            let expected = if role == Role::Admin {
                Ok(())
            } else {
                Err(Denial::RoleRequired)
            };
            assert_eq!(decision, expected, "{role:?}");
        }
    }

    #[test]
    fn roles_and_actions_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for action in Action::ALL {
            let json = serde_json::to_value(action).ok();
            assert_eq!(json, Some(serde_json::Value::String(action.as_str().into())));
        }
    }
}
