//! The Ed25519 key that signs access tokens: loaded from the data directory, generated
//! there on first start, and published as a JWKS so others can verify our tokens.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

/// Reads `ed25519.pem` from `dir`, creating it (mode 0600) when absent.
pub fn load_or_generate(dir: &Path) -> Result<SigningKey, String> {
    let path = dir.join("keys").join("ed25519.pem");
    if path.exists() {
        let pem =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| format!("{} is not an Ed25519 PKCS#8 key: {e}", path.display()));
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| format!("cannot encode a new key: {e}"))?;
    write_private_file(&path, pem.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// Writes a new secret file readable by its owner only (mode 0600), creating its folder.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, bytes)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The public half as a JWK; the key id is derived from the key itself, so it changes
/// exactly when the key does.
pub fn public_jwk(key: &SigningKey) -> Jwk {
    let public = key.verifying_key().to_bytes();
    let kid = hex::encode(&Sha256::digest(public)[..8]);
    Jwk {
        kty: "OKP",
        crv: "Ed25519",
        alg: "EdDSA",
        key_use: "sig",
        kid,
        x: URL_SAFE_NO_PAD.encode(public),
    }
}
