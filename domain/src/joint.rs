//! Joint work on an application (SPEC §4): participants and what their roles allow,
//! invitations, the version a signature covers and who still has to sign, requests
//! between participants, and comments. The entities here are what persistence maps its
//! rows to; their enums carry their wire strings in one declaration (strum).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::actions::Action;
use crate::application::Status;
use crate::catalog::ServicePolicy;
use crate::field_error::FieldError;
use crate::ids::{AccountId, ApplicationId, CommentId, InvitationId, RequestId, SignatureId};
use crate::time::Instant;

/// A participant's role. The owner is the applicant; the others join by invitation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumString, IntoStaticStr, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ParticipantRole {
    Owner,
    /// A second applicant (a spouse on a family application): edits, attaches and must
    /// sign before the application can be submitted.
    CoApplicant,
    /// Helps fill the form and attach documents.
    Contributor,
    /// Reads and comments.
    Viewer,
}

impl ParticipantRole {
    pub const ALL: &'static [ParticipantRole] = ParticipantRole::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<ParticipantRole> {
        s.parse().ok()
    }

    /// The rights table: what a participant in this role may do on the application.
    /// The owner's rights are the applicant's and are decided by the authorization core.
    pub fn allows(self, action: Action) -> bool {
        use Action as A;
        // Anyone who joined may leave again.
        let reader = matches!(
            action,
            A::ApplicationsRead | A::DocumentsRead | A::CommentsWrite | A::ParticipationLeave
        );
        let editor = matches!(
            action,
            A::ApplicationsEdit | A::DocumentsUpload | A::RequestsCreate
        );
        match self {
            ParticipantRole::Owner => true,
            ParticipantRole::CoApplicant => reader || editor || action == A::ApplicationsSign,
            ParticipantRole::Contributor => reader || editor,
            ParticipantRole::Viewer => reader,
        }
    }

    /// How people read the role in notices.
    pub fn label(self) -> &'static str {
        match self {
            ParticipantRole::Owner => "владелец",
            ParticipantRole::CoApplicant => "созаявитель",
            ParticipantRole::Contributor => "помощник",
            ParticipantRole::Viewer => "наблюдатель",
        }
    }
}

/// Someone who joined an application (the owner is not one: the application names it).
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub account: AccountId,
    pub role: ParticipantRole,
    pub added_by: AccountId,
    pub added_at: Instant,
    /// Set when whoever invited them did so for this principal (a representative acting
    /// on behalf): a party chosen for the principal, not by them.
    pub invited_on_behalf_of: Option<AccountId>,
}

/// `account`'s role on the application of `owner` with `participants`: the owner's, a
/// participant's, or none.
pub fn role_on(
    owner: AccountId,
    participants: &[Participant],
    account: AccountId,
) -> Option<ParticipantRole> {
    if account == owner {
        return Some(ParticipantRole::Owner);
    }
    participants.iter().find(|p| p.account == account).map(|p| p.role)
}

/// What removing `target` from an application is, asked by `principal` (the caller, or
/// whom they act for): removing oneself is leaving; removing anyone else is managing
/// the participants (the owner's right).
pub fn removal(target: AccountId, principal: AccountId) -> Action {
    if target == principal {
        Action::ParticipationLeave
    } else {
        Action::ParticipantsManage
    }
}

/// Why a joint action is refused. Those naming a field are the caller's input (422),
/// the others the application's or invitation's state (409).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
pub enum Refusal {
    /// Only services that allow co-applicants accept them.
    CoApplicantsNotAllowed,
    /// Nobody is invited as owner.
    OwnerNotInvitable,
    /// An invitation names exactly one contact.
    OneContact,
    AlreadyAnswered,
    Expired,
    AlreadyParticipant,
    AlreadyInvited,
    /// Signing is open while the content may change (see [`may_sign`]).
    NotSignable,
    AlreadySigned,
    /// A request goes to someone on the application.
    NotParticipant,
    /// A signature is asked only of someone who signs.
    NotSigner,
    DueDateInPast,
    /// A document request names the document.
    DocTypeRequired,
    /// A comment is 1 to [`COMMENT_MAX_LENGTH`] characters.
    CommentLength,
    /// After submission nobody becomes or stops being a co-applicant (see
    /// [`check_signers_fixed`]).
    ParticipantsFixed,
    /// Nobody joins a cancelled or closed application (see [`check_open`]).
    ApplicationClosed,
}

