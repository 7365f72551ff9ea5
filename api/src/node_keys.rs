//! The keys a node uses: those the configuration names, or else (outside production) keys
//! generated once per database and shared by every node on it, so that any node accepts
//! another's tokens and reads its personal data. Configured keys always win.

use std::path::Path;

use domain::time::Instant;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use persistence::{node_keys, Database, StoreError};

use crate::app::StartError;
use crate::auth::{SigningKeys, TokenKeys};
use crate::config::Config;
use crate::crypto::PiiCipher;
use crate::pii_sentinel::{self, SentinelError, KEYS_SETTING};
use crate::sealer::CheckpointKey;

const SIGNING_SETTING: &str = "KABINET_SIGNING_KEYS";
/// Where generated keys are kept, by name in `node_keys`.
const SIGNING: &str = "signing";
const PII: &str = "pii";
const PII_INDEX: &str = "pii_index";

pub struct NodeKeys {
    pub tokens: TokenKeys,
    pub pii: PiiCipher,
    /// Signs the audit log's checkpoints: the newest token-signing key, so a verifier
    /// finds its public half in the JWKS.
    pub checkpoints: CheckpointKey,
}

/// The keys `config` names or the database holds, checked against the database's
/// personal-data sentinel.
pub fn load(db: &Database, config: &Config, now: Instant) -> Result<NodeKeys, StartError> {
    let (tokens, checkpoints) = token_keys(db, config, now)?;
    let pii = pii_cipher(db, config, now)?;
    db.write(|tx| pii_sentinel::check(tx, &pii, now))
        .map_err(|e| match e {
            SentinelError::Store(e) => database(config, e),
            SentinelError::Unreadable { setting, problem } => refused(setting, problem),
        })?;
    // Key ids are public (token headers, the JWKS); the keys themselves are never logged.
    tracing::info!(
        signing_kid = %tokens.jwk().kid,
        verifying_keys = tokens.jwks().len(),
        pii_kid = pii.encrypting_kid(),
        "keys loaded"
    );
    Ok(NodeKeys {
        tokens,
        pii,
        checkpoints,
    })
}

fn token_keys(
    db: &Database,
    config: &Config,
    now: Instant,
) -> Result<(TokenKeys, CheckpointKey), StartError> {
    let signing = match &config.signing_keys {
        Some(keys) => SigningKeys::parse(keys.expose()),
        None => {
            let candidate = match legacy_signing(&config.data_dir)? {
                Some(keys) => keys,
                None => SigningKeys::generate(),
            };
            let candidate = candidate.to_setting().map_err(|p| refused(SIGNING_SETTING, p))?;
            let stored = db
                .write(|tx| node_keys::keep_first(tx, SIGNING, &candidate, now))
                .map_err(|e| database(config, e))?;
            SigningKeys::parse(&stored).map_err(|p| format!("the database's generated key: {p}"))
        }
    }
    .map_err(|p| refused(SIGNING_SETTING, p))?;
    let tokens = TokenKeys::new(&signing).map_err(|p| refused(SIGNING_SETTING, p))?;
    Ok((tokens, CheckpointKey::from_signing_key(signing.newest())))
}

fn pii_cipher(db: &Database, config: &Config, now: Instant) -> Result<PiiCipher, StartError> {
    // Configuration sets both or neither (see `config`).
    match (&config.pii_keys, &config.pii_index_key) {
        (Some(keys), Some(index)) => PiiCipher::from_config(keys.expose(), index.expose()),
        _ => {
            let (keys, index) = legacy_pii(&config.data_dir)?.unwrap_or_else(PiiCipher::generate_settings);
            let (keys, index) = db
                .write(|tx| {
                    Ok::<_, StoreError>((
                        node_keys::keep_first(tx, PII, &keys, now)?,
                        node_keys::keep_first(tx, PII_INDEX, &index, now)?,
                    ))
                })
                .map_err(|e| database(config, e))?;
            PiiCipher::from_config(&keys, &index).map_err(|p| format!("the database's generated keys: {p}"))
        }
    }
    .map_err(|p| refused(KEYS_SETTING, p))
}

fn database(config: &Config, error: StoreError) -> StartError {
    StartError::Database {
        url: config.database_url.redacted(),
        detail: error.to_string(),
    }
}

fn refused(setting: &'static str, problem: String) -> StartError {
    StartError::Keys { setting, problem }
}

// Before keys were shared through the database, each node generated its own in its data
// directory. A database that has none yet adopts those, so data written with them stays
// readable; the files are read, never written again.

fn legacy_signing(data_dir: &Path) -> Result<Option<SigningKeys>, StartError> {
    let path = data_dir.join("keys").join("ed25519.pem");
    let Some(pem) = read_if_present(&path).map_err(|p| refused(SIGNING_SETTING, p))? else {
        return Ok(None);
    };
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
        refused(
            SIGNING_SETTING,
            format!("{} is not an Ed25519 PKCS#8 key", path.display()),
        )
    })?;
    Ok(Some(SigningKeys::single(key)))
}

#[derive(serde::Deserialize)]
struct LegacyPii {
    keys: Vec<LegacyPiiKey>,
    index_key: String,
}

#[derive(serde::Deserialize)]
struct LegacyPiiKey {
    kid: String,
    key: String,
}

fn legacy_pii(data_dir: &Path) -> Result<Option<(String, String)>, StartError> {
    let path = data_dir.join("keys").join("pii.json");
    let Some(text) = read_if_present(&path).map_err(|p| refused(KEYS_SETTING, p))? else {
        return Ok(None);
    };
    let file: LegacyPii = serde_json::from_str(&text)
        .map_err(|_| refused(KEYS_SETTING, format!("{} is malformed", path.display())))?;
    let keys: Vec<String> = file.keys.iter().map(|k| format!("{}:{}", k.kid, k.key)).collect();
    Ok(Some((keys.join(","), file.index_key)))
}

fn read_if_present(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}
