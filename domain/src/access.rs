//! The one authorization core: every handler asks [`authorize`] whether an actor may take
//! an action on a resource, and gets allow or a denial with a machine code. No handler
//! decides permissions itself.

use crate::account::AccountLevel;
use crate::application::Status;
use crate::delegation::{Grant, Lapse, NotCovered};
use crate::ids::AccountId;
use crate::joint::ParticipantRole;
use crate::time::Instant;

pub use crate::actions::{Action, Role};

/// Who is acting, as established by authentication (and the database, for level and
/// roles, so a confirmation or a role change counts from the very next request).
#[derive(Clone, Debug, PartialEq)]
pub struct Subject {
    pub account: AccountId,
    pub roles: Vec<Role>,
    pub level: AccountLevel,
    /// Authenticated with a second factor in this session.
    pub mfa: bool,
    /// The officer's agency.
    pub agency: Option<String>,
    /// Set when the caller acts for someone else (`X-On-Behalf-Of`).
    pub on_behalf: Option<OnBehalf>,
}

/// Acting for a principal: who, and every delegation between the two, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct OnBehalf {
    pub principal: AccountId,
    pub principal_level: AccountLevel,
    pub grants: Vec<Grant>,
    /// The caller heads the principal organisation: by law they act for it without a
    /// power of attorney.
    pub head: bool,
    /// The principal is an organisation staff have not verified (pending or rejected):
    /// nobody acts for it, its head included.
    pub unverified_organisation: bool,
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
    /// A saved application template, and the account that saved it.
    Template { owner: AccountId },
    /// A delegation, between its principal and representative; `head` is the head of the
    /// principal when the principal is an organisation.
    Delegation {
        principal: AccountId,
        representative: AccountId,
        head: Option<AccountId>,
    },
    /// An organisation: its head and employees, and whether staff verified it.
    Organisation {
        head: AccountId,
        employees: Vec<AccountId>,
        verified: bool,
    },
    /// A confirmation request a principal (or the principal organisation's head) decides.
    Confirmation {
        principal: AccountId,
        representative: AccountId,
        head: Option<AccountId>,
    },
    /// A document in its owner's vault. Only the owner (or who acts for them) reaches it:
    /// even the agency handling an application sees only what was attached to it.
    /// `services` are the services it belongs to (those of the applications it is
    /// attached to, and those it is shared with by name): a delegation limited to
    /// services reaches it only through one of its own.
    Document { owner: AccountId, services: Vec<String> },
    /// A delegation about to be issued in `principal`'s name (`head` heads the principal
    /// organisation). It names no representative: the caller is authorized before anyone
    /// is looked up, so a caller who may not delegate learns nothing about logins.
    NewDelegation {
        principal: AccountId,
        head: Option<AccountId>,
    },
}

/// What authorization needs to know about an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationFacts {
    pub owner: AccountId,
    pub service_code: String,
    /// The agency handling it now.
    pub agency_code: String,
    pub status: Status,
    /// Whether it was ever submitted: only then has the agency received it. A draft
    /// cancelled before submission stays the applicant's own business.
    pub received: bool,
    /// The role on it of the account being authorized (or of the principal it acts
    /// for), when that account joined it as a participant.
    pub participant: Option<ParticipantRole>,
    /// The officer who took it into work, until it is forwarded elsewhere.
    pub assignee: Option<AccountId>,
    /// The account being authorized holds, or held, powers from the owner (a delegation
    /// the owner gave it was accepted at some time): as much the owner's side as the owner.
    pub represents_owner: bool,
}

/// Why an action is refused; the code is part of the HTTP contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
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
    /// `X-On-Behalf-Of` names someone who never delegated to the caller.
    NotDelegated,
    DelegationExpired,
    DelegationRevoked,
    /// Not accepted yet, or not yet in its validity window.
    DelegationPending,
    ActionNotCovered,
    ServiceNotCovered,
    /// Allowed only as a request the principal approves (payments on behalf).
    NeedsPrincipalConfirmation,
    /// A participant whose role on the application does not include the action.
    ParticipantRole,
    /// Editing a comment someone else wrote.
    NotAuthor,
    /// Acting for, or managing, an organisation whose registration staff have not
    /// verified (or rejected).
    OrganisationNotVerified,
    /// An officer acting on an application that is their own business: they own it, take
    /// part in it, or hold (or held) the owner's powers.
    ConflictOfInterest,
    /// An officer of the agency deciding an application another officer took.
    NotAssignee,
    /// A representative making themselves a party to the principal's application: an
    /// invitation on behalf to their own account, or accepting one they sent on behalf.
    SelfInvitation,
}

impl Denial {
    /// Every denial, in declaration order.
    pub fn all() -> impl Iterator<Item = Denial> {
        <Denial as strum::IntoEnumIterator>::iter()
    }

    pub fn code(self) -> &'static str {
        match self {
            Denial::RoleRequired => "role_required",
            Denial::NotOwner => "not_owner",
            Denial::LevelTooLow => "level_too_low",
            Denial::WrongAgency => "wrong_agency",
            Denial::NotApplicant => "not_applicant",
            Denial::NotDelegated => "not_delegated",
            Denial::DelegationExpired => "delegation_expired",
            Denial::DelegationRevoked => "delegation_revoked",
            Denial::DelegationPending => "delegation_pending",
            Denial::ActionNotCovered => "action_not_covered",
            Denial::ServiceNotCovered => "service_not_covered",
            Denial::NeedsPrincipalConfirmation => "needs_principal_confirmation",
            Denial::ParticipantRole => "participant_role",
            Denial::NotAuthor => "not_author",
            Denial::OrganisationNotVerified => "organisation_not_verified",
            Denial::SelfInvitation => "self_invitation",
            Denial::ConflictOfInterest => "conflict_of_interest",
            Denial::NotAssignee => "not_assignee",
        }
    }

    /// Whether the caller may know the resource exists; if not, the answer is 404.
    pub fn reveals_resource(self) -> bool {
        match self {
            Denial::RoleRequired
            | Denial::LevelTooLow
            | Denial::NotApplicant
            | Denial::ParticipantRole
            | Denial::NotAuthor
            // Said to the one who sent or holds the invitation, about their own doing.
            | Denial::SelfInvitation
            // Said to officers of the agency handling it, who see it anyway.
            | Denial::ConflictOfInterest
            | Denial::NotAssignee
            // Said only to those who may see the organisation: its head and employees.
            | Denial::OrganisationNotVerified => true,
            Denial::NotOwner | Denial::WrongAgency => false,
            // The caller named the principal; saying the delegation does not cover the
            // action reveals nothing about the principal's resources.
            Denial::NotDelegated
            | Denial::DelegationExpired
            | Denial::DelegationRevoked
            | Denial::DelegationPending
            | Denial::ActionNotCovered
            | Denial::ServiceNotCovered
            | Denial::NeedsPrincipalConfirmation => true,
        }
    }
}

impl Subject {
    /// The in-force delegation covering `action` on something of `service`, when acting on
    /// behalf (for recording which delegation a held action relies on).
    pub fn covering_grant(&self, action: Action, service: Option<&str>, now: Instant) -> Option<&Grant> {
        let on_behalf = self.on_behalf.as_ref()?;
        on_behalf
            .grants
            .iter()
            .find(|g| g.in_force(now).is_ok() && g.powers.covers(action, service).is_ok())
    }

    /// The services in which a delegated caller may take `action`, or `None` for no
    /// restriction: the union over the delegations in force that grant the action,
    /// unrestricted if any of them is. Lists on behalf show only what these cover.
    pub fn visible_services(&self, action: Action, now: Instant) -> Option<Vec<String>> {
        let on_behalf = self.on_behalf.as_ref().filter(|o| !o.head)?;
        let mut services = Vec::new();
        let granting = on_behalf
            .grants
            .iter()
            .filter(|g| g.in_force(now).is_ok() && g.powers.covers(action, None).is_ok());
        for grant in granting {
            match &grant.powers.services {
                None => return None,
                Some(listed) => services.extend(listed.iter().cloned()),
            }
        }
        Some(services)
    }
}

fn require(condition: bool, denial: Denial) -> Result<(), Denial> {
    if condition {
        Ok(())
    } else {
        Err(denial)
    }
}

pub fn authorize(subject: &Subject, action: Action, resource: &Resource, now: Instant) -> Result<(), Denial> {
    match &subject.on_behalf {
        Some(on_behalf) => delegated(subject, on_behalf, action, resource, now),
        None => direct(subject, action, resource, now),
    }
}

