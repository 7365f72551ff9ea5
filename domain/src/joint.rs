//! Joint work on an application (SPEC §4): participants and what their roles allow,
//! invitations, the version a signature covers and who still has to sign, requests
//! between participants, and who may edit a comment.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::access::Action;
use crate::application::Status;
use crate::catalog::ServicePolicy;
use crate::ids::AccountId;
use crate::time::Instant;

/// A participant's role. The owner is the applicant; the others join by invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    pub const ALL: [ParticipantRole; 4] = [
        ParticipantRole::Owner,
        ParticipantRole::CoApplicant,
        ParticipantRole::Contributor,
        ParticipantRole::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Owner => "owner",
            ParticipantRole::CoApplicant => "co_applicant",
            ParticipantRole::Contributor => "contributor",
            ParticipantRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<ParticipantRole> {
        ParticipantRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The rights table: what a participant in this role may do on the application.
    /// The owner's rights are the applicant's and are decided by the authorization core.
    pub fn allows(self, action: Action) -> bool {
        use Action as A;
        let reader = matches!(action, A::ApplicationsRead | A::DocumentsRead | A::CommentsWrite);
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
}

/// Why an invitation cannot be made or answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationRefusal {
    /// Only services that allow co-applicants accept them.
    CoApplicantsNotAllowed,
    /// Nobody is invited as owner.
    OwnerNotInvitable,
    AlreadyAnswered,
    Expired,
}

impl InvitationRefusal {
    pub fn code(self) -> &'static str {
        match self {
            InvitationRefusal::CoApplicantsNotAllowed => "co_applicants_not_allowed",
            InvitationRefusal::OwnerNotInvitable => "owner_not_invitable",
            InvitationRefusal::AlreadyAnswered => "invitation_answered",
            InvitationRefusal::Expired => "invitation_expired",
        }
    }
}

/// Whether `role` may be given on an application of a service with `policy`.
pub fn check_role(role: ParticipantRole, policy: &ServicePolicy) -> Result<(), InvitationRefusal> {
    match role {
        ParticipantRole::Owner => Err(InvitationRefusal::OwnerNotInvitable),
        ParticipantRole::CoApplicant if !policy.co_applicants_allowed => {
            Err(InvitationRefusal::CoApplicantsNotAllowed)
        }
        _ => Ok(()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
}

impl InvitationStatus {
    pub const ALL: [InvitationStatus; 4] = [
        InvitationStatus::Pending,
        InvitationStatus::Accepted,
        InvitationStatus::Declined,
        InvitationStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationStatus> {
        InvitationStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An invitation may be answered while pending and before it expires (7 days, config).
pub fn check_answer(
    status: InvitationStatus,
    expires_at: Instant,
    now: Instant,
) -> Result<(), InvitationRefusal> {
    if status != InvitationStatus::Pending {
        return Err(InvitationRefusal::AlreadyAnswered);
    }
    if now >= expires_at {
        return Err(InvitationRefusal::Expired);
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
pub fn content_hash(form_data: &Value, attachment_hashes: &[String]) -> String {
    let mut form = String::new();
    canonical(form_data, &mut form);
    let mut attachments: Vec<&String> = attachment_hashes.iter().collect();
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Signature,
    Document,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Signature => "signature",
            RequestKind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        [RequestKind::Signature, RequestKind::Document]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Only the author edits a comment; everyone else reads it.
pub fn may_edit_comment(author: AccountId, editor: AccountId) -> bool {
    author == editor
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
            assert_eq!(ParticipantRole::parse(role.as_str()), Some(role));
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
            Err(InvitationRefusal::CoApplicantsNotAllowed)
        );
        assert_eq!(check_role(ParticipantRole::CoApplicant, &yes), Ok(()));
        assert_eq!(check_role(ParticipantRole::Viewer, &no), Ok(()));
        assert_eq!(
            check_role(ParticipantRole::Owner, &yes),
            Err(InvitationRefusal::OwnerNotInvitable)
        );
    }

    #[test]
    fn invitations_expire_and_are_answered_once() {
        let now = chrono::Utc::now();
        let later = now + chrono::TimeDelta::days(7);
        assert_eq!(check_answer(InvitationStatus::Pending, later, now), Ok(()));
        assert_eq!(
            check_answer(InvitationStatus::Pending, now, now),
            Err(InvitationRefusal::Expired)
        );
        assert_eq!(
            check_answer(InvitationStatus::Declined, later, now),
            Err(InvitationRefusal::AlreadyAnswered)
        );
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
        assert!(may_edit_comment(someone, someone));
        assert!(!may_edit_comment(someone, AccountId::new()));
    }
}
