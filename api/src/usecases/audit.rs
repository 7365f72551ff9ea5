//! The audit log read and checked: each caller lists the records in the scope the
//! authorization core gives them (admins all, everyone else the records about themselves and
//! their applications), with inclusion proofs; signed checkpoints and consistency proofs for
//! anyone; the full integrity check for admins.

use actix_web::http::StatusCode;
use domain::access::{audit_scope, authorize, Action, AuditScope, Resource};
use domain::audit::AuditRecord;
use domain::ids::AuditRecordId;
use domain::merkle::{Hash, ProofError};
use domain::time::Instant;
use persistence::audit::{self, RecordFilter, SignedCheckpoint};
use persistence::{DbConnection, StoreError};

use crate::error::ApiError;
use crate::sealer::{self, CheckpointKey, LogVerification};
use crate::usecases::Acting;

/// Rebuilds the tree from the records and checks every checkpoint's root and signature.
pub fn verify(
    conn: &mut DbConnection,
    who: &Acting,
    key: &CheckpointKey,
    now: Instant,
) -> Result<LogVerification, ApiError> {
    authorize(&who.subject, Action::AuditVerify, &Resource::System, now)?;
    Ok(sealer::verify(conn, key)?)
}

fn no_checkpoint() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "checkpoint_not_found",
        "No checkpoint of that size has been signed (checkpoints are signed every few seconds while the log grows).",
    )
}

fn out_of_range(detail: impl Into<String>, tree_size: u64) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "tree_size_out_of_range", detail)
        .with_context(serde_json::json!({ "tree_size": tree_size }))
}

fn proof_error(error: ProofError<StoreError>, tree_size: u64) -> ApiError {
    match error {
        ProofError::Lookup(store) => store.into(),
        other => out_of_range(other.to_string(), tree_size),
    }
}

/// The latest signed checkpoint, or the one of exactly `tree_size` records.
pub fn checkpoint(conn: &mut DbConnection, tree_size: Option<u64>) -> Result<SignedCheckpoint, ApiError> {
    audit::checkpoint(conn, tree_size)?.ok_or_else(no_checkpoint)
}

/// A record, where it sits in the tree, and the path from it to the root of `tree_size`.
pub struct InclusionProof {
    pub record: AuditRecord,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Hash>,
    pub root: Hash,
}

/// Whether `record` is in `scope` (the core decides, from the record's facts).
fn in_scope(conn: &mut DbConnection, scope: AuditScope, record: &AuditRecord) -> Result<bool, ApiError> {
    Ok(match scope {
        AuditScope::Everything => true,
        AuditScope::About(account) => scope.covers(&audit::facts(conn, account, record)?),
    })
}

/// A page of the records the caller may read, newest first, and their proofs when asked.
pub struct Listed {
    pub records: Vec<AuditRecord>,
    /// Asked for proofs: the latest checkpoint (none before the first is signed) and, for
    /// each record in order, its inclusion path to that checkpoint's root when it is sealed
    /// under it.
    pub proofs: Option<Proofs>,
}

pub struct Proofs {
    pub checkpoint: Option<SignedCheckpoint>,
    pub paths: Vec<Option<Vec<Hash>>>,
}

/// The records in the caller's scope (never on anyone's behalf) that pass `filter`.
pub fn list(
    conn: &mut DbConnection,
    who: &Acting,
    (filter, with_proofs): (RecordFilter, bool),
    now: Instant,
) -> Result<Listed, ApiError> {
    let scope = audit_scope(&who.subject, now)?;
    let records = audit::list(conn, scope, &filter)?;
    let proofs = with_proofs.then(|| proofs(conn, &records)).transpose()?;
    Ok(Listed { records, proofs })
}

fn proofs(conn: &mut DbConnection, records: &[AuditRecord]) -> Result<Proofs, ApiError> {
    let checkpoint = audit::checkpoint(conn, None)?;
    let size = checkpoint.as_ref().map_or(0, |c| c.checkpoint.tree_size);
    let paths = records
        .iter()
        .map(|r| match r.leaf_index {
            Some(leaf) if leaf < size => audit::inclusion_proof(conn, leaf, size)
                .map(Some)
                .map_err(|e| proof_error(e, size)),
            _ => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Proofs { checkpoint, paths })
}

/// Proves record `id` is in the tree of `tree_size` records (by default the latest
/// checkpoint's), for whoever may read the record (404 for anyone else, as for a record
/// that does not exist).
pub fn inclusion_proof(
    conn: &mut DbConnection,
    who: &Acting,
    (id, tree_size): (AuditRecordId, Option<u64>),
    now: Instant,
) -> Result<InclusionProof, ApiError> {
    let scope = audit_scope(&who.subject, now)?;
    let record = audit::find(conn, id)?.ok_or_else(ApiError::not_found)?;
    if !in_scope(conn, scope, &record)? {
        return Err(ApiError::not_found());
    }
    let pending = || {
        ApiError::conflict(
            "audit_record_pending",
            "The record is not in a signed checkpoint yet; ask again in a few seconds.",
        )
    };
    let leaf_index = record.leaf_index.ok_or_else(pending)?;
    let sealed = audit::tree_size(conn)?;
    let tree_size = match tree_size {
        Some(size) if size > sealed => {
            return Err(out_of_range(format!("The tree holds {sealed} records."), sealed))
        }
        Some(size) => size,
        None => match audit::checkpoint(conn, None)? {
            Some(latest) if latest.checkpoint.tree_size > leaf_index => latest.checkpoint.tree_size,
            _ => return Err(pending()),
        },
    };
    let path = audit::inclusion_proof(conn, leaf_index, tree_size).map_err(|e| proof_error(e, sealed))?;
    let root = audit::root(conn, tree_size)?;
    Ok(InclusionProof {
        record,
        leaf_index,
        tree_size,
        path,
        root,
    })
}

pub struct ConsistencyProof {
    pub first_root: Hash,
    pub second_root: Hash,
    pub proof: Vec<Hash>,
}

/// Proves the tree of `second` records extends the tree of `first` (0 < first ≤ second ≤
/// the tree's size). Public: it holds hashes only.
pub fn consistency_proof(
    conn: &mut DbConnection,
    first: u64,
    second: u64,
) -> Result<ConsistencyProof, ApiError> {
    let sealed = audit::tree_size(conn)?;
    if second > sealed {
        return Err(out_of_range(format!("The tree holds {sealed} records."), sealed));
    }
    let proof = audit::consistency_proof(conn, first, second).map_err(|e| proof_error(e, sealed))?;
    Ok(ConsistencyProof {
        first_root: audit::root(conn, first)?,
        second_root: audit::root(conn, second)?,
        proof,
    })
}
