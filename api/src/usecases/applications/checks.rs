//! What some events need beyond the state machine: the form's schema at submission, the
//! service's required documents, a joint application's signatures and signed content, a
//! real target agency.

use domain::application::{Application, Event};
use domain::catalog::Service;
use domain::ids::AccountId;
use domain::joint::ParticipantRole;
use persistence::{catalog, joint, DbConnection};
use serde_json::json;

use crate::error::ApiError;
use crate::forms::FormValidators;

/// The checks `event` needs before the state machine applies it.
pub fn precheck(
    tx: &mut DbConnection,
    forms: &FormValidators,
    app: &Application,
    service: &Service,
    event: &Event,
) -> Result<(), ApiError> {
    match event {
        Event::Submit => {
            schema(forms, service, &app.form_data)?;
            still_shared(tx, app, service)?;
            required_documents(tx, app, service)?;
            required_signatures(tx, app)
        }
        // An answer sends the content back to the agency, and the officer takes only what
        // the fixed signers signed: signed by everyone again if it changed meanwhile.
        Event::Respond { .. } => {
            still_shared(tx, app, service)?;
            required_signatures(tx, app)
        }
        Event::Take => required_signatures(tx, app),
        Event::Edit { form_data } => {
            unasked_change(tx, app)?;
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
fn required_documents(tx: &mut DbConnection, app: &Application, service: &Service) -> Result<(), ApiError> {
    let attachments = persistence::documents::attachments_of(tx, app.id, false)?;
    let attached: Vec<(&str, &str)> = attachments
        .iter()
        .map(|a| (a.doc_type.as_str(), a.sha256.as_str()))
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
fn still_shared(tx: &mut DbConnection, app: &Application, service: &Service) -> Result<(), ApiError> {
    let mut withdrawn = vec![];
    for attachment in persistence::documents::attachments_of(tx, app.id, false)? {
        if attachment.frozen_at.is_some() {
            continue;
        }
        let access = match persistence::documents::find(tx, attachment.document)? {
            Some(doc) if doc.sharing.shares_with(&service.code) => continue,
            Some(doc) => doc.sharing.level.as_str(),
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

/// The hash a signature covers: the form and the current attachments' hashes.
pub fn content_hash(tx: &mut DbConnection, app: &Application) -> Result<String, ApiError> {
    let attachments: Vec<String> = persistence::documents::attachments_of(tx, app.id, false)?
        .into_iter()
        .map(|a| a.sha256)
        .collect();
    Ok(domain::joint::content_hash(&app.form_data, &attachments))
}

/// Refuses a change of a joint application's content that the agency did not ask for
/// (see `domain::joint::may_change_unasked`).
pub fn unasked_change(tx: &mut DbConnection, app: &Application) -> Result<(), ApiError> {
    let joint = !signers(tx, app)?.is_empty();
    if domain::joint::may_change_unasked(app.status, joint) {
        return Ok(());
    }
    Err(ApiError::conflict(
        "signed_content_locked",
        "Every co-applicant signed what the agency received: it changes only when the agency asks for information.",
    )
    .with_context(json!({ "status": app.status.as_str() })))
}

/// The participants of `app` with their roles (the owner is not among them).
fn roles(tx: &mut DbConnection, app: &Application) -> Result<Vec<(AccountId, ParticipantRole)>, ApiError> {
    Ok(joint::participants_of(tx, app.id)?
        .into_iter()
        .map(|p| (p.account, p.role))
        .collect())
}

/// Who must sign a draft as its participants stand now.
pub fn signers_now(tx: &mut DbConnection, app: &Application) -> Result<Vec<AccountId>, ApiError> {
    Ok(domain::joint::required_signers(app.owner, &roles(tx, app)?))
}

/// Who must sign: in a draft, as the participants stand; once submitted, the signers
/// fixed at submission, whatever roles are now.
fn signers(tx: &mut DbConnection, app: &Application) -> Result<Vec<AccountId>, ApiError> {
    if app.submitted_at.is_some() {
        return Ok(app.signers.clone());
    }
    signers_now(tx, app)
}

/// Who must sign and has not signed the current content.
pub fn unsigned(
    tx: &mut DbConnection,
    app: &Application,
) -> Result<Vec<(AccountId, ParticipantRole)>, ApiError> {
    let participants = roles(tx, app)?;
    let required = signers(tx, app)?;
    if required.is_empty() {
        return Ok(vec![]);
    }
    let hash = content_hash(tx, app)?;
    let signed: Vec<AccountId> = joint::signatures_of(tx, app.id)?
        .into_iter()
        .filter(|s| s.content_hash == hash)
        .map(|s| s.account)
        .collect();
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

/// With co-applicants, everyone who must sign has signed the current version.
fn required_signatures(tx: &mut DbConnection, app: &Application) -> Result<(), ApiError> {
    let missing = unsigned(tx, app)?;
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
