//! "My documents": uploads into the personal vault, the list, metadata and sharing,
//! downloads, deletion. Representatives reach the principal's vault with `documents.read`
//! and `documents.upload`; agencies never see the vault, only what is attached.

use actix_multipart::Multipart;
use actix_web::web::{Json, Path, Query};
use actix_web::{delete, get, patch, post, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::document::{self as rules, AccessLevel, FileType, Sharing};
use domain::ids::{ApplicationId, DocumentId};
use persistence::documents::{self as store, Document, ListFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Page};
use crate::auth::Actor;
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::lifecycle::{self, Acting};
use crate::state::State;
use crate::vault::upload as intake;
use crate::vault::{self, download, Staged};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "name": "паспорт.pdf", "doc_type": "passport_scan",
    "file_type": "pdf", "media_type": "application/pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "access": "services", "services": ["passport-replacement"], "retain_until": "2027-12-31",
    "version": 1, "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"
}))]
pub struct DocumentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: DocumentId,
    /// The name the file was uploaded with (shown and offered on download, never a path).
    pub name: String,
    /// What the paper is (`passport_scan`, `photo`…); `other` when not said.
    pub doc_type: String,
    /// Decided from the file's bytes.
    #[schema(value_type = String, example = "pdf")]
    pub file_type: FileType,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `private` (you and your representatives), `services` (may be attached to
    /// applications for the listed services) or `agencies` (to any application).
    #[schema(value_type = String, example = "private")]
    pub access: AccessLevel,
    pub services: Vec<String>,
    /// Deleted after this date; you are told beforehand.
    pub retain_until: Option<NaiveDate>,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub fn view(d: &Document) -> DocumentView {
    DocumentView {
        id: d.id,
        name: d.name.clone(),
        doc_type: d.doc_type.clone(),
        file_type: d.file_type,
        media_type: d.file_type.media_type().into(),
        size_bytes: d.size_bytes,
        sha256: d.sha256.clone(),
        access: d.sharing.level,
        services: d.sharing.services.clone(),
        retain_until: d.retain_until,
        version: d.version,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

/// The multipart form of an upload. Only `file` is required.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file: PDF, JPG, PNG, DOCX or XLSX (or the service's narrower list), at most
    /// 5 MB unless configured otherwise. Its type is read from its bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What the paper is, e.g. `passport_scan`; default `other`.
    doc_type: Option<String>,
    /// `private` (default), `services` or `agencies`; uploads for an application default
    /// to `services` for that application's service.
    access: Option<String>,
    /// Comma-separated service codes, for `access=services`.
    services: Option<String>,
    /// `YYYY-MM-DD`: delete the document after this date.
    retain_until: Option<String>,
    /// A display name instead of the file's own.
    name: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Upload for this application: its service's file types and size limit apply.
    pub application_id: Option<uuid::Uuid>,
}

/// Room for the multipart framing around the file when checking `Content-Length`.
const FRAMING_ALLOWANCE: u64 = 64 * 1024;

/// The rules an upload is held to.
struct Limits {
    types: Vec<FileType>,
    max_bytes: u64,
    sharing: Sharing,
}

/// An upload's text fields, as sent.
#[derive(Default)]
struct Fields {
    doc_type: Option<String>,
    access: Option<String>,
    services: Option<String>,
    retain_until: Option<String>,
    name: Option<String>,
}

impl Fields {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        match name {
            "doc_type" => Some(&mut self.doc_type),
            "access" => Some(&mut self.access),
            "services" => Some(&mut self.services),
            "retain_until" => Some(&mut self.retain_until),
            "name" => Some(&mut self.name),
            _ => None,
        }
    }
}

fn parse_sharing(
    access: Option<&str>,
    services: Option<&str>,
    default: &Sharing,
) -> Result<Sharing, ApiError> {
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

fn parse_retention(text: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::field("retain_until", "invalid_value", "A date, YYYY-MM-DD."))?;
    rules::check_retention(date, now().date_naive()).map_err(from_field_error)?;
    Ok(Some(date))
}

fn parse_doc_type(text: Option<&str>) -> Result<String, ApiError> {
    let doc_type = text.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("other");
    rules::check_doc_type(doc_type).map_err(from_field_error)?;
    Ok(doc_type.into())
}

fn unsupported(detected: &str, types: &[FileType]) -> ApiError {
    let allowed: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    ApiError::new(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
        format!("The file is {detected}; accepted here: {}.", allowed.join(", ")),
    )
    .with_context(json!({ "detected_type": detected, "allowed": allowed }))
}

/// What the caller may upload, and where: the principal's vault, held to the service's
/// rules when the upload is for an application.
async fn limits(state: &State, actor: &Actor, application: Option<uuid::Uuid>) -> Result<Limits, ApiError> {
    let configured = state.vault.max_upload_bytes;
    let Some(id) = application else {
        authorize(
            &actor.subject,
            Action::DocumentsUpload,
            &Resource::Account(actor.principal()),
            now(),
        )?;
        return Ok(Limits {
            types: rules::default_file_types(),
            max_bytes: configured,
            sharing: Sharing::private(),
        });
    };
    let acting = Acting::from(actor);
    let id = ApplicationId::from_uuid(id);
    // Participants with `documents.upload` on the application upload into their own vault.
    let (_, service) = state
        .read(move |c| lifecycle::load(c, &acting, id, Action::DocumentsUpload))
        .await?;
    Ok(Limits {
        types: rules::service_file_types(&service.allowed_file_types),
        max_bytes: configured.min(u64::try_from(service.max_file_bytes).unwrap_or(configured)),
        sharing: Sharing {
            level: AccessLevel::Services,
            services: vec![service.code],
        },
    })
}

/// Reads the body: the file into staging, the text fields into `Fields`.
async fn receive(state: &State, body: &mut Multipart, max_bytes: u64) -> Result<(Staged, Fields), ApiError> {
    let mut staged = None;
    let mut fields = Fields::default();
    while let Some(field) = intake::next_field(body).await? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if staged.is_some() {
                return Err(ApiError::field(
                    "file",
                    "duplicate_field",
                    "Send one file per upload.",
                ));
            }
            staged = Some(intake::stage(field, &state.vault.staging, max_bytes).await?);
        } else {
            let value = intake::text(field).await?;
            let slot = fields.slot(&name).ok_or_else(|| {
                ApiError::field("body", "unknown_field", format!("Unknown form field `{name}`."))
            })?;
            *slot = Some(value);
        }
    }
    let staged =
        staged.ok_or_else(|| ApiError::field("file", "required", "Attach the file as the `file` field."))?;
    Ok((staged, fields))
}

