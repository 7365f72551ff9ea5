//! The one authorization core: every handler asks [`authorize`] whether an actor may take
//! an action on a resource, and gets allow or a denial with a machine code. No handler
//! decides permissions itself.

use serde::{Deserialize, Serialize};

use crate::account::AccountLevel;
use crate::application::Status;
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
    #[serde(rename = "catalog.manage")]
    CatalogManage,
    #[serde(rename = "applications.read")]
    ApplicationsRead,
    #[serde(rename = "applications.create")]
    ApplicationsCreate,
    #[serde(rename = "applications.edit")]
    ApplicationsEdit,
    #[serde(rename = "applications.submit")]
    ApplicationsSubmit,
    #[serde(rename = "applications.cancel")]
    ApplicationsCancel,
    #[serde(rename = "applications.restore")]
    ApplicationsRestore,
    #[serde(rename = "applications.appeal")]
    ApplicationsAppeal,
    #[serde(rename = "applications.respond")]
    ApplicationsRespond,
    #[serde(rename = "applications.take")]
    ApplicationsTake,
    #[serde(rename = "applications.request_info")]
    ApplicationsRequestInfo,
    #[serde(rename = "applications.decide")]
    ApplicationsDecide,
    #[serde(rename = "applications.complete")]
    ApplicationsComplete,
    #[serde(rename = "applications.forward")]
    ApplicationsForward,
    #[serde(rename = "agency.queue")]
    AgencyQueueRead,
    #[serde(rename = "documents.read")]
    DocumentsRead,
    #[serde(rename = "documents.upload")]
    DocumentsUpload,
    #[serde(rename = "payments.read")]
    PaymentsRead,
    #[serde(rename = "payments.pay")]
    PaymentsPay,
    #[serde(rename = "notifications.read")]
    NotificationsRead,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::ProfileRead,
        Action::ProfileEdit,
        Action::CredentialsManage,
        Action::AccountsConfirmIdentity,
        Action::AuditVerify,
        Action::CatalogManage,
        Action::ApplicationsRead,
        Action::ApplicationsCreate,
        Action::ApplicationsEdit,
        Action::ApplicationsSubmit,
        Action::ApplicationsCancel,
        Action::ApplicationsRestore,
        Action::ApplicationsAppeal,
        Action::ApplicationsRespond,
        Action::ApplicationsTake,
        Action::ApplicationsRequestInfo,
        Action::ApplicationsDecide,
        Action::ApplicationsComplete,
        Action::ApplicationsForward,
        Action::AgencyQueueRead,
        Action::DocumentsRead,
        Action::DocumentsUpload,
        Action::PaymentsRead,
        Action::PaymentsPay,
        Action::NotificationsRead,
    ];

    /// What the applicant side does with its own applications.
    pub const APPLICANT: [Action; 8] = [
        Action::ApplicationsRead,
        Action::ApplicationsCreate,
        Action::ApplicationsEdit,
        Action::ApplicationsSubmit,
        Action::ApplicationsCancel,
        Action::ApplicationsRestore,
        Action::ApplicationsAppeal,
        Action::ApplicationsRespond,
    ];

    /// What an officer does with applications in the agency's queue.
    pub const OFFICER: [Action; 5] = [
        Action::ApplicationsTake,
        Action::ApplicationsRequestInfo,
        Action::ApplicationsDecide,
        Action::ApplicationsComplete,
        Action::ApplicationsForward,
    ];

    /// Changes as opposed to reads (a `limited` delegation never allows these).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            Action::ProfileRead
                | Action::ApplicationsRead
                | Action::AgencyQueueRead
                | Action::DocumentsRead
                | Action::PaymentsRead
                | Action::NotificationsRead
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ProfileRead => "profile.read",
            Action::ProfileEdit => "profile.edit",
            Action::CredentialsManage => "credentials.manage",
            Action::AccountsConfirmIdentity => "accounts.confirm_identity",
            Action::AuditVerify => "audit.verify",
            Action::CatalogManage => "catalog.manage",
            Action::ApplicationsRead => "applications.read",
            Action::ApplicationsCreate => "applications.create",
            Action::ApplicationsEdit => "applications.edit",
            Action::ApplicationsSubmit => "applications.submit",
            Action::ApplicationsCancel => "applications.cancel",
            Action::ApplicationsRestore => "applications.restore",
            Action::ApplicationsAppeal => "applications.appeal",
            Action::ApplicationsRespond => "applications.respond",
            Action::ApplicationsTake => "applications.take",
            Action::ApplicationsRequestInfo => "applications.request_info",
            Action::ApplicationsDecide => "applications.decide",
            Action::ApplicationsComplete => "applications.complete",
            Action::ApplicationsForward => "applications.forward",
            Action::AgencyQueueRead => "agency.queue",
            Action::DocumentsRead => "documents.read",
            Action::DocumentsUpload => "documents.upload",
            Action::PaymentsRead => "payments.read",
            Action::PaymentsPay => "payments.pay",
            Action::NotificationsRead => "notifications.read",
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
    /// The officer's agency.
    pub agency: Option<String>,
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
    /// One account (its profile, credentials, identity, and what it owns).
    Account(AccountId),
    /// An application (or one about to be created).
    Application(ApplicationFacts),
    /// An agency's queue.
    Agency(String),
}

