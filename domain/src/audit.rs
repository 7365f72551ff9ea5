//! The audit log's vocabulary: what a use case records, the record as stored, its canonical
//! leaf bytes in the Merkle tree (`crate::merkle`), signed checkpoints, and rebuilding the
//! tree from stored records to find tampering.

use std::collections::VecDeque;

use serde_json::Value;

use crate::ids::{AccountId, AuditRecordId};
use crate::merkle::{Frontier, Hash};
use crate::time::Instant;

/// What happened, as a use case hands it to the audit log inside its transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Who did it; `None` for the system itself (background jobs, anonymous attempts).
    pub actor: Option<AccountId>,
    /// The principal (account or organisation) the actor acted for, if any.
    pub on_behalf_of: Option<uuid::Uuid>,
    /// Dotted machine name, e.g. `auth.login_failed`, `application.submit`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// Free-form details; never personal data in clear.
    pub details: Value,
    pub ip: Option<String>,
}

impl AuditEntry {
    pub fn new(action: impl Into<String>, target_type: impl Into<String>) -> Self {
        Self {
            actor: None,
            on_behalf_of: None,
            action: action.into(),
            target_type: target_type.into(),
            target_id: None,
            details: Value::Null,
            ip: None,
        }
    }

    pub fn by(mut self, actor: Option<AccountId>) -> Self {
        self.actor = actor;
        self
    }

    pub fn on_behalf_of(mut self, principal: Option<uuid::Uuid>) -> Self {
        self.on_behalf_of = principal;
        self
    }

    pub fn target(mut self, id: impl ToString) -> Self {
        self.target_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn from_ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }
}

/// A record as stored. `seq` is its insertion number (insertion order, not commit order);
/// `leaf_index` its position in the tree once the sealer has taken it in.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: AuditRecordId,
    pub occurred_at: Instant,
    pub actor: Option<AccountId>,
    pub on_behalf_of: Option<uuid::Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// The details exactly as serialized when recorded; the leaf holds this text (not a
    /// re-serialization), so it does not depend on JSON map ordering.
    pub details: String,
    pub ip: Option<String>,
    pub leaf_index: Option<u64>,
}

/// The first field of every leaf: a version, so the encoding can change without ambiguity.
pub const LEAF_FORMAT: &str = "kabinet.audit.leaf.v1";

impl AuditRecord {
    /// The canonical leaf bytes: eleven fields in this order — `LEAF_FORMAT`, seq (decimal),
    /// id (lowercase UUID), occurred_at (RFC 3339 UTC, microseconds, `Z`), actor, on behalf
    /// of, action, target type, target id, details, ip — each either `0x00` (absent) or
    /// `0x01`, its UTF-8 length as a big-endian u64, and its UTF-8 bytes. Length prefixes
    /// make the encoding injective (no separator ambiguity; absent differs from empty).
    pub fn leaf_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.details.len());
        let mut field = |value: Option<&str>| match value {
            None => out.push(0x00),
            Some(text) => {
                out.push(0x01);
                out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        };
        field(Some(LEAF_FORMAT));
        field(Some(&self.seq.to_string()));
        field(Some(&self.id.to_string()));
        field(Some(
            &self
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ));
        field(self.actor.map(|a| a.to_string()).as_deref());
        field(self.on_behalf_of.map(|p| p.to_string()).as_deref());
        field(Some(&self.action));
        field(Some(&self.target_type));
        field(self.target_id.as_deref());
        field(Some(&self.details));
        field(self.ip.as_deref());
        out
    }

    pub fn leaf_hash(&self) -> Hash {
        crate::merkle::leaf_hash(&self.leaf_bytes())
    }
}

/// A statement the server signs: "the first `tree_size` records have root `root`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root: Hash,
    pub signed_at: Instant,
}

impl Checkpoint {
    /// The exact bytes signed (Ed25519): four lines, each ending in `\n`:
    /// `kabinet.audit.checkpoint.v1`, the tree size in decimal, the root as 64 lowercase hex
    /// digits, and the time in RFC 3339 UTC with microseconds (`2026-12-03T10:00:00.000000Z`).
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "kabinet.audit.checkpoint.v1\n{}\n{}\n{}\n",
            self.tree_size,
            hex::encode(self.root),
            self.signed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
        .into_bytes()
    }
}

