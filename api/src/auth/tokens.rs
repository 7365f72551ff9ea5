//! Access tokens: short-lived EdDSA JWTs with a `kid`, signed by the newest key and
//! verified by whichever key their `kid` names. Verified tokens are remembered
//! (keyed by a hash of the token, until they expire, bounded in size) because a signature
//! check costs ~100 µs — a large share of two cores at thousands of requests per second.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::access::Role;
use domain::ids::{AccountId, SessionId};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{public_jwk, Jwk, SigningKeys};

pub const ISSUER: &str = "kabinet";
/// RFC 9068 access-token type; MFA tokens carry their own type and never pass for one.
const ACCESS_TYP: &str = "at+jwt";
const MFA_TYP: &str = "mfa+jwt";
const CACHE_CAPACITY: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: AccountId,
    /// The session this token belongs to; revoking the session revokes the token.
    pub sid: SessionId,
    pub roles: Vec<Role>,
    pub iat: i64,
    pub exp: i64,
    /// How the user authenticated (RFC 8176): `pwd`, `otp`…
    pub amr: Vec<String>,
}

/// The claims of a pending two-factor login.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfaClaims {
    pub iss: String,
    pub sub: AccountId,
    /// Spent by the login it completes: the token is single-use.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or its signature is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    /// The public half of the signing key.
    signer: Jwk,
    /// Every public key, the signing one first: what the JWKS publishes.
    jwks: Vec<Jwk>,
    /// By key id, in the order of `jwks`.
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl TokenKeys {
    pub fn new(keys: &SigningKeys) -> Result<TokenKeys, String> {
        let der = keys
            .newest()
            .key
            .to_pkcs8_der()
            .map_err(|e| format!("cannot encode the signing key: {e}"))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let jwks: Vec<Jwk> = keys.iter().map(public_jwk).collect();
        let decoding = jwks
            .iter()
            .map(|jwk| {
                DecodingKey::from_ed_components(&jwk.x)
                    .map(|key| (jwk.kid.clone(), key))
                    .map_err(|e| format!("bad public key {:?}: {e}", jwk.kid))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        // Expiry is checked against the caller's clock below, so cached and fresh
        // verifications judge time the same way.
        validation.validate_exp = false;
        validation.validate_aud = false;
        Ok(TokenKeys {
            encoding,
            signer: public_jwk(keys.newest()),
            jwks,
            decoding,
            validation,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The key that signs new tokens.
    pub fn jwk(&self) -> &Jwk {
        &self.signer
    }

    /// Every key that verifies, the signing one first.
    pub fn jwks(&self) -> &[Jwk] {
        &self.jwks
    }

    fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signer.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Checks key id, token type (so an MFA token never passes as an access token) and
    /// signature; expiry is the caller's to check against its clock.
    fn open<T: serde::de::DeserializeOwned>(&self, typ: &str, token: &str) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let decoding = self
            .decoding
            .iter()
            .find(|(kid, _)| Some(kid.as_str()) == header.kid.as_deref())
            .map(|(_, key)| key)
            .ok_or(TokenError::UnknownKey)?;
        if header.typ.as_deref() != Some(typ) {
            return Err(TokenError::Invalid);
        }
        jsonwebtoken::decode::<T>(token, decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    pub fn issue(&self, claims: &AccessClaims) -> Result<String, String> {
        self.sign(ACCESS_TYP, claims)
    }

    /// Verifies an access token at unix time `now`, answering from the cache when it can.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.cached(&fingerprint) {
            return if claims.exp > now {
                Ok(claims)
            } else {
                Err(TokenError::Expired)
            };
        }
        let claims: AccessClaims = self.open(ACCESS_TYP, token)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        self.remember(fingerprint, &claims, now);
        Ok(claims)
    }

    /// A short-lived token proving the password step of a login with a second factor.
    pub fn issue_mfa(&self, claims: &MfaClaims) -> Result<String, String> {
        self.sign(MFA_TYP, claims)
    }

    pub fn verify_mfa(&self, token: &str, now: i64) -> Result<MfaClaims, TokenError> {
        let claims: MfaClaims = self.open(MFA_TYP, token)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn cached(&self, fingerprint: &[u8; 32]) -> Option<AccessClaims> {
        self.verified.lock().ok()?.get(fingerprint).cloned()
    }

    fn remember(&self, fingerprint: [u8; 32], claims: &AccessClaims, now: i64) {
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| c.exp > now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(fingerprint, claims.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        match TokenKeys::new(&SigningKeys::generate()) {
            Ok(keys) => keys,
            Err(e) => panic!("{e}"),
        }
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            sub: AccountId::new(),
            sid: SessionId::new(),
            roles: vec![Role::Admin],
            iat: 0,
            exp,
            amr: vec!["pwd".into()],
        }
    }

    #[test]
    fn issued_tokens_verify_and_round_trip() {
        let keys = keys();
        let claims = claims(2_000_000_000);
        let token = keys.issue(&claims).unwrap_or_default();
        assert_eq!(keys.verify(&token, 1_000), Ok(claims.clone()));
        // The second check is answered from the cache with the same claims.
        assert_eq!(keys.verify(&token, 1_000), Ok(claims));
    }

    #[test]
    fn expired_tokens_are_refused_even_from_the_cache() {
        let keys = keys();
        let token = keys.issue(&claims(2_000)).unwrap_or_default();
        assert!(keys.verify(&token, 1_000).is_ok());
        assert_eq!(keys.verify(&token, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn another_key_with_our_kid_is_refused() {
        let ours = keys();
        let theirs = keys();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(ours.signer.kid.clone());
        header.typ = Some(ACCESS_TYP.into());
        let forged =
            jsonwebtoken::encode(&header, &claims(2_000_000_000), &theirs.encoding).unwrap_or_default();
        assert_eq!(ours.verify(&forged, 1_000), Err(TokenError::Invalid));
        let token = theirs.issue(&claims(2_000_000_000)).unwrap_or_default();
        assert_eq!(ours.verify(&token, 1_000), Err(TokenError::UnknownKey));
    }

    #[test]
    fn after_a_rotation_the_new_key_signs_and_the_old_one_still_verifies() {
        let old = SigningKeys::generate();
        let new = SigningKeys::generate();
        let setting = |keys: &[&SigningKeys]| {
            let texts: Result<Vec<String>, String> = keys.iter().map(|k| k.to_setting()).collect();
            SigningKeys::parse(&texts.unwrap_or_else(|e| panic!("{e}")).join(","))
                .and_then(|keys| TokenKeys::new(&keys))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let before = setting(&[&old]);
        let after = setting(&[&new, &old]);
        let old_token = before.issue(&claims(2_000_000_000)).unwrap_or_default();
        assert!(after.verify(&old_token, 1_000).is_ok());
        assert_eq!(after.jwk().kid, new.newest().kid);
        let kids: Vec<&str> = after.jwks().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, [new.newest().kid.as_str(), old.newest().kid.as_str()]);
        let new_token = after.issue(&claims(2_000_000_000)).unwrap_or_default();
        assert_eq!(before.verify(&new_token, 1_000), Err(TokenError::UnknownKey));
    }

    #[test]
    fn an_mfa_token_is_not_an_access_token() {
        let keys = keys();
        let mfa = MfaClaims {
            iss: ISSUER.into(),
            sub: AccountId::new(),
            jti: "once".into(),
            iat: 0,
            exp: 2_000_000_000,
        };
        let token = keys.issue_mfa(&mfa).unwrap_or_default();
        assert_eq!(keys.verify_mfa(&token, 1_000), Ok(mfa));
        assert_eq!(keys.verify(&token, 1_000), Err(TokenError::Invalid));
        let access = keys.issue(&claims(2_000_000_000)).unwrap_or_default();
        assert_eq!(keys.verify_mfa(&access, 1_000), Err(TokenError::Invalid));
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let keys = keys();
        let body = URL_SAFE.encode(serde_json::to_vec(&claims(2_000_000_000)).unwrap_or_default());
        let header = URL_SAFE.encode(format!(
            r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#,
            keys.signer.kid
        ));
        assert_eq!(
            keys.verify(&format!("{header}.{body}."), 1_000),
            Err(TokenError::Invalid)
        );
    }

    use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE;
    use base64::Engine;
}