/// Upload a document (multipart, streamed).
#[utoipa::path(
    tag = "documents",
    operation_id = "uploadDocument",
    security(("bearer" = [])),
    params(UploadQuery, IdempotencyKey),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = DocumentView, headers(("ETag" = String), ("Location" = String))),
        (status = 404, description = "No such application, or not yours", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over the limit", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart, or a file type not accepted (the detected type is named)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/documents")]
pub async fn upload(
    state: State,
    actor: Actor,
    req: HttpRequest,
    query: Query<UploadQuery>,
    mut body: Multipart,
) -> Result<HttpResponse, ApiError> {
    let limits = limits(&state, &actor, query.application_id).await?;
    // A declared length far over the limit is refused before a byte is read.
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes + FRAMING_ALLOWANCE) {
        return Err(intake::too_large(limits.max_bytes));
    }
    let (staged, fields) = receive(&state, &mut body, limits.max_bytes).await?;
    let file_type = match staged.detected {
        Ok(t) if limits.types.contains(&t) => t,
        Ok(t) => return Err(unsupported(t.as_str(), &limits.types)),
        Err(what) => return Err(unsupported(what, &limits.types)),
    };
    // What this upload asks for, for `Idempotency-Key`: the bytes by their hash, and the fields.
    let asked = json!({
        "sha256": staged.sha256, "declared_name": staged.declared_name, "name": fields.name,
        "doc_type": fields.doc_type, "access": fields.access, "services": fields.services,
        "retain_until": fields.retain_until,
    });
    let key = Idempotency::of(&req, &actor, &asked)?;
    let at = now();
    let document = Document {
        id: DocumentId::new(),
        owner: actor.principal(),
        uploaded_by: actor.account,
        name: rules::display_name(
            fields
                .name
                .as_deref()
                .or(staged.declared_name.as_deref())
                .unwrap_or_default(),
        ),
        doc_type: parse_doc_type(fields.doc_type.as_deref())?,
        file_type,
        size_bytes: i64::try_from(staged.size).map_err(ApiError::internal)?,
        sha256: staged.sha256.clone(),
        sharing: parse_sharing(
            fields.access.as_deref(),
            fields.services.as_deref(),
            &limits.sharing,
        )?,
        retain_until: parse_retention(fields.retain_until.as_deref())?,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    state.vault.publish(&staged).await?;
    if state.vault.crashing() {
        return Err(vault::crash(staged));
    }
    let (row, acting) = (document, Acting::from(&actor));
    let written = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                store::touch_blob(tx, &row.sha256, row.size_bytes, at)?;
                store::insert(tx, &row)?;
                let entry = AuditEntry::new("document.upload", "document")
                    .by(Some(acting.account))
                    .on_behalf_of(acting.on_behalf_of)
                    .target(row.id)
                    .details(json!({
                        "sha256": row.sha256, "size_bytes": row.size_bytes,
                        "file_type": row.file_type.as_str(),
                    }))
                    .from_ip(acting.ip);
                persistence::audit::record(tx, entry, at)?;
                Ok(Answer::created(&view(&row))?
                    .version(row.version)
                    .location(format!("/api/v1/documents/{}", row.id)))
            })
        })
        .await;
    let answer = match written {
        Ok(answer) => answer,
        Err(e) => {
            state.vault.discard(&state.db, &staged.sha256).await;
            return Err(e);
        }
    };
    // On a replay the bytes are those of the first upload, already confirmed.
    state.vault.confirm(&staged).await?;
    Ok(answer.respond())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pdf`, `jpg`, `png`, `docx` or `xlsx`.
    pub file_type: Option<String>,
    pub doc_type: Option<String>,
    /// Uploaded on or after this date (`YYYY-MM-DD`) or instant (RFC 3339).
    pub from: Option<String>,
    /// Uploaded before this date or instant.
    pub to: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<ListFilter, ApiError> {
        let file_type = match self.file_type.as_deref() {
            Some(t) => Some(FileType::parse(t).ok_or_else(|| {
                ApiError::field("file_type", "invalid_value", "One of pdf, jpg, png, docx, xlsx.")
            })?),
            None => None,
        };
        let after = paging::after(self.cursor.as_deref())?;
        Ok(ListFilter {
            file_type,
            doc_type: self.doc_type.clone(),
            from: self
                .from
                .as_deref()
                .map(|t| paging::instant("from", t))
                .transpose()?,
            to: self.to.as_deref().map(|t| paging::instant("to", t)).transpose()?,
            after,
            limit: paging::limit(self.limit)?,
        })
    }
}

/// Your documents (or, acting on behalf, the principal's), newest first.
#[utoipa::path(
    tag = "documents",
    operation_id = "listDocuments",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of documents", body = Page<DocumentView>))
)]
#[get("/documents")]
pub async fn list(
    state: State,
    actor: Actor,
    query: Query<ListQuery>,
) -> Result<Json<Page<DocumentView>>, ApiError> {
    let owner = actor.principal();
    authorize(
        &actor.subject,
        Action::DocumentsRead,
        &Resource::Account(owner),
        now(),
    )?;
    let filter = query.filter()?;
    let limit = filter.limit;
    let found = state.read(move |c| Ok(store::list(c, owner, &filter)?)).await?;
    let next_cursor = paging::next(&found, limit, |d| (d.created_at, d.id.to_string()));
    Ok(Json(Page {
        items: found.iter().map(view).collect(),
        next_cursor,
    }))
}

/// A document the caller may take `action` on: 404 for anyone else's.
async fn reach(state: &State, actor: &Actor, id: DocumentId, action: Action) -> Result<Document, ApiError> {
    let found = state
        .read(move |c| Ok(store::find(c, id)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    authorize(&actor.subject, action, &Resource::Account(found.owner), now())?;
    Ok(found)
}

/// One document's metadata.
#[utoipa::path(
    tag = "documents",
    operation_id = "getDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The document", body = DocumentView, headers(("ETag" = String))))
)]
#[get("/documents/{id}")]
pub async fn get_one(state: State, actor: Actor, id: Path<DocumentId>) -> Result<HttpResponse, ApiError> {
    let found = reach(&state, &actor, id.into_inner(), Action::DocumentsRead).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(found.version)))
        .json(view(&found)))
}

/// The changes a `PATCH` may carry; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"access": "services", "services": ["passport-replacement"], "retain_until": "2027-12-31"}))]
pub struct DocumentPatch {
    pub name: Option<String>,
    pub doc_type: Option<String>,
    #[schema(value_type = Option<String>, example = "agencies")]
    pub access: Option<AccessLevel>,
    pub services: Option<Vec<String>>,
    /// A future date, or `null` to keep the document indefinitely.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub retain_until: Option<Option<NaiveDate>>,
}

/// A field that may be sent as `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Rename, retype, share or set the retention of a document (requires `If-Match`).
#[utoipa::path(
    tag = "documents",
    operation_id = "updateDocument",
    security(("bearer" = [])),
    request_body = DocumentPatch,
    params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses((status = 200, description = "Updated", body = DocumentView, headers(("ETag" = String))))
)]
#[patch("/documents/{id}")]
pub async fn update(
    state: State,
    actor: Actor,
    id: Path<DocumentId>,
    version: IfMatch,
    body: Json<DocumentPatch>,
) -> Result<HttpResponse, ApiError> {
    let current = reach(&state, &actor, id.into_inner(), Action::DocumentsUpload).await?;
    if current.version != version.0 {
        return Err(stale(current.version));
    }
    let patch = body.into_inner();
    let sharing = match (patch.access, patch.services) {
        (None, None) => current.sharing.clone(),
        (level, services) => Sharing::new(
            level.unwrap_or(current.sharing.level),
            services.unwrap_or_default(),
        )
        .map_err(from_field_error)?,
    };
    let retain_until = match patch.retain_until {
        None => current.retain_until,
        Some(None) => None,
        Some(Some(date)) => {
            rules::check_retention(date, now().date_naive()).map_err(from_field_error)?;
            Some(date)
        }
    };
    let doc_type = match patch.doc_type {
        Some(t) => parse_doc_type(Some(&t))?,
        None => current.doc_type.clone(),
    };
    let updated = Document {
        name: patch
            .name
            .as_deref()
            .map(rules::display_name)
            .unwrap_or(current.name.clone()),
        doc_type,
        sharing,
        retain_until,
        version: version.0 + 1,
        updated_at: now(),
        ..current.clone()
    };
    let (row, acting) = (updated.clone(), Acting::from(&actor));
    state
        .write(move |tx| {
            if !store::update(tx, &row, version.0)? {
                return Err(stale(version.0 + 1));
            }
            let entry = AuditEntry::new("document.update", "document")
                .by(Some(acting.account))
                .on_behalf_of(acting.on_behalf_of)
                .target(row.id)
                .details(json!({
                    "access": { "from": current.sharing.level.as_str(), "to": row.sharing.level.as_str() },
                    "services": { "from": current.sharing.services, "to": row.sharing.services },
                    "retain_until": { "from": current.retain_until, "to": row.retain_until },
                }))
                .from_ip(acting.ip);
            persistence::audit::record(tx, entry, row.updated_at)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(updated.version)))
        .json(view(&updated)))
}