impl Refusal {
    /// Every refusal, in declaration order.
    pub fn all() -> impl Iterator<Item = Refusal> {
        <Refusal as strum::IntoEnumIterator>::iter()
    }

    pub fn code(self) -> &'static str {
        match self {
            Refusal::CoApplicantsNotAllowed => "co_applicants_not_allowed",
            Refusal::OwnerNotInvitable => "owner_not_invitable",
            Refusal::OneContact => "one_contact",
            Refusal::AlreadyAnswered => "invitation_answered",
            Refusal::Expired => "invitation_expired",
            Refusal::AlreadyParticipant => "already_participant",
            Refusal::AlreadyInvited => "already_invited",
            Refusal::NotSignable => "not_signable",
            Refusal::AlreadySigned => "already_signed",
            Refusal::NotParticipant => "not_participant",
            Refusal::NotSigner => "not_signer",
            Refusal::DueDateInPast => "due_date_in_past",
            Refusal::DocTypeRequired => "required",
            Refusal::CommentLength => "invalid_value",
            Refusal::ParticipantsFixed => "participants_fixed",
            Refusal::ApplicationClosed => "application_closed",
        }
    }

    /// The input field at fault, for refusals of the caller's input.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Refusal::CoApplicantsNotAllowed | Refusal::OwnerNotInvitable => Some("role"),
            Refusal::OneContact => Some("email"),
            Refusal::NotParticipant | Refusal::NotSigner => Some("assignee_id"),
            Refusal::DueDateInPast => Some("due_at"),
            Refusal::DocTypeRequired => Some("doc_type"),
            Refusal::CommentLength => Some("body"),
            Refusal::AlreadyAnswered
            | Refusal::Expired
            | Refusal::AlreadyParticipant
            | Refusal::AlreadyInvited
            | Refusal::NotSignable
            | Refusal::AlreadySigned
            | Refusal::ParticipantsFixed
            | Refusal::ApplicationClosed => None,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::CoApplicantsNotAllowed => "This service does not accept co-applicants.",
            Refusal::OwnerNotInvitable => {
                "An application has one owner; invite as co_applicant, contributor or viewer."
            }
            Refusal::OneContact => "Give exactly one of email, phone or snils.",
            Refusal::AlreadyAnswered => "The invitation has already been answered.",
            Refusal::Expired => "The invitation has expired; ask for a new one.",
            Refusal::AlreadyParticipant => "This person already takes part.",
            Refusal::AlreadyInvited => "This person already has an open invitation to this application.",
            Refusal::NotSignable => "Signing is open in the draft and while the agency asks for information.",
            Refusal::AlreadySigned => "You have already signed this version.",
            Refusal::NotParticipant => "Ask someone who takes part in the application.",
            Refusal::NotSigner => "This participant does not sign the application.",
            Refusal::DueDateInPast => "The due date must be in the future.",
            Refusal::DocTypeRequired => "Say which document is asked for.",
            Refusal::CommentLength => "1 to 4000 characters.",
            Refusal::ParticipantsFixed => {
                "Who signs was fixed when the application was submitted: co-applicants cannot be added, removed or given another role now."
            }
            Refusal::ApplicationClosed => {
                "The application is cancelled or closed: nobody is invited to it or joins it now."
            }
        }
    }
}

/// Whether people may still be invited to an application in `status` (its effective
/// status), or join it: not once it is cancelled (the applicant stopped it; a restore
/// reopens it), completed, or finally rejected (`final_decision`: the appeal was decided).
/// An expired one stays open: the agency may extend it.
pub fn check_open(status: Status, final_decision: bool) -> Result<(), Refusal> {
    let closed = matches!(status, Status::Cancelled | Status::Completed)
        || (status == Status::Rejected && final_decision);
    if closed {
        return Err(Refusal::ApplicationClosed);
    }
    Ok(())
}

/// Whether `role` may be given on an application of a service with `policy`.
pub fn check_role(role: ParticipantRole, policy: &ServicePolicy) -> Result<(), Refusal> {
    match role {
        ParticipantRole::Owner => Err(Refusal::OwnerNotInvitable),
        ParticipantRole::CoApplicant if !policy.co_applicants_allowed => Err(Refusal::CoApplicantsNotAllowed),
        _ => Ok(()),
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, EnumString, IntoStaticStr, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
}

impl InvitationStatus {
    pub const ALL: &'static [InvitationStatus] = InvitationStatus::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<InvitationStatus> {
        s.parse().ok()
    }
}

