//! The audit log's vocabulary and its hash chain: each record carries the SHA-256 of its
//! own canonical encoding together with the previous record's hash, so any edit breaks the chain.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, AuditRecordId};
use crate::time::Instant;

/// The hash the first record chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// A record as stored: every field in the exact text form that is hashed.
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
    /// The details exactly as serialized at append time; hashing this text (not a
    /// re-serialization) keeps the hash independent of JSON map ordering.
    pub details: String,
    pub ip: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// Seals `entry` as record number `seq` after a record whose hash is `prev_hash`.
    pub fn seal(
        entry: AuditEntry,
        seq: i64,
        id: AuditRecordId,
        occurred_at: Instant,
        prev_hash: String,
    ) -> Self {
        let mut record = Self {
            seq,
            id,
            occurred_at,
            actor: entry.actor,
            on_behalf_of: entry.on_behalf_of,
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            details: entry.details.to_string(),
            ip: entry.ip,
            prev_hash,
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        record
    }

    /// SHA-256 over a length-prefixed encoding of every field, so no two different
    /// records can encode to the same bytes (no separator ambiguity).
    pub fn computed_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            None => hasher.update([0u8]),
            Some(text) => {
                hasher.update([1u8]);
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        };
        field(Some(&self.prev_hash));
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
        hex::encode(hasher.finalize())
    }
}

/// Where a chain stops being valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// The record's own hash does not match its contents.
    Altered { seq: i64 },
    /// The record does not point at its predecessor's hash (inserted, deleted or reordered).
    Unlinked { seq: i64 },
    /// A sequence number is missing.
    Gap { expected: i64, found: i64 },
}

impl ChainBreak {
    /// The first sequence number that does not check out.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Altered { seq } | ChainBreak::Unlinked { seq } => *seq,
            ChainBreak::Gap { expected, .. } => *expected,
        }
    }
}

/// Checks records in sequence order, continuing from `(last_seq, last_hash)`; returns the new
/// tail so verification can run in pages.
pub fn verify_page(tail: (i64, String), records: &[AuditRecord]) -> Result<(i64, String), ChainBreak> {
    let (mut last_seq, mut last_hash) = tail;
    for record in records {
        if record.seq != last_seq + 1 {
            return Err(ChainBreak::Gap {
                expected: last_seq + 1,
                found: record.seq,
            });
        }
        if record.prev_hash != last_hash {
            return Err(ChainBreak::Unlinked { seq: record.seq });
        }
        if record.computed_hash() != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        last_seq = record.seq;
        last_hash.clone_from(&record.hash);
    }
    Ok((last_seq, last_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry::new("test.event", "thing")
                    .target(seq)
                    .details(serde_json::json!({ "n": seq }));
                let record = AuditRecord::seal(entry, seq, AuditRecordId::new(), Utc::now(), prev.clone());
                prev.clone_from(&record.hash);
                record
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let records = chain(5);
        let tail = verify_page((0, GENESIS_HASH.into()), &records);
        assert_eq!(tail.map(|(seq, _)| seq), Ok(5));
    }

    #[test]
    fn an_edited_field_is_detected() {
        let mut records = chain(5);
        records[2].action = "test.other".into();
        assert_eq!(
            verify_page((0, GENESIS_HASH.into()), &records),
            Err(ChainBreak::Altered { seq: 3 })
        );
    }

    #[test]
    fn a_deleted_record_is_detected() {
        let mut records = chain(5);
        records.remove(1);
        assert_eq!(
            verify_page((0, GENESIS_HASH.into()), &records),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn a_rehashed_record_still_breaks_the_link_to_its_successor() {
        let mut records = chain(5);
        records[2].details = "{}".into();
        records[2].hash = records[2].computed_hash();
        assert_eq!(
            verify_page((0, GENESIS_HASH.into()), &records),
            Err(ChainBreak::Unlinked { seq: 4 })
        );
    }

    #[test]
    fn null_and_empty_fields_hash_differently() {
        let mut records = chain(1);
        let with_null = records[0].computed_hash();
        records[0].target_id = Some(String::new());
        assert_ne!(records[0].computed_hash(), with_null);
    }
}