/// What authorization needs to know about an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationFacts {
    pub owner: AccountId,
    pub service_code: String,
    /// The agency handling it now.
    pub agency_code: String,
    pub status: Status,
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
    /// An officer acting outside their agency (who must not learn what other agencies hold).
    WrongAgency,
    /// The caller sees the application but is not its applicant.
    NotApplicant,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::RoleRequired => "role_required",
            Denial::NotOwner => "not_owner",
            Denial::LevelTooLow => "level_too_low",
            Denial::WrongAgency => "wrong_agency",
            Denial::NotApplicant => "not_applicant",
        }
    }

    /// Whether the caller may know the resource exists; if not, the answer is 404.
    pub fn reveals_resource(self) -> bool {
        match self {
            Denial::RoleRequired | Denial::LevelTooLow | Denial::NotApplicant => true,
            Denial::NotOwner | Denial::WrongAgency => false,
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
        (Action::AuditVerify | Action::CatalogManage, Resource::System) => {
            require(subject.has_role(Role::Admin), Denial::RoleRequired)
        }
        (
            Action::DocumentsRead
            | Action::DocumentsUpload
            | Action::PaymentsRead
            | Action::PaymentsPay
            | Action::NotificationsRead,
            Resource::Account(owner),
        ) => require(*owner == subject.account, Denial::NotOwner),
        (action, Resource::Application(app)) if Action::APPLICANT.contains(&action) => {
            applicant(subject, action, app)
        }
        (action, Resource::Application(app)) if Action::OFFICER.contains(&action) => officer(subject, app),
        (Action::AgencyQueueRead, Resource::Agency(code)) => {
            require(subject.has_role(Role::Officer), Denial::RoleRequired)?;
            require(
                subject.agency.as_deref() == Some(code.as_str()),
                Denial::WrongAgency,
            )
        }
        // An action asked about a resource it does not apply to is a programming error;
        // refuse it in a way that reveals nothing.
        _ => Err(Denial::NotOwner),
    }
}

/// Whether the subject is an officer of the agency now handling `app`, and may see it.
fn handles(subject: &Subject, app: &ApplicationFacts) -> bool {
    subject.has_role(Role::Officer)
        && subject.agency.as_deref() == Some(app.agency_code.as_str())
        && app.status.is_visible_to_agency()
}

fn applicant(subject: &Subject, action: Action, app: &ApplicationFacts) -> Result<(), Denial> {
    if app.owner == subject.account {
        if action == Action::ApplicationsSubmit {
            return require(subject.level == AccountLevel::Confirmed, Denial::LevelTooLow);
        }
        return Ok(());
    }
    if handles(subject, app) {
        return require(action == Action::ApplicationsRead, Denial::NotApplicant);
    }
    Err(if subject.has_role(Role::Officer) {
        Denial::WrongAgency
    } else {
        Denial::NotOwner
    })
}

