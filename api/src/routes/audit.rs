//! The audit log over HTTP: the records each caller may read (a page, or all of them as
//! CSV), and the transparency endpoints — signed checkpoints, inclusion and consistency
//! proofs (RFC 9162 Merkle tree), and the integrity check. Every hash is 64 lowercase hex
//! digits; see the README's "Audit log" section for how to verify them.

use actix_web::get;
use actix_web::web::{Bytes, Json, Path, Query};
use actix_web::HttpResponse;
use domain::audit::AuditRecord;
use domain::ids::{AccountId, AuditRecordId};
use domain::merkle::Hash;
use persistence::audit::{RecordFilter, SignedCheckpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Cursor};
use crate::auth::{Actor, Caller};
use crate::error::{ApiError, FieldProblem};
use crate::state::State;
use crate::usecases::audit;
use crate::usecases::Acting;
use crate::views::csv_rows::CsvRows;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"intact": false, "records_checked": 41, "tree_size": 57, "checkpoints_checked": 12, "records_unsealed": 0,
    "first_broken_leaf": 41, "problem": "altered", "head_seq": 57, "first_broken_seq": 42}))]
pub struct AuditVerification {
    /// True when the tree rebuilt from the records matches every leaf stored at sealing and
    /// every signed checkpoint's root, and every checkpoint's signature verifies.
    pub intact: bool,
    /// Records verified before the first problem (all sealed records when intact).
    pub records_checked: u64,
    /// How many records are sealed into the tree (records not sealed yet are not counted).
    pub tree_size: u64,
    /// Signed checkpoints whose root the rebuilt tree matched.
    pub checkpoints_checked: u64,
    /// Records written but not sealed into the tree yet (sealed within seconds; not checked).
    pub records_unsealed: u64,
    /// The position (leaf index, from 0) of the first record that fails, when one can be named.
    pub first_broken_leaf: Option<u64>,
    /// `altered` (a record differs from the leaf sealed for it, or was moved), `gap` (a sealed
    /// record is missing), `truncated` (records at the end are missing), `root_mismatch` (a
    /// signed checkpoint's root differs from the records) or `bad_signature`.
    pub problem: Option<&'static str>,
    /// The same as `tree_size` (the hash chain's head, before the Merkle tree).
    #[schema(deprecated)]
    pub head_seq: u64,
    /// `first_broken_leaf + 1` (the chain counted from 1).
    #[schema(deprecated)]
    pub first_broken_seq: Option<u64>,
}

/// Verify the audit log: the tree and every signed checkpoint.
///
/// Caller: an admin (403 `role_required` otherwise). Changes nothing. Rebuilds the audit
/// tree from the stored records, checks every signed checkpoint's root and signature, and
/// reports the first problem, if any.
#[utoipa::path(
    tag = "audit",
    operation_id = "verifyAudit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verification result (tampering is a result, not an error)", body = AuditVerification),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
#[get("/audit/verify")]
pub async fn verify(state: State, caller: Caller) -> Result<Json<AuditVerification>, ApiError> {
    let sealer = state.sealer.clone();
    let result = state
        .query_as(caller, move |c, actor, now| {
            audit::verify(c, &Acting::from(actor), sealer.key(), now)
        })
        .await?;
    let first_broken_leaf = result.first_break.as_ref().and_then(|b| b.leaf());
    Ok(Json(AuditVerification {
        intact: result.first_break.is_none(),
        records_checked: result.records_checked,
        tree_size: result.tree_size,
        checkpoints_checked: result.checkpoints_checked,
        records_unsealed: result.unsealed,
        first_broken_leaf,
        problem: result.first_break.as_ref().map(|b| b.code()),
        head_seq: result.tree_size,
        first_broken_seq: first_broken_leaf.map(|leaf| leaf + 1),
    }))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"tree_size": 57, "root_hash": "5a1f0e2c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29",
    "signed_at": "2026-12-03T10:00:05.000000Z", "kid": "5f2b1c0a9e8d7c6b",
    "signature": "9c1e…(128 hex digits)"}))]
