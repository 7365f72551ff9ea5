//! An application's attachments: vault documents given to the agency with the
//! application. Attaching changes the application (a new version, so `If-Match`
//! applies); attachments freeze at submission, and a later change of a frozen paper is
//! its next revision, the frozen one kept.

use domain::access::{authorize, Action, Denial};
use domain::application::Application;
use domain::catalog::Service;
use domain::document::{self as rules, Attachment, AttachmentWindow, Document};
use domain::ids::{ApplicationId, AttachmentId, DocumentId};
use domain::joint::RequestKind;
use domain::time::Instant;
use persistence::applications::{self, NewHistory};
use persistence::documents as store;
use persistence::events::NewLiveEvent;
use persistence::DbConnection;
use serde_json::{json, Value};

use crate::concurrency::stale;
use crate::error::{from_field_error, ApiError};
use crate::usecases::applications::{unasked_change, Parts};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// Loads the application for a change of its attachments, at `version`, when the
/// status still lets them change.
fn changeable(
    tx: &mut DbConnection,
    who: &Acting,
    id: ApplicationId,
    version: i64,
    now: Instant,
) -> Result<(Application, Service, AttachmentWindow), ApiError> {
    let (app, service) = crate::usecases::applications::load(tx, who, id, Action::DocumentsUpload, now)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    let window = rules::attachment_window(app.status, &service.policy);
    if window == AttachmentWindow::Closed {
        return Err(ApiError::conflict(
            "attachments_closed",
            format!(
                "Attachments cannot change while the application is {}.",
                app.status.as_str()
            ),
        )
        .with_context(json!({ "status": app.status.as_str() })));
    }
    unasked_change(tx, &mut Parts::of(&app))?;
    Ok((app, service, window))
}

/// The vault document to attach: the caller's own (everyone attaches from their own
/// vault; a contributor brings their own papers), shared with this service, of a type
/// and size the service accepts.
fn attachable(
    tx: &mut DbConnection,
    who: &Acting,
    service: &Service,
    id: DocumentId,
    now: Instant,
) -> Result<Document, ApiError> {
    let unknown = || {
        ApiError::field(
            "document_id",
            "unknown_document",
            "No such document in your vault.",
        )
    };
    let doc = store::find(tx, id)?.ok_or_else(unknown)?;
    let resource = super::vault::resource(tx, &doc)?;
    match authorize(&who.subject, Action::DocumentsRead, &resource, now) {
        Err(Denial::NotOwner) => return Err(unknown()),
        denied => denied?,
    }
    if !doc.sharing.shares_with(&service.code) {
        return Err(ApiError::conflict(
            "document_not_shared",
            "The document is not shared with this service: set its access to `services` (naming this service) or `agencies` first.",
        )
        .with_context(json!({ "access": doc.sharing.level.as_str(), "service": service.code })));
    }
    if !rules::service_file_types(&service.allowed_file_types).contains(&doc.file_type) {
        return Err(ApiError::field(
            "document_id",
            "file_type_not_accepted",
            format!("This service does not accept {} files.", doc.file_type.as_str()),
        ));
    }
    if doc.size_bytes > service.max_file_bytes {
        return Err(ApiError::field(
            "document_id",
            "file_too_large",
            format!(
                "This service accepts files of at most {} bytes.",
                service.max_file_bytes
            ),
        ));
    }
    Ok(doc)
}

/// Moves the application to its next version; the history entry, audit record and live
/// event of the change go to everyone on the application.
fn recorded(
    tx: &mut DbConnection,
    who: &Acting,
    app: &Application,
    event: &'static str,
    attachment: &Attachment,
    now: Instant,
) -> Result<(i64, Effects), ApiError> {
    if !applications::bump_version(tx, app.id, app.version, now)? {
        return Err(stale(app.version + 1));
    }
    let details: Value = json!({
        "attachment_id": attachment.id, "document_id": attachment.document,
        "sha256": attachment.sha256, "revision": attachment.revision,
    });
    let history = NewHistory::of(app, event, Some(app.status))
        .by(Some(who.account), who.on_behalf_of)
        .comment(Some(format!("{}: {}", attachment.doc_type, attachment.name)));
    let audit = who
        .audit(format!("application.{event}"), "application")
        .target(app.id)
        .details(details.clone());
    let live = NewLiveEvent {
        application: app.id,
        service: app.service_code.clone(),
        kind: format!("application.{event}"),
        data: json!({ "actor": who.account, "details": details }),
        audience: crate::usecases::joint::members(tx, app)?,
    };
    Ok((
        app.version + 1,
        Effects::none().history(history).audit(audit).event(live),
    ))
}