fn officer(subject: &Subject, app: &ApplicationFacts) -> Result<(), Denial> {
    if handles(subject, app) {
        return Ok(());
    }
    if app.owner == subject.account {
        return Err(Denial::RoleRequired);
    }
    Err(if subject.has_role(Role::Officer) {
        Denial::WrongAgency
    } else {
        Denial::NotOwner
    })
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
            agency: None,
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
                        (Action::AuditVerify | Action::CatalogManage, "system") if role == Role::Admin => {
                            Ok(())
                        }
                        (Action::AuditVerify | Action::CatalogManage, "system") => Err(Denial::RoleRequired),
                        (
                            Action::DocumentsRead
                            | Action::DocumentsUpload
                            | Action::PaymentsRead
                            | Action::PaymentsPay
                            | Action::NotificationsRead,
                            "own",
                        ) => Ok(()),
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

    /// Application actions over every relation of caller to application, for a draft and a
    /// submitted application.
    #[test]
    fn the_application_table() {
        let owner = AccountId::new();
        let app = |status| ApplicationFacts {
            owner,
            service_code: "passport".into(),
            agency_code: "mvd".into(),
            status,
        };
        let person = |account, roles: &[Role], level, agency: Option<&str>| Subject {
            account,
            roles: roles.to_vec(),
            level,
            mfa: false,
            agency: agency.map(str::to_string),
        };
        let callers = [
            (
                "owner",
                person(owner, &[Role::Citizen], AccountLevel::Confirmed, None),
            ),
            (
                "simplified owner",
                person(owner, &[Role::Citizen], AccountLevel::Simplified, None),
            ),
            (
                "other citizen",
                person(AccountId::new(), &[Role::Citizen], AccountLevel::Confirmed, None),
            ),
            (
                "officer",
                person(
                    AccountId::new(),
                    &[Role::Officer],
                    AccountLevel::Confirmed,
                    Some("mvd"),
                ),
            ),
            (
                "other officer",
                person(
                    AccountId::new(),
                    &[Role::Officer],
                    AccountLevel::Confirmed,
                    Some("fns"),
                ),
            ),
            (
                "admin",
                person(AccountId::new(), &[Role::Admin], AccountLevel::Confirmed, None),
            ),
        ];
        for status in [Status::Draft, Status::Submitted] {
            for (name, subject) in &callers {
                for action in Action::APPLICANT.into_iter().chain(Action::OFFICER) {
                    let applicant_side = Action::APPLICANT.contains(&action);
                    let sees = status != Status::Draft;
                    let expected = match (*name, applicant_side) {
                        ("owner", true) => Ok(()),
                        ("simplified owner", true) if action == Action::ApplicationsSubmit => {
                            Err(Denial::LevelTooLow)
                        }
                        ("simplified owner", true) => Ok(()),
                        ("owner" | "simplified owner", false) => Err(Denial::RoleRequired),
                        ("officer", true) if sees && action == Action::ApplicationsRead => Ok(()),
                        ("officer", true) if sees => Err(Denial::NotApplicant),
                        ("officer", false) if sees => Ok(()),
                        ("officer" | "other officer", _) => Err(Denial::WrongAgency),
                        _ => Err(Denial::NotOwner),
                    };
                    let decision =
                        authorize(subject, action, &Resource::Application(app(status)), Utc::now());
                    assert_eq!(decision, expected, "{name} {action:?} {status:?}");
                }
            }
        }
    }

    #[test]
    fn only_the_agencys_officers_read_its_queue() {
        let officer = Subject {
            account: AccountId::new(),
            roles: vec![Role::Officer],
            level: AccountLevel::Confirmed,
            mfa: false,
            agency: Some("mvd".into()),
        };
        let queue = |code: &str| {
            authorize(
                &officer,
                Action::AgencyQueueRead,
                &Resource::Agency(code.into()),
                Utc::now(),
            )
        };
        assert_eq!(queue("mvd"), Ok(()));
        assert_eq!(queue("fns"), Err(Denial::WrongAgency));
        let citizen = Subject {
            roles: vec![Role::Citizen],
            agency: None,
            ..officer.clone()
        };
        let refused = authorize(
            &citizen,
            Action::AgencyQueueRead,
            &Resource::Agency("mvd".into()),
            Utc::now(),
        );
        assert_eq!(refused, Err(Denial::RoleRequired));
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