/// An invitation to join an application, addressed to a login (e-mail, phone or SNILS),
/// also of someone who registers only later.
#[derive(Clone, Debug, PartialEq)]
pub struct Invitation {
    pub id: InvitationId,
    pub application: ApplicationId,
    pub role: ParticipantRole,
    pub login_key: String,
    /// The contact, masked (`s***@example.ru`), for lists.
    pub contact_hint: String,
    pub invited_by: AccountId,
    pub status: InvitationStatus,
    pub answered_by: Option<AccountId>,
    pub expires_at: Instant,
    pub created_at: Instant,
    pub answered_at: Option<Instant>,
    pub version: i64,
    /// The principal `invited_by` acted for, when they invited on behalf.
    pub invited_on_behalf_of: Option<AccountId>,
}

impl Invitation {
    /// Still waiting for an answer at `now`.
    pub fn is_open(&self, now: Instant) -> bool {
        self.status == InvitationStatus::Pending && self.expires_at > now
    }

    /// Pending but past its lifetime at `now`: shown as `expired`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.status == InvitationStatus::Pending && self.expires_at <= now
    }

    /// An invitation may be answered while pending and before it expires (7 days, config).
    pub fn check_answer(&self, now: Instant) -> Result<(), Refusal> {
        if self.status != InvitationStatus::Pending {
            return Err(Refusal::AlreadyAnswered);
        }
        if now >= self.expires_at {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
}

/// How a signer confirmed a signature.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, EnumString, IntoStaticStr, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SignatureMethod {
    /// The authenticator's code.
    Totp,
    /// A one-time code sent through the outbox.
    Code,
}

impl SignatureMethod {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A simple electronic signature of one version of an application's content.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub id: SignatureId,
    pub application: ApplicationId,
    pub account: AccountId,
    pub role: ParticipantRole,
    pub content_hash: String,
    pub application_version: i64,
    pub method: SignatureMethod,
    pub signed_at: Instant,
}

impl Signature {
    /// Whether it covers the content whose hash is `current_hash`.
    pub fn covers(&self, current_hash: &str) -> bool {
        self.content_hash == current_hash
    }
}

/// Whether `signer` already signed the content with `hash`.
pub fn check_not_signed(signatures: &[Signature], signer: AccountId, hash: &str) -> Result<(), Refusal> {
    if signatures.iter().any(|s| s.account == signer && s.covers(hash)) {
        return Err(Refusal::AlreadySigned);
    }
    Ok(())
}