pub struct AuditCheckpoint {
    /// How many records the tree held.
    pub tree_size: u64,
    /// The RFC 9162 Merkle tree hash of those records.
    pub root_hash: String,
    /// When it was signed, exactly as signed: RFC 3339 UTC with microseconds.
    pub signed_at: String,
    /// The signing key: the Ed25519 key with this `kid` in `/.well-known/jwks.json`.
    pub kid: String,
    /// Ed25519 signature (64 bytes, hex) over the UTF-8 text
    /// `kabinet.audit.checkpoint.v1\n{tree_size}\n{root_hash}\n{signed_at}\n`.
    pub signature: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// The checkpoint of exactly this many records; the latest when absent.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

/// A signed checkpoint of the audit tree: the latest, or the one of `tree_size` records.
///
/// Caller: anyone (no sign-in): a checkpoint shows how many records exist and a hash,
/// nothing of their content. Changes nothing. 404 `checkpoint_not_found` when no
/// checkpoint of that size was signed.
#[utoipa::path(
    tag = "audit",
    operation_id = "auditCheckpoint",
    params(CheckpointQuery),
    responses(
        (status = 200, description = "The checkpoint", body = AuditCheckpoint),
        (status = 404, description = "`checkpoint_not_found`: none signed yet, or none of that size (checkpoints are signed every few seconds while the log grows)",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:checkpoint_not_found", "title": "Not Found", "status": 404,
                "detail": "No checkpoint of that size has been signed (checkpoints are signed every few seconds while the log grows).",
                "code": "checkpoint_not_found"})),
    )
)]
#[get("/audit/checkpoints")]
pub async fn checkpoint(
    state: State,
    query: Query<CheckpointQuery>,
) -> Result<Json<AuditCheckpoint>, ApiError> {
    let tree_size = query.tree_size;
    let signed = state.read(move |c| audit::checkpoint(c, tree_size)).await?;
    Ok(Json(AuditCheckpoint::of(signed)))
}

impl AuditCheckpoint {
    fn of(signed: SignedCheckpoint) -> AuditCheckpoint {
        AuditCheckpoint {
            tree_size: signed.checkpoint.tree_size,
            root_hash: hex::encode(signed.checkpoint.root),
            signed_at: micros(signed.checkpoint.signed_at),
            kid: signed.kid,
            signature: hex::encode(signed.signature),
        }
    }
}

/// An instant as the leaves and checkpoints write it: RFC 3339 UTC with microseconds.
fn micros(t: domain::time::Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"record_id": "01936d6e-7c4f-7000-8000-000000000000", "leaf_index": 3, "tree_size": 7,
    "leaf": "01000000000000001573…", "leaf_hash": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "audit_path": ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    "root_hash": "5a1f0e2c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"}))]
pub struct AuditInclusionProof {
    pub record_id: uuid::Uuid,
    /// The record's position in the tree, from 0.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The record's canonical leaf bytes, hex (the encoding is in the README).
    pub leaf: String,
    /// SHA-256(0x00 || leaf).
    pub leaf_hash: String,
    /// RFC 9162 §2.1.3 inclusion path, nearest sibling first.
    pub audit_path: Vec<String>,
    /// The root of the tree of `tree_size` records; compare it with the signed checkpoint.
    pub root_hash: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// The tree size to prove against; the latest checkpoint's when absent.
    #[param(minimum = 1)]
    pub tree_size: Option<u64>,
}

