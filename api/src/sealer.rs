//! The audit log's sealer and its checkpoints: one sealer per cluster (elected with a
//! PostgreSQL advisory lock; on SQLite the single writer is it) seals final records into the
//! Merkle tree, and signs a checkpoint of the tree when one is due.

use std::sync::Mutex;

use diesel::sql_types::Bool;
use diesel::RunQueryDsl;
use domain::audit::{Checkpoint, LogBreak};
use domain::time::Instant;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::auth::NamedKey;
use persistence::audit::{self, SignedCheckpoint};
use persistence::connection::establish_postgres;
use persistence::{Database, DatabaseUrl, DbConnection, StoreError};

use crate::error::ApiError;

/// The advisory lock whose holder is the cluster's sealer ("kabinet" + 1).
const SEALER_LOCK: i64 = 0x6b61_6269_6e65_7401;
/// Records sealed per transaction: bounds how long one pass holds its locks.
const BATCH: i64 = 1_000;

/// The key that signs checkpoints.
pub struct CheckpointKey {
    key: SigningKey,
    kid: String,
}

impl CheckpointKey {
    /// Checkpoints are signed with the key that signs access tokens, so a verifier finds its
    /// public half in the JWKS by `kid`. The one place that knows which key that is.
    pub fn from_signing_key(key: &NamedKey) -> CheckpointKey {
        CheckpointKey {
            key: key.key.clone(),
            kid: key.kid.clone(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, checkpoint: Checkpoint) -> SignedCheckpoint {
        let signature = self.key.sign(&checkpoint.signed_bytes());
        SignedCheckpoint {
            checkpoint,
            kid: self.kid.clone(),
            signature: signature.to_bytes().to_vec(),
        }
    }

    /// Whether `signed` carries a valid signature by this key. A checkpoint by another key
    /// (one rotated out) does not verify here.
    pub fn verifies(&self, signed: &SignedCheckpoint) -> bool {
        let public: VerifyingKey = self.key.verifying_key();
        let Ok(signature) = Signature::from_slice(&signed.signature) else {
            return false;
        };
        signed.kid == self.kid
            && public
                .verify(&signed.checkpoint.signed_bytes(), &signature)
                .is_ok()
    }
}

/// What a sealing pass did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Another node is the sealer.
    Follower,
    Sealed {
        sealed: u64,
        tree_size: u64,
        /// The size of the checkpoint signed in this pass, if one was due.
        checkpoint: Option<u64>,
    },
}

pub struct Sealer {
    db: Database,
    url: DatabaseUrl,
    key: CheckpointKey,
    checkpoint_every: chrono::TimeDelta,
    /// On PostgreSQL, while this node is the sealer: the session holding the advisory lock,
    /// on which it seals. The mutex also keeps this node's passes one at a time.
    leader: Mutex<Option<DbConnection>>,
}

impl Sealer {
    pub fn new(
        db: Database,
        url: DatabaseUrl,
        key: CheckpointKey,
        checkpoint_every: chrono::TimeDelta,
    ) -> Sealer {
        Sealer {
            db,
            url,
            key,
            checkpoint_every,
            leader: Mutex::new(None),
        }
    }

    pub fn key(&self) -> &CheckpointKey {
        &self.key
    }

    /// One pass (blocking): seals every final record, then signs a checkpoint if the tree
    /// grew and the last one is at least `checkpoint_every` old. Tests call it directly.
    pub fn pass(&self, now: Instant) -> Result<Pass, ApiError> {
        let mut leader = self.leader.lock().unwrap_or_else(|e| e.into_inner());
        match &self.url {
            DatabaseUrl::Sqlite(_) => {
                let mut conn = self.db.connection()?;
                self.seal_all(&mut conn, now)
            }
            DatabaseUrl::Postgres(url) => {
                if leader.is_none() {
                    *leader = elect(url)?;
                }
                let Some(conn) = leader.as_mut() else {
                    return Ok(Pass::Follower);
                };
                let result = self.seal_all(conn, now);
                if result.is_err() {
                    // Closing the session frees the lock: any node (this one included) takes
                    // over at its next pass.
                    *leader = None;
                }
                result
            }
        }
    }