/// JSON with object keys sorted at every level, so equal data always hashes equally
/// whatever order its keys were written in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What a signature covers: the SHA-256 of the form (canonical JSON) and the hashes of
/// the current attachments (sorted). Any edit or attachment change gives a new hash, so
/// earlier signatures no longer match.
pub fn content_hash(form_data: &Value, attachment_hashes: &[impl AsRef<str>]) -> String {
    let mut form = String::new();
    canonical(form_data, &mut form);
    let mut attachments: Vec<&str> = attachment_hashes.iter().map(AsRef::as_ref).collect();
    attachments.sort();
    let mut hasher = Sha256::new();
    hasher.update(b"kabinet-application-v1\n");
    hasher.update((form.len() as u64).to_be_bytes());
    hasher.update(form.as_bytes());
    for hash in attachments {
        hasher.update(b"\n");
        hasher.update(hash.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Who must sign before submission: nobody on a one-person application; with
/// co-applicants, the owner and every co-applicant.
pub fn required_signers(owner: AccountId, participants: &[(AccountId, ParticipantRole)]) -> Vec<AccountId> {
    let co_applicants: Vec<AccountId> = participants
        .iter()
        .filter(|(_, role)| *role == ParticipantRole::CoApplicant)
        .map(|(account, _)| *account)
        .collect();
    if co_applicants.is_empty() {
        return vec![];
    }
    std::iter::once(owner).chain(co_applicants).collect()
}

/// Whether a participant may go from role `from` to role `to` (`None`: not on the
/// application). Once the application was submitted, the signers are fixed with what
/// the agency received: nobody becomes or stops being a co-applicant (by an invitation,
/// a role change, a removal or leaving). Contributors and viewers, who do not sign, may
/// still come and go. Chosen over reopening signing as a new version: one rule, and the
/// agency never holds content signed by a set of people that changed under it.
pub fn check_signers_fixed(
    submitted: bool,
    from: Option<ParticipantRole>,
    to: Option<ParticipantRole>,
) -> Result<(), Refusal> {
    let signs = |role: Option<ParticipantRole>| role == Some(ParticipantRole::CoApplicant);
    if submitted && signs(from) != signs(to) {
        return Err(Refusal::ParticipantsFixed);
    }
    Ok(())
}

/// Whether participants sign in `status`: while the content may still change before it
/// goes (back) to the agency — in the draft, and while the agency asks for information.
pub fn may_sign(status: Status) -> bool {
    matches!(status, Status::Draft | Status::NeedsInfo)
}

/// Whether the applicants may change the content (form, attachments) in `status` without
/// the agency asking. Co-applicants signed what the agency received, so a joint
/// application changes after submission only while the agency asks for information, and
/// the answer goes back only once everyone has signed again. An application without
/// co-applicants follows its service's policy alone.
pub fn may_change_unasked(status: Status, joint: bool) -> bool {
    !joint || may_sign(status)
}

/// The required signers without a signature on the current content.
pub fn missing_signatures(required: &[AccountId], signed_current: &[AccountId]) -> Vec<AccountId> {
    required
        .iter()
        .filter(|a| !signed_current.contains(a))
        .copied()
        .collect()
}

/// What a participant may ask another for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, EnumString, IntoStaticStr, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestKind {
    Signature,
    Document,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        s.parse().ok()
    }
}

/// Where a request between participants stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, EnumString, IntoStaticStr, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestStatus {
    Open,
    /// The assignee signed or attached the document: the act itself answers the request.
    Fulfilled,
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        s.parse().ok()
    }
}

/// One participant asking another for a signature or a document, by a due date.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub application: ApplicationId,
    pub kind: RequestKind,
    pub requested_by: AccountId,
    pub assignee: AccountId,
    pub doc_type: Option<String>,
    pub message: Option<String>,
    pub due_at: Instant,
    pub status: RequestStatus,
    pub created_at: Instant,
    pub fulfilled_at: Option<Instant>,
}

/// What a caller asks for, checked for shape: a due date ahead of `now`, the document
/// named for a document request, the message trimmed to at most 1000 characters.
#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub kind: RequestKind,
    pub assignee: AccountId,
    pub doc_type: Option<String>,
    pub due_at: Instant,
    pub message: Option<String>,
}

const MESSAGE_MAX_LENGTH: usize = 1000;

impl Ask {
    pub fn new(
        kind: RequestKind,
        assignee: AccountId,
        doc_type: Option<String>,
        due_at: Instant,
        message: Option<String>,
        now: Instant,
    ) -> Result<Ask, FieldError> {
        if due_at <= now {
            return Err(Refusal::DueDateInPast.into());
        }
        let doc_type = match (kind, doc_type) {
            (RequestKind::Document, Some(t)) => {
                crate::document::check_doc_type(&t)?;
                Some(t)
            }
            (RequestKind::Document, None) => return Err(Refusal::DocTypeRequired.into()),
            (RequestKind::Signature, _) => None,
        };
        let message = message
            .map(|m| m.trim().chars().take(MESSAGE_MAX_LENGTH).collect::<String>())
            .filter(|m| !m.is_empty());
        Ok(Ask {
            kind,
            assignee,
            doc_type,
            due_at,
            message,
        })
    }

    /// Whether the assignee, in `role` on the application (none: not on it), can be asked.
    pub fn check_assignee(&self, role: Option<ParticipantRole>) -> Result<(), Refusal> {
        let role = role.ok_or(Refusal::NotParticipant)?;
        if self.kind == RequestKind::Signature && !role.allows(Action::ApplicationsSign) {
            return Err(Refusal::NotSigner);
        }
        Ok(())
    }
}

