//! "My documents": recording an upload whose bytes are already published, the list,
//! metadata and sharing, deletion, and the audit of a download by someone else.
//! Representatives reach the principal's vault with `documents.read` and
//! `documents.upload` — under powers limited to services, only the documents of those
//! services; agencies never see the vault, only what is attached.

use chrono::NaiveDate;
use domain::access::{authorize, Action, Resource};
use domain::document::{self as rules, AccessLevel, Document, FileType, Sharing};
use domain::ids::{AccountId, ApplicationId, DocumentId};
use domain::time::Instant;
use persistence::documents::{self as store, ListFilter};
use persistence::DbConnection;
use serde_json::json;

use crate::concurrency::stale;
use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// The rules an upload is held to.
pub struct Limits {
    pub types: Vec<FileType>,
    pub max_bytes: u64,
    pub sharing: Sharing,
}

/// What the caller may upload, and where: the principal's vault, held to the service's
/// rules when the upload is for an application.
pub fn upload_limits(
    conn: &mut DbConnection,
    who: &Acting,
    application: Option<ApplicationId>,
    configured_max: u64,
    now: Instant,
) -> Result<Limits, ApiError> {
    let Some(id) = application else {
        authorize(
            &who.subject,
            Action::DocumentsUpload,
            &Resource::Account(who.principal()),
            now,
        )?;
        return Ok(Limits {
            types: rules::default_file_types(),
            max_bytes: configured_max,
            sharing: Sharing::private(),
        });
    };
    // Participants with `documents.upload` on the application upload into their own vault.
    let (_, service) = crate::usecases::applications::load(conn, who, id, Action::DocumentsUpload, now)?;
    Ok(Limits {
        types: rules::service_file_types(&service.allowed_file_types),
        max_bytes: configured_max.min(u64::try_from(service.max_file_bytes).unwrap_or(configured_max)),
        sharing: Sharing {
            level: AccessLevel::Services,
            services: vec![service.code],
        },
    })
}

/// An upload's bytes (staged and published already) and its text fields, as sent.
pub struct Upload {
    pub sha256: String,
    pub size: u64,
    pub file_type: FileType,
    pub declared_name: Option<String>,
    pub name: Option<String>,
    pub doc_type: Option<String>,
    pub access: Option<String>,
    pub services: Option<String>,
    pub retain_until: Option<String>,
    /// Where the document is shared when `access` is not sent.
    pub default_sharing: Sharing,
}

