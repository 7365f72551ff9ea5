//! Personal data at rest: AEAD encryption (XChaCha20-Poly1305, random 192-bit nonces) with a
//! key id for rotation, and keyed hashes (HMAC-SHA-256) for lookups by SNILS and for storing
//! one-time codes. The keys come from configuration; outside production they may be generated
//! once per database (see `node_keys`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
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

fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "a key is not base64".to_string())?;
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

    /// New random keys in the form `from_config` reads: `(keys, index_key)`.
    pub fn generate_settings() -> (String, String) {
        (
            format!("dev1:{}", STANDARD.encode(random_key())),
            STANDARD.encode(random_key()),
        )
    }

    /// The id of the key that encrypts.
    pub fn encrypting_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// The id of the key a stored ciphertext was sealed with.
    pub fn sealed_with(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(FORMAT), Some(kid), Some(_)) => Some(kid),
            _ => None,
        }
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
        self.mac(purpose, value)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Whether `expected` (hex) is the keyed hash of `value`, compared in constant time.
    pub fn keyed_hash_matches(&self, purpose: &str, value: &str, expected: &str) -> bool {
        match (self.mac(purpose, value), hex::decode(expected)) {
            (Some(mac), Ok(expected)) => mac.verify_slice(&expected).is_ok(),
            _ => false,
        }
    }

    fn mac(&self, purpose: &str, value: &str) -> Option<Hmac<Sha256>> {
        // HMAC accepts keys of any length: this never answers None.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).ok()?;
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        Some(mac)
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