/// Delete a document from the vault. Applications it was attached to keep their copy.
#[utoipa::path(
    tag = "documents",
    operation_id = "deleteDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/documents/{id}")]
pub async fn remove(state: State, actor: Actor, id: Path<DocumentId>) -> Result<HttpResponse, ApiError> {
    let found = reach(&state, &actor, id.into_inner(), Action::DocumentsUpload).await?;
    let acting = Acting::from(&actor);
    state
        .write(move |tx| {
            if !store::delete(tx, found.id)? {
                return Err(ApiError::not_found());
            }
            let entry = AuditEntry::new("document.delete", "document")
                .by(Some(acting.account))
                .on_behalf_of(acting.on_behalf_of)
                .target(found.id)
                .details(json!({ "owner": found.owner, "sha256": found.sha256 }))
                .from_ip(acting.ip);
            persistence::audit::record(tx, entry, now())?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A stored file about to be served.
pub struct StoredFile<'a> {
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub file_type: FileType,
    pub name: &'a str,
}

/// Serves a file, first recording (as `kind`) a download by anyone but its `owner` — a
/// representative, a co-participant, an officer.
pub async fn serve(
    state: &State,
    actor: &Actor,
    req: &HttpRequest,
    owner: domain::ids::AccountId,
    target: String,
    kind: &'static str,
    file: StoredFile<'_>,
) -> Result<HttpResponse, ApiError> {
    if actor.account != owner {
        let acting = Acting::from(actor);
        state
            .write(move |tx| {
                let entry = AuditEntry::new(kind, "document")
                    .by(Some(acting.account))
                    .on_behalf_of(acting.on_behalf_of)
                    .target(target)
                    .details(json!({ "owner": owner }))
                    .from_ip(acting.ip);
                persistence::audit::record(tx, entry, now())?;
                Ok(())
            })
            .await?;
    }
    let served = download::Content {
        sha256: file.sha256,
        size: u64::try_from(file.size_bytes).map_err(ApiError::internal)?,
        file_type: file.file_type,
        name: file.name,
    };
    download::respond(state.vault.store.as_ref(), req, served).await
}

/// Download a document (supports `Range`, `If-None-Match`).
#[utoipa::path(
    tag = "documents",
    operation_id = "downloadDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")),
    responses(
        (status = 200, description = "The file, as the type its bytes showed", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("ETag" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The requested range", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("Content-Range" = String))),
        (status = 304, description = "Your copy is current"),
        (status = 416, description = "The range lies outside the file", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/documents/{id}/content")]
pub async fn content(
    state: State,
    actor: Actor,
    req: HttpRequest,
    id: Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let found = reach(&state, &actor, id.into_inner(), Action::DocumentsRead).await?;
    let file = StoredFile {
        sha256: &found.sha256,
        size_bytes: found.size_bytes,
        file_type: found.file_type,
        name: &found.name,
    };
    serve(
        &state,
        &actor,
        &req,
        found.owner,
        found.id.to_string(),
        "document.download",
        file,
    )
    .await
}