/// What to attach: a vault document, as which required paper (default: its own type).
pub struct Attach {
    pub document: DocumentId,
    pub doc_type: Option<String>,
}

/// Attaches a vault document; answers the attachment and the application's new version.
pub fn attach(
    tx: &mut DbConnection,
    who: &Acting,
    id: ApplicationId,
    version: i64,
    input: Attach,
    now: Instant,
) -> Result<Outcome<(Attachment, i64)>, ApiError> {
    let (app, service, window) = changeable(tx, who, id, version, now)?;
    let doc = attachable(tx, who, &service, input.document, now)?;
    let doc_type = match input.doc_type {
        Some(t) => {
            rules::check_doc_type(&t).map_err(from_field_error)?;
            t
        }
        None => doc.doc_type.clone(),
    };
    let current = store::attachments_of(tx, app.id, false)?;
    if current
        .iter()
        .any(|a| a.document == doc.id && a.doc_type == doc_type)
    {
        return Err(ApiError::conflict(
            "already_attached",
            "This document is already attached as this type.",
        ));
    }
    // After submission a paper of a frozen type is that paper's next revision.
    let previous = match window {
        AttachmentWindow::Versioned => current
            .iter()
            .filter(|a| a.doc_type == doc_type && a.frozen_at.is_some())
            .max_by_key(|a| a.revision),
        _ => None,
    };
    if let Some(previous) = previous {
        store::supersede(tx, previous.id, now)?;
    }
    let attachment = Attachment {
        id: AttachmentId::new(),
        application: app.id,
        document: doc.id,
        doc_type,
        name: doc.name.clone(),
        file_type: doc.file_type,
        size_bytes: doc.size_bytes,
        sha256: doc.sha256.clone(),
        revision: previous.map_or(1, |p| p.revision + 1),
        supersedes: previous.map(|p| p.id),
        attached_by: who.account,
        created_at: now,
        frozen_at: None,
        superseded_at: None,
    };
    store::attach(tx, &attachment)?;
    let kind = RequestKind::Document;
    persistence::joint::fulfil_requests(tx, app.id, who.principal(), kind, Some(&attachment.doc_type), now)?;
    let (new_version, effects) = recorded(tx, who, &app, "attach", &attachment, now)?;
    Ok(Outcome::new((attachment, new_version), effects))
}

/// Removes an attachment not yet frozen; answers the application's new version.
pub fn detach(
    tx: &mut DbConnection,
    who: &Acting,
    id: ApplicationId,
    version: i64,
    document: DocumentId,
    now: Instant,
) -> Result<Outcome<i64>, ApiError> {
    let (app, _, _) = changeable(tx, who, id, version, now)?;
    let current = store::attachments_of(tx, app.id, false)?;
    let attachment = current
        .iter()
        .filter(|a| a.document == document)
        .max_by_key(|a| a.created_at)
        .ok_or_else(ApiError::not_found)?;
    if attachment.frozen_at.is_some() || !store::detach(tx, attachment)? {
        return Err(ApiError::conflict(
            "attachment_frozen",
            "A submitted attachment stays with the application; attach a new version instead.",
        ));
    }
    let (new_version, effects) = recorded(tx, who, &app, "detach", attachment, now)?;
    Ok(Outcome::new(new_version, effects))
}

/// An application's attachments (with replaced revisions when `all`).
pub fn list(
    conn: &mut DbConnection,
    who: &Acting,
    id: ApplicationId,
    all: bool,
    now: Instant,
) -> Result<Vec<Attachment>, ApiError> {
    crate::usecases::applications::visible(conn, who, id, Action::DocumentsRead, now)?;
    Ok(store::attachments_of(conn, id, all)?)
}

/// One attachment to download, and the application's owner (whose paper it is).
pub fn find(
    conn: &mut DbConnection,
    who: &Acting,
    id: ApplicationId,
    attachment: AttachmentId,
    now: Instant,
) -> Result<(Application, Attachment), ApiError> {
    let app = crate::usecases::applications::visible(conn, who, id, Action::DocumentsRead, now)?;
    let attachment = store::find_attachment(conn, id, attachment)?.ok_or_else(ApiError::not_found)?;
    Ok((app, attachment))
}