/// Prove that an audit record is in the signed tree.
///
/// Caller: whoever may read the record in `listAuditRecords` — an admin any record, anyone
/// else a record about themselves or their applications (404 otherwise, as for a record
/// that does not exist); never on someone's behalf (403). Changes nothing. Answers the
/// record's leaf bytes and the RFC 9162 inclusion path to the root of `tree_size` records
/// (409 `audit_record_pending` while the record is not sealed yet).
#[utoipa::path(
    tag = "audit",
    operation_id = "auditInclusionProof",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The audit record's id"), ProofQuery),
    responses(
        (status = 200, description = "The proof", body = AuditInclusionProof),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such record, or not one the caller may read", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`audit_record_pending`: the record is not sealed into a signed checkpoint yet; ask again in a few seconds",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:audit_record_pending", "title": "Conflict", "status": 409,
                "detail": "The record is not in a signed checkpoint yet; ask again in a few seconds.", "code": "audit_record_pending"})),
        (status = 422, description = "`tree_size_out_of_range`: the tree is smaller, or does not reach the record yet (`context.tree_size` is the tree's size)",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:tree_size_out_of_range", "title": "Unprocessable Entity", "status": 422,
                "detail": "The tree holds 57 records.", "code": "tree_size_out_of_range", "context": {"tree_size": 57}})),
    )
)]
#[get("/audit/{id}/proof")]
pub async fn inclusion_proof(
    state: State,
    caller: Caller,
    id: Path<AuditRecordId>,
    query: Query<ProofQuery>,
) -> Result<Json<AuditInclusionProof>, ApiError> {
    let request = (id.into_inner(), query.tree_size);
    let proof = state
        .query_as(caller, move |c, actor, now| {
            audit::inclusion_proof(c, &Acting::from(actor), request, now)
        })
        .await?;
    Ok(Json(AuditInclusionProof::of(
        &proof.record,
        (proof.leaf_index, proof.tree_size),
        &proof.path,
        &proof.root,
    )))
}

impl AuditInclusionProof {
    fn of(record: &AuditRecord, (leaf_index, tree_size): (u64, u64), path: &[Hash], root: &Hash) -> Self {
        AuditInclusionProof {
            record_id: record.id.as_uuid(),
            leaf_index,
            tree_size,
            leaf: hex::encode(record.leaf_bytes()),
            leaf_hash: hex::encode(record.leaf_hash()),
            audit_path: hexes(path),
            root_hash: hex::encode(root),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"first": 3, "second": 7,
    "first_root": "5a1f0e2c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29",
    "second_root": "0c1b2a39485766f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1",
    "proof": ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]}))]
pub struct AuditConsistencyProof {
    pub first: u64,
    pub second: u64,
    /// The root of the first `first` records.
    pub first_root: String,
    /// The root of the first `second` records.
    pub second_root: String,
    /// RFC 9162 §2.1.4 consistency proof (empty when first = second).
    pub proof: Vec<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size (at least 1).
    #[param(minimum = 1)]
    pub first: u64,
    /// The newer tree size (at least `first`, at most the tree's size).
    #[param(minimum = 1)]
    pub second: u64,
}

/// Prove that a later audit tree extends an earlier one.
///
/// Caller: anyone (hashes only). Changes nothing. The RFC 9162 consistency proof that the
/// tree of `second` records extends the tree of `first`: no record of the older tree was
/// changed, removed or reordered (422 `tree_size_out_of_range` for sizes not sealed).
#[utoipa::path(
    tag = "audit",
    operation_id = "auditConsistencyProof",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = AuditConsistencyProof),
        (status = 422, description = "`tree_size_out_of_range`: not 0 < first ≤ second ≤ the tree's size (`context.tree_size`)",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:tree_size_out_of_range", "title": "Unprocessable Entity", "status": 422,
                "detail": "The tree holds 57 records.", "code": "tree_size_out_of_range", "context": {"tree_size": 57}})),
    )
)]
#[get("/audit/consistency")]
pub async fn consistency_proof(
    state: State,
    query: Query<ConsistencyQuery>,
) -> Result<Json<AuditConsistencyProof>, ApiError> {
    let (first, second) = (query.first, query.second);
    let proof = state
        .read(move |c| audit::consistency_proof(c, first, second))
        .await?;
    Ok(Json(AuditConsistencyProof {
        first,
        second,
        first_root: hex::encode(proof.first_root),
        second_root: hex::encode(proof.second_root),
        proof: hexes(&proof.proof),
    }))
}

/// Longest text filter accepted (action names, target types and ids are far shorter).
const MAX_FILTER_CHARS: usize = 200;

