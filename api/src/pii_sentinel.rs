//! The personal-data sentinel: a random value sealed with the personal-data key, and its
//! keyed hash, stored once per database. Every node opens it at start, so keys that cannot
//! read the database stop the node with one line instead of failing each request with a 500.

use persistence::node_keys;
use persistence::{DbConnection, StoreError};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, PiiCipher};

const NAME: &str = "pii_sentinel";
/// Bound as associated data: no other ciphertext of the database passes for the sentinel.
const FIELD: &str = "node_keys:pii_sentinel";
const PURPOSE: &str = "pii_sentinel";
pub const KEYS_SETTING: &str = "KABINET_PII_KEYS";
pub const INDEX_SETTING: &str = "KABINET_PII_INDEX_KEY";

#[derive(Serialize, Deserialize)]
struct Sentinel {
    sealed: String,
    index: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The keys cannot read the database's personal data; `setting` is the one to fix.
    #[error("{setting}: {problem}")]
    Unreadable { setting: &'static str, problem: String },
}

impl Sentinel {
    fn new(pii: &PiiCipher) -> Sentinel {
        let mut value = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut value);
        let value = hex::encode(value);
        Sentinel {
            sealed: pii.encrypt(FIELD, &value),
            index: pii.keyed_hash(PURPOSE, &value),
        }
    }

    fn to_text(&self) -> Result<String, SentinelError> {
        serde_json::to_string(self).map_err(|e| StoreError::corrupt("node_keys", e).into())
    }
}

/// Opens the database's sentinel with `pii`, writing it first when the database has none.
/// After a rotation it is sealed again with the newest key, so it follows the key that now
/// writes: a node without that key stops at its next start.
pub fn check(
    conn: &mut DbConnection,
    pii: &PiiCipher,
    now: domain::time::Instant,
) -> Result<(), SentinelError> {
    let ours = Sentinel::new(pii).to_text()?;
    let stored = node_keys::keep_first(conn, NAME, &ours, now)?;
    let sentinel: Sentinel = serde_json::from_str(&stored)
        .map_err(|e| StoreError::corrupt("node_keys", format!("{NAME}: {e}")))?;
    let value = pii
        .decrypt(FIELD, &sentinel.sealed)
        .map_err(|e| unreadable(e, &sentinel))?;
    if !pii.keyed_hash_matches(PURPOSE, &value, &sentinel.index) {
        return Err(SentinelError::Unreadable {
            setting: INDEX_SETTING,
            problem: "is not the index key this database's SNILS lookups and one-time codes were made with; \
                      set the one it was written with"
                .into(),
        });
    }
    if PiiCipher::sealed_with(&sentinel.sealed) != Some(pii.encrypting_kid()) {
        let resealed = Sentinel {
            sealed: pii.encrypt(FIELD, &value),
            index: sentinel.index,
        }
        .to_text()?;
        // Another node starting now may have moved it first; either way it is readable.
        if node_keys::replace(conn, NAME, &stored, &resealed)? {
            tracing::info!(
                kid = pii.encrypting_kid(),
                "personal-data sentinel sealed with the newest key"
            );
        }
    }
    Ok(())
}

fn unreadable(error: CryptoError, sentinel: &Sentinel) -> SentinelError {
    let kid = PiiCipher::sealed_with(&sentinel.sealed).unwrap_or_default();
    let problem = match error {
        CryptoError::UnknownKey(_) => format!(
            "cannot read this database's personal data: it is sealed with key id {kid:?}, which \
             is not among the keys; list that key too (the newest key first)"
        ),
        CryptoError::Forged => format!(
            "cannot read this database's personal data: the key with id {kid:?} is not the one \
             it was sealed with; set the key the database was written with"
        ),
        CryptoError::Malformed => "the database's personal-data sentinel is malformed".into(),
    };
    SentinelError::Unreadable {
        setting: KEYS_SETTING,
        problem,
    }
}
