//! Opening sessions: what every successful login does, whichever factors it used — end the
//! other sessions (one per account, config), store the hashed refresh token, remember the
//! address and alert on a new one, audit — in one transaction, then hand out the tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeDelta;
use domain::audit::AuditEntry;
use domain::ids::{AccountId, SessionId};
use persistence::accounts::Account;
use persistence::sessions::NewSession;
use persistence::{codes, sessions, DbConnection, StoreError};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::alerts::{self, Alert};
use super::tokens::{AccessClaims, ISSUER};
use crate::clock::now;
use crate::error::ApiError;
use crate::state::AppState;

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

pub fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn access_token(
    state: &AppState,
    account: &Account,
    session: SessionId,
    amr: &[String],
) -> Result<TokenPair, ApiError> {
    let issued = now().timestamp();
    let ttl = state.config.access_token_ttl_secs;
    let claims = AccessClaims {
        iss: ISSUER.into(),
        sub: account.id,
        sid: session,
        roles: account.roles.clone(),
        iat: issued,
        exp: issued + ttl,
        amr: amr.to_vec(),
    };
    let access_token = state.tokens.issue(&claims).map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        refresh_token: String::new(),
        token_type: "Bearer",
        expires_in: ttl,
        session_id: session,
    })
}

/// Opens a session for `account` after it passed every factor in `amr`.
pub async fn open(
    state: &actix_web::web::Data<AppState>,
    account: Account,
    amr: Vec<String>,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<TokenPair, ApiError> {
    let session = SessionId::new();
    let (refresh_token, refresh_hash) = new_refresh_token();
    let single = state.config.single_session;
    let refresh_ttl = TimeDelta::days(state.config.refresh_token_ttl_days);
    let (id, factors) = (account.id, amr.clone());
    state
        .write(move |tx| {
            let at = now();
            persistence::accounts::clear_failures(tx, id)?;
            if single {
                sessions::revoke_all(tx, id, None, "new_login", at)?;
            }
            sessions::create(
                tx,
                &NewSession {
                    id: session,
                    account: id,
                    expires_at: at + refresh_ttl,
                    ip: ip.clone(),
                    user_agent,
                    amr: factors.clone(),
                    refresh_hash,
                },
                at,
            )?;
            if let Some(ip) = &ip {
                alert_on_new_address(tx, id, ip)?;
            }
            let entry = AuditEntry::new("auth.login", "session")
                .by(Some(id))
                .target(session)
                .details(json!({ "amr": factors }))
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            Ok(())
        })
        .await?;
    let mut pair = access_token(state, &account, session, &amr)?;
    pair.refresh_token = refresh_token;
    Ok(pair)
}

/// Remembers `ip` for the account; the first address ever is not news, a later new one is.
fn alert_on_new_address(tx: &mut DbConnection, account: AccountId, ip: &str) -> Result<(), StoreError> {
    let at = now();
    let first_ever = codes::known_ip_count(tx, account)? == 0;
    if codes::remember_ip(tx, account, ip, at)? && !first_ever {
        let body =
            format!("Выполнен вход в ваш кабинет с нового адреса {ip}. Если это были не вы, смените пароль.");
        let audit = AuditEntry::new("security.new_ip", "account")
            .by(Some(account))
            .target(account);
        alerts::raise(
            tx,
            Alert {
                account,
                kind: "new_ip",
                title: "Вход с нового адреса",
                body,
                audit,
            },
            at,
        )?;
    }
    Ok(())
}