/// The first thing a rebuild found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogBreak {
    /// Sealed positions skip or repeat: a record was deleted, or its position edited.
    Gap { expected: u64, found: u64 },
    /// The record at this position does not hash to the leaf stored when it was sealed
    /// (edited, or moved from another position).
    Altered { leaf: u64 },
    /// The tree rebuilt from the records does not have this signed checkpoint's root.
    RootMismatch { tree_size: u64 },
    /// This checkpoint's signature does not verify, or names a key we do not have.
    BadSignature { tree_size: u64 },
    /// A checkpoint vouches for more records than the log holds: its tail was cut off.
    Truncated { tree_size: u64, leaves: u64 },
}

impl LogBreak {
    /// The first leaf position that does not check out, when one can be named.
    pub fn leaf(&self) -> Option<u64> {
        match self {
            LogBreak::Gap { expected, .. } => Some(*expected),
            LogBreak::Altered { leaf } => Some(*leaf),
            LogBreak::Truncated { leaves, .. } => Some(*leaves),
            LogBreak::RootMismatch { .. } | LogBreak::BadSignature { .. } => None,
        }
    }

    /// The machine name the API and the CLI report.
    pub fn code(&self) -> &'static str {
        match self {
            LogBreak::Gap { .. } => "gap",
            LogBreak::Altered { .. } => "altered",
            LogBreak::RootMismatch { .. } => "root_mismatch",
            LogBreak::BadSignature { .. } => "bad_signature",
            LogBreak::Truncated { .. } => "truncated",
        }
    }
}

/// Rebuilds the tree from records fed in leaf order (page by page) and checks each record
/// against the leaf stored at sealing and each checkpoint's root as the tree reaches its size.
#[derive(Debug)]
pub struct Rebuild {
    frontier: Frontier,
    /// (tree size, root) of the checkpoints not reached yet, smallest first.
    pending: VecDeque<(u64, Hash)>,
    checked: u64,
}

impl Rebuild {
    pub fn new(mut checkpoints: Vec<(u64, Hash)>) -> Rebuild {
        checkpoints.sort_by_key(|(size, _)| *size);
        let mut rebuild = Rebuild {
            frontier: Frontier::empty(),
            pending: checkpoints.into(),
            checked: 0,
        };
        // An empty tree has a root too; a checkpoint of it is checked at once.
        let _ = rebuild.check_checkpoints();
        rebuild
    }

    /// How many records have been checked.
    pub fn leaves(&self) -> u64 {
        self.frontier.size()
    }

    /// How many checkpoint roots matched.
    pub fn checkpoints_checked(&self) -> u64 {
        self.checked
    }

    /// Takes the record sealed at `leaf_index`, with the leaf hash stored when it was sealed.
    pub fn push(
        &mut self,
        leaf_index: u64,
        record: &AuditRecord,
        stored: Option<Hash>,
    ) -> Result<(), LogBreak> {
        let expected = self.frontier.size();
        if leaf_index != expected {
            return Err(LogBreak::Gap {
                expected,
                found: leaf_index,
            });
        }
        let leaf = record.leaf_hash();
        if stored != Some(leaf) {
            return Err(LogBreak::Altered { leaf: leaf_index });
        }
        self.frontier.push(leaf);
        self.check_checkpoints()
    }

    fn check_checkpoints(&mut self) -> Result<(), LogBreak> {
        while let Some(&(size, root)) = self.pending.front() {
            if size != self.frontier.size() {
                break;
            }
            self.pending.pop_front();
            if root != self.frontier.root() {
                return Err(LogBreak::RootMismatch { tree_size: size });
            }
            self.checked += 1;
        }
        Ok(())
    }

