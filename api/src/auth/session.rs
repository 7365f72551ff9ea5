//! Opening sessions: what every successful login does, whichever factors it used — end the
//! other sessions (one per account, config), store the hashed refresh token, remember the
//! address and alert on a new one, audit — in the login's transaction, then hand out the
//! tokens, issued with the state's clock.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeDelta;
use domain::account::Account;
use domain::audit::AuditEntry;
use domain::ids::{AccountId, SessionId};
use domain::time::Instant;
use persistence::sessions::NewSession;
use persistence::{codes, sessions, DbConnection, StoreError};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::alerts::Alert;
use super::tokens::{AccessClaims, TokenKeys, ISSUER};
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecases::{Effects, Outcome};

/// Tokens handed out by a login or a refresh.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
    "refresh_token": "q8hXv0m1kHc2Zt4pJ8y2m5bW9aL3nR6sT1uV7wX0yZ4",
    "token_type": "Bearer",
    "expires_in": 900,
    "session_id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d"
}))]
pub struct TokenPair {
    pub access_token: String,
    /// Opaque; rotates on every use. Presenting an already used one ends the session.
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[schema(value_type = String, format = Uuid)]
    pub session_id: SessionId,
}

/// A fresh opaque refresh token and the hash that is stored in its place.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The token that replaces `token` when it rotates. Derived (keyed, so nobody without the
/// old token and the server's key can compute it) rather than random, so that a second
/// refresh with the same token inside the grace period gets the very same pair.
pub fn successor(pii: &PiiCipher, token: &str) -> (String, String) {
    let next = pii.keyed_hash("refresh-successor", token);
    let hash = refresh_hash(&next);
    (next, hash)
}

pub fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What opening a session and issuing its tokens depend on, from the configuration.
#[derive(Clone)]
pub struct SessionRules {
    pub keys: Arc<TokenKeys>,
    /// One session per account: a new login ends the others.
    pub single_session: bool,
    pub access_ttl_secs: i64,
    pub refresh_ttl: TimeDelta,
    pub mfa_ttl_secs: i64,
    /// How long a rotated refresh token still answers with its successor.
    pub refresh_grace: TimeDelta,
    /// Keys the successor of a refresh token.
    pub pii: Arc<PiiCipher>,
}

impl SessionRules {
    pub fn of(state: &AppState) -> SessionRules {
        let config = &state.config;
        SessionRules {
            keys: state.tokens.clone(),
            single_session: config.single_session,
            access_ttl_secs: config.access_token_ttl_secs,
            refresh_ttl: TimeDelta::days(config.refresh_token_ttl_days),
            mfa_ttl_secs: config.mfa_token_ttl_secs,
            refresh_grace: TimeDelta::seconds(config.refresh_grace_secs),
            pii: state.pii.clone(),
        }
    }

    /// An access token for `account`'s `session`, issued at `now` (the state's clock).
    pub fn access_token(
        &self,
        account: &Account,
        session: SessionId,
        amr: &[String],
        now: Instant,
    ) -> Result<TokenPair, ApiError> {
        let issued = now.timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: account.id,
            sid: session,
            roles: account.roles.clone(),
            iat: issued,
            exp: issued + self.access_ttl_secs,
            amr: amr.to_vec(),
        };
        let access_token = self.keys.issue(&claims).map_err(ApiError::internal)?;
        Ok(TokenPair {
            access_token,
            refresh_token: String::new(),
            token_type: "Bearer",
            expires_in: self.access_ttl_secs,
            session_id: session,
        })
    }
}

/// Where a login comes from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Opens a session for `account` after it passed every factor in `amr`: clears the
/// failure count, ends the other sessions when there may be only one, stores the hashed
/// refresh token, remembers the address (alerting on a new one) and audits the login.
pub fn open(
    tx: &mut DbConnection,
    rules: &SessionRules,
    account: &Account,
    amr: Vec<String>,
    origin: Origin,
    now: Instant,
) -> Result<Outcome<TokenPair>, ApiError> {
    let (session, id) = (SessionId::new(), account.id);
    let (refresh_token, refresh_hash) = new_refresh_token();
    if rules.single_session {
        sessions::revoke_all(tx, id, None, "new_login", now)?;
    }
    let new = NewSession {
        id: session,
        account: id,
        expires_at: now + rules.refresh_ttl,
        ip: origin.ip.clone(),
        user_agent: origin.user_agent,
        amr: amr.clone(),
        refresh_hash,
    };
    sessions::create(tx, &new, now)?;
    let mut effects = match &origin.ip {
        Some(ip) => remember_address(tx, id, ip, now)?,
        None => Effects::none(),
    };
    effects = effects.audit(
        AuditEntry::new("auth.login", "session")
            .by(Some(id))
            .target(session)
            .details(json!({ "amr": amr }))
            .from_ip(origin.ip),
    );
    let mut pair = rules.access_token(account, session, &amr, now)?;
    pair.refresh_token = refresh_token;
    Ok(Outcome::new(pair, effects))
}

/// Remembers `ip` for the account; the first address ever is not news, a later new one is.
fn remember_address(
    tx: &mut DbConnection,
    account: AccountId,
    ip: &str,
    now: Instant,
) -> Result<Effects, StoreError> {
    let first_ever = codes::known_ip_count(tx, account)? == 0;
    if !codes::remember_ip(tx, account, ip, now)? || first_ever {
        return Ok(Effects::none());
    }
    let body =
        format!("Выполнен вход в ваш кабинет с нового адреса {ip}. Если это были не вы, смените пароль.");
    let audit = AuditEntry::new("security.new_ip", "account")
        .by(Some(account))
        .target(account);
    Ok(Alert {
        account,
        kind: "new_ip",
        title: "Вход с нового адреса",
        body,
        audit,
    }
    .effects())
}
