//! What some events need beyond the state machine: the form's schema at submission, the
//! service's required documents, a joint application's signatures and signed content, a
//! real target agency.

use domain::application::{Application, Event};
use domain::catalog::Service;
use domain::document::Sharing;
use domain::ids::AccountId;
use domain::joint::ParticipantRole;
use domain::time::Instant;
use persistence::documents::Attachment;
use persistence::{catalog, joint, DbConnection};
use serde_json::json;

use crate::error::ApiError;
use crate::forms::FormValidators;

/// An application with what the checks read beside its row: its current attachments (with
/// their documents' consent) and its participants, each read at most once however many
/// checks look (a submission asks four checks and then fixes its signers and signed
/// content from the same reading).
pub struct Parts<'a> {
    pub app: &'a Application,
    attachments: Option<Vec<(Attachment, Option<Sharing>)>>,
    roles: Option<Vec<(AccountId, ParticipantRole)>>,
    /// The value of a number the query that loaded it took (see `load_as`).
    number: Option<i64>,
}

impl<'a> Parts<'a> {
    pub fn of(app: &'a Application) -> Parts<'a> {
        Parts {
            app,
            attachments: None,
            roles: None,
            number: None,
        }
    }

    /// With what the loading query read besides the row (see `ForChange`): the value of a
    /// number it took, and the attachments, if it read them.
    pub fn loaded_with(
        self,
        number: Option<i64>,
        attachments: Option<Vec<(Attachment, Option<Sharing>)>>,
    ) -> Parts<'a> {
        Parts {
            number,
            attachments: attachments.or(self.attachments),
            ..self
        }
    }

    /// The number a submission at `now` gives it: the one the load took, or the counter's next.
    pub fn number(&mut self, tx: &mut DbConnection, now: Instant) -> Result<String, ApiError> {
        Ok(match self.number.take() {
            Some(value) => persistence::applications::number_of(value, now),
            None => persistence::applications::next_number(tx, now)?,
        })
    }