/// The document an upload describes, its fields checked.
pub fn describe(who: &Acting, upload: &Upload, now: Instant) -> Result<Document, ApiError> {
    let name = upload
        .name
        .as_deref()
        .or(upload.declared_name.as_deref())
        .unwrap_or_default();
    Ok(Document {
        id: DocumentId::new(),
        owner: who.principal(),
        uploaded_by: who.account,
        name: rules::display_name(name),
        doc_type: doc_type(upload.doc_type.as_deref())?,
        file_type: upload.file_type,
        size_bytes: i64::try_from(upload.size).map_err(ApiError::internal)?,
        sha256: upload.sha256.clone(),
        sharing: sharing(
            upload.access.as_deref(),
            upload.services.as_deref(),
            &upload.default_sharing,
        )?,
        retain_until: retention(upload.retain_until.as_deref(), now)?,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

fn sharing(access: Option<&str>, services: Option<&str>, default: &Sharing) -> Result<Sharing, ApiError> {
    let Some(access) = access else {
        return Ok(default.clone());
    };
    let level = AccessLevel::parse(access.trim())
        .ok_or_else(|| ApiError::field("access", "invalid_value", "One of private, services, agencies."))?;
    let services: Vec<String> = services
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Sharing::new(level, services).map_err(from_field_error)
}

fn retention(text: Option<&str>, now: Instant) -> Result<Option<NaiveDate>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::field("retain_until", "invalid_value", "A date, YYYY-MM-DD."))?;
    rules::check_retention(date, now.date_naive()).map_err(from_field_error)?;
    Ok(Some(date))
}

fn doc_type(text: Option<&str>) -> Result<String, ApiError> {
    let doc_type = text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("other");
    rules::check_doc_type(doc_type).map_err(from_field_error)?;
    Ok(doc_type.into())
}

/// Records an uploaded document whose bytes are published: its blob row and its own.
pub fn record_upload(
    tx: &mut DbConnection,
    who: &Acting,
    document: Document,
    now: Instant,
) -> Result<Outcome<Document>, ApiError> {
    store::touch_blob(tx, &document.sha256, document.size_bytes, now)?;
    store::insert(tx, &document)?;
    let entry = who
        .audit("document.upload", "document")
        .target(document.id)
        .details(json!({
            "sha256": document.sha256, "size_bytes": document.size_bytes,
            "file_type": document.file_type.as_str(),
        }));
    Ok(Outcome::new(document, Effects::none().audit(entry)))
}

/// The principal's documents, newest first; on behalf under powers limited to services,
/// only those of the services (attached to one of their applications or shared with one).
pub fn list(
    conn: &mut DbConnection,
    who: &Acting,
    filter: &ListFilter,
    now: Instant,
) -> Result<Vec<Document>, ApiError> {
    let owner = who.principal();
    authorize(
        &who.subject,
        Action::DocumentsRead,
        &Resource::Account(owner),
        now,
    )?;
    let filter = ListFilter {
        services: who.subject.visible_services(Action::DocumentsRead, now),
        ..filter.clone()
    };
    Ok(store::list(conn, owner, &filter)?)
}

/// A document the caller may take `action` on: 404 for anyone else's.
pub fn reach(
    conn: &mut DbConnection,
    who: &Acting,
    id: DocumentId,
    action: Action,
    now: Instant,
) -> Result<Document, ApiError> {
    let found = store::find(conn, id)?.ok_or_else(ApiError::not_found)?;
    authorize(&who.subject, action, &resource(conn, &found)?, now)?;
    Ok(found)
}

/// The document as the core sees it: whose it is, and which services it belongs to.
pub fn resource(conn: &mut DbConnection, document: &Document) -> Result<Resource, ApiError> {
    Ok(Resource::Document {
        owner: document.owner,
        services: store::services_of(conn, document)?,
    })
}

/// The changes a `PATCH` may carry; absent fields stay as they are.
pub struct Changes {
    pub name: Option<String>,
    pub doc_type: Option<String>,
    pub access: Option<AccessLevel>,
    pub services: Option<Vec<String>>,
    /// `Some(None)` keeps the document indefinitely.
    pub retain_until: Option<Option<NaiveDate>>,
}

/// Renames, retypes, shares or sets the retention of a document at `version`.
pub fn update(
    tx: &mut DbConnection,
    who: &Acting,
    id: DocumentId,
    version: i64,
    changes: Changes,
    now: Instant,
) -> Result<Outcome<Document>, ApiError> {
    let current = reach(tx, who, id, Action::DocumentsUpload, now)?;
    if current.version != version {
        return Err(stale(current.version));
    }
    let updated = changed(&current, changes, now)?;
    if !store::update(tx, &updated, version)? {
        return Err(stale(version + 1));
    }
    let entry = who
        .audit("document.update", "document")
        .target(updated.id)
        .details(json!({
            "access": { "from": current.sharing.level.as_str(), "to": updated.sharing.level.as_str() },
            "services": { "from": current.sharing.services, "to": updated.sharing.services },
            "retain_until": { "from": current.retain_until, "to": updated.retain_until },
        }));
    Ok(Outcome::new(updated, Effects::none().audit(entry)))
}

fn changed(current: &Document, changes: Changes, now: Instant) -> Result<Document, ApiError> {
    let sharing = match (changes.access, changes.services) {
        (None, None) => current.sharing.clone(),
        (level, services) => Sharing::new(
            level.unwrap_or(current.sharing.level),
            services.unwrap_or_default(),
        )
        .map_err(from_field_error)?,
    };
    let retain_until = match changes.retain_until {
        None => current.retain_until,
        Some(None) => None,
        Some(Some(date)) => {
            rules::check_retention(date, now.date_naive()).map_err(from_field_error)?;
            Some(date)
        }
    };
    let doc_type = match changes.doc_type {
        Some(t) => doc_type(Some(&t))?,
        None => current.doc_type.clone(),
    };
    Ok(Document {
        name: changes
            .name
            .as_deref()
            .map(rules::display_name)
            .unwrap_or(current.name.clone()),
        doc_type,
        sharing,
        retain_until,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Deletes a document from the vault; applications it was attached to keep their copy.
pub fn remove(
    tx: &mut DbConnection,
    who: &Acting,
    id: DocumentId,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    let found = reach(tx, who, id, Action::DocumentsUpload, now)?;
    if !store::delete(tx, found.id)? {
        return Err(ApiError::not_found());
    }
    let entry = who
        .audit("document.delete", "document")
        .target(found.id)
        .details(json!({ "owner": found.owner, "sha256": found.sha256 }));
    Ok(Outcome::new((), Effects::none().audit(entry)))
}

/// The audit of a download (as `kind`), when anyone but the file's `owner` takes it — a
/// representative, a co-participant, an officer; an owner's own download is not recorded.
pub fn download_audit(who: &Acting, owner: AccountId, target: String, kind: &'static str) -> Option<Effects> {
    if who.account == owner {
        return None;
    }
    let entry = who
        .audit(kind, "document")
        .target(target)
        .details(json!({ "owner": owner }));
    Some(Effects::none().audit(entry))
}