/// The filters of the audit list and its CSV export (CONTRACT.md).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterQuery {
    /// Records of what this account did.
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// Records of what was done on behalf of this principal (an account or organisation).
    #[param(format = Uuid)]
    pub principal: Option<String>,
    /// What the records are about: `account`, `application`, `document`, `delegation`, …
    #[param(min_length = 1, max_length = 200)]
    pub target_type: Option<String>,
    /// The id of what the records are about.
    #[param(min_length = 1, max_length = 200)]
    pub target_id: Option<String>,
    /// One action, e.g. `auth.login` or `application.submit`.
    #[param(min_length = 1, max_length = 200)]
    pub action: Option<String>,
    /// At or after this date (`YYYY-MM-DD`, midnight UTC) or RFC 3339 instant.
    #[param(schema_with = paging::date_or_instant)]
    pub from: Option<String>,
    /// Before this date or instant (not after `from`).
    #[param(schema_with = paging::date_or_instant)]
    pub to: Option<String>,
}

impl AuditFilterQuery {
    /// The filter, or 422 naming every field that does not parse.
    fn filter(&self, limit: i64, before: Option<i64>) -> Result<RecordFilter, ApiError> {
        let mut fields = Fields::default();
        let filter = RecordFilter {
            actor: fields.uuid("actor", &self.actor).map(AccountId::from_uuid),
            principal: fields.uuid("principal", &self.principal),
            target_type: fields.text("target_type", &self.target_type),
            target_id: fields.text("target_id", &self.target_id),
            action: fields.text("action", &self.action),
            from: fields.instant("from", &self.from),
            to: fields.instant("to", &self.to),
            before,
            limit,
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from > to {
                fields.refuse("from", "out_of_range", "After `to`.");
            }
        }
        if fields.problems.is_empty() {
            Ok(filter)
        } else {
            Err(ApiError::validation(fields.problems))
        }
    }
}

/// The query's fields as they are parsed, with every problem found on the way: the 422
/// names them all at once.
#[derive(Default)]
struct Fields {
    problems: Vec<FieldProblem>,
}