    /// `app`, known (from the query that loaded it) to have no participants besides its
    /// owner: the checks read none.
    pub fn nobody_joined(app: &'a Application) -> Parts<'a> {
        Parts {
            roles: Some(vec![]),
            ..Parts::of(app)
        }
    }

    /// The attachments in force (not superseded), each with its document's consent as it
    /// stands (`None`: deleted).
    fn attachments(&mut self, tx: &mut DbConnection) -> Result<&[(Attachment, Option<Sharing>)], ApiError> {
        if self.attachments.is_none() {
            self.attachments = Some(persistence::documents::attachments_with_sharing(tx, self.app.id)?);
        }
        Ok(self.attachments.as_deref().unwrap_or_default())
    }

    /// The participants with their roles (the owner is not among them).
    fn roles(&mut self, tx: &mut DbConnection) -> Result<&[(AccountId, ParticipantRole)], ApiError> {
        if self.roles.is_none() {
            let participants = joint::participants_of(tx, self.app.id)?;
            self.roles = Some(participants.into_iter().map(|p| (p.account, p.role)).collect());
        }
        Ok(self.roles.as_deref().unwrap_or_default())
    }

    /// Who takes part besides the owner.
    pub fn participants(&mut self, tx: &mut DbConnection) -> Result<Vec<AccountId>, ApiError> {
        Ok(self.roles(tx)?.iter().map(|(account, _)| *account).collect())
    }

    /// The hash a signature covers: the form and the current attachments' hashes.
    pub fn content_hash(&mut self, tx: &mut DbConnection) -> Result<String, ApiError> {
        let app = self.app;
        let hashes: Vec<&str> = self
            .attachments(tx)?
            .iter()
            .map(|(a, _)| a.sha256.as_str())
            .collect();
        Ok(domain::joint::content_hash(&app.form_data, &hashes))
    }

    /// Who must sign a draft as its participants stand now.
    pub fn signers_now(&mut self, tx: &mut DbConnection) -> Result<Vec<AccountId>, ApiError> {
        let owner = self.app.owner;
        Ok(domain::joint::required_signers(owner, self.roles(tx)?))
    }

    /// Who must sign: in a draft, as the participants stand; once submitted, the signers
    /// fixed at submission, whatever roles are now.
    fn signers(&mut self, tx: &mut DbConnection) -> Result<Vec<AccountId>, ApiError> {
        if self.app.submitted_at.is_some() {
            return Ok(self.app.signers.clone());
        }
        self.signers_now(tx)
    }

    /// Who must sign and has not signed the current content.
    pub fn unsigned(&mut self, tx: &mut DbConnection) -> Result<Vec<(AccountId, ParticipantRole)>, ApiError> {
        let required = self.signers(tx)?;
        if required.is_empty() {
            return Ok(vec![]);
        }
        let hash = self.content_hash(tx)?;
        let signed: Vec<AccountId> = joint::signatures_of(tx, self.app.id)?
            .into_iter()
            .filter(|s| s.content_hash == hash)
            .map(|s| s.account)
            .collect();
        let participants = self.roles(tx)?;
        let role_of = |account: AccountId| {
            participants
                .iter()
                .find(|(a, _)| *a == account)
                .map_or(ParticipantRole::Owner, |(_, role)| *role)
        };
        Ok(domain::joint::missing_signatures(&required, &signed)
            .into_iter()
            .map(|account| (account, role_of(account)))
            .collect())
    }
}

/// The checks `event` needs before the state machine applies it.
pub fn precheck(
    tx: &mut DbConnection,
    forms: &FormValidators,
    parts: &mut Parts,
    service: &Service,
    event: &Event,
) -> Result<(), ApiError> {
    match event {
        Event::Submit => {
            schema(forms, service, &parts.app.form_data)?;
            still_shared(tx, parts, service)?;
            required_documents(tx, parts, service)?;
            required_signatures(tx, parts)
        }
        // An answer sends the content back to the agency, and the officer takes only what
        // the fixed signers signed: signed by everyone again if it changed meanwhile.
        Event::Respond { .. } => {
            still_shared(tx, parts, service)?;
            required_signatures(tx, parts)
        }
        Event::Take => required_signatures(tx, parts),
        Event::Edit { form_data } => {
            unasked_change(tx, parts)?;
            schema(forms, service, form_data)
        }
        Event::Forward { to_agency, .. } => known_agency(tx, to_agency),
        _ => Ok(()),
    }
}

/// The form satisfies the service's schema (every problem at once).
fn schema(forms: &FormValidators, service: &Service, form: &serde_json::Value) -> Result<(), ApiError> {
    let errors = forms.problems(service, form);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// An agency the catalog knows.
pub fn known_agency(tx: &mut DbConnection, code: &str) -> Result<(), ApiError> {
    if catalog::agency_exists(tx, code)? {
        return Ok(());
    }
    Err(ApiError::field(
        "agency_code",
        "unknown_agency",
        "No such agency.",
    ))
}

/// The one place where submission checks the service's required documents: every
/// required paper is filled by an attachment of its type, one file per paper unless the
/// service lets one file fill several (see `domain::document::unfilled_papers`).
fn required_documents(tx: &mut DbConnection, parts: &mut Parts, service: &Service) -> Result<(), ApiError> {
    let attached: Vec<(&str, &str)> = parts
        .attachments(tx)?
        .iter()
        .map(|(a, _)| (a.doc_type.as_str(), a.sha256.as_str()))
        .collect();
    let missing = domain::document::unfilled_papers(
        &service.required_documents,
        &attached,
        service.policy.file_fills_several_papers,
    );
    if missing.is_empty() {
        return Ok(());
    }
    let shared_file = missing
        .iter()
        .any(|paper| attached.iter().any(|(t, _)| t == paper));
    let hint = if shared_file {
        " (one file fills one paper: attach a separate file for each)"
    } else {
        ""
    };
    Err(ApiError::conflict(
        "required_documents_missing",
        format!(
            "Attach the required documents first: {}{hint}.",
            missing.join(", ")
        ),
    )
    .with_context(json!({ "missing_documents": missing })))
}

/// Consent is checked when the papers go to the agency, not only when they were attached:
/// a vault document made private (or deleted) since stops its attachment from leaving.
/// Papers the agency already holds (frozen) are not taken back.
fn still_shared(tx: &mut DbConnection, parts: &mut Parts, service: &Service) -> Result<(), ApiError> {
    let mut withdrawn = vec![];
    for (attachment, sharing) in parts.attachments(tx)? {
        if attachment.frozen_at.is_some() {
            continue;
        }
        let access = match sharing {
            Some(sharing) if sharing.shares_with(&service.code) => continue,
            Some(sharing) => sharing.level.as_str(),
            None => "deleted",
        };
        withdrawn.push(json!({
            "attachment_id": attachment.id, "document_id": attachment.document,
            "doc_type": attachment.doc_type, "access": access,
        }));
    }
    if withdrawn.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict(
        "document_not_shared",
        "An attached document is no longer shared with this service: share it again or detach it.",
    )
    .with_context(json!({ "service": service.code, "attachments": withdrawn })))
}

/// Refuses a change of a joint application's content that the agency did not ask for
/// (see `domain::joint::may_change_unasked`).
pub fn unasked_change(tx: &mut DbConnection, parts: &mut Parts) -> Result<(), ApiError> {
    let joint = !parts.signers(tx)?.is_empty();
    let status = parts.app.status;
    if domain::joint::may_change_unasked(status, joint) {
        return Ok(());
    }
    Err(ApiError::conflict(
        "signed_content_locked",
        "Every co-applicant signed what the agency received: it changes only when the agency asks for information.",
    )
    .with_context(json!({ "status": status.as_str() })))
}

/// With co-applicants, everyone who must sign has signed the current version.
fn required_signatures(tx: &mut DbConnection, parts: &mut Parts) -> Result<(), ApiError> {
    let missing = parts.unsigned(tx)?;
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<serde_json::Value> = missing
        .iter()
        .map(|(account, role)| json!({ "account_id": account, "role": role.as_str() }))
        .collect();
    Err(ApiError::conflict(
        "signatures_missing",
        format!(
            "{} participant(s) still have to sign the current version.",
            missing.len()
        ),
    )
    .with_context(json!({ "missing_signers": listed })))
}
