//! The vocabulary of the authorization core: what an account can be (its roles) and what
//! anyone can ask to do (the closed set of actions). Kept apart from the rules in
//! [`crate::access`] so the domain modules that name an action need not import the core.

use serde::{Deserialize, Serialize};

use crate::application::EventKind;

/// What an account is in the service. An account may hold several roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Officer,
    Notary,
    Admin,
    /// The account of a legal entity: it never logs in; its head acts for it.
    Organisation,
    /// An officer who oversees their agency's work: decides any application the agency
    /// handles, not only those they took (held together with `officer`).
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Citizen,
        Role::Officer,
        Role::Notary,
        Role::Admin,
        Role::Organisation,
        Role::Supervisor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Officer => "officer",
            Role::Notary => "notary",
            Role::Admin => "admin",
            Role::Organisation => "organisation",
            Role::Supervisor => "supervisor",
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
    /// What guards the account itself — password, second factor, login contacts,
    /// sessions, the IP allow-list: never delegable.
    #[serde(rename = "credentials.manage")]
    CredentialsManage,
    /// Giving or replacing the identity documents that set the account's level (the
    /// passport): never delegable, since whoever holds them holds the account.
    #[serde(rename = "identity.manage")]
    IdentityManage,
    #[serde(rename = "accounts.confirm_identity")]
    AccountsConfirmIdentity,
    #[serde(rename = "audit.verify")]
    AuditVerify,
    /// Reading the audit records about one's account and applications: what guards the
    /// account (who logged in, from where), so never on behalf.
    #[serde(rename = "audit.read")]
    AuditRead,
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
    /// The principal's side of a delegation: create, cancel, revoke, change the term.
    #[serde(rename = "delegations.manage")]
    DelegationsManage,
    /// The representative's side: accept, decline, renounce.
    #[serde(rename = "delegations.respond")]
    DelegationsRespond,
    #[serde(rename = "delegations.read")]
    DelegationsRead,
    /// Approving or rejecting what a representative could not do alone.
    #[serde(rename = "confirmations.decide")]
    ConfirmationsDecide,
    #[serde(rename = "confirmations.read")]
    ConfirmationsRead,
    /// Registering an organisation one heads, and its employees.
    #[serde(rename = "organisations.manage")]
    OrganisationsManage,
    #[serde(rename = "organisations.read")]
    OrganisationsRead,
    /// A simple electronic signature of the application's current version (personal:
    /// never delegable).
    #[serde(rename = "applications.sign")]
    ApplicationsSign,
    /// Inviting, removing and re-roling participants of an application.
    #[serde(rename = "participants.manage")]
    ParticipantsManage,
    /// Writing in an application's comment thread.
    #[serde(rename = "comments.write")]
    CommentsWrite,
    /// Asking another participant for a signature or a document.
    #[serde(rename = "requests.create")]
    RequestsCreate,
    /// A participant leaving an application they joined: a change, so a read-only
    /// delegation does not cover it.
    #[serde(rename = "participation.leave")]
    ParticipationLeave,
}

impl Action {
    pub const ALL: [Action; 39] = [
        Action::ProfileRead,
        Action::ProfileEdit,
        Action::CredentialsManage,
        Action::IdentityManage,
        Action::AccountsConfirmIdentity,
        Action::AuditVerify,
        Action::AuditRead,
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
        Action::DelegationsManage,
        Action::DelegationsRespond,
        Action::DelegationsRead,
        Action::ConfirmationsDecide,
        Action::ConfirmationsRead,
        Action::OrganisationsManage,
        Action::OrganisationsRead,
        Action::ApplicationsSign,
        Action::ParticipantsManage,
        Action::CommentsWrite,
        Action::RequestsCreate,
        Action::ParticipationLeave,
    ];

    /// What participants do together on an application.
    pub const JOINT: [Action; 5] = [
        Action::ApplicationsSign,
        Action::ParticipantsManage,
        Action::CommentsWrite,
        Action::RequestsCreate,
        Action::ParticipationLeave,
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

    /// The action firing an event of `kind` on an application takes; `None` for expiry,
    /// which only the system fires. Handlers name the event; the action follows.
    pub fn to_fire(kind: EventKind) -> Option<Action> {
        Some(match kind {
            EventKind::Submit => Action::ApplicationsSubmit,
            EventKind::Edit => Action::ApplicationsEdit,
            EventKind::Respond => Action::ApplicationsRespond,
            EventKind::Appeal => Action::ApplicationsAppeal,
            EventKind::Cancel => Action::ApplicationsCancel,
            EventKind::Restore => Action::ApplicationsRestore,
            EventKind::Take => Action::ApplicationsTake,
            // Who may ask may also give more time to answer.
            EventKind::RequestInfo | EventKind::Extend => Action::ApplicationsRequestInfo,
            EventKind::Approve | EventKind::Reject => Action::ApplicationsDecide,
            EventKind::Complete => Action::ApplicationsComplete,
            EventKind::Forward => Action::ApplicationsForward,
            EventKind::Expire => return None,
        })
    }

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
                | Action::DelegationsRead
                | Action::ConfirmationsRead
                | Action::OrganisationsRead
                | Action::AuditRead
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ProfileRead => "profile.read",
            Action::ProfileEdit => "profile.edit",
            Action::CredentialsManage => "credentials.manage",
            Action::IdentityManage => "identity.manage",
            Action::AccountsConfirmIdentity => "accounts.confirm_identity",
            Action::AuditVerify => "audit.verify",
            Action::AuditRead => "audit.read",
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
            Action::DelegationsManage => "delegations.manage",
            Action::DelegationsRespond => "delegations.respond",
            Action::DelegationsRead => "delegations.read",
            Action::ConfirmationsDecide => "confirmations.decide",
            Action::ConfirmationsRead => "confirmations.read",
            Action::OrganisationsManage => "organisations.manage",
            Action::OrganisationsRead => "organisations.read",
            Action::ApplicationsSign => "applications.sign",
            Action::ParticipantsManage => "participants.manage",
            Action::CommentsWrite => "comments.write",
            Action::RequestsCreate => "requests.create",
            Action::ParticipationLeave => "participation.leave",
        }
    }
}