    fn seal_all(&self, conn: &mut DbConnection, now: Instant) -> Result<Pass, ApiError> {
        let mut sealed = 0;
        let tree_size = loop {
            let batch = self.db.transaction(conn, |tx| audit::seal(tx, BATCH))?;
            sealed += batch.sealed;
            if batch.sealed < BATCH as u64 {
                break batch.tree_size;
            }
        };
        let checkpoint = self
            .db
            .transaction(conn, |tx| self.checkpoint_if_due(tx, tree_size, now))?;
        Ok(Pass::Sealed {
            sealed,
            tree_size,
            checkpoint,
        })
    }

    fn checkpoint_if_due(
        &self,
        tx: &mut DbConnection,
        tree_size: u64,
        now: Instant,
    ) -> Result<Option<u64>, StoreError> {
        let due = match audit::checkpoint(tx, None)? {
            None => tree_size > 0,
            Some(last) => {
                tree_size > last.checkpoint.tree_size
                    && now - last.checkpoint.signed_at >= self.checkpoint_every
            }
        };
        if !due {
            return Ok(None);
        }
        let root = audit::root(tx, tree_size)?;
        let signed = self.key.sign(Checkpoint {
            tree_size,
            root,
            signed_at: now,
        });
        audit::add_checkpoint(tx, &signed)?;
        Ok(Some(tree_size))
    }
}

#[derive(diesel::QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

/// Opens a session and tries to take the sealer's lock; the session is the lock: it holds
/// it until closed (or until the node dies and the server notices).
fn elect(url: &str) -> Result<Option<DbConnection>, ApiError> {
    let mut session =
        establish_postgres(url).map_err(|e| ApiError::internal(format!("the sealer's session: {e}")))?;
    let Taken { taken } = diesel::sql_query(format!("SELECT pg_try_advisory_lock({SEALER_LOCK}) AS taken"))
        .get_result(&mut session)
        .map_err(StoreError::from)?;
    Ok(taken.then_some(DbConnection::Postgresql(session)))
}

/// The whole log checked: the tree rebuilt from the records, every checkpoint's root and
/// signature.
#[derive(Clone, Debug, PartialEq)]
pub struct LogVerification {
    pub records_checked: u64,
    pub tree_size: u64,
    /// Records written but not sealed yet.
    pub unsealed: u64,
    pub checkpoints_checked: u64,
    pub first_break: Option<LogBreak>,
}

pub fn verify(conn: &mut DbConnection, key: &CheckpointKey) -> Result<LogVerification, StoreError> {
    let rebuilt = audit::verify(conn)?;
    let forged = rebuilt
        .checkpoints
        .iter()
        .find(|c| !key.verifies(c))
        .map(|c| LogBreak::BadSignature {
            tree_size: c.checkpoint.tree_size,
        });
    Ok(LogVerification {
        records_checked: rebuilt.records_checked,
        tree_size: rebuilt.tree_size,
        unsealed: rebuilt.unsealed,
        checkpoints_checked: rebuilt.checkpoints_checked,
        first_break: rebuilt.first_break.or(forged),
    })
}

impl std::fmt::Display for LogVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first_break {
            None => write!(
                f,
                "audit log intact: {} records, {} signed checkpoints verified ({} records not sealed yet)",
                self.records_checked, self.checkpoints_checked, self.unsealed
            ),
            Some(found) => {
                let what = match found {
                    LogBreak::Gap { expected, found } => {
                        format!("record at leaf {expected} missing (next sealed record is at leaf {found})")
                    }
                    LogBreak::Altered { leaf } => format!("record at leaf {leaf} altered or moved"),
                    LogBreak::RootMismatch { tree_size } => {
                        format!("the signed checkpoint of {tree_size} records does not match the records")
                    }
                    LogBreak::BadSignature { tree_size } => {
                        format!("the checkpoint of {tree_size} records has no valid signature by our key")
                    }
                    LogBreak::Truncated { tree_size, leaves } => {
                        format!("the log holds {leaves} sealed records but {tree_size} were sealed")
                    }
                };
                write!(
                    f,
                    "audit log BROKEN ({}): {what}; {} records checked before it",
                    found.code(),
                    self.records_checked
                )
            }
        }
    }
}
