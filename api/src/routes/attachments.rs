//! An application's attachments: vault documents given to the agency with the
//! application. Attaching changes the application (a new version, so `If-Match`
//! applies); attachments freeze at submission, and a later change of a frozen paper is
//! its next revision, the frozen one kept.

use actix_web::web::{Json, Path, Query};
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use domain::document::{Attachment, FileType};
use domain::ids::{AccountId, ApplicationId, AttachmentId, DocumentId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::documents::attachments::{self, Attach};
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use crate::vault::serve::{serve, StoredFile};
use crate::views::file::FileBytes;
use domain::access::Action;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c40-11aa-7bb2-8c3d-5e6f7a8b9c0d", "document_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69",
    "doc_type": "passport_scan", "name": "паспорт.pdf", "file_type": "pdf", "media_type": "application/pdf",
    "size_bytes": 482113, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "revision": 1, "frozen": true, "attached_by": "019a4c3e-0000-7000-8000-000000000001", "attached_at": "2026-11-23T10:05:00Z",
    "frozen_at": "2026-11-23T10:10:00Z", "superseded_at": null
}))]
pub struct AttachmentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AttachmentId,
    /// The vault document it was taken from (the attachment keeps its own copy).
    #[schema(value_type = String, format = Uuid)]
    pub document_id: DocumentId,
    pub doc_type: String,
    pub name: String,
    #[schema(value_type = String, example = "pdf")]
    pub file_type: FileType,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// 1, then 2, 3… for each later version of a frozen paper of this type.
    pub revision: i64,
    /// Submitted with the application: it can no longer change in place.
    pub frozen: bool,
    #[schema(value_type = String, format = Uuid)]
    pub attached_by: AccountId,
    pub attached_at: chrono::DateTime<chrono::Utc>,
    pub frozen_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When a newer revision replaced it (kept for the record).
    pub superseded_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(a: &Attachment) -> AttachmentView {
    AttachmentView {
        id: a.id,
        document_id: a.document,
        doc_type: a.doc_type.clone(),
        name: a.name.clone(),
        file_type: a.file_type,
        media_type: a.file_type.media_type().into(),
        size_bytes: a.size_bytes,
        sha256: a.sha256.clone(),
        revision: a.revision,
        frozen: a.frozen_at.is_some(),
        attached_by: a.attached_by,
        attached_at: a.created_at,
        frozen_at: a.frozen_at,
        superseded_at: a.superseded_at,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"attached_at": "2026-11-23T10:05:00Z", "doc_type": "passport_scan", "document_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "file_type": "pdf", "frozen": true, "frozen_at": "2026-11-23T10:10:00Z", "id": "019a4c40-11aa-7bb2-8c3d-5e6f7a8b9c0d", "media_type": "application/pdf", "name": "паспорт.pdf", "revision": 1, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size_bytes": 482113, "superseded_at": null, "attached_by": "019a4c3e-0000-7000-8000-000000000001"}]}))]
pub struct AttachmentList {
    pub items: Vec<AttachmentView>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"document_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "doc_type": "passport_scan"}))]
pub struct AttachBody {
    #[schema(value_type = String, format = Uuid)]
    pub document_id: DocumentId,
    /// Which required paper this is; defaults to the document's own type.
    pub doc_type: Option<String>,
}

/// Attach a vault document to an application.
///
/// Caller: the owner, a co-applicant or contributor, or a representative with
/// `documents.upload`, attaching a document from their own vault (requires the
/// application's `If-Match`). Changes: the attachment, and a new version of the
/// application. 409 once attachments are closed, for a document not shared with the
/// service, or one attached already.
#[utoipa::path(
    tag = "applications",
    operation_id = "attachDocument",
    security(("bearer" = [])),
    request_body = AttachBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader, IdempotencyKey),
    responses(
        (status = 201, description = "Attached; `ETag` is the application's new version", body = AttachmentView, headers(("ETag" = String))),
        (status = 409, description = "`attachments_closed`, `document_not_shared` or `already_attached`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/attachments")]
