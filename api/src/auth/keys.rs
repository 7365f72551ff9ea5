//! The Ed25519 keys of access tokens, newest first: the first signs, every one verifies (so
//! a rotation ends no session), and all are published as a JWKS so others can verify too.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// One public key in JWK form (RFC 8037 OKP).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "5f2b1c0a9e8d7c6b", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}))]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub kid: String,
    pub x: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({"keys": [{"alg": "EdDSA", "crv": "Ed25519", "kid": "5f2b1c0a9e8d7c6b", "kty": "OKP", "use": "sig", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}))]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A signing key and the id tokens name it by.
pub struct NamedKey {
    pub kid: String,
    pub key: SigningKey,
}

/// The keys of `KABINET_SIGNING_KEYS`: the newest, which signs, and older ones that still
/// verify. No `Debug`: it holds private keys.
pub struct SigningKeys {
    newest: NamedKey,
    older: Vec<NamedKey>,
}

impl SigningKeys {
    /// Parses `kid:base64(PKCS#8 DER)[,kid:base64(…)…]`. Problems name the entry or its key
    /// id, never any part of a key.
    pub fn parse(text: &str) -> Result<SigningKeys, String> {
        let mut keys: Vec<NamedKey> = Vec::new();
        let entries = text.split(',').filter(|e| !e.trim().is_empty());
        for (n, entry) in entries.enumerate() {
            let (kid, key) = entry
                .split_once(':')
                .ok_or_else(|| format!("entry {} is not kid:base64(PKCS#8 DER key)", n + 1))?;
            let kid = kid.trim();
            if kid.is_empty()
                || !kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(format!(
                    "entry {}: a key id is letters, digits, '-', '_' or '.'",
                    n + 1
                ));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(format!("key id {kid:?} appears twice"));
            }
            let der = STANDARD
                .decode(key.trim())
                .map_err(|_| format!("key {kid:?} is not base64"))?;
            let key = SigningKey::from_pkcs8_der(&der)
                .map_err(|_| format!("key {kid:?} is not an Ed25519 private key in PKCS#8 DER"))?;
            keys.push(NamedKey {
                kid: kid.to_string(),
                key,
            });
        }
        let mut keys = keys.into_iter();
        let newest = keys.next().ok_or("at least one key is needed")?;
        Ok(SigningKeys {
            newest,
            older: keys.collect(),
        })
    }

    /// One new key.
    pub fn generate() -> SigningKeys {
        SigningKeys::single(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// One key, its id derived from the key itself (so it changes exactly when the key
    /// does).
    pub fn single(key: SigningKey) -> SigningKeys {
        let kid = hex::encode(&Sha256::digest(key.verifying_key().to_bytes())[..8]);
        SigningKeys {
            newest: NamedKey { kid, key },
            older: Vec::new(),
        }
    }

    /// The keys in the form `parse` reads, to be stored where other nodes find them.
    pub fn to_setting(&self) -> Result<String, String> {
        let entries = self
            .iter()
            .map(|k| {
                let der = k
                    .key
                    .to_pkcs8_der()
                    .map_err(|e| format!("cannot encode key {:?}: {e}", k.kid))?;
                Ok(format!("{}:{}", k.kid, STANDARD.encode(der.as_bytes())))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(entries.join(","))
    }

    /// The key that signs new tokens.
    pub fn newest(&self) -> &NamedKey {
        &self.newest
    }

    pub fn iter(&self) -> impl Iterator<Item = &NamedKey> {
        std::iter::once(&self.newest).chain(&self.older)
    }
}

/// The public half of `key` as a JWK.
pub fn public_jwk(key: &NamedKey) -> Jwk {
    Jwk {
        kty: "OKP",
        crv: "Ed25519",
        alg: "EdDSA",
        key_use: "sig",
        kid: key.kid.clone(),
        x: URL_SAFE_NO_PAD.encode(key.key.verifying_key().to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(kid: &str) -> String {
        match SigningKeys::generate().to_setting() {
            Ok(text) => format!("{kid}:{}", text.split_once(':').map_or("", |(_, k)| k)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn keys_round_trip_through_their_setting_newest_first() {
        let text = format!("{},{}", setting("new"), setting("old"));
        let keys = SigningKeys::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(keys.newest().kid, "new");
        assert_eq!(
            keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["new", "old"]
        );
        assert_eq!(keys.to_setting().ok(), Some(text));
    }

    #[test]
    fn generated_keys_are_named_by_their_public_key() {
        let keys = SigningKeys::generate();
        let kid = &keys.newest().kid;
        assert_eq!(kid.len(), 16);
        assert_ne!(kid, &SigningKeys::generate().newest().kid);
    }

    #[test]
    fn bad_settings_name_the_entry_and_never_the_key() {
        let good = setting("k1");
        let secret = good.split_once(':').map_or("", |(_, k)| k).to_string();
        let cases = [
            ("", "at least one key"),
            ("k1", "entry 1 is not kid:"),
            (":AAAA", "entry 1: a key id"),
            ("k 1:AAAA", "entry 1: a key id"),
            ("k1:not base64!", "key \"k1\" is not base64"),
            ("k1:AAAA", "key \"k1\" is not an Ed25519"),
            (&format!("{good},{good}"), "key id \"k1\" appears twice"),
            (&format!("{good},k2:{}", &secret[..20]), "key \"k2\" is not"),
        ];
        for (text, expected) in cases {
            let problem = SigningKeys::parse(text).err().unwrap_or_default();
            assert!(problem.contains(expected), "{text:?}: {problem}");
            assert!(!problem.contains(&secret[..12]), "{problem}");
        }
    }
}