impl From<Refusal> for FieldError {
    /// A refusal of the caller's input as a field problem (others name no field: `body`).
    fn from(refusal: Refusal) -> FieldError {
        FieldError::new(
            refusal.field().unwrap_or("body"),
            refusal.code(),
            refusal.message(),
        )
    }
}

/// The longest comment, in characters.
pub const COMMENT_MAX_LENGTH: usize = 4000;

/// A comment's text: trimmed, 1 to [`COMMENT_MAX_LENGTH`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    pub fn parse(text: &str) -> Result<CommentText, Refusal> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > COMMENT_MAX_LENGTH {
            return Err(Refusal::CommentLength);
        }
        Ok(CommentText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A comment in an application's thread; an edit keeps the previous text as a revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub id: CommentId,
    pub application: ApplicationId,
    pub author: AccountId,
    pub on_behalf_of: Option<AccountId>,
    pub body: String,
    pub version: i64,
    pub created_at: Instant,
    pub edited_at: Option<Instant>,
}

impl Comment {
    /// The comment after its author's edit to `text` at `at`.
    pub fn edited(self, text: CommentText, at: Instant) -> Comment {
        Comment {
            body: text.0,
            version: self.version + 1,
            edited_at: Some(at),
            ..self
        }
    }
}

/// An earlier text of a comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    pub version: i64,
    pub body: String,
    pub written_at: Instant,
}

/// Who hears of a comment by `author`: the members it mentions get a mention, the other
/// members (never the author) a plain notice. Returns (mentioned, told).
pub fn comment_audience(
    body: &str,
    members: &[AccountId],
    author: AccountId,
) -> (Vec<AccountId>, Vec<AccountId>) {
    let mentioned: Vec<AccountId> = mentions(body)
        .into_iter()
        .filter(|m| members.contains(m) && *m != author)
        .collect();
    let told = members
        .iter()
        .filter(|m| **m != author && !mentioned.contains(m))
        .copied()
        .collect();
    (mentioned, told)
}

