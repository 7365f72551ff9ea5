//! Stored bytes (`blobs`), vault documents and application attachments. A document row
//! and an attachment row each point at a blob; bytes are removed only by the orphan sweep,
//! once no row points at them.

use chrono::NaiveDate;
use diesel::prelude::*;
use domain::document::{AccessLevel, FileType, Sharing};
pub use domain::document::{Attachment, Document};
use domain::ids::{AccountId, ApplicationId, AttachmentId, DocumentId};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{after_key, from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{attachments, blobs, documents};

#[derive(Queryable, Selectable)]
#[diesel(table_name = documents)]
struct DocumentRow {
    id: String,
    owner_id: String,
    uploaded_by: String,
    name: String,
    doc_type: String,
    file_type: String,
    size_bytes: i64,
    sha256: String,
    access_level: String,
    access_services: Option<String>,
    retain_until: Option<NaiveDate>,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

fn file_type(table: &'static str, text: &str) -> Result<FileType, StoreError> {
    FileType::parse(text).ok_or_else(|| StoreError::corrupt(table, format!("file type {text:?}")))
}

impl TryFrom<DocumentRow> for Document {
    type Error = StoreError;

    fn try_from(r: DocumentRow) -> Result<Document, StoreError> {
        let sharing = sharing(&r.access_level, r.access_services.as_deref())?;
        Ok(Document {
            id: parse_id("documents", &r.id)?,
            owner: parse_id("documents", &r.owner_id)?,
            uploaded_by: parse_id("documents", &r.uploaded_by)?,
            name: r.name,
            doc_type: r.doc_type,
            file_type: file_type("documents", &r.file_type)?,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            sharing,
            retain_until: r.retain_until,
            version: r.version,
            created_at: from_db_time(r.created_at),
            updated_at: from_db_time(r.updated_at),
        })
    }
}

/// A document's consent from its two columns.
fn sharing(level: &str, services: Option<&str>) -> Result<Sharing, StoreError> {
    let level = AccessLevel::parse(level)
        .ok_or_else(|| StoreError::corrupt("documents", format!("access level {level:?}")))?;
    let services = match services {
        Some(text) => serde_json::from_str(text).map_err(|e| StoreError::corrupt("documents", e))?,
        None => vec![],
    };
    Ok(Sharing { level, services })
}

fn services_text(sharing: &Sharing) -> Option<String> {
    (!sharing.services.is_empty()).then(|| serde_json::Value::from(sharing.services.clone()).to_string())
}

/// Records that `sha256` is stored (or was stored again just now): inserts the blob row or
/// refreshes its `touched_at`, which keeps the sweep's hands off it.
pub fn touch_blob(conn: &mut DbConnection, sha256: &str, size: i64, at: Instant) -> Result<(), StoreError> {
    // One statement, so two uploads of the same new bytes at once cannot both insert.
    // Diesel's upsert builder does not reach the two-backend connection; PostgreSQL and
    // SQLite (3.24+) both speak this SQL.
    diesel::sql_query(
        "INSERT INTO blobs (sha256, size_bytes, touched_at) VALUES ($1, $2, $3) \
         ON CONFLICT (sha256) DO UPDATE SET touched_at = excluded.touched_at",
    )
    .bind::<diesel::sql_types::Text, _>(sha256)
    .bind::<diesel::sql_types::BigInt, _>(size)
    .bind::<diesel::sql_types::Timestamp, _>(to_db_time(at))
    .execute(conn)?;
    Ok(())
}

pub fn blob_exists(conn: &mut DbConnection, sha256: &str) -> Result<bool, StoreError> {
    let found: Option<String> = blobs::table
        .find(sha256)
        .select(blobs::sha256)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Blobs no document or attachment points at, untouched since `before`.
pub fn unreferenced_blobs(
    conn: &mut DbConnection,
    before: Instant,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let referenced_by_documents = documents::table.select(documents::sha256);
    let referenced_by_attachments = attachments::table.select(attachments::sha256);
    Ok(blobs::table
        .filter(blobs::touched_at.lt(to_db_time(before)))
        .filter(blobs::sha256.ne_all(referenced_by_documents))
        .filter(blobs::sha256.ne_all(referenced_by_attachments))
        .select(blobs::sha256)
        .limit(limit)
        .load(conn)?)
}

/// Deletes the blob row if it is still unreferenced and untouched since `before`;
/// `Ok(false)` when an upload claimed it meanwhile.
pub fn forget_blob(conn: &mut DbConnection, sha256: &str, before: Instant) -> Result<bool, StoreError> {
    let referenced_by_documents = documents::table.select(documents::sha256);
    let referenced_by_attachments = attachments::table.select(attachments::sha256);
    let deleted = diesel::delete(
        blobs::table
            .filter(blobs::sha256.eq(sha256))
            .filter(blobs::touched_at.lt(to_db_time(before)))
            .filter(blobs::sha256.ne_all(referenced_by_documents))
            .filter(blobs::sha256.ne_all(referenced_by_attachments)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

pub fn insert(conn: &mut DbConnection, d: &Document) -> Result<(), StoreError> {
    diesel::insert_into(documents::table)
        .values((
            documents::id.eq(d.id.to_string()),
            documents::owner_id.eq(d.owner.to_string()),
            documents::uploaded_by.eq(d.uploaded_by.to_string()),
            documents::name.eq(&d.name),
            documents::doc_type.eq(&d.doc_type),
            documents::file_type.eq(d.file_type.as_str()),
            documents::size_bytes.eq(d.size_bytes),
            documents::sha256.eq(&d.sha256),
            documents::access_level.eq(d.sharing.level.as_str()),
            documents::access_services.eq(services_text(&d.sharing)),
            documents::retain_until.eq(d.retain_until),
            documents::retention_notified.eq(false),
            documents::version.eq(d.version),
            documents::created_at.eq(to_db_time(d.created_at)),
            documents::updated_at.eq(to_db_time(d.updated_at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: DocumentId) -> Result<Option<Document>, StoreError> {
    documents::table
        .find(id.to_string())
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()?
        .map(Document::try_from)
        .transpose()
}

/// Replaces the editable metadata if still at `expected`; `Ok(false)` when someone wrote first.
/// A new retention date is announced again before it passes.
pub fn update(conn: &mut DbConnection, d: &Document, expected: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        documents::table
            .find(d.id.to_string())
            .filter(documents::version.eq(expected)),
    )
    .set((
        documents::name.eq(&d.name),
        documents::doc_type.eq(&d.doc_type),
        documents::access_level.eq(d.sharing.level.as_str()),
        documents::access_services.eq(services_text(&d.sharing)),
        documents::retain_until.eq(d.retain_until),
        documents::retention_notified.eq(false),
        documents::version.eq(expected + 1),
        documents::updated_at.eq(to_db_time(d.updated_at)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete(conn: &mut DbConnection, id: DocumentId) -> Result<bool, StoreError> {
    Ok(diesel::delete(documents::table.find(id.to_string())).execute(conn)? == 1)
}

/// Filters and keyset position for the vault list (newest first).
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub file_type: Option<FileType>,
    pub doc_type: Option<String>,
    pub from: Option<Instant>,
    pub to: Option<Instant>,
    pub after: Option<(Instant, String)>,
    pub limit: i64,
    /// Only documents of these services (attached to an application of one, or shared
    /// with one by name); `None` for all.
    pub services: Option<Vec<String>>,
}

type Condition = Box<
    dyn BoxableExpression<
        documents::table,
        crate::connection::MultiBackend,
        SqlType = diesel::sql_types::Bool,
    >,
>;

/// Whether a document belongs to `service`: attached to one of its applications, or
/// shared with it by name (the JSON list of `access_services` holds it).
fn of_service(service: &str) -> Condition {
    use diesel::sql_types::Text;
    // As the code appears in the stored JSON text, with LIKE's wildcards escaped.
    let quoted = serde_json::Value::from(service).to_string();
    let escaped = quoted
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let named = format!("%{escaped}%");
    Box::new(
        diesel::dsl::sql::<diesel::sql_types::Bool>(
            "(documents.id IN (SELECT attachments.document_id FROM attachments \
             JOIN applications ON applications.id = attachments.application_id \
             WHERE applications.service_code = ",
        )
        .bind::<Text, _>(service.to_string())
        .sql(") OR (documents.access_level = 'services' AND documents.access_services LIKE ")
        .bind::<Text, _>(named)
        .sql(" ESCAPE '\\'))"),
    )
}

/// The services `document` belongs to: those of the applications it is attached to and
/// those its sharing names.
pub fn services_of(conn: &mut DbConnection, document: &Document) -> Result<Vec<String>, StoreError> {
    use crate::schema::applications;
    let applications: Vec<String> = attachments::table
        .filter(attachments::document_id.eq(document.id.to_string()))
        .select(attachments::application_id)
        .load(conn)?;
    let mut services: Vec<String> = if applications.is_empty() {
        vec![]
    } else {
        applications::table
            .filter(applications::id.eq_any(applications))
            .select(applications::service_code)
            .load(conn)?
    };
    if document.sharing.level == AccessLevel::Services {
        services.extend(document.sharing.services.iter().cloned());
    }
    services.sort();
    services.dedup();
    Ok(services)
}

/// The owner's documents, newest first, served by the `(owner_id, created_at, id)` index.
pub fn list(conn: &mut DbConnection, owner: AccountId, f: &ListFilter) -> Result<Vec<Document>, StoreError> {
    let mut query = documents::table
        .filter(documents::owner_id.eq(owner.to_string()))
        .select(DocumentRow::as_select())
        .into_boxed();
    if let Some(t) = f.file_type {
        query = query.filter(documents::file_type.eq(t.as_str()));
    }
    if let Some(t) = &f.doc_type {
        query = query.filter(documents::doc_type.eq(t.clone()));
    }
    if let Some(from) = f.from {
        query = query.filter(documents::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = f.to {
        query = query.filter(documents::created_at.lt(to_db_time(to)));
    }
    if let Some((at, id)) = &f.after {
        query = query.filter(after_key("created_at", "<", *at, id));
    }
    if let Some(services) = &f.services {
        let mut of_any: Condition = Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
        for service in services {
            of_any = Box::new(of_any.or(of_service(service)));
        }
        query = query.filter(of_any);
    }
    query
        .order((documents::created_at.desc(), documents::id.desc()))
        .limit(f.limit)
        .load(conn)?
        .into_iter()
        .map(Document::try_from)
        .collect()
}

/// Documents whose retention date is before `today` (to delete).
pub fn expired(conn: &mut DbConnection, today: NaiveDate, limit: i64) -> Result<Vec<Document>, StoreError> {
    documents::table
        .filter(documents::retain_until.lt(today))
        .select(DocumentRow::as_select())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Document::try_from)
        .collect()
}

/// Documents whose retention ends by `horizon` and whose owner has not been told yet.
pub fn retention_unannounced(
    conn: &mut DbConnection,
    horizon: NaiveDate,
    limit: i64,
) -> Result<Vec<Document>, StoreError> {
    documents::table
        .filter(documents::retain_until.le(horizon))
        .filter(documents::retention_notified.eq(false))
        .select(DocumentRow::as_select())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Document::try_from)
        .collect()
}

/// Marks the retention notice sent, if the document is still at `version`.
pub fn mark_retention_announced(
    conn: &mut DbConnection,
    id: DocumentId,
    version: i64,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        documents::table
            .find(id.to_string())
            .filter(documents::version.eq(version)),
    )
    .set(documents::retention_notified.eq(true))
    .execute(conn)?;
    Ok(updated == 1)
}

#[derive(Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = attachments)]
struct AttachmentRow {
    id: String,
    application_id: String,
    document_id: String,
    doc_type: String,
    name: String,
    file_type: String,
    size_bytes: i64,
    sha256: String,
    revision: i64,
    supersedes: Option<String>,
    attached_by: String,
    created_at: chrono::NaiveDateTime,
    frozen_at: Option<chrono::NaiveDateTime>,
    superseded_at: Option<chrono::NaiveDateTime>,
}

impl TryFrom<AttachmentRow> for Attachment {
    type Error = StoreError;

    fn try_from(r: AttachmentRow) -> Result<Attachment, StoreError> {
        Ok(Attachment {
            id: parse_id("attachments", &r.id)?,
            application: parse_id("attachments", &r.application_id)?,
            document: parse_id("attachments", &r.document_id)?,
            doc_type: r.doc_type,
            name: r.name,
            file_type: file_type("attachments", &r.file_type)?,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            revision: r.revision,
            supersedes: parse_optional_id("attachments", r.supersedes.as_deref())?,
            attached_by: parse_id("attachments", &r.attached_by)?,
            created_at: from_db_time(r.created_at),
            frozen_at: r.frozen_at.map(from_db_time),
            superseded_at: r.superseded_at.map(from_db_time),
        })
    }
}

pub fn attach(conn: &mut DbConnection, a: &Attachment) -> Result<(), StoreError> {
    diesel::insert_into(attachments::table)
        .values((
            attachments::id.eq(a.id.to_string()),
            attachments::application_id.eq(a.application.to_string()),
            attachments::document_id.eq(a.document.to_string()),
            attachments::doc_type.eq(&a.doc_type),
            attachments::name.eq(&a.name),
            attachments::file_type.eq(a.file_type.as_str()),
            attachments::size_bytes.eq(a.size_bytes),
            attachments::sha256.eq(&a.sha256),
            attachments::revision.eq(a.revision),
            attachments::supersedes.eq(a.supersedes.map(|s| s.to_string())),
            attachments::attached_by.eq(a.attached_by.to_string()),
            attachments::created_at.eq(to_db_time(a.created_at)),
            attachments::frozen_at.eq(a.frozen_at.map(to_db_time)),
            attachments::superseded_at.eq(a.superseded_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

/// An application's attachments in the order they were attached; superseded revisions
/// only when `with_superseded`.
pub fn attachments_of(
    conn: &mut DbConnection,
    application: ApplicationId,
    with_superseded: bool,
) -> Result<Vec<Attachment>, StoreError> {
    let mut query = attachments::table
        .filter(attachments::application_id.eq(application.to_string()))
        .select(AttachmentRow::as_select())
        .into_boxed();
    if !with_superseded {
        query = query.filter(attachments::superseded_at.is_null());
    }
    query
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .load(conn)?
        .into_iter()
        .map(Attachment::try_from)
        .collect()
}

/// The attachments in force (not superseded) with their document's consent as it stands
/// now (`None`: the document was deleted), in one query: a submission checks both.
pub fn attachments_with_sharing(
    conn: &mut DbConnection,
    application: ApplicationId,
) -> Result<Vec<(Attachment, Option<Sharing>)>, StoreError> {
    let consent = (documents::access_level, documents::access_services).nullable();
    attachments::table
        .left_join(documents::table.on(documents::id.eq(attachments::document_id)))
        .filter(attachments::application_id.eq(application.to_string()))
        .filter(attachments::superseded_at.is_null())
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .select((AttachmentRow::as_select(), consent))
        .load::<(AttachmentRow, Option<(String, Option<String>)>)>(conn)?
        .into_iter()
        .map(|(row, consent)| {
            let consent = consent
                .map(|(level, services)| sharing(&level, services.as_deref()))
                .transpose()?;
            Ok((Attachment::try_from(row)?, consent))
        })
        .collect()
}

/// The attachments in force with their consent, as [`attachments_with_sharing`] reads them,
/// of the application the enclosing query selects (`applications.id`): a column of that
/// query, so that a submission reads them in the round trip that loads the application
/// (PostgreSQL only: its text is PostgreSQL's; SQLite's statements cost no round trip).
/// One JSON array (`NULL` for none), each element an array shaped as [`AttachedJson`];
/// read with [`attachments_from_json`]. A type of its own, not `dsl::sql`: diesel never
/// keeps a statement with a raw SQL fragment prepared, and the query planned anew on every
/// submission cost more than the round trip it saves.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub(crate) struct AttachmentsColumn;

pub(crate) fn attachments_column() -> AttachmentsColumn {
    AttachmentsColumn
}

impl diesel::Expression for AttachmentsColumn {
    type SqlType = diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

impl<QS> diesel::AppearsOnTable<QS> for AttachmentsColumn {}

impl<QS> diesel::SelectableExpression<QS> for AttachmentsColumn {}

impl diesel::expression::ValidGrouping<()> for AttachmentsColumn {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for AttachmentsColumn {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "(SELECT json_agg(json_build_array(json_build_array(a.id, a.application_id, a.document_id, a.doc_type, \
                a.name, a.file_type, a.size_bytes, a.sha256, a.revision, a.supersedes, a.attached_by, a.created_at, \
                a.frozen_at, a.superseded_at), d.access_level, d.access_services) ORDER BY a.created_at, a.id)::text \
              FROM attachments a LEFT JOIN documents d ON d.id = a.document_id \
              WHERE a.application_id = \"applications\".\"id\" AND a.superseded_at IS NULL)",
        );
        Ok(())
    }
}

/// One element of [`attachments_column`]: an attachment's row (its columns in
/// [`AttachmentRow`]'s order, which serde reads from an array), then its document's access
/// level and services (both `null` when the document was deleted). PostgreSQL writes a
/// `timestamp` in JSON as ISO 8601 without a zone, which is how chrono reads one.
type AttachedJson = (AttachmentRow, Option<String>, Option<String>);

/// What [`attachments_column`] read.
pub(crate) fn attachments_from_json(
    text: Option<&str>,
) -> Result<Vec<(Attachment, Option<Sharing>)>, StoreError> {
    let Some(text) = text else {
        return Ok(vec![]);
    };
    let rows: Vec<AttachedJson> =
        serde_json::from_str(text).map_err(|e| StoreError::corrupt("attachments", e))?;
    rows.into_iter()
        .map(|(row, level, services)| {
            let consent = level
                .map(|level| sharing(&level, services.as_deref()))
                .transpose()?;
            Ok((Attachment::try_from(row)?, consent))
        })
        .collect()
}

pub fn find_attachment(
    conn: &mut DbConnection,
    application: ApplicationId,
    id: AttachmentId,
) -> Result<Option<Attachment>, StoreError> {
    attachments::table
        .find(id.to_string())
        .filter(attachments::application_id.eq(application.to_string()))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?
        .map(Attachment::try_from)
        .transpose()
}

/// Marks `old` superseded by a newer revision.
pub fn supersede(conn: &mut DbConnection, old: AttachmentId, at: Instant) -> Result<(), StoreError> {
    diesel::update(attachments::table.find(old.to_string()))
        .set(attachments::superseded_at.eq(Some(to_db_time(at))))
        .execute(conn)?;
    Ok(())
}

/// Removes an attachment that was never frozen, bringing back the revision it superseded.
pub fn detach(conn: &mut DbConnection, a: &Attachment) -> Result<bool, StoreError> {
    let removed = diesel::delete(
        attachments::table
            .find(a.id.to_string())
            .filter(attachments::frozen_at.is_null()),
    )
    .execute(conn)?;
    if removed == 1 {
        if let Some(previous) = a.supersedes {
            diesel::update(attachments::table.find(previous.to_string()))
                .set(attachments::superseded_at.eq(None::<chrono::NaiveDateTime>))
                .execute(conn)?;
        }
    }
    Ok(removed == 1)
}

/// The type of [`freezing`]'s statement.
pub(crate) type Freezing = diesel::dsl::Update<
    diesel::dsl::Filter<
        diesel::dsl::Filter<attachments::table, diesel::dsl::Eq<attachments::application_id, String>>,
        diesel::dsl::IsNull<attachments::frozen_at>,
    >,
    diesel::dsl::Eq<attachments::frozen_at, Option<chrono::NaiveDateTime>>,
>;

/// The statement that freezes every attachment of the application not frozen yet (at
/// submission, and when an answer with new papers is sent): run with the application's own
/// change (`applications::update`).
pub(crate) fn freezing(application: ApplicationId, at: Instant) -> Freezing {
    diesel::update(
        attachments::table
            .filter(attachments::application_id.eq(application.to_string()))
            .filter(attachments::frozen_at.is_null()),
    )
    .set(attachments::frozen_at.eq(Some(to_db_time(at))))
}
