//! The audit log: use cases [`record`] unsealed rows inside their own transaction (no row
//! shared by writers), each queued for the sealer in `audit_unsealed`; the sealer ([`seal`])
//! gives them tree positions in commit order (`audit_leaves`: records are never rewritten)
//! and stores the Merkle tree's nodes and signed checkpoints, from which proofs are made;
//! readers [`list`] the records in a scope the authorization core decided.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use domain::access::{AuditRecordFacts, AuditScope};
use domain::audit::{AuditEntry, AuditRecord, Checkpoint, LogBreak, Rebuild};
use domain::ids::{AccountId, AuditRecordId};
use domain::merkle::{self, Frontier, Hash, NodeId, ProofError};
use domain::time::{to_storage_precision, Instant};

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;
use crate::rows::{from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{
    applications, audit_checkpoints, audit_leaves, audit_log, audit_nodes, audit_unsealed, participants,
};

const PAGE: i64 = 1_000;

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    seq: i64,
    id: String,
    occurred_at: chrono::NaiveDateTime,
    actor_id: Option<String>,
    on_behalf_of: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    details: String,
    ip: Option<String>,
}

/// A record as read, with its leaf's position once sealed.
type Positioned = (AuditRow, Option<i64>);

/// `audit_log` with each record's position (`None`: not sealed yet).
macro_rules! positioned {
    () => {
        audit_log::table.left_join(audit_leaves::table.on(audit_leaves::seq.eq(audit_log::seq)))
    };
}

/// What [`positioned!`] selects.
macro_rules! positioned_columns {
    () => {
        (AuditRow::as_select(), audit_leaves::leaf_index.nullable())
    };
}

/// A new record: `seq` comes from the sequence.
#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAuditRow {
    id: String,
    occurred_at: chrono::NaiveDateTime,
    actor_id: Option<String>,
    on_behalf_of: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    details: String,
    ip: Option<String>,
}

impl AuditRow {
    /// The record, sealed at `leaf_index` if it is sealed.
    fn into_record(self, leaf_index: Option<i64>) -> Result<AuditRecord, StoreError> {
        Ok(AuditRecord {
            seq: self.seq,
            id: parse_id::<AuditRecordId>("audit_log", &self.id)?,
            occurred_at: from_db_time(self.occurred_at),
            actor: parse_optional_id("audit_log", self.actor_id.as_deref())?,
            on_behalf_of: parse_optional_id("audit_log", self.on_behalf_of.as_deref())?,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            details: self.details,
            ip: self.ip,
            leaf_index: leaf_index.map(position).transpose()?,
        })
    }
}

fn position(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt("audit_log", format!("negative position {value}")))
}

fn stored(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::corrupt("audit_nodes", format!("position {value} too large")))
}

fn parse_hash(table: &'static str, text: &str) -> Result<Hash, StoreError> {
    let bytes = hex::decode(text).map_err(|e| StoreError::corrupt(table, e))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(table, "a hash is not 32 bytes"))
}

/// Adds `entry` to the log, unsealed, and queues it for the sealer. Touches no row any other
/// writer touches, so audited transactions run side by side; returns the record's id.
pub fn record(conn: &mut DbConnection, entry: AuditEntry, now: Instant) -> Result<AuditRecordId, StoreError> {
    let id = AuditRecordId::new();
    let id_text = id.to_string();
    diesel::insert_into(audit_log::table)
        .values(NewAuditRow {
            id: id_text.clone(),
            occurred_at: to_db_time(to_storage_precision(now)),
            actor_id: entry.actor.map(|a| a.to_string()),
            on_behalf_of: entry.on_behalf_of.map(|p| p.to_string()),
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            details: entry.details.to_string(),
            ip: entry.ip,
        })
        .execute(conn)?;
    diesel::insert_into(audit_unsealed::table)
        .values(
            audit_log::table
                .filter(audit_log::id.eq(id_text))
                .select(audit_log::seq),
        )
        .into_columns(audit_unsealed::seq)
        .execute(conn)?;
    Ok(id)
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = BigInt)]
    xmin: i64,
}

