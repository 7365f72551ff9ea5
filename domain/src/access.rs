//! The one authorization core: every handler asks [`authorize`] whether an actor may take
//! an action on a resource, and gets allow or a denial with a machine code. No handler
//! decides permissions itself.

use serde::{Deserialize, Serialize};

use crate::account::AccountLevel;
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
    #[serde(rename = "profile.read")]
    ProfileRead,
    #[serde(rename = "profile.edit")]
    ProfileEdit,
    /// Password, 2FA, contacts, sessions: never delegable.
    #[serde(rename = "credentials.manage")]
    CredentialsManage,
    #[serde(rename = "accounts.confirm_identity")]
    AccountsConfirmIdentity,
    #[serde(rename = "audit.verify")]
    AuditVerify,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::ProfileRead,
        Action::ProfileEdit,
        Action::CredentialsManage,
        Action::AccountsConfirmIdentity,
        Action::AuditVerify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ProfileRead => "profile.read",
            Action::ProfileEdit => "profile.edit",
            Action::CredentialsManage => "credentials.manage",
            Action::AccountsConfirmIdentity => "accounts.confirm_identity",
            Action::AuditVerify => "audit.verify",
        }
    }
}

/// Who is acting, as established by authentication (and the database, for level and
/// roles, so a confirmation or a role change counts from the very next request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub account: AccountId,
    pub roles: Vec<Role>,
    pub level: AccountLevel,
    /// Authenticated with a second factor in this session.
    pub mfa: bool,
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
    /// One account (its profile, credentials, identity).
    Account(AccountId),
}

/// Why an action is refused; the code is part of the HTTP contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The caller lacks the role the action needs.
    RoleRequired,
    /// The resource belongs to someone else (and its existence is not the caller's business).
    NotOwner,
    /// The account's identity is not established enough.
    LevelTooLow,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::RoleRequired => "role_required",
            Denial::NotOwner => "not_owner",
            Denial::LevelTooLow => "level_too_low",
        }
    }

    /// Whether the caller may know the resource exists; if not, the answer is 404.
    pub fn reveals_resource(self) -> bool {
        match self {
            Denial::RoleRequired | Denial::LevelTooLow => true,
            Denial::NotOwner => false,
        }
    }
}

fn require(condition: bool, denial: Denial) -> Result<(), Denial> {
    if condition {
        Ok(())
    } else {
        Err(denial)
    }
}

pub fn authorize(
    subject: &Subject,
    action: Action,
    resource: &Resource,
    _now: Instant,
) -> Result<(), Denial> {
    match (action, resource) {
        (Action::ProfileRead | Action::ProfileEdit | Action::CredentialsManage, Resource::Account(owner)) => {
            require(*owner == subject.account, Denial::NotOwner)
        }
        (Action::AccountsConfirmIdentity, Resource::Account(_)) => require(
            subject.has_role(Role::Officer) || subject.has_role(Role::Admin),
            Denial::RoleRequired,
        ),
        (Action::AuditVerify, Resource::System) => {
            require(subject.has_role(Role::Admin), Denial::RoleRequired)
        }
        // An action asked about a resource it does not apply to is a programming error;
        // refuse it in a way that reveals nothing.
        _ => Err(Denial::NotOwner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn subject(account: AccountId, roles: &[Role]) -> Subject {
        Subject {
            account,
            roles: roles.to_vec(),
            level: AccountLevel::Confirmed,
            mfa: false,
        }
    }

    /// Every role × action × relation (own account, someone else's, the system).
    #[test]
    fn the_table() {
        let me = AccountId::new();
        let other = AccountId::new();
        for role in Role::ALL {
            let s = subject(me, &[role]);
            for action in Action::ALL {
                for (relation, resource) in [
                    ("own", Resource::Account(me)),
                    ("other", Resource::Account(other)),
                    ("system", Resource::System),
                ] {
                    let staff = matches!(role, Role::Officer | Role::Admin);
                    let expected = match (action, relation) {
                        (Action::ProfileRead | Action::ProfileEdit | Action::CredentialsManage, "own") => {
                            Ok(())
                        }
                        (Action::AccountsConfirmIdentity, "own" | "other") if staff => Ok(()),
                        (Action::AccountsConfirmIdentity, "own" | "other") => Err(Denial::RoleRequired),
                        (Action::AuditVerify, "system") if role == Role::Admin => Ok(()),
                        (Action::AuditVerify, "system") => Err(Denial::RoleRequired),
                        _ => Err(Denial::NotOwner),
                    };
                    assert_eq!(
                        authorize(&s, action, &resource, Utc::now()),
                        expected,
                        "{role:?} {action:?} {relation}"
                    );
                }
            }
        }
    }

    #[test]
    fn hidden_denials_become_not_found() {
        assert!(!Denial::NotOwner.reveals_resource());
        assert!(Denial::RoleRequired.reveals_resource());
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
