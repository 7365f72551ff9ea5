//! "My documents": uploads into the personal vault, the list, metadata and sharing,
//! downloads, deletion. Representatives reach the principal's vault with `documents.read`
//! and `documents.upload`; agencies never see the vault, only what is attached.

use actix_multipart::Multipart;
use actix_web::web::{Json, Path, Query};
use actix_web::{delete, get, patch, post, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use domain::access::Action;
use domain::document::{AccessLevel, Document, FileType};
use domain::ids::{ApplicationId, DocumentId};
use persistence::documents::ListFilter;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Page};
use crate::auth::{Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::documents::vault::{self as documents, Changes, Limits, Upload};
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use crate::vault::serve::{serve, StoredFile};
use crate::vault::upload as intake;
use crate::vault::{self, Staged};
use crate::views::file::FileBytes;

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
    /// The name the file was uploaded with (shown and offered on download, never a path;
    /// control characters and bidirectional or zero-width formatting removed).
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

/// The multipart form of an upload. Only `file` is required; another part is refused
/// (422 `unknown_field`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"file": "(the file's bytes)", "doc_type": "passport_scan", "access": "services", "services": "passport-replacement", "name": "паспорт.pdf"}))]
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
    #[schema(pattern = "^(private|services|agencies)$")]
    access: Option<String>,
    /// Comma-separated service codes, for `access=services`.
    services: Option<String>,
    /// `YYYY-MM-DD`: delete the document after this date.
    retain_until: Option<String>,
    /// A display name instead of the file's own. Either way only its last path component
    /// is kept, without control characters or invisible formatting (bidirectional
    /// overrides such as U+202E, zero-width characters).
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

fn unsupported(detected: &str, types: &[FileType]) -> ApiError {
    let allowed: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    ApiError::new(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
        format!("The file is {detected}; accepted here: {}.", allowed.join(", ")),
    )
    .with_context(json!({ "detected_type": detected, "allowed": allowed }))
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
            staged = Some(intake::stage(field, &state.vault, max_bytes).await?);
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

/// Upload a document into the vault.
///
/// Caller: a citizen, or a representative with `documents.upload` (into the principal's
/// vault). Changes: a new document (for an application, held to its service's rules),
/// streamed and checked: its type is detected from its bytes, and refused when not accepted
/// (415) or when it carries what is not allowed (422). Send `Idempotency-Key` to make
/// retries safe.
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
        (status = 422, description = "A field is invalid, or the file is of an accepted type but refused for what it carries: \
`pdf_polyglot` (HTML markup in a PDF's first 8 KiB); for DOCX and XLSX, opened within limits, `package_too_large`, \
`package_compression_ratio`, `package_too_many_parts`, `package_executable` (a program by name or by its bytes), \
`package_macros` (VBA or ActiveX), `package_foreign_part` (a part outside the format; `context.part` names it) or \
`package_unreadable`", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:package_executable", "title": "Unprocessable Entity", "status": 422,
                "detail": "The package carries a program.", "code": "package_executable", "context": {"part": "word/media/setup.exe"}})),
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
    // Why the upload's I/O sits outside the use case's transaction: the body streams to a
    // staging file and the bytes are published under their hash before any row points at
    // them; holding a transaction (on SQLite, the only writer) through a slow client's
    // upload would stall every other write. The use case then records the document in
    // one transaction, and a failed one takes the bytes back.
    let (acting, application) = (
        Acting::from(&actor),
        query.application_id.map(ApplicationId::from_uuid),
    );
    let configured = state.vault.max_upload_bytes;
    let limits = state
        .query(move |c, now| documents::upload_limits(c, &acting, application, configured, now))
        .await?;
    let (staged, incoming) = receive_checked(&state, &req, &mut body, limits).await?;
    let key = Idempotency::of(&req, &actor, &asked(&incoming))?;
    state.vault.publish(&staged).await?;
    if state.vault.crashing() {
        return Err(vault::crash(staged));
    }
    let acting = Acting::from(&actor);
    let written = state
        .run(move |tx, now| {
            idempotency::once(tx, key.as_ref(), now, replays::checked_before, |tx| {
                let document = documents::describe(&acting, &incoming, now)?;
                let (document, effects) = documents::record_upload(tx, &acting, document, now)?.into_parts();
                Ok(Outcome::new(created(&document)?, effects))
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

/// The answer to an upload, kept whole for a repeat with the same `Idempotency-Key`.
fn created(document: &Document) -> Result<Answer, ApiError> {
    Ok(Answer::created(&view(document))?
        .version(document.version)
        .location(format!("/api/v1/documents/{}", document.id)))
}

/// What an upload asks for, for `Idempotency-Key`: the bytes by their hash, and the fields.
fn asked(incoming: &Upload) -> serde_json::Value {
    json!({
        "sha256": incoming.sha256, "declared_name": incoming.declared_name, "name": incoming.name,
        "doc_type": incoming.doc_type, "access": incoming.access, "services": incoming.services,
        "retain_until": incoming.retain_until,
    })
}

/// Streams the body to staging within `limits` (a declared length far over the limit is
/// refused before a byte is read) and checks the type its bytes show.
async fn receive_checked(
    state: &State,
    req: &HttpRequest,
    body: &mut Multipart,
    limits: Limits,
) -> Result<(Staged, Upload), ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes + FRAMING_ALLOWANCE) {
        return Err(intake::too_large(limits.max_bytes));
    }
    let (staged, fields) = receive(state, body, limits.max_bytes).await?;
    let file_type = match staged.detected {
        Ok(t) if limits.types.contains(&t) => t,
        Ok(t) => return Err(unsupported(t.as_str(), &limits.types)),
        Err(what) => return Err(unsupported(what, &limits.types)),
    };
    let incoming = Upload {
        sha256: staged.sha256.clone(),
        size: staged.size,
        file_type,
        declared_name: staged.declared_name.clone(),
        name: fields.name,
        doc_type: fields.doc_type,
        access: fields.access,
        services: fields.services,
        retain_until: fields.retain_until,
        default_sharing: limits.sharing,
    };
    Ok((staged, incoming))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pdf`, `jpg`, `png`, `docx` or `xlsx`.
    #[param(pattern = "^(pdf|jpg|png|docx|xlsx)$")]
    pub file_type: Option<String>,
    pub doc_type: Option<String>,
    /// Uploaded on or after this date (`YYYY-MM-DD`) or instant (RFC 3339).
    #[param(schema_with = paging::date_or_instant)]
    pub from: Option<String>,
    /// Uploaded before this date or instant.
    #[param(schema_with = paging::date_or_instant)]
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
            // The use case narrows it to what the caller's powers cover.
            services: None,
        })
    }
}

/// Your documents, newest first.
///
/// Caller: a citizen (their vault), or a representative with `documents.read` (the
/// principal's; under powers limited to services, only those services' documents). Changes
/// nothing. Agencies never see the vault, only attachments.
#[utoipa::path(
    tag = "documents",
    operation_id = "listDocuments",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of documents; on behalf under powers limited to services, only the documents of those services", body = Page<DocumentView>,
            example = json!({"items": [{"access": "services", "created_at": "2026-11-23T10:00:00Z", "doc_type": "passport_scan", "file_type": "pdf", "id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "media_type": "application/pdf", "name": "паспорт.pdf", "retain_until": "2027-12-31", "services": ["passport-replacement"], "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size_bytes": 482113, "updated_at": "2026-11-23T10:00:00Z", "version": 1}], "next_cursor": null})),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
#[get("/documents")]
pub async fn list(
    state: State,
    caller: Caller,
    query: Query<ListQuery>,
) -> Result<Json<Page<DocumentView>>, ApiError> {
    let mut filter = query.filter()?;
    let limit = filter.limit;
    filter.limit += 1;
    let found = state
        .query_as(caller, move |c, actor, now| {
            documents::list(c, &Acting::from(actor), &filter, now)
        })
        .await?;
    let (found, next_cursor) = paging::page_of(found, limit, |d| paging::at(d.created_at, d.id));
    Ok(Json(Page {
        items: found.iter().map(view).collect(),
        next_cursor,
    }))
}

/// A document the caller may take `action` on: 404 for anyone else's.
async fn reach(state: &State, actor: &Actor, id: DocumentId, action: Action) -> Result<Document, ApiError> {
    let acting = Acting::from(actor);
    state
        .query(move |c, now| documents::reach(c, &acting, id, action, now))
        .await
}

/// One document's metadata.
///
/// Caller: its owner, or a representative with `documents.read` within the services the
/// powers cover; anyone else gets 404. Changes nothing.
#[utoipa::path(
    tag = "documents",
    operation_id = "getDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The document", body = DocumentView, headers(("ETag" = String))),
        (status = 404, description = "No such document, not yours, or outside the services your delegation covers", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
    #[schema(value_type = Option<String>, example = "agencies", pattern = "^(private|services|agencies)$")]
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

/// Rename, retype, share or set the retention of a document.
///
/// Caller: its owner, or a representative with `documents.upload` (requires `If-Match`).
/// Changes: the document's metadata and which services it is shared with; the bytes never
/// change.
#[utoipa::path(
    tag = "documents",
    operation_id = "updateDocument",
    security(("bearer" = [])),
    request_body = DocumentPatch,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses((status = 200, description = "Updated", body = DocumentView, headers(("ETag" = String))))
)]
#[patch("/documents/{id}")]
pub async fn update(
    state: State,
    caller: Caller,
    id: Path<DocumentId>,
    version: IfMatch,
    body: Json<DocumentPatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner();
    let changes = Changes {
        name: patch.name,
        doc_type: patch.doc_type,
        access: patch.access,
        services: patch.services,
        retain_until: patch.retain_until,
    };
    let id = id.into_inner();
    let updated = state
        .run_as(caller, move |tx, actor, now| {
            documents::update(tx, &Acting::from(actor), id, version.0, changes, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(updated.version)))
        .json(view(&updated)))
}

/// Delete a document from the vault.
///
/// Caller: its owner, or a representative with `documents.upload`. Changes: the document
/// leaves the vault; applications it was attached to keep their copy.
#[utoipa::path(
    tag = "documents",
    operation_id = "deleteDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/documents/{id}")]
pub async fn remove(state: State, caller: Caller, id: Path<DocumentId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .run_as(caller, move |tx, actor, now| {
            documents::remove(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Download a document.
///
/// Caller: its owner, or a representative with `documents.read` within the services the
/// powers cover (a representative's download is audited). Changes nothing else. Supports
/// `Range` and `If-None-Match`.
#[utoipa::path(
    tag = "documents",
    operation_id = "downloadDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")),
    responses(
        (status = 200, description = "The file, as the type its bytes showed", content((FileBytes = "application/pdf"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("ETag" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The requested range", content((FileBytes = "application/pdf"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("Content-Range" = String))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "No such document, not yours, or outside the services your delegation covers", body = crate::error::Problem, content_type = "application/problem+json"),
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