/// The transaction id below which every transaction has ended (PostgreSQL): records queued
/// with a smaller `txid` are final, committed or gone. `None` on SQLite, where a reader sees only
/// committed rows and writers are serialised, so every visible record is final.
fn commit_horizon(conn: &mut DbConnection) -> Result<Option<i64>, StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            let horizon: Horizon = prepared::kept(
                pg,
                diesel::sql_query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin"),
            )?
            .get_result(pg)?;
            Ok(Some(horizon.xmin))
        }
        DbConnection::Sqlite(_) => Ok(None),
    }
}

/// How many records the tree holds.
pub fn tree_size(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let last: Option<i64> = audit_nodes::table
        .filter(audit_nodes::level.eq(0))
        .select(diesel::dsl::max(audit_nodes::idx))
        .first(conn)?;
    last.map_or(Ok(0), |l| position(l + 1))
}

/// One stored perfect subtree's hash.
pub fn node(conn: &mut DbConnection, id: NodeId) -> Result<Hash, StoreError> {
    let level = i32::try_from(id.level).map_err(|_| StoreError::corrupt("audit_nodes", "level too large"))?;
    let text: Option<String> = audit_nodes::table
        .find((level, stored(id.index)?))
        .select(audit_nodes::hash)
        .first(conn)
        .optional()?;
    let text = text.ok_or_else(|| {
        StoreError::corrupt(
            "audit_nodes",
            format!("node {}/{} is missing", id.level, id.index),
        )
    })?;
    parse_hash("audit_nodes", &text)
}

/// What one sealing batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub sealed: u64,
    pub tree_size: u64,
}