    /// After the last record: no checkpoint may be left beyond the end of the log.
    pub fn finish(&self) -> Result<(), LogBreak> {
        match self.pending.front() {
            Some(&(tree_size, _)) => Err(LogBreak::Truncated {
                tree_size,
                leaves: self.frontier.size(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn records(n: i64) -> Vec<AuditRecord> {
        (1..=n)
            .map(|seq| AuditRecord {
                seq,
                id: AuditRecordId::new(),
                occurred_at: Utc::now(),
                actor: None,
                on_behalf_of: None,
                action: "test.event".into(),
                target_type: "thing".into(),
                target_id: Some(seq.to_string()),
                details: serde_json::json!({ "n": seq }).to_string(),
                ip: None,
                leaf_index: Some(seq as u64 - 1),
            })
            .collect()
    }

    /// Seals `records` as the sealer would: the stored leaf hashes and a checkpoint at every size.
    fn sealed(records: &[AuditRecord]) -> (Vec<Hash>, Vec<(u64, Hash)>) {
        let mut frontier = Frontier::empty();
        let mut leaves = Vec::new();
        let mut checkpoints = Vec::new();
        for record in records {
            leaves.push(record.leaf_hash());
            frontier.push(record.leaf_hash());
            checkpoints.push((frontier.size(), frontier.root()));
        }
        (leaves, checkpoints)
    }

    fn rebuild(
        records: &[AuditRecord],
        stored: &[Hash],
        checkpoints: Vec<(u64, Hash)>,
    ) -> Result<u64, LogBreak> {
        let mut rebuild = Rebuild::new(checkpoints);
        for (record, leaf) in records.iter().zip(stored) {
            rebuild.push(record.leaf_index.unwrap_or(u64::MAX), record, Some(*leaf))?;
        }
        rebuild.finish()?;
        Ok(rebuild.checkpoints_checked())
    }

    #[test]
    fn an_intact_log_checks_every_checkpoint() {
        let records = records(6);
        let (stored, checkpoints) = sealed(&records);
        assert_eq!(rebuild(&records, &stored, checkpoints), Ok(6));
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut records = records(6);
        let (stored, checkpoints) = sealed(&records);
        records[3].details = "{}".into();
        assert_eq!(
            rebuild(&records, &stored, checkpoints),
            Err(LogBreak::Altered { leaf: 3 })
        );
    }

    #[test]
    fn an_edit_with_its_stored_leaf_still_breaks_the_signed_root() {
        let mut records = records(6);
        let (mut stored, checkpoints) = sealed(&records);
        records[3].action = "test.forged".into();
        stored[3] = records[3].leaf_hash();
        assert_eq!(
            rebuild(&records, &stored, checkpoints),
            Err(LogBreak::RootMismatch { tree_size: 4 })
        );
    }

    #[test]
    fn a_deleted_record_is_a_gap_and_a_cut_tail_is_truncation() {
        let mut records = records(6);
        let (mut stored, checkpoints) = sealed(&records);
        records.remove(2);
        stored.remove(2);
        assert_eq!(
            rebuild(&records, &stored, checkpoints.clone()),
            Err(LogBreak::Gap {
                expected: 2,
                found: 3
            })
        );
        records.truncate(2);
        stored.truncate(2);
        assert_eq!(
            rebuild(&records, &stored, checkpoints),
            Err(LogBreak::Truncated {
                tree_size: 3,
                leaves: 2
            })
        );
    }

    #[test]
    fn leaf_bytes_tell_absent_from_empty_and_cover_every_field() {
        let mut record = records(1).remove(0);
        let before = record.leaf_bytes();
        record.target_id = Some(String::new());
        let empty = record.leaf_bytes();
        assert_ne!(before, empty);
        record.target_id = None;
        assert_ne!(record.leaf_bytes(), empty);
        record.ip = Some("10.0.0.1".into());
        assert_ne!(record.leaf_bytes(), before);
    }

    #[test]
    fn checkpoint_bytes_are_the_documented_lines() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let checkpoint = Checkpoint {
            tree_size: 7,
            root: [0xab; 32],
            signed_at: at,
        };
        assert_eq!(
            String::from_utf8(checkpoint.signed_bytes()).unwrap_or_default(),
            format!(
                "kabinet.audit.checkpoint.v1\n7\n{}\n2026-12-03T10:00:00.000000Z\n",
                "ab".repeat(32)
            )
        );
    }
}
