//! The audit log's transparency endpoints: signed checkpoints, inclusion and consistency
//! proofs (RFC 9162 Merkle tree), and the integrity check. Every hash is 64 lowercase hex
//! digits; see the README's "Audit log" section for how to verify them.

use actix_web::get;
use actix_web::web::{Json, Path, Query};
use domain::ids::AuditRecordId;
use domain::merkle::Hash;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::audit;
use crate::usecases::Acting;

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
pub async fn verify(state: State, actor: Actor) -> Result<Json<AuditVerification>, ApiError> {
    let acting = Acting::from(&actor);
    let sealer = state.sealer.clone();
    let result = state
        .query(move |c, now| audit::verify(c, &acting, sealer.key(), now))
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
    Ok(Json(AuditCheckpoint {
        tree_size: signed.checkpoint.tree_size,
        root_hash: hex::encode(signed.checkpoint.root),
        signed_at: signed
            .checkpoint
            .signed_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        kid: signed.kid,
        signature: hex::encode(signed.signature),
    }))
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
/// Caller: an admin (403 `role_required` otherwise). Changes nothing. Answers the record's
/// leaf bytes and the RFC 9162 inclusion path to the root of `tree_size` records (409
/// `audit_record_pending` while the record is not sealed yet).
#[utoipa::path(
    tag = "audit",
    operation_id = "auditInclusionProof",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The audit record's id"), ProofQuery),
    responses(
        (status = 200, description = "The proof", body = AuditInclusionProof),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such record", body = crate::error::Problem, content_type = "application/problem+json"),
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
    actor: Actor,
    id: Path<AuditRecordId>,
    query: Query<ProofQuery>,
) -> Result<Json<AuditInclusionProof>, ApiError> {
    let acting = Acting::from(&actor);
    let request = (id.into_inner(), query.tree_size);
    let proof = state
        .query(move |c, now| audit::inclusion_proof(c, &acting, request, now))
        .await?;
    Ok(Json(AuditInclusionProof {
        record_id: proof.record.id.as_uuid(),
        leaf_index: proof.leaf_index,
        tree_size: proof.tree_size,
        leaf: hex::encode(proof.record.leaf_bytes()),
        leaf_hash: hex::encode(proof.record.leaf_hash()),
        audit_path: hexes(&proof.path),
        root_hash: hex::encode(proof.root),
    }))
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