/// Seals up to `limit` final records, oldest insertion first, as the next leaves of the
/// tree. Only the one sealer may call it (the caller elects it); run it in a transaction.
///
/// On PostgreSQL a record is final once its transaction's id is below the horizon: a record
/// of a transaction still running is never skipped, it holds back every later one, so the
/// leaves follow commit order.
pub fn seal(conn: &mut DbConnection, limit: i64) -> Result<Sealed, StoreError> {
    let horizon = commit_horizon(conn)?.unwrap_or(i64::MAX);
    let size = tree_size(conn)?;
    let peaks = Frontier::peak_ids(size)
        .into_iter()
        .map(|id| node(conn, id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut frontier = Frontier::from_peaks(size, peaks)
        .ok_or_else(|| StoreError::corrupt("audit_nodes", "the frontier does not match the tree size"))?;
    let rows: Vec<AuditRow> = audit_unsealed::table
        .inner_join(audit_log::table.on(audit_log::seq.eq(audit_unsealed::seq)))
        .filter(
            audit_unsealed::txid
                .is_null()
                .or(audit_unsealed::txid.lt(horizon)),
        )
        .order(audit_unsealed::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut nodes = Vec::new();
    let mut leaves = Vec::with_capacity(rows.len());
    for row in rows {
        let seq = row.seq;
        let record = row.into_record(None)?;
        leaves.push((seq, stored(frontier.size())?));
        nodes.extend(frontier.push(record.leaf_hash()));
    }
    let nodes = nodes
        .into_iter()
        .map(|(id, hash)| {
            let level =
                i32::try_from(id.level).map_err(|_| StoreError::corrupt("audit_nodes", "level too large"))?;
            Ok((level, stored(id.index)?, hex::encode(hash)))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    place_leaves(conn, &leaves)?;
    insert_nodes(conn, &nodes)?;
    Ok(Sealed {
        sealed: frontier.size() - size,
        tree_size: frontier.size(),
    })
}

/// Gives each queued record `(seq, leaf index)` its place in the tree and takes it off the
/// queue: on PostgreSQL in one statement for the batch, on SQLite (in-process, no round
/// trips) one by one. A record no longer queued is not placed, and fails the batch.
fn place_leaves(conn: &mut DbConnection, leaves: &[(i64, i64)]) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt};
    if leaves.is_empty() {
        return Ok(());
    }
    let placed = match conn {
        DbConnection::Postgresql(pg) => {
            let (seqs, indexes): (Vec<i64>, Vec<i64>) = leaves.iter().copied().unzip();
            diesel::sql_query(
                "WITH taken AS (DELETE FROM audit_unsealed WHERE seq = ANY($1::bigint[]) RETURNING seq) \
                 INSERT INTO audit_leaves (leaf_index, seq) \
                 SELECT v.idx, v.seq FROM unnest($1::bigint[], $2::bigint[]) AS v(seq, idx) \
                 JOIN taken ON taken.seq = v.seq",
            )
            .bind::<Array<BigInt>, _>(seqs)
            .bind::<Array<BigInt>, _>(indexes)
            .execute(pg)?
        }
        DbConnection::Sqlite(_) => {
            let mut placed = 0;
            for &(seq, leaf_index) in leaves {
                if diesel::delete(audit_unsealed::table.find(seq)).execute(conn)? == 1 {
                    placed += diesel::insert_into(audit_leaves::table)
                        .values((audit_leaves::leaf_index.eq(leaf_index), audit_leaves::seq.eq(seq)))
                        .execute(conn)?;
                }
            }
            placed
        }
    };
    if placed != leaves.len() {
        return Err(StoreError::corrupt(
            "audit_unsealed",
            "a record of the batch was sealed meanwhile",
        ));
    }
    Ok(())
}

/// Stores new tree nodes `(level, index, hex hash)`: on PostgreSQL in one statement, on
/// SQLite one by one (the combined backend has no multi-row insert).
fn insert_nodes(conn: &mut DbConnection, nodes: &[(i32, i64, String)]) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Integer, Text};
    if nodes.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Postgresql(pg) => {
            let levels: Vec<i32> = nodes.iter().map(|n| n.0).collect();
            let indexes: Vec<i64> = nodes.iter().map(|n| n.1).collect();
            let hashes: Vec<&str> = nodes.iter().map(|n| n.2.as_str()).collect();
            diesel::sql_query(
                "INSERT INTO audit_nodes (level, idx, hash) \
                 SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[])",
            )
            .bind::<Array<Integer>, _>(levels)
            .bind::<Array<BigInt>, _>(indexes)
            .bind::<Array<Text>, _>(hashes)
            .execute(pg)?;
        }
        DbConnection::Sqlite(_) => {
            for (level, index, hash) in nodes {
                diesel::insert_into(audit_nodes::table)
                    .values((
                        audit_nodes::level.eq(level),
                        audit_nodes::idx.eq(index),
                        audit_nodes::hash.eq(hash),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// The root of the first `size` leaves.
pub fn root(conn: &mut DbConnection, size: u64) -> Result<Hash, StoreError> {
    merkle::root(size, |id| node(conn, id))
}

/// A checkpoint as stored: signed by the key `kid` (Ed25519, 64 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub kid: String,
    pub signature: Vec<u8>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints)]
struct CheckpointRow {
    tree_size: i64,
    root_hash: String,
    signed_at: chrono::NaiveDateTime,
    kid: String,
    signature: String,
}

impl TryFrom<CheckpointRow> for SignedCheckpoint {
    type Error = StoreError;

    fn try_from(row: CheckpointRow) -> Result<Self, StoreError> {
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint {
                tree_size: position(row.tree_size)?,
                root: parse_hash("audit_checkpoints", &row.root_hash)?,
                signed_at: from_db_time(row.signed_at),
            },
            kid: row.kid,
            signature: hex::decode(&row.signature)
                .map_err(|e| StoreError::corrupt("audit_checkpoints", e))?,
        })
    }
}

pub fn add_checkpoint(conn: &mut DbConnection, signed: &SignedCheckpoint) -> Result<(), StoreError> {
    diesel::insert_into(audit_checkpoints::table)
        .values(CheckpointRow {
            tree_size: stored(signed.checkpoint.tree_size)?,
            root_hash: hex::encode(signed.checkpoint.root),
            signed_at: to_db_time(signed.checkpoint.signed_at),
            kid: signed.kid.clone(),
            signature: hex::encode(&signed.signature),
        })
        .execute(conn)?;
    Ok(())
}

/// The checkpoint of the largest tree, or of exactly `tree_size` leaves.
pub fn checkpoint(
    conn: &mut DbConnection,
    tree_size: Option<u64>,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let row = match tree_size {
        // No tree grows past i64::MAX records: no checkpoint of that size exists.
        Some(size) if i64::try_from(size).is_err() => return Ok(None),
        Some(size) => audit_checkpoints::table
            .find(stored(size)?)
            .select(CheckpointRow::as_select())
            .first(conn)
            .optional()?,
        None => audit_checkpoints::table
            .order(audit_checkpoints::tree_size.desc())
            .select(CheckpointRow::as_select())
            .first(conn)
            .optional()?,
    };
    row.map(SignedCheckpoint::try_from).transpose()
}

/// A sealed record and where it sits, for an inclusion proof.
pub fn find(conn: &mut DbConnection, id: AuditRecordId) -> Result<Option<AuditRecord>, StoreError> {
    positioned!()
        .filter(audit_log::id.eq(id.to_string()))
        .select(positioned_columns!())
        .first::<Positioned>(conn)
        .optional()?
        .map(|(row, leaf_index)| row.into_record(leaf_index))
        .transpose()
}

/// What the audit list is narrowed to (each filter optional), newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordFilter {
    pub actor: Option<AccountId>,
    /// The principal acted for (an account or an organisation).
    pub principal: Option<uuid::Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    /// At or after this instant.
    pub from: Option<Instant>,
    /// Before this instant.
    pub to: Option<Instant>,
    /// Only records inserted before this one (its `seq`): the page after a cursor.
    pub before: Option<i64>,
    pub limit: i64,
}

/// The applications `account` owns or takes part in now (any role), by id.
pub fn applications_of(conn: &mut DbConnection, account: AccountId) -> Result<Vec<String>, StoreError> {
    let account = account.to_string();
    let mut ids: Vec<String> = applications::table
        .filter(applications::owner_id.eq(&account))
        .select(applications::id)
        .load(conn)?;
    ids.extend(
        participants::table
            .filter(participants::account_id.eq(&account))
            .select(participants::application_id)
            .load::<String>(conn)?,
    );
    Ok(ids)
}

/// The records in `scope` that pass `filter`, newest (highest `seq`) first, at most
/// `filter.limit`. A scope about one account is four indexed conditions (actor, principal,
/// target account, target application among its own), each served by an index on
/// `(column…, seq)`, so no filter scans the table.
pub fn list(
    conn: &mut DbConnection,
    scope: AuditScope,
    filter: &RecordFilter,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut query = positioned!().select(positioned_columns!()).into_boxed();
    if let AuditScope::About(account) = scope {
        let own = applications_of(conn, account)?;
        let account = account.to_string();
        query = query.filter(
            audit_log::actor_id
                .eq(account.clone())
                .or(audit_log::on_behalf_of.eq(account.clone()))
                .or(audit_log::target_type
                    .eq("account")
                    .and(audit_log::target_id.eq(account)))
                .or(audit_log::target_type
                    .eq("application")
                    .and(audit_log::target_id.eq_any(own))),
        );
    }
    if let Some(actor) = filter.actor {
        query = query.filter(audit_log::actor_id.eq(actor.to_string()));
    }
    if let Some(principal) = filter.principal {
        query = query.filter(audit_log::on_behalf_of.eq(principal.to_string()));
    }
    if let Some(target_type) = &filter.target_type {
        query = query.filter(audit_log::target_type.eq(target_type.clone()));
    }
    if let Some(target_id) = &filter.target_id {
        query = query.filter(audit_log::target_id.eq(target_id.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::occurred_at.ge(to_db_time(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::occurred_at.lt(to_db_time(to)));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::seq.lt(before));
    }
    query
        .order(audit_log::seq.desc())
        .limit(filter.limit)
        .load::<Positioned>(conn)?
        .into_iter()
        .map(|(row, leaf_index)| row.into_record(leaf_index))
        .collect()
}

/// What the authorization core needs to know about `record` to decide whether it is in
/// `account`'s scope.
pub fn facts(
    conn: &mut DbConnection,
    account: AccountId,
    record: &AuditRecord,
) -> Result<AuditRecordFacts, StoreError> {
    let target = record.target_id.as_deref();
    let target_account = match (record.target_type.as_str(), target) {
        ("account", Some(id)) => id.parse::<AccountId>().ok(),
        _ => None,
    };
    let on_own_application = match (record.target_type.as_str(), target) {
        ("application", Some(id)) => applications_of(conn, account)?.iter().any(|own| own == id),
        _ => false,
    };
    Ok(AuditRecordFacts {
        actor: record.actor,
        on_behalf_of: record.on_behalf_of.map(AccountId::from_uuid),
        target_account,
        on_own_application,
    })
}

/// PATH(leaf, D[size]) from the stored nodes.
pub fn inclusion_proof(
    conn: &mut DbConnection,
    leaf: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<StoreError>> {
    merkle::inclusion_proof(leaf, size, |id| node(conn, id))
}

/// PROOF(first, D[second]) from the stored nodes.
pub fn consistency_proof(
    conn: &mut DbConnection,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError<StoreError>> {
    merkle::consistency_proof(first, second, |id| node(conn, id))
}

/// The outcome of rebuilding the tree from the stored records.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    /// Records that checked out before the first break (all sealed ones when intact).
    pub records_checked: u64,
    /// How many records the stored tree says it holds.
    pub tree_size: u64,
    /// Records written but not sealed yet (not checked: nothing vouches for them yet).
    pub unsealed: u64,
    /// Checkpoints whose root the rebuilt tree matched.
    pub checkpoints_checked: u64,
    /// Every stored checkpoint, for the caller to check signatures (it holds the keys).
    pub checkpoints: Vec<SignedCheckpoint>,
    pub first_break: Option<LogBreak>,
}

/// Rebuilds the tree from the sealed records in leaf order, page by page, checking each
/// record against the leaf stored at sealing and every checkpoint's root at its size.
pub fn verify(conn: &mut DbConnection) -> Result<Verification, StoreError> {
    let checkpoints = audit_checkpoints::table
        .order(audit_checkpoints::tree_size.asc())
        .select(CheckpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(SignedCheckpoint::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let tree_size = tree_size(conn)?;
    let unsealed: i64 = positioned!()
        .filter(audit_leaves::leaf_index.nullable().is_null())
        .count()
        .get_result(conn)?;
    let mut rebuild = Rebuild::new(
        checkpoints
            .iter()
            .map(|c| (c.checkpoint.tree_size, c.checkpoint.root))
            .collect(),
    );
    let first_break = rebuild_from(conn, &mut rebuild, tree_size)?.err();
    Ok(Verification {
        records_checked: rebuild.leaves(),
        tree_size,
        unsealed: position(unsealed)?,
        checkpoints_checked: rebuild.checkpoints_checked(),
        checkpoints,
        first_break,
    })
}

fn rebuild_from(
    conn: &mut DbConnection,
    rebuild: &mut Rebuild,
    tree_size: u64,
) -> Result<Result<(), LogBreak>, StoreError> {
    let mut after = -1_i64;
    loop {
        // A leaf whose record was deleted does not join: the gap shows in the rebuild.
        let rows: Vec<(AuditRow, i64)> = audit_leaves::table
            .inner_join(audit_log::table.on(audit_log::seq.eq(audit_leaves::seq)))
            .filter(audit_leaves::leaf_index.gt(after))
            .order(audit_leaves::leaf_index.asc())
            .limit(PAGE)
            .select((AuditRow::as_select(), audit_leaves::leaf_index))
            .load(conn)?;
        let Some(&(_, last)) = rows.last() else {
            break;
        };
        let leaves: std::collections::HashMap<i64, String> = audit_nodes::table
            .filter(audit_nodes::level.eq(0))
            .filter(audit_nodes::idx.gt(after))
            .filter(audit_nodes::idx.le(last))
            .select((audit_nodes::idx, audit_nodes::hash))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        for (row, index) in rows {
            let stored = leaves
                .get(&index)
                .map(|h| parse_hash("audit_nodes", h))
                .transpose()?;
            let record = row.into_record(Some(index))?;
            if let Err(found) = rebuild.push(position(index)?, &record, stored) {
                return Ok(Err(found));
            }
        }
        after = last;
    }
    if let Err(found) = rebuild.finish() {
        return Ok(Err(found));
    }
    // A sealed record deleted from the end leaves no gap behind it; the stored tree still
    // counts it.
    if rebuild.leaves() < tree_size {
        return Ok(Err(LogBreak::Truncated {
            tree_size,
            leaves: rebuild.leaves(),
        }));
    }
    Ok(Ok(()))
}