/// A request made for a principal: a delegation in force must cover it, and then the
/// principal must be allowed it. Checked against the stored delegations and the clock on
/// every request, so a revoked or expired one stops working at once.
fn delegated(
    subject: &Subject,
    on_behalf: &OnBehalf,
    action: Action,
    resource: &Resource,
    now: Instant,
) -> Result<(), Denial> {
    // Before anything else: a registration is a claim until staff verify it, and
    // nobody — its head included — acts on a claim.
    if on_behalf.unverified_organisation {
        return Err(Denial::OrganisationNotVerified);
    }
    // Staff act in their role; acting for someone is a citizen's doing (SPEC §1).
    require(may_act_as_citizen(subject), Denial::RoleRequired)?;
    if on_behalf.head {
        return direct(&as_principal(on_behalf), action, resource, now);
    }
    let grants: Vec<&Grant> = on_behalf
        .grants
        .iter()
        .filter(|g| g.principal == on_behalf.principal)
        .collect();
    let Some(newest) = grants.first() else {
        return Err(Denial::NotDelegated);
    };
    let in_force: Vec<&&Grant> = grants.iter().filter(|g| g.in_force(now).is_ok()).collect();
    if in_force.is_empty() {
        return Err(match newest.in_force(now) {
            Err(Lapse::Revoked) => Denial::DelegationRevoked,
            Err(Lapse::Expired) => Denial::DelegationExpired,
            Err(Lapse::Pending) | Ok(()) => Denial::DelegationPending,
        });
    }
    let covers = |g: &Grant| match resource {
        Resource::Application(app) => g.powers.covers(action, Some(app.service_code.as_str())),
        Resource::Document { services, .. } => g.powers.covers_any(action, services),
        _ => g.powers.covers(action, None),
    };
    let mut refusal = Denial::ActionNotCovered;
    let covered = in_force.iter().any(|g| match covers(g) {
        Ok(()) => true,
        Err(NotCovered::Service) => {
            refusal = Denial::ServiceNotCovered;
            false
        }
        Err(NotCovered::Action) => false,
    });
    if !covered {
        // A document outside the delegation's services is not the representative's to
        // see at all: it is as unknown to them as a stranger's (404, not 403).
        if refusal == Denial::ServiceNotCovered && matches!(resource, Resource::Document { .. }) {
            return Err(Denial::NotOwner);
        }
        return Err(refusal);
    }
    if action == Action::PaymentsPay {
        return Err(Denial::NeedsPrincipalConfirmation);
    }
    if action.is_write() && subject.level != AccountLevel::Confirmed {
        return Err(Denial::LevelTooLow);
    }
    direct(&as_principal(on_behalf), action, resource, now)
}

/// The principal as the subject of the rules, once a delegation (or headship) is settled.
fn as_principal(on_behalf: &OnBehalf) -> Subject {
    Subject {
        account: on_behalf.principal,
        roles: vec![Role::Citizen],
        level: on_behalf.principal_level,
        mfa: false,
        agency: None,
        on_behalf: None,
    }
}

/// The rules for a caller acting as themselves.
fn direct(subject: &Subject, action: Action, resource: &Resource, _now: Instant) -> Result<(), Denial> {
    match (action, resource) {
        (
            Action::ProfileRead | Action::ProfileEdit | Action::CredentialsManage | Action::IdentityManage,
            Resource::Account(owner),
        ) => require(*owner == subject.account, Denial::NotOwner),
        (Action::AccountsConfirmIdentity, Resource::Account(_)) => require(
            subject.has_role(Role::Officer) || subject.has_role(Role::Admin),
            Denial::RoleRequired,
        ),
        // Verifying (or rejecting) an organisation's registration confirms who it is:
        // staff do; its own people are told no; anyone else does not learn it exists.
        (Action::AccountsConfirmIdentity, Resource::Organisation { head, employees, .. }) => {
            if subject.has_role(Role::Officer) || subject.has_role(Role::Admin) {
                Ok(())
            } else if *head == subject.account || employees.contains(&subject.account) {
                Err(Denial::RoleRequired)
            } else {
                Err(Denial::NotOwner)
            }
        }
        // Registering an organisation one heads: in one's own name, with a confirmed
        // identity.
        (Action::OrganisationsManage, Resource::Account(owner)) => {
            require(*owner == subject.account, Denial::NotOwner)?;
            require(subject.level == AccountLevel::Confirmed, Denial::LevelTooLow)
        }
        (Action::AuditVerify | Action::CatalogManage, Resource::System) => {
            require(subject.has_role(Role::Admin), Denial::RoleRequired)
        }
        // One's own audit records; what they are is `audit_scope`'s business.
        (Action::AuditRead, Resource::Account(owner)) => require(*owner == subject.account, Denial::NotOwner),
        (
            Action::DocumentsRead
            | Action::DocumentsUpload
            | Action::PaymentsRead
            | Action::PaymentsPay
            | Action::NotificationsRead,
            Resource::Account(owner),
        ) => require(*owner == subject.account, Denial::NotOwner),
        (Action::DocumentsRead | Action::DocumentsUpload, Resource::Document { owner, .. }) => {
            require(*owner == subject.account, Denial::NotOwner)
        }
        (action, Resource::Application(app)) if Action::APPLICANT.contains(&action) => {
            applicant(subject, action, app)
        }
        // An application's attachments: its applicant attaches and reads them; the officers
        // handling it read them (and nothing else of the applicant's vault).
        (Action::DocumentsRead | Action::DocumentsUpload, Resource::Application(app)) => {
            applicant(subject, action, app)
        }
        (action, Resource::Application(app)) if Action::JOINT.contains(&action) => {
            applicant(subject, action, app)
        }
        (action, Resource::Application(app)) if Action::OFFICER.contains(&action) => {
            officer(subject, action, app)
        }
        (Action::ApplicationsRead, Resource::Account(owner)) => {
            require(*owner == subject.account, Denial::NotOwner)
        }
        (
            Action::DelegationsManage,
            Resource::Delegation { principal, head, .. } | Resource::NewDelegation { principal, head },
        ) => {
            require(speaks_for(subject, *principal, *head), Denial::NotOwner)?;
            // SPEC §1–2: powers are given by citizens (for themselves or an organisation
            // they head); staff accounts act in their role, never through delegations.
            require(subject.has_role(Role::Citizen), Denial::RoleRequired)?;
            // SPEC §2: giving powers needs an identity confirmed by an officer or provider.
            require(subject.level == AccountLevel::Confirmed, Denial::LevelTooLow)
        }
        (Action::ConfirmationsDecide, Resource::Confirmation { principal, head, .. }) => {
            require(speaks_for(subject, *principal, *head), Denial::NotOwner)
        }
        (Action::DelegationsRespond, Resource::Delegation { representative, .. }) => {
            require(*representative == subject.account, Denial::NotOwner)?;
            // A staff account holds no powers unless it is also a confirmed citizen.
            require(may_act_as_citizen(subject), Denial::RoleRequired)?;
            require(subject.level == AccountLevel::Confirmed, Denial::LevelTooLow)
        }
        (
            Action::DelegationsRead | Action::ConfirmationsRead,
            Resource::Delegation {
                principal,
                representative,
                head,
            }
            | Resource::Confirmation {
                principal,
                representative,
                head,
            },
        ) => require(
            speaks_for(subject, *principal, *head) || *representative == subject.account,
            Denial::NotOwner,
        ),
        (
            Action::OrganisationsManage,
            Resource::Organisation {
                head,
                employees,
                verified,
            },
        ) => {
            // Employees see their organisation, so refusing them is no secret; others get 404.
            let denial = if employees.contains(&subject.account) {
                Denial::RoleRequired
            } else {
                Denial::NotOwner
            };
            require(*head == subject.account, denial)?;
            require(subject.level == AccountLevel::Confirmed, Denial::LevelTooLow)?;
            require(*verified, Denial::OrganisationNotVerified)
        }
        // Its own record stays readable while pending: the head sees where it stands.
        (Action::OrganisationsRead, Resource::Organisation { head, employees, .. }) => require(
            *head == subject.account || employees.contains(&subject.account),
            Denial::NotOwner,
        ),
        // A template is its owner's alone; a representative reaches the principal's (and
        // only theirs) when the delegation covers the action, since it holds and fills
        // from the principal's profile.
        (Action::ProfileRead | Action::ProfileEdit, Resource::Template { owner }) => {
            require(*owner == subject.account, Denial::NotOwner)
        }
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

/// The side `subject` takes on a delegation when proposing or confirming a change either
/// party may make, once the core allows it: the principal's side (the principal, or the
/// principal organisation's head) manages, the representative's side responds.
pub fn delegation_side(
    subject: &Subject,
    resource: &Resource,
    now: Instant,
) -> Result<crate::delegation::Side, Denial> {
    use crate::delegation::Side;
    let side = match resource {
        Resource::Delegation { principal, head, .. } if speaks_for(subject, *principal, *head) => {
            Side::Principal
        }
        _ => Side::Representative,
    };
    authorize(subject, Action::on_delegation(side), resource, now)?;
    Ok(side)
}

impl Action {
    /// What a delegation's `side` does to it: the principal's side manages (creates,
    /// cancels, revokes), the representative's side responds (accepts, declines,
    /// renounces, passes on). The system's side asks nobody; it is refused here.
    pub fn on_delegation(side: crate::delegation::Side) -> Action {
        use crate::delegation::Side;
        match side {
            Side::Principal | Side::System => Action::DelegationsManage,
            Side::Representative => Action::DelegationsRespond,
        }
    }
}

/// Whether the subject may edit a comment written by `author`: only its author, the
/// account that wrote it — a representative's comment is theirs, not their principal's,
/// and a principal does not edit what their representative wrote. Asked after the
/// subject was allowed to write in the thread (`comments.write`).
pub fn authorize_comment_edit(subject: &Subject, author: AccountId) -> Result<(), Denial> {
    require(subject.account == author, Denial::NotAuthor)
}

/// Whether the subject, allowed to manage the participants, may invite `invitee` (the
/// account behind the contact, when there is one). Acting on behalf, never their own
/// account: joining the principal's matter would give them, as a participant, what the
/// delegation did not — and keep it after the delegation ends.
pub fn authorize_invitee(subject: &Subject, invitee: Option<AccountId>) -> Result<(), Denial> {
    require(
        subject.on_behalf.is_none() || invitee != Some(subject.account),
        Denial::SelfInvitation,
    )
}

/// Whether the subject may accept (join through) an invitation sent by `invited_by`,
/// on behalf of `on_behalf_of` if so. One a representative sent for a principal is
/// never theirs to accept — not as themselves, nor for anyone they act for — even when it
/// went to a contact that became theirs after it was sent.
pub fn authorize_joining(
    subject: &Subject,
    invited_by: AccountId,
    on_behalf_of: Option<AccountId>,
) -> Result<(), Denial> {
    require(
        on_behalf_of.is_none() || invited_by != subject.account,
        Denial::SelfInvitation,
    )
}

/// Whose audit records a caller reads (the audit list, its CSV export, a record's
/// inclusion proof).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditScope {
    /// Admins: every record.
    Everything,
    /// Every other account — citizens, and staff who are not admins (officers and
    /// supervisors see what they did and what was done to their account, not their
    /// agency's cases): the records about this account, and those of the applications it
    /// owns or takes part in now, whoever acted there.
    About(AccountId),
}

/// What deciding whether one audit record is in a scope needs to know about it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditRecordFacts {
    pub actor: Option<AccountId>,
    /// The principal the actor acted for.
    pub on_behalf_of: Option<AccountId>,
    /// The account the record is about, when its target is an account.
    pub target_account: Option<AccountId>,
    /// Its target is an application the scope's account owns or takes part in (as owner,
    /// co-applicant, contributor or viewer) now.
    pub on_own_application: bool,
}