/// Accounts mentioned in a comment as `@<account id>`, without repeats.
pub fn mentions(body: &str) -> Vec<AccountId> {
    let mut found = Vec::new();
    for word in body.split('@').skip(1) {
        let candidate: String = word.chars().take(36).collect();
        if let Ok(id) = candidate.parse::<AccountId>() {
            if !found.contains(&id) {
                found.push(id);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_joint_application_changes_after_submission_only_when_asked() {
        for status in [Status::Draft, Status::NeedsInfo] {
            assert!(may_sign(status) && may_change_unasked(status, true));
        }
        for status in [Status::Submitted, Status::Resubmitted, Status::InReview] {
            assert!(!may_sign(status));
            assert!(!may_change_unasked(status, true));
            // Alone, the service's policy decides.
            assert!(may_change_unasked(status, false));
        }
    }

    #[test]
    fn roles_grant_what_the_spec_says() {
        use ParticipantRole::*;
        assert!(CoApplicant.allows(Action::ApplicationsSign));
        assert!(!Contributor.allows(Action::ApplicationsSign));
        assert!(Contributor.allows(Action::DocumentsUpload) && Contributor.allows(Action::ApplicationsEdit));
        assert!(Viewer.allows(Action::ApplicationsRead) && Viewer.allows(Action::CommentsWrite));
        assert!(!Viewer.allows(Action::ApplicationsEdit) && !Viewer.allows(Action::DocumentsUpload));
        for role in [CoApplicant, Contributor, Viewer] {
            assert!(!role.allows(Action::ApplicationsSubmit), "{role:?}");
            assert!(!role.allows(Action::ParticipantsManage), "{role:?}");
            assert!(!role.allows(Action::ApplicationsCancel), "{role:?}");
        }
        for role in ParticipantRole::ALL {
            assert_eq!(ParticipantRole::parse(role.as_str()), Some(*role));
            assert!(role.allows(Action::ParticipationLeave), "{role:?} may leave");
        }
    }

    #[test]
    fn co_applicants_only_where_the_service_allows_them() {
        let no = ServicePolicy::default();
        let yes = ServicePolicy {
            co_applicants_allowed: true,
            ..ServicePolicy::default()
        };
        assert_eq!(
            check_role(ParticipantRole::CoApplicant, &no),
            Err(Refusal::CoApplicantsNotAllowed)
        );
        assert_eq!(check_role(ParticipantRole::CoApplicant, &yes), Ok(()));
        assert_eq!(check_role(ParticipantRole::Viewer, &no), Ok(()));
        assert_eq!(
            check_role(ParticipantRole::Owner, &yes),
            Err(Refusal::OwnerNotInvitable)
        );
    }

    #[test]
    fn invitations_expire_and_are_answered_once() {
        let now = chrono::Utc::now();
        let invitation = |status, expires_at| Invitation {
            id: InvitationId::new(),
            application: ApplicationId::new(),
            role: ParticipantRole::Viewer,
            login_key: "email:a@example.ru".into(),
            contact_hint: "a***@example.ru".into(),
            invited_by: AccountId::new(),
            status,
            answered_by: None,
            expires_at,
            created_at: now,
            answered_at: None,
            version: 1,
            invited_on_behalf_of: None,
        };
        let later = now + chrono::TimeDelta::days(7);
        let open = invitation(InvitationStatus::Pending, later);
        assert_eq!(open.check_answer(now), Ok(()));
        assert!(open.is_open(now) && !open.is_expired(now));
        let lapsed = invitation(InvitationStatus::Pending, now);
        assert_eq!(lapsed.check_answer(now), Err(Refusal::Expired));
        assert!(!lapsed.is_open(now) && lapsed.is_expired(now));
        let declined = invitation(InvitationStatus::Declined, later);
        assert_eq!(declined.check_answer(now), Err(Refusal::AlreadyAnswered));
        assert!(!declined.is_open(now) && !declined.is_expired(now));
        for status in InvitationStatus::ALL {
            assert_eq!(InvitationStatus::parse(status.as_str()), Some(*status));
        }
    }

    #[test]
    fn the_hash_changes_with_any_edit_and_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "т"}});
        let b = json!({"a": {"x": "т", "y": [1, 2]}, "b": 1});
        let files = vec!["h2".to_string(), "h1".to_string()];
        let reordered = vec!["h1".to_string(), "h2".to_string()];
        assert_eq!(content_hash(&a, &files), content_hash(&b, &reordered));
        assert_ne!(
            content_hash(&a, &files),
            content_hash(&json!({"b": 2, "a": {"x": "т", "y": [1, 2]}}), &files)
        );
        assert_ne!(content_hash(&a, &files), content_hash(&a, &files[..1]));
    }

    #[test]
    fn signers_are_the_owner_and_co_applicants() {
        let (owner, spouse, helper) = (AccountId::new(), AccountId::new(), AccountId::new());
        assert!(required_signers(owner, &[(helper, ParticipantRole::Contributor)]).is_empty());
        let family = [
            (spouse, ParticipantRole::CoApplicant),
            (helper, ParticipantRole::Contributor),
        ];
        let required = required_signers(owner, &family);
        assert_eq!(required, vec![owner, spouse]);
        assert_eq!(missing_signatures(&required, &[spouse]), vec![owner]);
        assert!(missing_signatures(&required, &[owner, spouse]).is_empty());
    }

    #[test]
    fn mentions_name_accounts() {
        let someone = AccountId::new();
        let body = format!("@{someone}, приложите справку. @{someone} @nobody");
        assert_eq!(mentions(&body), vec![someone]);
    }

    #[test]
    fn the_mentioned_get_a_mention_and_the_others_a_notice_never_the_author() {
        let (author, named, other, stranger) = (
            AccountId::new(),
            AccountId::new(),
            AccountId::new(),
            AccountId::new(),
        );
        let members = [author, named, other];
        let body = format!("@{named} @{author} @{stranger}");
        assert_eq!(
            comment_audience(&body, &members, author),
            (vec![named], vec![other])
        );
    }

    #[test]
    fn removing_oneself_is_leaving_anyone_else_is_managing() {
        let (me, other) = (AccountId::new(), AccountId::new());
        assert_eq!(removal(me, me), Action::ParticipationLeave);
        assert_eq!(removal(other, me), Action::ParticipantsManage);
    }

    #[test]
    fn signers_are_fixed_at_submission() {
        use ParticipantRole::{CoApplicant, Contributor, Viewer};
        let changes = [
            (None, Some(CoApplicant)),
            (Some(CoApplicant), None),
            (Some(CoApplicant), Some(Viewer)),
            (Some(Viewer), Some(CoApplicant)),
        ];
        for (from, to) in changes {
            assert_eq!(check_signers_fixed(false, from, to), Ok(()));
            assert_eq!(
                check_signers_fixed(true, from, to).map_err(Refusal::code),
                Err("participants_fixed"),
                "{from:?} → {to:?}"
            );
        }
        for (from, to) in [
            (None, Some(Viewer)),
            (Some(Contributor), Some(Viewer)),
            (Some(Viewer), None),
        ] {
            assert_eq!(check_signers_fixed(true, from, to), Ok(()));
        }
    }

    #[test]
    fn roles_on_an_application() {
        let (owner, spouse, stranger) = (AccountId::new(), AccountId::new(), AccountId::new());
        let joined = [Participant {
            account: spouse,
            role: ParticipantRole::CoApplicant,
            added_by: owner,
            added_at: chrono::Utc::now(),
            invited_on_behalf_of: None,
        }];
        assert_eq!(role_on(owner, &joined, owner), Some(ParticipantRole::Owner));
        assert_eq!(
            role_on(owner, &joined, spouse),
            Some(ParticipantRole::CoApplicant)
        );
        assert_eq!(role_on(owner, &joined, stranger), None);
    }

    #[test]
    fn asks_are_checked_for_shape_and_assignee() {
        let now = chrono::Utc::now();
        let (soon, past) = (now + chrono::TimeDelta::days(1), now - chrono::TimeDelta::days(1));
        let someone = AccountId::new();
        let ask = |kind, doc: Option<&str>, due| Ask::new(kind, someone, doc.map(Into::into), due, None, now);
        assert_eq!(
            ask(RequestKind::Signature, None, past).map_err(|e| e.code),
            Err("due_date_in_past")
        );
        assert_eq!(
            ask(RequestKind::Document, None, soon).map_err(|e| e.field),
            Err("doc_type")
        );
        assert!(ask(RequestKind::Document, Some("Bad Type"), soon).is_err());
        let signature = ask(RequestKind::Signature, Some("photo"), soon).ok();
        assert_eq!(signature.as_ref().and_then(|a| a.doc_type.clone()), None);
        let message = Ask::new(
            RequestKind::Signature,
            someone,
            None,
            soon,
            Some("  ".into()),
            now,
        );
        assert_eq!(message.ok().and_then(|a| a.message), None);
        let Ok(sign) = ask(RequestKind::Signature, None, soon) else {
            panic!("a signature request");
        };
        assert_eq!(sign.check_assignee(None), Err(Refusal::NotParticipant));
        assert_eq!(
            sign.check_assignee(Some(ParticipantRole::Contributor)),
            Err(Refusal::NotSigner)
        );
        assert_eq!(sign.check_assignee(Some(ParticipantRole::Owner)), Ok(()));
        let Ok(paper) = ask(RequestKind::Document, Some("photo"), soon) else {
            panic!("a document request");
        };
        assert_eq!(paper.check_assignee(Some(ParticipantRole::Viewer)), Ok(()));
    }

    #[test]
    fn comments_are_one_to_4000_characters_and_edits_bump_the_version() {
        assert_eq!(CommentText::parse("   "), Err(Refusal::CommentLength));
        assert_eq!(CommentText::parse(&"я".repeat(4001)), Err(Refusal::CommentLength));
        assert!(CommentText::parse(&"я".repeat(4000)).is_ok());
        let Ok(text) = CommentText::parse("  Проверено ") else {
            panic!("a valid comment");
        };
        assert_eq!(text.as_str(), "Проверено");
        let now = chrono::Utc::now();
        let comment = Comment {
            id: CommentId::new(),
            application: ApplicationId::new(),
            author: AccountId::new(),
            on_behalf_of: None,
            body: "Проверьте".into(),
            version: 1,
            created_at: now,
            edited_at: None,
        };
        let edited = comment.edited(text, now);
        assert_eq!(
            (edited.version, edited.body.as_str(), edited.edited_at),
            (2, "Проверено", Some(now))
        );
    }

    #[test]
    fn refusals_of_input_name_their_field() {
        assert_eq!(Refusal::NotSigner.field(), Some("assignee_id"));
        assert_eq!(Refusal::AlreadySigned.field(), None);
        assert_eq!(FieldError::from(Refusal::DueDateInPast).field, "due_at");
    }
}