pub async fn attach(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<AttachBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, body, acting) = (id.into_inner(), body.into_inner(), Acting::from(&actor));
    let input = Attach {
        document: body.document_id,
        doc_type: body.doc_type,
    };
    let answer = state
        .run(move |tx, now| {
            let recheck = |tx: &mut _, _: &Answer| {
                replays::on_application(tx, &acting, id, Action::DocumentsUpload, now)
            };
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let outcome = attachments::attach(tx, &acting, id, version.0, input, now)?;
                let ((attachment, new_version), effects) = outcome.into_parts();
                let answer = Answer::created(&view(&attachment))?.version(new_version);
                Ok(Outcome::new(answer, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Remove an attachment not yet frozen.
///
/// Caller: the owner, a co-applicant or contributor, or a representative with
/// `documents.upload` (requires the application's `If-Match`). Changes: the attachment
/// goes, and the application moves to a new version. Papers frozen at submission stay (409
/// `attachment_frozen`).
#[utoipa::path(
    tag = "applications",
    operation_id = "detachDocument",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("document_id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 204, description = "Removed; `ETag` is the application's new version", headers(("ETag" = String))),
        (status = 409, description = "`attachment_frozen` (submitted papers stay) or `attachments_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/applications/{id}/attachments/{document_id}")]
pub async fn detach(
    state: State,
    actor: Actor,
    path: Path<(ApplicationId, DocumentId)>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let ((id, document), acting) = (path.into_inner(), Acting::from(&actor));
    let new_version = state
        .run(move |tx, now| attachments::detach(tx, &acting, id, version.0, document, now))
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("ETag", etag(new_version)))
        .finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentQuery {
    /// Include revisions replaced by newer ones.
    pub all: Option<bool>,
}

/// An application's attachments.
///
/// Caller: whoever may read the application's documents: the owner, a participant, a
/// representative with `documents.read`, an officer of the agency handling it. Changes
/// nothing. In the order they were attached.
#[utoipa::path(
    tag = "applications",
    operation_id = "listAttachments",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), AttachmentQuery),
    responses((status = 200, description = "The attachments, in the order they were attached", body = AttachmentList))
)]
#[get("/applications/{id}/attachments")]
pub async fn list(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    query: Query<AttachmentQuery>,
) -> Result<Json<AttachmentList>, ApiError> {
    let (id, all) = (id.into_inner(), query.all.unwrap_or(false));
    let found = state
        .query_as(caller, move |c, actor, now| {
            attachments::list(c, &Acting::from(actor), id, all, now)
        })
        .await?;
    Ok(Json(AttachmentList {
        items: found.iter().map(view).collect(),
    }))
}

/// Download an attachment.
///
/// Caller: whoever may read the application's documents (owner, participant, representative
/// with `documents.read`, officer handling it). Changes nothing but the audit: a download
/// by anyone but the paper's owner is recorded. Supports `Range` and `If-None-Match`.
#[utoipa::path(
    tag = "applications",
    operation_id = "downloadAttachment",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("attachment_id" = String, Path, format = Uuid),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")),
    responses(
        (status = 200, description = "The file, as the type its bytes showed", content((FileBytes = "application/pdf"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("ETag" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The requested range", content((FileBytes = "application/pdf"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("Content-Range" = String))),
        (status = 304, description = "Your copy is current"),
        (status = 416, description = "The range lies outside the file", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/applications/{id}/attachments/{attachment_id}/content")]
pub async fn content(
    state: State,
    actor: Actor,
    req: HttpRequest,
    path: Path<(ApplicationId, AttachmentId)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, attachment_id), acting) = (path.into_inner(), Acting::from(&actor));
    let (app, attachment) = state
        .query(move |c, now| attachments::find(c, &acting, id, attachment_id, now))
        .await?;
    let file = StoredFile {
        sha256: &attachment.sha256,
        size_bytes: attachment.size_bytes,
        file_type: attachment.file_type,
        name: &attachment.name,
    };
    serve(
        &state,
        &actor,
        &req,
        app.owner,
        attachment.id.to_string(),
        "attachment.download",
        file,
    )
    .await
}