/// Which audit records the subject reads. Never on someone's behalf: who logged in, from
/// where and what was done is what guards an account, like its credentials — a
/// representative is refused as for them (`action_not_covered`, or the delegation's own
/// refusal), and so is an organisation's head.
pub fn audit_scope(subject: &Subject, now: Instant) -> Result<AuditScope, Denial> {
    let principal = subject
        .on_behalf
        .as_ref()
        .map_or(subject.account, |o| o.principal);
    authorize(subject, Action::AuditRead, &Resource::Account(principal), now)?;
    // A head speaks for the organisation without a delegation, but not here.
    require(subject.on_behalf.is_none(), Denial::ActionNotCovered)?;
    Ok(if subject.has_role(Role::Admin) {
        AuditScope::Everything
    } else {
        AuditScope::About(subject.account)
    })
}

impl AuditScope {
    /// Whether the record is in the scope: the account acted, was acted for or is the
    /// target, or the record is about one of its applications — which shows it what its
    /// representatives, its co-participants and the officers did there.
    pub fn covers(&self, record: &AuditRecordFacts) -> bool {
        match self {
            AuditScope::Everything => true,
            AuditScope::About(account) => {
                record.actor == Some(*account)
                    || record.on_behalf_of == Some(*account)
                    || record.target_account == Some(*account)
                    || record.on_own_application
            }
        }
    }
}

/// The principal itself, or the head of the organisation that is the principal.
fn speaks_for(subject: &Subject, principal: AccountId, head: Option<AccountId>) -> bool {
    principal == subject.account || head == Some(subject.account)
}

/// Whether the subject is an officer of the agency now handling `app`, and may see it.
fn handles(subject: &Subject, app: &ApplicationFacts) -> bool {
    subject.has_role(Role::Officer)
        && subject.agency.as_deref() == Some(app.agency_code.as_str())
        && app.received
}

/// Staff accounts (officers, supervisors, admins).
fn is_staff(subject: &Subject) -> bool {
    [Role::Officer, Role::Supervisor, Role::Admin]
        .iter()
        .any(|r| subject.has_role(*r))
}

/// Whether the subject may be an applicant, a participant or a representative: anyone but
/// staff, and staff who also hold a confirmed citizen identity of their own — so no one
/// applies, or acts for an applicant, through an account made for handling cases.
fn may_act_as_citizen(subject: &Subject) -> bool {
    !is_staff(subject) || (subject.has_role(Role::Citizen) && subject.level == AccountLevel::Confirmed)
}

fn applicant(subject: &Subject, action: Action, app: &ApplicationFacts) -> Result<(), Denial> {
    // Submitting and signing carry legal weight: they need an identity an officer or a
    // provider confirmed.
    let binding = matches!(action, Action::ApplicationsSubmit | Action::ApplicationsSign);
    if app.owner == subject.account || app.participant.is_some() {
        require(may_act_as_citizen(subject), Denial::RoleRequired)?;
    }
    if app.owner == subject.account {
        return require(
            !binding || subject.level == AccountLevel::Confirmed,
            Denial::LevelTooLow,
        );
    }
    if let Some(role) = app.participant {
        require(role.allows(action), Denial::ParticipantRole)?;
        return require(
            !binding || subject.level == AccountLevel::Confirmed,
            Denial::LevelTooLow,
        );
    }
    if handles(subject, app) {
        return require(
            matches!(
                action,
                Action::ApplicationsRead | Action::DocumentsRead | Action::CommentsWrite
            ),
            Denial::NotApplicant,
        );
    }
    Err(if subject.has_role(Role::Officer) {
        Denial::WrongAgency
    } else {
        Denial::NotOwner
    })
}

