//! Personal data at rest: AEAD encryption (XChaCha20-Poly1305, random 192-bit nonces) with a
//! key id for rotation, and keyed hashes (HMAC-SHA-256) for lookups by SNILS and for storing
//! one-time codes. The keys come from configuration; in development they are generated into
//! the data directory on first start.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const FORMAT: &str = "v1";

/// One encryption key and its id.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

pub struct PiiCipher {
    /// The first key encrypts; all of them decrypt (older ones during rotation).
    keys: Vec<Key>,
    index_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("a stored ciphertext is malformed")]
    Malformed,
    #[error("no key with id {0:?} is configured")]
    UnknownKey(String),
    #[error("a stored ciphertext failed authentication")]
    Forged,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyEntry>,
    index_key: String,
}

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    kid: String,
    key: String,
}

fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "a key must be 32 bytes (base64 of 32 random bytes)".to_string())
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

impl PiiCipher {
    /// `keys` is `kid:base64key[,kid:base64key…]`, newest first; `index_key` is base64.
    pub fn from_config(keys: &str, index_key: &str) -> Result<PiiCipher, String> {
        let keys = keys
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(|entry| {
                let (id, key) = entry.split_once(':').ok_or("each key is kid:base64key")?;
                Ok(Key {
                    id: id.trim().to_string(),
                    cipher: XChaCha20Poly1305::new(&decode_key(key)?.into()),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if keys.is_empty() {
            return Err("at least one key is needed".into());
        }
        Ok(PiiCipher {
            keys,
            index_key: decode_key(index_key)?.to_vec(),
        })
    }

    /// The keys the configuration names, or development keys in the data directory.
    pub fn from_settings(config: &crate::config::Config) -> Result<PiiCipher, String> {
        match (&config.pii_keys, &config.pii_index_key) {
            (Some(keys), Some(index)) => PiiCipher::from_config(keys, index),
            _ => PiiCipher::load_or_generate(&config.data_dir),
        }
    }

    /// Development keys kept in `dir/keys/pii.json`, created (mode 0600) on first use.
    pub fn load_or_generate(dir: &Path) -> Result<PiiCipher, String> {
        let path = dir.join("keys").join("pii.json");
        if !path.exists() {
            let file = KeyFile {
                keys: vec![KeyEntry {
                    kid: "dev1".into(),
                    key: STANDARD.encode(random_key()),
                }],
                index_key: STANDARD.encode(random_key()),
            };
            let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
            crate::auth::write_private_file(&path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: KeyFile =
            serde_json::from_str(&text).map_err(|e| format!("{} is malformed: {e}", path.display()))?;
        let keys = file
            .keys
            .iter()
            .map(|k| format!("{}:{}", k.kid, k.key))
            .collect::<Vec<_>>()
            .join(",");
        PiiCipher::from_config(&keys, &file.index_key)
    }

    /// Encrypts `plaintext`; `field` is bound as associated data, so a ciphertext moved to
    /// another column (or another account's row, via `field` = "snils:<account>") fails.
    pub fn encrypt(&self, field: &str, plaintext: &str) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            .unwrap_or_default(); // encryption with a valid key and nonce cannot fail
        let mut blob = nonce.to_vec();
        blob.extend(sealed);
        format!("{FORMAT}:{}:{}", key.id, URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn decrypt(&self, field: &str, stored: &str) -> Result<String, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(FORMAT), Some(kid), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.into()))?;
        let blob = URL_SAFE_NO_PAD.decode(blob).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 24 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Forged)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    /// A keyed hash for equality lookups and for storing codes: without the key, neither a
    /// SNILS nor a six-digit code can be recovered by trying every value.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key) else {
            return String::new(); // HMAC accepts keys of any length
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(keys: &str) -> PiiCipher {
        let index = STANDARD.encode([7u8; 32]);
        PiiCipher::from_config(keys, &index).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let c = cipher(&format!("k1:{}", STANDARD.encode([1u8; 32])));
        let sealed = c.encrypt("snils", "11223344595");
        assert!(sealed.starts_with("v1:k1:"));
        assert!(!sealed.contains("11223344595"));
        assert_ne!(sealed, c.encrypt("snils", "11223344595"), "random nonces");
        assert_eq!(c.decrypt("snils", &sealed), Ok("11223344595".to_string()));
    }

    #[test]
    fn a_ciphertext_moved_to_another_field_fails() {
        let c = cipher(&format!("k1:{}", STANDARD.encode([1u8; 32])));
        let sealed = c.encrypt("snils", "11223344595");
        assert_eq!(c.decrypt("inn", &sealed), Err(CryptoError::Forged));
    }

    #[test]
    fn old_keys_still_decrypt_after_rotation() {
        let old = cipher(&format!("k1:{}", STANDARD.encode([1u8; 32])));
        let sealed = old.encrypt("inn", "500100732259");
        let rotated = cipher(&format!(
            "k2:{},k1:{}",
            STANDARD.encode([2u8; 32]),
            STANDARD.encode([1u8; 32])
        ));
        assert_eq!(rotated.decrypt("inn", &sealed), Ok("500100732259".to_string()));
        assert!(rotated.encrypt("inn", "x").starts_with("v1:k2:"));
        let forgotten = cipher(&format!("k2:{}", STANDARD.encode([2u8; 32])));
        assert_eq!(
            forgotten.decrypt("inn", &sealed),
            Err(CryptoError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn keyed_hashes_depend_on_key_and_purpose() {
        let a = cipher(&format!("k1:{}", STANDARD.encode([1u8; 32])));
        assert_eq!(a.keyed_hash("snils", "1"), a.keyed_hash("snils", "1"));
        assert_ne!(a.keyed_hash("snils", "1"), a.keyed_hash("code", "1"));
        let other_index = PiiCipher::from_config(
            &format!("k1:{}", STANDARD.encode([1u8; 32])),
            &STANDARD.encode([9u8; 32]),
        );
        assert_ne!(
            other_index
                .map(|c| c.keyed_hash("snils", "1"))
                .unwrap_or_default(),
            a.keyed_hash("snils", "1")
        );
    }
}