impl Fields {
    fn refuse(&mut self, field: &str, code: &str, message: &str) {
        self.problems.push(FieldProblem {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    fn uuid(&mut self, field: &str, text: &Option<String>) -> Option<uuid::Uuid> {
        let parsed = text.as_deref()?.parse::<uuid::Uuid>();
        if parsed.is_err() {
            self.refuse(field, "invalid_value", "A UUID.");
        }
        parsed.ok()
    }

    fn text(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let value = value.as_ref()?;
        if value.is_empty() || value.chars().count() > MAX_FILTER_CHARS {
            self.refuse(field, "invalid_value", "1 to 200 characters.");
        }
        Some(value.clone())
    }

    fn instant(&mut self, field: &str, value: &Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
        match paging::instant(field, value.as_deref()?) {
            Ok(at) => Some(at),
            Err(refused) => {
                self.problems.extend(refused.problem().errors);
                None
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPageQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: each sealed record carries its inclusion proof against the latest signed
    /// checkpoint, which the page carries once.
    pub proof: Option<bool>,
}

impl AuditPageQuery {
    /// The record the page starts after (its `seq`): the cursor names nothing else.
    fn before(&self) -> Result<Option<i64>, ApiError> {
        let bad = || ApiError::field("cursor", "invalid_value", "Not a cursor of this list.");
        match self.cursor.as_deref().map(Cursor::decode).transpose()? {
            None => Ok(None),
            Some(Cursor { at: None, id }) => id.parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}

fn cursor_after(record: &AuditRecord) -> String {
    Cursor {
        at: None,
        id: record.seq.to_string(),
    }
    .encode()
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936d6e-7c4f-7000-8000-000000000000", "seq": 42,
    "occurred_at": "2026-12-03T10:00:00.000000Z", "actor_id": "0193a8f0-0000-7000-8000-000000000002",
    "on_behalf_of": "0193a8f0-0000-7000-8000-000000000001", "action": "application.submit",
    "target_type": "application", "target_id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d",
    "details": {"from": "draft", "to": "submitted", "agency": "mvd"}, "ip": "203.0.113.7",
    "leaf_index": 41, "proof": null}))]
pub struct AuditRecordView {
    pub id: uuid::Uuid,
    /// The insertion number (a field of the leaf).
    pub seq: i64,
    /// RFC 3339 UTC with microseconds, exactly as in the leaf.
    pub occurred_at: String,
    /// Who did it; null for the system itself (jobs, attempts naming no account).
    pub actor_id: Option<uuid::Uuid>,
    /// The principal the actor acted for (a representative's act), if any.
    pub on_behalf_of: Option<uuid::Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// What the action recorded (never personal data in clear: ids, statuses, hashes).
    #[schema(value_type = Option<Object>)]
    pub details: serde_json::Value,
    /// The address the request came from, as sealed in the leaf.
    pub ip: Option<String>,
    /// The record's position in the tree, from 0; null until the sealer takes it in
    /// (seconds).
    pub leaf_index: Option<u64>,
    /// With `?proof=true`: the inclusion proof against the page's `checkpoint`; null while
    /// the record is not sealed under it.
    pub proof: Option<AuditInclusionProof>,
}

impl AuditRecordView {
    fn of(record: &AuditRecord, proof: Option<AuditInclusionProof>) -> Result<AuditRecordView, ApiError> {
        Ok(AuditRecordView {
            id: record.id.as_uuid(),
            seq: record.seq,
            occurred_at: micros(record.occurred_at),
            actor_id: record.actor.map(|a| a.as_uuid()),
            on_behalf_of: record.on_behalf_of,
            action: record.action.clone(),
            target_type: record.target_type.clone(),
            target_id: record.target_id.clone(),
            details: serde_json::from_str(&record.details).map_err(ApiError::internal)?,
            ip: record.ip.clone(),
            leaf_index: record.leaf_index,
            proof,
        })
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "01936d6e-7c4f-7000-8000-000000000000", "seq": 42,
    "occurred_at": "2026-12-03T10:00:00.000000Z", "actor_id": "0193a8f0-0000-7000-8000-000000000002",
    "on_behalf_of": null, "action": "auth.login", "target_type": "session",
    "target_id": "0193a8f0-9999-7000-8000-000000000003", "details": {"amr": ["pwd"]}, "ip": "203.0.113.7",
    "leaf_index": 41, "proof": {"record_id": "01936d6e-7c4f-7000-8000-000000000000", "leaf_index": 41, "tree_size": 57,
        "leaf": "01000000000000001573…", "leaf_hash": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "audit_path": ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        "root_hash": "5a1f0e2c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"}}],
    "next_cursor": "fDQy",
    "checkpoint": {"tree_size": 57, "root_hash": "5a1f0e2c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29",
        "signed_at": "2026-12-03T10:00:05.000000Z", "kid": "5f2b1c0a9e8d7c6b", "signature": "9c1e…(128 hex digits)"}}))]
pub struct AuditRecordPage {
    pub items: Vec<AuditRecordView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// With `?proof=true`: the latest signed checkpoint, which every proof on the page is
    /// against; null otherwise, or before the first checkpoint is signed.
    pub checkpoint: Option<AuditCheckpoint>,
}

/// The audit records you may read, newest first.
///
/// Caller: any signed-in account, as itself — never on someone's behalf (403 with
/// `X-On-Behalf-Of`, like everything that guards an account). An admin reads every record;
/// anyone else the records where they acted, were acted for or are the target account, and
/// the records of the applications they own or take part in (what their representatives,
/// co-participants and officers did there). Filters narrow that set, never widen it.
/// Changes nothing. With `proof=true` each sealed record carries its RFC 9162 inclusion
/// proof against the latest signed checkpoint, given once for the page.
#[utoipa::path(
    tag = "audit",
    operation_id = "listAuditRecords",
    security(("bearer" = [])),
    params(AuditFilterQuery, AuditPageQuery),
    responses(
        (status = 200, description = "A page", body = AuditRecordPage),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "`validation_failed`: a filter that does not parse (`actor`, `principal` not UUIDs; `from`, `to` not dates or instants; `from` after `to`), a bad `limit` or `cursor`",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:validation_failed", "title": "Unprocessable Entity", "status": 422,
                "detail": "Some fields are invalid.", "code": "validation_failed",
                "errors": [{"field": "actor", "code": "invalid_value", "message": "A UUID."},
                    {"field": "from", "code": "out_of_range", "message": "After `to`."}]})),
    )
)]
#[get("/audit")]
pub async fn list(
    state: State,
    caller: Caller,
    filters: Query<AuditFilterQuery>,
    page: Query<AuditPageQuery>,
) -> Result<Json<AuditRecordPage>, ApiError> {
    let limit = paging::limit(page.limit)?;
    let filter = filters.filter(limit + 1, page.before()?)?;
    let with_proofs = page.proof.unwrap_or(false);
    let mut listed = state
        .query_as(caller, move |c, actor, now| {
            audit::list(c, &Acting::from(actor), (filter, with_proofs), now)
        })
        .await?;
    let shown = usize::try_from(limit).unwrap_or(0);
    let next_cursor = (listed.records.len() > shown)
        .then(|| listed.records.get(shown - 1).map(cursor_after))
        .flatten();
    listed.records.truncate(shown);
    let (latest, mut paths) = match listed.proofs {
        Some(proofs) => (proofs.checkpoint, proofs.paths),
        None => (None, Vec::new()),
    };
    paths.resize(listed.records.len(), None);
    let items = listed
        .records
        .iter()
        .zip(paths)
        .map(|(record, path)| {
            let proof = match (&latest, record.leaf_index, path) {
                (Some(signed), Some(leaf), Some(path)) => Some(AuditInclusionProof::of(
                    record,
                    (leaf, signed.checkpoint.tree_size),
                    &path,
                    &signed.checkpoint.root,
                )),
                _ => None,
            };
            AuditRecordView::of(record, proof)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(AuditRecordPage {
        items,
        next_cursor,
        checkpoint: latest.map(AuditCheckpoint::of),
    }))
}

/// Rows read per query while a CSV export streams.
const EXPORT_PAGE: i64 = 500;

const EXPORT_HEADER: [&str; 11] = [
    "id",
    "seq",
    "occurred_at",
    "actor_id",
    "on_behalf_of",
    "action",
    "target_type",
    "target_id",
    "details",
    "ip",
    "leaf_index",
];

/// One page of records as CSV rows, after the header when `header` is set.
fn csv_rows(records: &[AuditRecord], header: bool) -> Result<Bytes, ApiError> {
    let mut out = if header {
        CsvRows::first(&EXPORT_HEADER)?
    } else {
        CsvRows::more()
    };
    let text = |v: Option<String>| v.unwrap_or_default();
    for r in records {
        out.row([
            r.id.to_string(),
            r.seq.to_string(),
            micros(r.occurred_at),
            text(r.actor.map(|a| a.to_string())),
            text(r.on_behalf_of.map(|p| p.to_string())),
            r.action.clone(),
            r.target_type.clone(),
            text(r.target_id.clone()),
            r.details.clone(),
            text(r.ip.clone()),
            text(r.leaf_index.map(|i| i.to_string())),
        ])?;
    }
    out.into_bytes()
}

/// Where a streaming export stands between pages.
struct Export {
    state: State,
    acting: Acting,
    filter: RecordFilter,
    /// The `seq` the next page starts before; `None` once the last page went out.
    next: Option<i64>,
}

impl Export {
    /// Reads the page before `before` (newest first) on the blocking pool.
    async fn page(&self, before: Option<i64>) -> Result<Vec<AuditRecord>, ApiError> {
        let acting = self.acting.clone();
        let filter = RecordFilter {
            before,
            ..self.filter.clone()
        };
        let listed = self
            .state
            .query(move |c, now| audit::list(c, &acting, (filter, false), now))
            .await?;
        Ok(listed.records)
    }

    /// Where the page after `records` starts, if there is one.
    fn after(records: &[AuditRecord]) -> Option<i64> {
        match records.last() {
            Some(last) if records.len() as i64 == EXPORT_PAGE => Some(last.seq),
            _ => None,
        }
    }
}

/// The audit records you may read, as CSV.
///
/// Caller: as for `listAuditRecords` (never on someone's behalf), with the same filters and
/// rows, newest first; every record, streamed page by page. Changes nothing. Limited per
/// account (`rate_audit_exports_per_account`, 429 with `Retry-After`). UTF-8 with a BOM;
/// RFC 4180 quoting; a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
/// prefixed with `'` so that no spreadsheet runs it. `details` is the JSON as sealed.
#[utoipa::path(
    tag = "audit",
    operation_id = "exportAuditRecords",
    security(("bearer" = [])),
    params(AuditFilterQuery),
    responses(
        (status = 200, description = "CSV, a header row and one row per record", content_type = "text/csv", body = String,
            example = "\u{feff}id,seq,occurred_at,actor_id,on_behalf_of,action,target_type,target_id,details,ip,leaf_index\r\n01936d6e-7c4f-7000-8000-000000000000,42,2026-12-03T10:00:00.000000Z,0193a8f0-0000-7000-8000-000000000002,,auth.login,session,0193a8f0-9999-7000-8000-000000000003,\"{\"\"amr\"\":[\"\"pwd\"\"]}\",203.0.113.7,41\r\n"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "`validation_failed`: a filter that does not parse, or `from` after `to`",
            body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:kabinet:problem:validation_failed", "title": "Unprocessable Entity", "status": 422,
                "detail": "Some fields are invalid.", "code": "validation_failed",
                "errors": [{"field": "to", "code": "invalid_value", "message": "A date (YYYY-MM-DD) or an RFC 3339 instant."}]})),
    )
)]
#[get("/audit/export.csv")]
pub async fn export(
    state: State,
    actor: Actor,
    filters: Query<AuditFilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let export = Export {
        state,
        acting: Acting::from(&actor),
        filter: filters.filter(EXPORT_PAGE, None)?,
        next: None,
    };
    // The first page is read before answering, so a refusal is still a problem+json.
    let first = export.page(None).await?;
    let head = csv_rows(&first, true)?;
    let export = Export {
        next: Export::after(&first),
        ..export
    };
    let rest = futures_util::stream::try_unfold(export, |mut export| async move {
        let Some(before) = export.next else {
            return Ok(None);
        };
        let records = export.page(Some(before)).await?;
        export.next = Export::after(&records);
        Ok::<_, ApiError>(Some((csv_rows(&records, false)?, export)))
    });
    // Past the head an error can only cut the body short: the chunked body ends without its
    // last chunk, so the client sees a broken download, never a short file that looks whole.
    let rest = futures_util::TryStreamExt::map_err(rest, actix_web::Error::from);
    let body = futures_util::StreamExt::chain(futures_util::stream::once(async { Ok(head) }), rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"audit.csv\""))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_defused_rfc4180_row() {
        let record = AuditRecord {
            seq: 1,
            id: AuditRecordId::new(),
            occurred_at: chrono::Utc::now(),
            actor: None,
            on_behalf_of: None,
            action: "=HYPERLINK(\"http://x\")".into(),
            target_type: "thing".into(),
            target_id: Some("a,b".into()),
            details: "{\"k\":\"v\"}".into(),
            ip: None,
            leaf_index: None,
        };
        let rows = String::from_utf8(
            csv_rows(&[record], false)
                .unwrap_or_else(|e| panic!("{e:?}"))
                .to_vec(),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            rows.contains(",\"'=HYPERLINK(\"\"http://x\"\")\",thing,\"a,b\",\"{\"\"k\"\":\"\"v\"\"}\",,\r\n"),
            "{rows}"
        );
    }
}