/// The officer's side. Nobody decides their own case: not an application they own, take
/// part in, or hold the owner's powers for. Taking assigns the application; from then on
/// only its assignee, or a supervisor of the agency, acts on it. Forwarding one nobody has
/// taken yet is the queue's triage, open to every officer of the agency.
fn officer(subject: &Subject, action: Action, app: &ApplicationFacts) -> Result<(), Denial> {
    if handles(subject, app) {
        let own = app.owner == subject.account || app.participant.is_some() || app.represents_owner;
        require(!own, Denial::ConflictOfInterest)?;
        let assigned = match app.assignee {
            Some(assignee) => assignee == subject.account,
            None => matches!(action, Action::ApplicationsTake | Action::ApplicationsForward),
        };
        return require(
            action == Action::ApplicationsTake || assigned || subject.has_role(Role::Supervisor),
            Denial::NotAssignee,
        );
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
    use crate::application::EventKind;
    use chrono::Utc;

    fn subject(account: AccountId, roles: &[Role]) -> Subject {
        Subject {
            account,
            roles: roles.to_vec(),
            level: AccountLevel::Confirmed,
            mfa: false,
            agency: None,
            on_behalf: None,
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
                        (
                            Action::ProfileRead
                            | Action::ProfileEdit
                            | Action::CredentialsManage
                            | Action::IdentityManage,
                            "own",
                        ) => Ok(()),
                        (Action::AccountsConfirmIdentity, "own" | "other") if staff => Ok(()),
                        (Action::AccountsConfirmIdentity, "own" | "other") => Err(Denial::RoleRequired),
                        (Action::AuditVerify | Action::CatalogManage, "system") if role == Role::Admin => {
                            Ok(())
                        }
                        (Action::AuditVerify | Action::CatalogManage, "system") => Err(Denial::RoleRequired),
                        (Action::AuditRead, "own") => Ok(()),
                        (
                            Action::ApplicationsRead
                            | Action::DocumentsRead
                            | Action::DocumentsUpload
                            | Action::PaymentsRead
                            | Action::PaymentsPay
                            | Action::NotificationsRead
                            // Registering an organisation in one's own name.
                            | Action::OrganisationsManage,
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

    /// Templates: their saver reads and changes them; anyone else (staff included) is told
    /// nothing; a representative acts on a template as the principal would, so only on the
    /// principal's own (when the delegation covers the action).
    #[test]
    fn the_template_table() {
        let (me, other) = (AccountId::new(), AccountId::new());
        for role in Role::ALL {
            let s = subject(me, &[role]);
            for action in Action::ALL {
                for (relation, owner) in [("own", me), ("other", other)] {
                    let expected = match (action, relation) {
                        (Action::ProfileRead | Action::ProfileEdit, "own") => Ok(()),
                        _ => Err(Denial::NotOwner),
                    };
                    let resource = Resource::Template { owner };
                    assert_eq!(
                        authorize(&s, action, &resource, Utc::now()),
                        expected,
                        "{role:?} {action:?} {relation}"
                    );
                }
            }
        }
        // On behalf: the principal's templates, as far as the delegation covers the action;
        // never the representative's own while acting for someone else.
        use crate::delegation::{Grant, Kind, Powers, Status as D};
        let now = Utc::now();
        let representative = |kind, actions: Vec<Action>| Subject {
            on_behalf: Some(OnBehalf {
                principal: other,
                principal_level: AccountLevel::Confirmed,
                unverified_organisation: false,
                grants: vec![Grant {
                    delegation: crate::ids::DelegationId::new(),
                    principal: other,
                    status: D::Active,
                    valid_from: now - chrono::TimeDelta::days(1),
                    valid_until: now + chrono::TimeDelta::days(1),
                    powers: Powers {
                        kind,
                        actions,
                        services: None,
                    },
                }],
                head: false,
            }),
            ..subject(me, &[Role::Citizen])
        };
        let principals = Resource::Template { owner: other };
        let own = Resource::Template { owner: me };
        let full = representative(Kind::Full, vec![]);
        let limited = representative(Kind::Limited, vec![]);
        let creating = representative(Kind::Specific, vec![Action::ApplicationsCreate]);
        let table = [
            ("full reads", &full, Action::ProfileRead, &principals, Ok(())),
            ("full edits", &full, Action::ProfileEdit, &principals, Ok(())),
            (
                "full, own",
                &full,
                Action::ProfileRead,
                &own,
                Err(Denial::NotOwner),
            ),
            (
                "limited reads",
                &limited,
                Action::ProfileRead,
                &principals,
                Ok(()),
            ),
            (
                "limited edits",
                &limited,
                Action::ProfileEdit,
                &principals,
                Err(Denial::ActionNotCovered),
            ),
            (
                "create only",
                &creating,
                Action::ProfileRead,
                &principals,
                Err(Denial::ActionNotCovered),
            ),
        ];
        for (name, who, action, resource, expected) in table {
            assert_eq!(authorize(who, action, resource, now), expected, "{name}");
        }
        assert!(
            !Denial::NotOwner.reveals_resource(),
            "someone else's template is not found"
        );
    }

    /// Every event an applicant or officer fires needs the action of its party's set; only
    /// the system expires.
    #[test]
    fn each_event_needs_one_action_of_its_party() {
        use crate::application::Party;
        for kind in EventKind::ALL {
            match (kind.party(), Action::to_fire(kind)) {
                (Party::Applicant, Some(action)) => assert!(Action::APPLICANT.contains(&action), "{kind:?}"),
                (Party::Officer, Some(action)) => assert!(Action::OFFICER.contains(&action), "{kind:?}"),
                (Party::System, None) => {}
                (party, action) => panic!("{kind:?}: {party:?} {action:?}"),
            }
        }
        assert_eq!(
            Action::to_fire(EventKind::Reject),
            Some(Action::ApplicationsDecide)
        );
        assert_eq!(
            Action::to_fire(EventKind::Approve),
            Some(Action::ApplicationsDecide)
        );
    }

    /// Application actions over every relation of caller to application, for a draft and a
    /// submitted application.
    #[test]
    fn the_application_table() {
        let owner = AccountId::new();
        let app = |(status, received)| ApplicationFacts {
            owner,
            service_code: "passport".into(),
            agency_code: "mvd".into(),
            status,
            received,
            participant: None,
            assignee: None,
            represents_owner: false,
        };
        let person = |account, roles: &[Role], level, agency: Option<&str>| Subject {
            account,
            roles: roles.to_vec(),
            level,
            mfa: false,
            agency: agency.map(str::to_string),
            on_behalf: None,
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
        // A cancelled draft was never received: the agency sees it no more than a draft.
        let histories = [
            (Status::Draft, false),
            (Status::Submitted, true),
            (Status::Cancelled, false),
            (Status::Cancelled, true),
        ];
        for history in histories {
            let (status, received) = history;
            for (name, subject) in &callers {
                let attachments = [Action::DocumentsRead, Action::DocumentsUpload];
                for action in Action::APPLICANT
                    .into_iter()
                    .chain(Action::OFFICER)
                    .chain(attachments)
                {
                    let applicant_side = !Action::OFFICER.contains(&action);
                    let reads = matches!(action, Action::ApplicationsRead | Action::DocumentsRead);
                    let sees = received;
                    let expected = match (*name, applicant_side) {
                        ("owner", true) => Ok(()),
                        ("simplified owner", true) if action == Action::ApplicationsSubmit => {
                            Err(Denial::LevelTooLow)
                        }
                        ("simplified owner", true) => Ok(()),
                        ("owner" | "simplified owner", false) => Err(Denial::RoleRequired),
                        ("officer", true) if sees && reads => Ok(()),
                        ("officer", true) if sees => Err(Denial::NotApplicant),
                        // Nobody took it yet: the agency's officers take it or send it on;
                        // deciding waits for an assignee (see the separation table).
                        ("officer", false)
                            if sees
                                && matches!(
                                    action,
                                    Action::ApplicationsTake | Action::ApplicationsForward
                                ) =>
                        {
                            Ok(())
                        }
                        ("officer", false) if sees => Err(Denial::NotAssignee),
                        ("officer" | "other officer", _) => Err(Denial::WrongAgency),
                        _ => Err(Denial::NotOwner),
                    };
                    let decision =
                        authorize(subject, action, &Resource::Application(app(history)), Utc::now());
                    assert_eq!(decision, expected, "{name} {action:?} {status:?} {received}");
                }
            }
        }
    }

    #[test]
    fn participants_act_within_their_role() {
        let owner = AccountId::new();
        let me = AccountId::new();
        let app = |participant| {
            Resource::Application(ApplicationFacts {
                owner,
                service_code: "family".into(),
                agency_code: "sfr".into(),
                status: Status::Draft,
                received: false,
                participant,
                assignee: None,
                represents_owner: false,
            })
        };
        let confirmed = subject(me, &[Role::Citizen]);
        let simplified = Subject {
            level: AccountLevel::Simplified,
            ..confirmed.clone()
        };
        let now = Utc::now();
        let spouse = app(Some(ParticipantRole::CoApplicant));
        assert_eq!(
            authorize(&confirmed, Action::ApplicationsSign, &spouse, now),
            Ok(())
        );
        assert_eq!(
            authorize(&simplified, Action::ApplicationsSign, &spouse, now),
            Err(Denial::LevelTooLow)
        );
        assert_eq!(
            authorize(&confirmed, Action::ApplicationsEdit, &spouse, now),
            Ok(())
        );
        assert_eq!(
            authorize(&confirmed, Action::ApplicationsSubmit, &spouse, now),
            Err(Denial::ParticipantRole)
        );
        let viewer = app(Some(ParticipantRole::Viewer));
        assert_eq!(
            authorize(&confirmed, Action::ApplicationsRead, &viewer, now),
            Ok(())
        );
        assert_eq!(authorize(&confirmed, Action::CommentsWrite, &viewer, now), Ok(()));
        assert_eq!(
            authorize(&confirmed, Action::DocumentsUpload, &viewer, now),
            Err(Denial::ParticipantRole)
        );
        // Not a participant (any more): the application does not exist for them.
        assert_eq!(
            authorize(&confirmed, Action::ApplicationsRead, &app(None), now),
            Err(Denial::NotOwner)
        );
        assert_eq!(Denial::ParticipantRole.code(), "participant_role");
    }

    /// Leaving: every participant may leave (whatever their role); the owner's request is
    /// allowed here and finds no participation to end; officers and strangers may not; a
    /// read-only delegation does not cover it, a full one does.
    #[test]
    fn leaving_is_a_participants_own_change() {
        use crate::delegation::{Grant, Kind, Powers, Status as D};
        let now = Utc::now();
        let (owner, me) = (AccountId::new(), AccountId::new());
        let app = |participant| {
            Resource::Application(ApplicationFacts {
                owner,
                service_code: "family".into(),
                agency_code: "sfr".into(),
                status: Status::Submitted,
                received: true,
                participant,
                assignee: None,
                represents_owner: false,
            })
        };
        let citizen = subject(me, &[Role::Citizen]);
        let officer = Subject {
            roles: vec![Role::Officer],
            agency: Some("sfr".into()),
            ..subject(AccountId::new(), &[])
        };
        let simplified = Subject {
            level: AccountLevel::Simplified,
            ..citizen.clone()
        };
        let representative = |kind| Subject {
            on_behalf: Some(OnBehalf {
                principal: me,
                principal_level: AccountLevel::Confirmed,
                grants: vec![Grant {
                    delegation: crate::ids::DelegationId::new(),
                    principal: me,
                    status: D::Active,
                    valid_from: now - chrono::TimeDelta::days(1),
                    valid_until: now + chrono::TimeDelta::days(1),
                    powers: Powers {
                        kind,
                        actions: vec![Action::ApplicationsRead],
                        services: None,
                    },
                }],
                head: false,
                unverified_organisation: false,
            }),
            ..subject(AccountId::new(), &[Role::Citizen])
        };
        let cases = [
            (
                "co-applicant",
                &citizen,
                Some(ParticipantRole::CoApplicant),
                Ok(()),
            ),
            (
                "contributor",
                &citizen,
                Some(ParticipantRole::Contributor),
                Ok(()),
            ),
            ("viewer", &citizen, Some(ParticipantRole::Viewer), Ok(())),
            (
                "simplified viewer",
                &simplified,
                Some(ParticipantRole::Viewer),
                Ok(()),
            ),
            ("not a participant", &citizen, None, Err(Denial::NotOwner)),
            ("officer", &officer, None, Err(Denial::NotApplicant)),
        ];
        for (name, who, participant, expected) in cases {
            let decision = authorize(who, Action::ParticipationLeave, &app(participant), now);
            assert_eq!(decision, expected, "{name}");
        }
        let viewer = app(Some(ParticipantRole::Viewer));
        assert_eq!(
            authorize(
                &representative(Kind::Limited),
                Action::ParticipationLeave,
                &viewer,
                now
            ),
            Err(Denial::ActionNotCovered)
        );
        assert_eq!(
            authorize(
                &representative(Kind::Specific),
                Action::ParticipationLeave,
                &viewer,
                now
            ),
            Err(Denial::ActionNotCovered)
        );
        assert_eq!(
            authorize(
                &representative(Kind::Full),
                Action::ParticipationLeave,
                &viewer,
                now
            ),
            Ok(())
        );
        assert!(Action::ParticipationLeave.is_write());
        assert_eq!(Action::ParticipationLeave.as_str(), "participation.leave");
    }

    /// Separation of duties: staff apply (or act for applicants) only with a confirmed
    /// citizen identity of their own; an officer never acts on a case they own, take part
    /// in or hold the owner's powers for; once taken, only the assignee or a supervisor of
    /// the agency acts on it.
    #[test]
    fn the_separation_of_duties_table() {
        let (owner, me, colleague) = (AccountId::new(), AccountId::new(), AccountId::new());
        let now = Utc::now();
        let staff = |roles: &[Role], level| Subject {
            level,
            agency: Some("mvd".into()),
            ..subject(me, roles)
        };
        let officer = staff(&[Role::Officer], AccountLevel::Confirmed);
        let supervisor = staff(&[Role::Officer, Role::Supervisor], AccountLevel::Confirmed);
        let citizen_officer = staff(&[Role::Officer, Role::Citizen], AccountLevel::Confirmed);
        let unconfirmed_citizen_officer = staff(&[Role::Officer, Role::Citizen], AccountLevel::Standard);
        let admin = Subject {
            agency: None,
            ..staff(&[Role::Admin], AccountLevel::Confirmed)
        };
        let app = |owner, participant, assignee, represents_owner| {
            Resource::Application(ApplicationFacts {
                owner,
                service_code: "passport".into(),
                agency_code: "mvd".into(),
                status: Status::InReview,
                received: true,
                participant,
                assignee,
                represents_owner,
            })
        };
        let theirs = app(owner, None, None, false);
        let mine = app(me, None, None, false);
        let mine_taken = app(owner, None, Some(me), false);
        let colleagues = app(owner, None, Some(colleague), false);
        let joined = app(owner, Some(ParticipantRole::Viewer), Some(me), false);
        let represented = app(owner, None, Some(me), true);
        use Action::{ApplicationsCreate as Create, ApplicationsDecide as Decide, ApplicationsTake as Take};
        use Action::{ApplicationsForward as Forward, ApplicationsRead as Read};
        let table = [
            (
                "officer applies",
                &officer,
                Create,
                &mine,
                Err(Denial::RoleRequired),
            ),
            ("admin applies", &admin, Create, &mine, Err(Denial::RoleRequired)),
            (
                "officer who is a citizen applies",
                &citizen_officer,
                Create,
                &mine,
                Ok(()),
            ),
            (
                "officer, unconfirmed citizen, applies",
                &unconfirmed_citizen_officer,
                Create,
                &mine,
                Err(Denial::RoleRequired),
            ),
            (
                "owner takes",
                &citizen_officer,
                Take,
                &mine,
                Err(Denial::ConflictOfInterest),
            ),
            (
                "participant decides",
                &officer,
                Decide,
                &joined,
                Err(Denial::ConflictOfInterest),
            ),
            (
                "representative decides",
                &officer,
                Decide,
                &represented,
                Err(Denial::ConflictOfInterest),
            ),
            (
                "supervisor representing decides",
                &supervisor,
                Decide,
                &represented,
                Err(Denial::ConflictOfInterest),
            ),
            ("anyone takes", &officer, Take, &theirs, Ok(())),
            ("untaken: forward", &officer, Forward, &theirs, Ok(())),
            (
                "untaken: decide",
                &officer,
                Decide,
                &theirs,
                Err(Denial::NotAssignee),
            ),
            ("assignee decides", &officer, Decide, &mine_taken, Ok(())),
            ("assignee forwards", &officer, Forward, &mine_taken, Ok(())),
            (
                "colleague decides",
                &officer,
                Decide,
                &colleagues,
                Err(Denial::NotAssignee),
            ),
            (
                "colleague forwards",
                &officer,
                Forward,
                &colleagues,
                Err(Denial::NotAssignee),
            ),
            ("colleague reads", &officer, Read, &colleagues, Ok(())),
            ("supervisor decides", &supervisor, Decide, &colleagues, Ok(())),
            ("supervisor, untaken", &supervisor, Decide, &theirs, Ok(())),
        ];
        for (name, who, action, resource, expected) in table {
            assert_eq!(authorize(who, action, resource, now), expected, "{name}");
        }
        // Staff hold no powers without a citizen identity: they neither accept a delegation
        // nor act on one.
        let delegation = Resource::Delegation {
            principal: owner,
            representative: me,
            head: None,
        };
        assert_eq!(
            authorize(&officer, Action::DelegationsRespond, &delegation, now),
            Err(Denial::RoleRequired)
        );
        assert_eq!(
            authorize(&citizen_officer, Action::DelegationsRespond, &delegation, now),
            Ok(())
        );
        let representing = Subject {
            roles: vec![Role::Officer],
            agency: Some("mvd".into()),
            ..acting_for(owner, crate::delegation::Kind::Full, vec![], None)
        };
        assert_eq!(
            authorize(&representing, Read, &Resource::Account(owner), now),
            Err(Denial::RoleRequired)
        );
        for denial in [Denial::ConflictOfInterest, Denial::NotAssignee] {
            assert!(denial.reveals_resource(), "{denial:?}");
        }
        assert_eq!(Denial::ConflictOfInterest.code(), "conflict_of_interest");
        assert_eq!(Denial::NotAssignee.code(), "not_assignee");
    }

    /// A representative does not make themselves a party to the principal's matter: not by
    /// inviting their own account on behalf, nor by accepting what they sent on behalf.
    #[test]
    fn nobody_joins_the_principals_matter_through_the_delegation() {
        let (principal, me, guest) = (AccountId::new(), AccountId::new(), AccountId::new());
        let myself = subject(me, &[Role::Citizen]);
        let representing = acting_for(principal, crate::delegation::Kind::Full, vec![], None);
        let representing = Subject {
            account: me,
            ..representing
        };
        let table = [
            (
                "own account on behalf",
                &representing,
                Some(me),
                Err(Denial::SelfInvitation),
            ),
            ("someone else on behalf", &representing, Some(guest), Ok(())),
            ("an unregistered contact on behalf", &representing, None, Ok(())),
            // Inviting oneself in one's own name is the joint rules' business (the owner
            // is already on it); the core has nothing against it.
            ("own account, as oneself", &myself, Some(me), Ok(())),
        ];
        for (name, who, invitee, expected) in table {
            assert_eq!(authorize_invitee(who, invitee), expected, "{name}");
        }
        let joining = [
            (
                "sent by me on behalf",
                &myself,
                me,
                Some(principal),
                Err(Denial::SelfInvitation),
            ),
            (
                "sent by me on behalf, accepted for someone",
                &representing,
                me,
                Some(principal),
                Err(Denial::SelfInvitation),
            ),
            ("sent by me as myself", &myself, me, None, Ok(())),
            (
                "sent by another on behalf",
                &myself,
                guest,
                Some(principal),
                Ok(()),
            ),
        ];
        for (name, who, invited_by, on_behalf_of, expected) in joining {
            assert_eq!(
                authorize_joining(who, invited_by, on_behalf_of),
                expected,
                "{name}"
            );
        }
        assert!(Denial::SelfInvitation.reveals_resource());
        assert_eq!(Denial::SelfInvitation.code(), "self_invitation");
    }

    /// Only the account that wrote a comment edits it: not another participant, not the
    /// owner, not the principal a representative wrote for.
    #[test]
    fn only_the_author_edits_a_comment() {
        let (author, other) = (AccountId::new(), AccountId::new());
        assert_eq!(
            authorize_comment_edit(&subject(author, &[Role::Citizen]), author),
            Ok(())
        );
        for who in [subject(other, &[Role::Citizen]), subject(other, &[Role::Officer])] {
            assert_eq!(authorize_comment_edit(&who, author), Err(Denial::NotAuthor));
        }
        let representative = Subject {
            on_behalf: Some(OnBehalf {
                principal: author,
                principal_level: AccountLevel::Confirmed,
                grants: vec![],
                head: false,
                unverified_organisation: false,
            }),
            ..subject(other, &[Role::Citizen])
        };
        assert_eq!(
            authorize_comment_edit(&representative, author),
            Err(Denial::NotAuthor)
        );
        assert!(Denial::NotAuthor.reveals_resource());
        assert_eq!(Denial::NotAuthor.code(), "not_author");
    }

    #[test]
    fn only_the_agencys_officers_read_its_queue() {
        let officer = Subject {
            account: AccountId::new(),
            roles: vec![Role::Officer],
            level: AccountLevel::Confirmed,
            mfa: false,
            agency: Some("mvd".into()),
            on_behalf: None,
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

    /// Delegated requests: every kind × state × action over the principal's applications.
    #[test]
    fn the_delegation_table() {
        use crate::delegation::{Grant, Kind, Powers, Status as D};
        use chrono::TimeDelta;
        let now = Utc::now();
        let principal = AccountId::new();
        let app = |service: &str| {
            Resource::Application(ApplicationFacts {
                owner: principal,
                service_code: service.into(),
                agency_code: "mvd".into(),
                status: Status::Draft,
                received: false,
                participant: None,
                assignee: None,
                represents_owner: false,
            })
        };
        let powers = |kind| match kind {
            Kind::Specific => Powers {
                kind,
                actions: vec![
                    Action::ApplicationsRead,
                    Action::ApplicationsCreate,
                    Action::ApplicationsSubmit,
                ],
                services: Some(vec!["passport".into()]),
            },
            _ => Powers {
                kind,
                actions: vec![],
                services: None,
            },
        };
        let states = [
            (
                "active",
                D::Active,
                now - TimeDelta::days(1),
                now + TimeDelta::days(1),
            ),
            (
                "pending",
                D::Pending,
                now - TimeDelta::days(1),
                now + TimeDelta::days(1),
            ),
            (
                "revoked",
                D::Revoked,
                now - TimeDelta::days(1),
                now + TimeDelta::days(1),
            ),
            (
                "lapsed",
                D::Active,
                now - TimeDelta::days(3),
                now - TimeDelta::days(1),
            ),
            (
                "future",
                D::Active,
                now + TimeDelta::days(1),
                now + TimeDelta::days(3),
            ),
        ];
        for kind in Kind::ALL {
            for (state, status, from, until) in states {
                let grant = Grant {
                    delegation: crate::ids::DelegationId::new(),
                    principal,
                    status,
                    valid_from: from,
                    valid_until: until,
                    powers: powers(kind),
                };
                let subject = Subject {
                    account: AccountId::new(),
                    roles: vec![Role::Citizen],
                    level: AccountLevel::Confirmed,
                    mfa: false,
                    agency: None,
                    on_behalf: Some(OnBehalf {
                        principal,
                        principal_level: AccountLevel::Confirmed,
                        grants: vec![grant],
                        head: false,
                        unverified_organisation: false,
                    }),
                };
                for action in Action::APPLICANT.into_iter().chain([
                    Action::PaymentsPay,
                    Action::CredentialsManage,
                    Action::IdentityManage,
                ]) {
                    for service in ["passport", "tax"] {
                        let guarded = matches!(action, Action::CredentialsManage | Action::IdentityManage);
                        let resource = if action == Action::PaymentsPay || guarded {
                            Resource::Account(principal)
                        } else {
                            app(service)
                        };
                        let expected = match (state, kind) {
                            ("pending" | "future", _) => Err(Denial::DelegationPending),
                            ("revoked", _) => Err(Denial::DelegationRevoked),
                            ("lapsed", _) => Err(Denial::DelegationExpired),
                            (_, _) if guarded => Err(Denial::ActionNotCovered),
                            (_, Kind::Full) if action == Action::PaymentsPay => {
                                Err(Denial::NeedsPrincipalConfirmation)
                            }
                            (_, Kind::Full) => Ok(()),
                            (_, Kind::Limited) if action.is_write() => Err(Denial::ActionNotCovered),
                            (_, Kind::Limited) => Ok(()),
                            (_, Kind::Specific)
                                if ![
                                    Action::ApplicationsRead,
                                    Action::ApplicationsCreate,
                                    Action::ApplicationsSubmit,
                                ]
                                .contains(&action) =>
                            {
                                Err(Denial::ActionNotCovered)
                            }
                            (_, Kind::Specific) if service == "tax" => Err(Denial::ServiceNotCovered),
                            (_, Kind::Specific) => Ok(()),
                        };
                        let decision = authorize(&subject, action, &resource, now);
                        assert_eq!(decision, expected, "{kind:?} {state} {action:?} {service}");
                    }
                }
            }
        }
        let stranger = Subject {
            account: AccountId::new(),
            roles: vec![Role::Citizen],
            level: AccountLevel::Confirmed,
            mfa: false,
            agency: None,
            on_behalf: Some(OnBehalf {
                principal,
                principal_level: AccountLevel::Confirmed,
                grants: vec![],
                head: false,
                unverified_organisation: false,
            }),
        };
        assert_eq!(
            authorize(&stranger, Action::ApplicationsRead, &app("passport"), now),
            Err(Denial::NotDelegated)
        );
    }

    /// An organisation before and after staff verify it: its head and employees read its
    /// record either way; managing it and acting for it wait for verification; only staff
    /// verify, and a stranger does not learn it exists.
    #[test]
    fn the_organisation_table() {
        let (head, employee, stranger, org) = (
            AccountId::new(),
            AccountId::new(),
            AccountId::new(),
            AccountId::new(),
        );
        let now = Utc::now();
        let record = |verified| Resource::Organisation {
            head,
            employees: vec![employee],
            verified,
        };
        let for_org = |who, verified: bool| Subject {
            on_behalf: Some(OnBehalf {
                principal: org,
                principal_level: AccountLevel::Confirmed,
                grants: vec![],
                head: who == head,
                unverified_organisation: !verified,
            }),
            ..subject(who, &[Role::Citizen])
        };
        let new_application = Resource::Application(ApplicationFacts {
            owner: org,
            service_code: "passport".into(),
            agency_code: "mvd".into(),
            status: Status::Draft,
            received: false,
            participant: None,
            assignee: None,
            represents_owner: false,
        });
        let citizen = |who| subject(who, &[Role::Citizen]);
        let not_yet = Err(Denial::OrganisationNotVerified);
        for verified in [false, true] {
            let table = [
                (
                    "head reads",
                    citizen(head),
                    Action::OrganisationsRead,
                    record(verified),
                    Ok(()),
                ),
                (
                    "employee reads",
                    citizen(employee),
                    Action::OrganisationsRead,
                    record(verified),
                    Ok(()),
                ),
                (
                    "stranger reads",
                    citizen(stranger),
                    Action::OrganisationsRead,
                    record(verified),
                    Err(Denial::NotOwner),
                ),
                (
                    "head manages",
                    citizen(head),
                    Action::OrganisationsManage,
                    record(verified),
                    if verified { Ok(()) } else { not_yet },
                ),
                (
                    "head acts for it",
                    for_org(head, verified),
                    Action::ApplicationsCreate,
                    new_application.clone(),
                    if verified { Ok(()) } else { not_yet },
                ),
                (
                    "head reads on its behalf",
                    for_org(head, verified),
                    Action::ApplicationsRead,
                    Resource::Account(org),
                    if verified { Ok(()) } else { not_yet },
                ),
                (
                    "employee acts for it",
                    for_org(employee, verified),
                    Action::ApplicationsCreate,
                    new_application.clone(),
                    if verified {
                        Err(Denial::NotDelegated)
                    } else {
                        not_yet
                    },
                ),
                (
                    "head verifies",
                    citizen(head),
                    Action::AccountsConfirmIdentity,
                    record(verified),
                    Err(Denial::RoleRequired),
                ),
                (
                    "employee verifies",
                    citizen(employee),
                    Action::AccountsConfirmIdentity,
                    record(verified),
                    Err(Denial::RoleRequired),
                ),
                (
                    "stranger verifies",
                    citizen(stranger),
                    Action::AccountsConfirmIdentity,
                    record(verified),
                    Err(Denial::NotOwner),
                ),
                (
                    "officer verifies",
                    subject(stranger, &[Role::Officer]),
                    Action::AccountsConfirmIdentity,
                    record(verified),
                    Ok(()),
                ),
                (
                    "admin verifies",
                    subject(stranger, &[Role::Admin]),
                    Action::AccountsConfirmIdentity,
                    record(verified),
                    Ok(()),
                ),
            ];
            for (what, who, action, resource, expected) in table {
                assert_eq!(
                    authorize(&who, action, &resource, now),
                    expected,
                    "{what}, verified: {verified}"
                );
            }
        }
        // Registering one: in one's own name and with a confirmed identity.
        let registering = Action::OrganisationsManage;
        assert_eq!(
            authorize(&citizen(head), registering, &Resource::Account(head), now),
            Ok(())
        );
        let simplified = Subject {
            level: AccountLevel::Simplified,
            ..citizen(head)
        };
        assert_eq!(
            authorize(&simplified, registering, &Resource::Account(head), now),
            Err(Denial::LevelTooLow)
        );
        assert_eq!(
            authorize(&citizen(head), registering, &Resource::Account(stranger), now),
            Err(Denial::NotOwner)
        );
    }

    /// Who may do what to a delegation: its principal, the principal organisation's head,
    /// its representative, a stranger, and someone acting on the principal's behalf.
    #[test]
    fn the_delegation_sides_table() {
        use crate::delegation::{Event, Side};
        let (principal, representative, head) = (AccountId::new(), AccountId::new(), AccountId::new());
        let now = Utc::now();
        let own = Resource::Delegation {
            principal,
            representative,
            head: None,
        };
        let organisation = Resource::Delegation {
            principal,
            representative,
            head: Some(head),
        };
        let simplified = Subject {
            level: AccountLevel::Simplified,
            ..subject(principal, &[Role::Citizen])
        };
        let on_behalf = Subject {
            on_behalf: Some(OnBehalf {
                principal,
                principal_level: AccountLevel::Confirmed,
                grants: vec![],
                head: false,
                unverified_organisation: false,
            }),
            ..subject(representative, &[Role::Citizen])
        };
        let table = [
            (
                "principal",
                subject(principal, &[Role::Citizen]),
                &own,
                Ok(Side::Principal),
            ),
            (
                "head",
                subject(head, &[Role::Citizen]),
                &organisation,
                Ok(Side::Principal),
            ),
            (
                "representative",
                subject(representative, &[Role::Citizen]),
                &own,
                Ok(Side::Representative),
            ),
            (
                "stranger",
                subject(AccountId::new(), &[Role::Citizen]),
                &own,
                Err(Denial::NotOwner),
            ),
            ("simplified principal", simplified, &own, Err(Denial::LevelTooLow)),
            ("for the principal", on_behalf, &own, Err(Denial::NotDelegated)),
        ];
        for (who, caller, resource, expected) in table {
            assert_eq!(delegation_side(&caller, resource, now), expected, "{who}");
        }
        // Lifecycle events: the principal's side cancels and revokes, the representative's
        // side accepts, declines and renounces (and passes on: `DelegationsRespond`).
        let principal_side = subject(principal, &[Role::Citizen]);
        let representative_side = subject(representative, &[Role::Citizen]);
        for event in [
            Event::Accept,
            Event::Decline,
            Event::Cancel,
            Event::Revoke,
            Event::Renounce,
        ] {
            let action = Action::on_delegation(event.side());
            let by_principal = authorize(&principal_side, action, &own, now);
            let by_representative = authorize(&representative_side, action, &own, now);
            let expected = match event.side() {
                Side::Principal => (Ok(()), Err(Denial::NotOwner)),
                _ => (Err(Denial::NotOwner), Ok(())),
            };
            assert_eq!((by_principal, by_representative), expected, "{event:?}");
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

    /// A vault document: its owner reads and changes it; nobody else does, whatever their
    /// role — attaching from someone else's vault is refused the same way.
    #[test]
    fn vault_documents_are_their_owners_alone() {
        let (me, other) = (AccountId::new(), AccountId::new());
        for role in Role::ALL {
            let s = subject(me, &[role]);
            for action in Action::ALL {
                for (relation, owner) in [("own", me), ("other", other)] {
                    let expected = match (action, relation) {
                        (Action::DocumentsRead | Action::DocumentsUpload, "own") => Ok(()),
                        _ => Err(Denial::NotOwner),
                    };
                    let resource = Resource::Document {
                        owner,
                        services: vec![],
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

    /// A representative with active powers of `kind` (a specific one lists `actions` and
    /// `services`) for `principal`.
    fn acting_for(
        principal: AccountId,
        kind: crate::delegation::Kind,
        actions: Vec<Action>,
        services: Option<Vec<String>>,
    ) -> Subject {
        use crate::delegation::{Grant, Powers, Status as D};
        let now = Utc::now();
        Subject {
            on_behalf: Some(OnBehalf {
                principal,
                principal_level: AccountLevel::Confirmed,
                unverified_organisation: false,
                grants: vec![Grant {
                    delegation: crate::ids::DelegationId::new(),
                    principal,
                    status: D::Active,
                    valid_from: now - chrono::TimeDelta::days(1),
                    valid_until: now + chrono::TimeDelta::days(1),
                    powers: Powers {
                        kind,
                        actions,
                        services,
                    },
                }],
                head: false,
            }),
            ..subject(AccountId::new(), &[Role::Citizen])
        }
    }

    /// Nothing that guards the account itself — credentials and allow-list, the identity
    /// documents that set its level, delegations — is reachable on behalf, whatever the
    /// kind of delegation and whatever a specific one lists; the principal reaches all of it.
    #[test]
    fn nothing_that_guards_the_account_is_delegable() {
        use crate::delegation::Kind;
        let principal = AccountId::new();
        let now = Utc::now();
        let delegation = Resource::Delegation {
            principal,
            representative: AccountId::new(),
            head: None,
        };
        let guarded = [
            (Action::CredentialsManage, Resource::Account(principal)),
            (Action::IdentityManage, Resource::Account(principal)),
            (
                Action::DelegationsManage,
                Resource::NewDelegation {
                    principal,
                    head: None,
                },
            ),
            (Action::DelegationsManage, delegation.clone()),
            (Action::DelegationsRead, delegation.clone()),
            (Action::DelegationsRespond, delegation.clone()),
            (Action::AuditRead, Resource::Account(principal)),
        ];
        for kind in Kind::ALL {
            let listed = if kind == Kind::Specific {
                Action::ALL.to_vec()
            } else {
                vec![]
            };
            let representative = acting_for(principal, kind, listed, None);
            for (action, resource) in &guarded {
                assert!(crate::delegation::never_delegable(*action), "{action:?}");
                assert_eq!(
                    authorize(&representative, *action, resource, now),
                    Err(Denial::ActionNotCovered),
                    "{kind:?} {action:?}"
                );
            }
            // What does not guard the account stays delegable to a full delegation.
            if kind == Kind::Full {
                for action in [Action::ProfileRead, Action::ProfileEdit] {
                    assert_eq!(
                        authorize(&representative, action, &Resource::Account(principal), now),
                        Ok(())
                    );
                }
            }
        }
        let own = subject(principal, &[Role::Citizen]);
        for (action, resource) in guarded[..3].iter().chain(guarded.last()) {
            assert_eq!(authorize(&own, *action, resource, now), Ok(()), "{action:?}");
        }
        assert_eq!(Action::IdentityManage.as_str(), "identity.manage");
        assert!(Action::IdentityManage.is_write());
    }

    /// Issuing a delegation is decided before the representative is looked up: the
    /// principal (or the head of the principal organisation) may, if a confirmed citizen;
    /// staff, strangers and anyone acting on behalf may not.
    #[test]
    fn who_may_issue_a_delegation() {
        use crate::delegation::Kind;
        let (principal, head) = (AccountId::new(), AccountId::new());
        let now = Utc::now();
        let own = Resource::NewDelegation {
            principal,
            head: None,
        };
        let organisation = Resource::NewDelegation {
            principal,
            head: Some(head),
        };
        let officer = Subject {
            agency: Some("mvd".into()),
            ..subject(principal, &[Role::Officer])
        };
        let simplified = Subject {
            level: AccountLevel::Simplified,
            ..subject(principal, &[Role::Citizen])
        };
        let table = [
            ("principal", subject(principal, &[Role::Citizen]), &own, Ok(())),
            ("head", subject(head, &[Role::Citizen]), &organisation, Ok(())),
            ("officer", officer, &own, Err(Denial::RoleRequired)),
            (
                "admin",
                subject(principal, &[Role::Admin]),
                &own,
                Err(Denial::RoleRequired),
            ),
            ("simplified", simplified, &own, Err(Denial::LevelTooLow)),
            (
                "stranger",
                subject(AccountId::new(), &[Role::Citizen]),
                &own,
                Err(Denial::NotOwner),
            ),
            (
                "on behalf",
                acting_for(principal, Kind::Full, vec![], None),
                &own,
                Err(Denial::ActionNotCovered),
            ),
        ];
        for (who, caller, resource, expected) in table {
            assert_eq!(
                authorize(&caller, Action::DelegationsManage, resource, now),
                expected,
                "{who}"
            );
        }
    }

    /// Powers limited to services reach a vault document only through one of its
    /// services; one outside them (or of no service) is not found, as a stranger's is.
    #[test]
    fn documents_on_behalf_stay_within_the_delegations_services() {
        use crate::delegation::Kind;
        let principal = AccountId::new();
        let now = Utc::now();
        let doc = |services: &[&str]| Resource::Document {
            owner: principal,
            services: services.iter().map(|s| s.to_string()).collect(),
        };
        let limited_to_passport = acting_for(
            principal,
            Kind::Specific,
            vec![Action::ApplicationsRead, Action::DocumentsRead],
            Some(vec!["passport".into()]),
        );
        let full = acting_for(principal, Kind::Full, vec![], None);
        let table = [
            (
                "covered service",
                &limited_to_passport,
                doc(&["passport"]),
                Ok(()),
            ),
            (
                "one of several",
                &limited_to_passport,
                doc(&["tax", "passport"]),
                Ok(()),
            ),
            (
                "other service",
                &limited_to_passport,
                doc(&["tax"]),
                Err(Denial::NotOwner),
            ),
            (
                "no service",
                &limited_to_passport,
                doc(&[]),
                Err(Denial::NotOwner),
            ),
            ("full, no service", &full, doc(&[]), Ok(())),
        ];
        for (name, who, resource, expected) in table {
            assert_eq!(
                authorize(who, Action::DocumentsRead, &resource, now),
                expected,
                "{name}"
            );
        }
        assert_eq!(
            limited_to_passport.visible_services(Action::DocumentsRead, now),
            Some(vec!["passport".to_string()])
        );
        assert_eq!(
            limited_to_passport.visible_services(Action::DocumentsUpload, now),
            Some(vec![])
        );
        assert_eq!(full.visible_services(Action::DocumentsRead, now), None);
    }

    /// Whose audit records each caller reads: admins every record, every other account —
    /// staff included — the records about itself and its applications; nobody on behalf,
    /// whatever the delegation, and no organisation's head for the organisation.
    #[test]
    fn the_audit_scope_table() {
        use crate::delegation::Kind;
        let now = Utc::now();
        let (me, principal) = (AccountId::new(), AccountId::new());
        let head = Subject {
            on_behalf: Some(OnBehalf {
                principal,
                principal_level: AccountLevel::Confirmed,
                grants: vec![],
                head: true,
                unverified_organisation: false,
            }),
            ..subject(me, &[Role::Citizen])
        };
        let full = acting_for(principal, Kind::Full, vec![], None);
        let specific = acting_for(principal, Kind::Specific, Action::ALL.to_vec(), None);
        let table: Vec<(&str, Subject, Result<AuditScope, Denial>)> = vec![
            ("admin", subject(me, &[Role::Admin]), Ok(AuditScope::Everything)),
            (
                "citizen",
                subject(me, &[Role::Citizen]),
                Ok(AuditScope::About(me)),
            ),
            (
                "officer",
                subject(me, &[Role::Officer]),
                Ok(AuditScope::About(me)),
            ),
            (
                "supervisor",
                subject(me, &[Role::Officer, Role::Supervisor]),
                Ok(AuditScope::About(me)),
            ),
            ("notary", subject(me, &[Role::Notary]), Ok(AuditScope::About(me))),
            (
                "simplified citizen",
                Subject {
                    level: AccountLevel::Simplified,
                    ..subject(me, &[Role::Citizen])
                },
                Ok(AuditScope::About(me)),
            ),
            ("full delegation", full.clone(), Err(Denial::ActionNotCovered)),
            ("listing every action", specific, Err(Denial::ActionNotCovered)),
            ("an organisation's head", head, Err(Denial::ActionNotCovered)),
            (
                "no delegation",
                Subject {
                    on_behalf: full.on_behalf.clone().map(|o| OnBehalf { grants: vec![], ..o }),
                    ..full.clone()
                },
                Err(Denial::NotDelegated),
            ),
        ];
        for (name, who, expected) in table {
            assert_eq!(audit_scope(&who, now), expected, "{name}");
        }

        let (other, stranger) = (AccountId::new(), AccountId::new());
        let about = |f: AuditRecordFacts| {
            (
                AuditScope::About(me).covers(&f),
                AuditScope::Everything.covers(&f),
            )
        };
        let facts = AuditRecordFacts::default;
        let records = [
            (
                "I acted",
                AuditRecordFacts {
                    actor: Some(me),
                    ..facts()
                },
                true,
            ),
            (
                "my representative acted for me",
                AuditRecordFacts {
                    actor: Some(other),
                    on_behalf_of: Some(me),
                    ..facts()
                },
                true,
            ),
            (
                "someone failed to log in to my account",
                AuditRecordFacts {
                    target_account: Some(me),
                    ..facts()
                },
                true,
            ),
            (
                "a co-participant acted on my application",
                AuditRecordFacts {
                    actor: Some(other),
                    on_own_application: true,
                    ..facts()
                },
                true,
            ),
            (
                "the system expired my application",
                AuditRecordFacts {
                    on_own_application: true,
                    ..facts()
                },
                true,
            ),
            (
                "another citizen acted for a third",
                AuditRecordFacts {
                    actor: Some(other),
                    on_behalf_of: Some(stranger),
                    target_account: Some(stranger),
                    on_own_application: false,
                },
                false,
            ),
            ("a system record about nobody", facts(), false),
        ];
        for (name, record, mine) in records {
            assert_eq!(about(record), (mine, true), "{name}");
        }
    }
}
