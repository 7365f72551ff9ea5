//! Logging in (password, then a second factor when enabled), refreshing and ending
//! sessions, and resetting a forgotten password.

use actix_web::web::{Json, Path};
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::ids::{AccountId, SessionId};
use domain::notice::{Channel, Message};
use persistence::accounts::Account;
use persistence::sessions::RefreshLookup;
use persistence::{sessions, DbConnection, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::alerts::{self, Alert};
use crate::auth::network::{client_ip, ip_allowed};
use crate::auth::session::{self, TokenPair};
use crate::auth::{actor::user_agent, logins, passwords, second_factor, Actor, MfaClaims, ISSUER};
use crate::clock::now;
use crate::error::ApiError;
use crate::state::{blocking, State};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "maria@example.ru", "password": "Tundra-Violet-42"}))]
pub struct LoginRequest {
    /// E-mail, phone, SNILS or staff user name.
    #[schema(min_length = 1)]
    pub login: String,
    #[schema(min_length = 1)]
    pub password: String,
}

/// Either tokens, or a request for the second factor.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "mfa_required", "mfa_token": "eyJhbGciOiJFZERTQSIsInR5cCI6Im1mYStqd3QifQ.e30.c2ln", "expires_in": 300}))]
pub struct LoginResponse {
    /// `authenticated` (tokens are present) or `mfa_required` (send `mfa_token` with a code
    /// to `/api/v1/auth/login/mfa`).
    pub status: &'static str,
    #[serde(flatten)]
    pub tokens: Option<TokenPair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// Seconds the `mfa_token` stays valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_expires_in: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"mfa_token": "eyJhbGciOiJFZERTQSIsInR5cCI6Im1mYStqd3QifQ.e30.c2ln", "code": "492039"}))]
pub struct MfaLoginRequest {
    pub mfa_token: String,
    /// A current TOTP code.
    pub code: Option<String>,
    /// One of the recovery codes, instead of `code`.
    pub recovery_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "q8hXv0m1kHc2Zt4pJ8y2m5bW9aL3nR6sT1uV7wX0yZ4"}))]
pub struct RefreshRequest {
    #[schema(min_length = 1)]
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "created_at": "2026-11-23T10:00:00Z", "last_seen_at": "2026-11-23T10:14:00Z", "expires_at": "2026-12-23T10:00:00Z", "revoked_at": null, "revoked_reason": null, "ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "current": true}))]
pub struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    pub id: SessionId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `logout`, `new_login`, `ended_by_owner`, `password_reset`, `refresh_reuse`.
    pub revoked_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request was made in.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "maria@example.ru"}))]
pub struct PasswordResetRequest {
    #[schema(min_length = 1)]
    pub login: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "detail": "If an account with this login exists, a code has been sent to its contacts."}))]
pub struct Accepted {
    pub status: &'static str,
    pub detail: &'static str,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "maria@example.ru", "code": "318204", "new_password": "Glacier-Sonnet-77"}))]
pub struct PasswordResetConfirm {
    pub login: String,
    pub code: String,
    pub new_password: String,
}

fn locked(until: chrono::DateTime<chrono::Utc>, at: chrono::DateTime<chrono::Utc>) -> ApiError {
    let seconds = (until - at).num_seconds().max(1);
    ApiError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        "Too many failed attempts; the account is locked for a while.",
    )
    .with_header(actix_web::http::header::RETRY_AFTER, seconds.to_string())
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "The login or password is wrong.")
}

/// Counts a failed attempt for a known account, locking it when the limit is reached;
/// answers the error the caller should get.
async fn fail_attempt(
    state: &State,
    account: AccountId,
    ip: Option<String>,
    reason: &'static str,
    error: ApiError,
) -> Result<ApiError, ApiError> {
    let policy = state.config.lockout();
    let lock = state
        .write(move |tx| {
            let at = now();
            let failures = persistence::accounts::count_failure(tx, account)?;
            let (remaining, lock) = domain::account::after_failure(policy, failures - 1, at);
            persistence::accounts::record_failure(tx, account, remaining, lock)?;
            let entry = AuditEntry::new("auth.login_failed", "account")
                .by(Some(account))
                .target(account)
                .details(json!({ "reason": reason }))
                .from_ip(ip.clone());
            persistence::audit::record(tx, entry, at)?;
            if let Some(until) = lock {
                let body = format!(
                    "После нескольких неудачных попыток вход заблокирован до {} UTC. Если это были не вы, смените пароль.",
                    until.format("%H:%M")
                );
                let audit = AuditEntry::new("auth.locked", "account").target(account).from_ip(ip);
                let alert = Alert { account, kind: "lockout", title: "Вход заблокирован", body, audit };
                alerts::raise(tx, alert, at)?;
            }
            Ok(lock.map(|until| (until, at)))
        })
        .await?;
    Ok(match lock {
        Some((until, at)) => locked(until, at),
        None => error,
    })
}

async fn audit_refusal(
    state: &State,
    action: &'static str,
    account: Option<AccountId>,
    ip: Option<String>,
) -> Result<(), ApiError> {
    state
        .write(move |tx| {
            let mut entry = AuditEntry::new(action, "account").by(account).from_ip(ip);
            if let Some(account) = account {
                entry = entry.target(account);
            }
            Ok(persistence::audit::record(tx, entry, now())?)
        })
        .await
        .map(|_| ())
}

/// Log in with a login (e-mail, phone, SNILS or user name) and password.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in, or a second factor is required", body = LoginResponse),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: State,
    body: Json<LoginRequest>,
    req: HttpRequest,
) -> Result<Json<LoginResponse>, ApiError> {
    let LoginRequest {
        login: typed,
        password,
    } = body.into_inner();
    if typed.trim().is_empty() {
        return Err(ApiError::field("login", "required", "login is required"));
    }
    let (ip, agent) = (client_ip(&req), user_agent(&req));
    let keys = logins::candidate_keys(&state.pii, &typed);
    let found = state
        .read(move |conn| Ok(persistence::accounts::find_by_login(conn, &keys)?))
        .await?;
    let at = now();
    if let Some(until) = found
        .as_ref()
        .and_then(|a| a.locked_until)
        .filter(|until| *until > at)
    {
        audit_refusal(&state, "auth.login_locked", found.as_ref().map(|a| a.id), ip).await?;
        return Err(locked(until, at));
    }
    // Verify against a decoy when the login is unknown, so both cases take the same time.
    let stored = found
        .as_ref()
        .map(|a| a.row.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy().to_string());
    let password_ok = blocking(move || Ok(passwords::verify(&password, &stored))).await?;
    let account = match (found, password_ok) {
        (None, _) => {
            audit_refusal(&state, "auth.login_failed", None, ip).await?;
            return Err(bad_credentials());
        }
        (Some(account), false) => {
            return Err(fail_attempt(&state, account.id, ip, "bad_password", bad_credentials()).await?);
        }
        (Some(account), true) => account,
    };
    if let Some(list) = account.row.ip_allow_list.as_deref() {
        if !ip.as_deref().is_some_and(|ip| ip_allowed(list, ip)) {
            audit_refusal(&state, "auth.login_ip_refused", Some(account.id), ip).await?;
            return Err(ApiError::forbidden(
                "ip_not_allowed",
                "Your account does not allow logins from this address.",
            ));
        }
    }
    if account.row.totp_enabled {
        let ttl = state.config.mfa_token_ttl_secs;
        let claims = MfaClaims {
            iss: ISSUER.into(),
            sub: account.id,
            iat: at.timestamp(),
            exp: at.timestamp() + ttl,
        };
        let mfa_token = state.tokens.issue_mfa(&claims).map_err(ApiError::internal)?;
        return Ok(Json(LoginResponse {
            status: "mfa_required",
            tokens: None,
            mfa_token: Some(mfa_token),
            mfa_expires_in: Some(ttl),
        }));
    }
    let tokens = session::open(&state, account, vec!["pwd".into()], ip, agent).await?;
    Ok(Json(LoginResponse {
        status: "authenticated",
        tokens: Some(tokens),
        mfa_token: None,
        mfa_expires_in: None,
    }))
}

/// Complete a login with a TOTP code or a recovery code.
#[utoipa::path(
    tag = "auth",
    operation_id = "loginMfa",
    request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 429, response = crate::openapi::TooManyRequests),
    )
)]
#[post("/auth/login/mfa")]
pub async fn login_mfa(
    state: State,
    body: Json<MfaLoginRequest>,
    req: HttpRequest,
) -> Result<Json<LoginResponse>, ApiError> {
    let MfaLoginRequest {
        mfa_token,
        code,
        recovery_code,
    } = body.into_inner();
    let at = now();
    let claims = state.tokens.verify_mfa(&mfa_token, at.timestamp()).map_err(|_| {
        ApiError::unauthorized(
            "invalid_mfa_token",
            "The MFA token is invalid or expired; log in again.",
        )
    })?;
    let (ip, agent) = (client_ip(&req), user_agent(&req));
    let id = claims.sub;
    let account = state
        .read(move |c| Ok(persistence::accounts::find(c, id)?))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_mfa_token",
                "The MFA token is invalid or expired; log in again.",
            )
        })?;
    if let Some(until) = account.locked_until.filter(|until| *until > at) {
        return Err(locked(until, at));
    }
    let proof = match (code, recovery_code) {
        (Some(code), None) => second_factor::Proof::Totp(code),
        (None, Some(code)) => second_factor::Proof::Recovery(code),
        _ => {
            return Err(ApiError::field(
                "code",
                "required",
                "Send exactly one of code and recovery_code.",
            ))
        }
    };
    let pii = state.pii.clone();
    let checked = account.clone();
    let passed = state
        .write(move |tx| Ok(second_factor::check(tx, &pii, &checked, &proof)?))
        .await?;
    if !passed {
        let error = ApiError::unauthorized("invalid_code", "The code is wrong or was used already.");
        return Err(fail_attempt(&state, account.id, ip, "bad_second_factor", error).await?);
    }
    let amr = vec!["pwd".into(), "mfa".into(), "otp".into()];
    let tokens = session::open(&state, account, amr, ip, agent).await?;
    Ok(Json(LoginResponse {
        status: "authenticated",
        tokens: Some(tokens),
        mfa_token: None,
        mfa_expires_in: None,
    }))
}

/// Exchange a refresh token for new tokens; the refresh token rotates.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: State,
    body: Json<RefreshRequest>,
    req: HttpRequest,
) -> Result<Json<TokenPair>, ApiError> {
    let presented = session::refresh_hash(&body.refresh_token);
    let (new_token, new_hash) = session::new_refresh_token();
    let ip = client_ip(&req);
    let outcome = state
        .write(move |tx| {
            let at = now();
            let lookup = sessions::lookup_refresh(tx, &presented, at)?;
            let current = match lookup {
                RefreshLookup::Current {
                    session,
                    account,
                    amr,
                } => {
                    if sessions::rotate_refresh(tx, session, &presented, &new_hash, at)? {
                        let account = persistence::accounts::find(tx, account)?;
                        return Ok(Refreshed::Rotated(Box::new(account), session, amr));
                    }
                    (session, account)
                }
                RefreshLookup::Reused { session, account } => (session, account),
                RefreshLookup::Unknown => return Ok(Refreshed::Refused("invalid_refresh_token")),
                RefreshLookup::Expired => return Ok(Refreshed::Refused("refresh_token_expired")),
            };
            // A rotated token came back: someone holds a copy. End the whole session.
            let (session, account) = current;
            if sessions::revoke(tx, session, "refresh_reuse", at)? {
                let entry =
                    AuditEntry::new("auth.refresh_reuse", "session").by(Some(account)).target(session).from_ip(ip);
                let body = "Повторно использован токен обновления; сеанс завершён. Если это были не вы, смените пароль.";
                let alert = Alert { account, kind: "token_reuse", title: "Сеанс завершён", body: body.into(), audit: entry };
                alerts::raise(tx, alert, at)?;
            }
            Ok(Refreshed::Refused("refresh_token_reused"))
        })
        .await?;
    match outcome {
        Refreshed::Rotated(account, session, amr) if account.is_some() => {
            let account = account.ok_or_else(ApiError::not_found)?;
            let mut pair = session::access_token(&state, &account, session, &amr)?;
            pair.refresh_token = new_token;
            Ok(Json(pair))
        }
        Refreshed::Rotated(..) => Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "The refresh token is not valid.",
        )),
        Refreshed::Refused(code) => Err(ApiError::unauthorized(
            code,
            "The refresh token is not valid; log in again.",
        )),
    }
}

enum Refreshed {
    Rotated(Box<Option<Account>>, SessionId, Vec<String>),
    Refused(&'static str),
}

/// End the current session.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: State, actor: Actor) -> Result<HttpResponse, ApiError> {
    end_session(&state, &actor, actor.session, "logout").await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn end_session(
    state: &State,
    actor: &Actor,
    session: SessionId,
    reason: &'static str,
) -> Result<(), ApiError> {
    let (account, ip) = (actor.account, actor.ip.clone());
    state
        .write(move |tx| {
            let at = now();
            if sessions::revoke(tx, session, reason, at)? {
                let entry = AuditEntry::new("auth.session_ended", "session")
                    .by(Some(account))
                    .target(session)
                    .details(json!({ "reason": reason }))
                    .from_ip(ip);
                persistence::audit::record(tx, entry, at)?;
            }
            Ok(())
        })
        .await
}

/// List your sessions (the 50 most recent).
#[utoipa::path(
    tag = "auth",
    operation_id = "listSessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions, newest first", body = SessionList),
    )
)]
#[get("/auth/sessions")]
pub async fn list_sessions(state: State, actor: Actor) -> Result<Json<SessionList>, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let account = actor.account;
    let listed = state.read(move |c| Ok(sessions::list(c, account)?)).await?;
    let items = listed
        .into_iter()
        .map(|s| SessionView {
            current: s.id == actor.session,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList { items }))
}

/// End one of your sessions.
#[utoipa::path(
    tag = "auth",
    operation_id = "endSession",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Session id")),
    responses(
        (status = 204, description = "The session has ended"),
    )
)]
#[delete("/auth/sessions/{id}")]
pub async fn end_one_session(
    state: State,
    actor: Actor,
    id: Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session = id.into_inner();
    let owner = state
        .read(move |c| Ok(sessions::owner(c, session)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(owner),
        now(),
    )?;
    end_session(&state, &actor, session, "ended_by_owner").await?;
    Ok(HttpResponse::NoContent().finish())
}

const RESET: &str = "password_reset";
pub const ACCEPTED: Accepted = Accepted {
    status: "accepted",
    detail: "If an account with this login exists, a code has been sent to its contacts.",
};

/// Ask for a password-reset code. The answer is the same whether or not the login exists.
#[utoipa::path(
    tag = "auth",
    operation_id = "requestPasswordReset",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted (whether or not the account exists)", body = Accepted),
    )
)]
#[post("/auth/password-reset")]
pub async fn password_reset(
    state: State,
    body: Json<PasswordResetRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let keys = logins::candidate_keys(&state.pii, &body.login);
    let (ip, pii) = (client_ip(&req), state.pii.clone());
    let ttl = TimeDelta::minutes(state.config.code_ttl_minutes);
    state
        .write(move |tx| {
            let Some(account) = persistence::accounts::find_by_login(tx, &keys)? else {
                return Ok(());
            };
            let at = now();
            let code = second_factor::new_numeric_code();
            let id = uuid::Uuid::now_v7().to_string();
            let hash = pii.keyed_hash(RESET, &format!("{id}:{code}"));
            let new = persistence::codes::NewCode {
                id: &id,
                account: account.id,
                purpose: RESET,
                code_hash: &hash,
                target: None,
                expires_at: at + ttl,
            };
            persistence::codes::issue(tx, &new, at)?;
            send_code(tx, &account, &code, "Код для смены пароля", at)?;
            let entry = AuditEntry::new("auth.password_reset_requested", "account")
                .target(account.id)
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Accepted().json(ACCEPTED))
}

/// Queues a one-time code to the account's e-mail (or phone when it has no e-mail).
pub fn send_code(
    tx: &mut DbConnection,
    account: &Account,
    code: &str,
    subject: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let (channel, to) = match (&account.row.email, &account.row.phone) {
        (Some(email), _) => (Channel::Email, email.clone()),
        (None, Some(phone)) => (Channel::Sms, phone.clone()),
        (None, None) => return Ok(()),
    };
    let message = Message {
        channel,
        to,
        subject: subject.into(),
        body: format!("Ваш код: {code}. Никому его не сообщайте."),
        code: Some(code.into()),
    };
    persistence::outbox::enqueue(tx, &message, None, at).map(|_| ())
}

/// Set a new password with the code sent by `password-reset`; ends every session.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirmPasswordReset",
    request_body = PasswordResetConfirm,
    responses(
        (status = 200, description = "The password has been changed", body = Accepted),
    )
)]
#[post("/auth/password-reset/confirm")]
pub async fn password_reset_confirm(
    state: State,
    body: Json<PasswordResetConfirm>,
    req: HttpRequest,
) -> Result<Json<Accepted>, ApiError> {
    let PasswordResetConfirm {
        login: typed,
        code,
        new_password,
    } = body.into_inner();
    let keys = logins::candidate_keys(&state.pii, &typed);
    let ip = client_ip(&req);
    let account = state
        .read(move |c| Ok(persistence::accounts::find_by_login(c, &keys)?))
        .await?;
    let invalid = || {
        ApiError::field(
            "code",
            "invalid_code",
            "The code is wrong, expired or used up; request a new one.",
        )
    };
    let Some(account) = account else {
        return Err(invalid());
    };
    let (pii, id, max) = (state.pii.clone(), account.id, state.config.code_max_attempts);
    let matched = state
        .write(move |tx| {
            Ok(second_factor::redeem(
                tx,
                &pii,
                id,
                RESET,
                None,
                &code,
                max,
                now(),
            )?)
        })
        .await?;
    if matched.is_none() {
        return Err(invalid());
    }
    let personal = [
        account.row.email.clone().unwrap_or_default(),
        account.row.surname.clone().unwrap_or_default(),
    ];
    state
        .config
        .password_policy()
        .check(
            &new_password,
            &personal.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .map_err(crate::error::from_field_error)?;
    let hash = blocking(move || passwords::hash(&new_password).map_err(ApiError::internal)).await?;
    state
        .write(move |tx| {
            let at = now();
            persistence::accounts::set_password(tx, id, &hash, at)?;
            sessions::revoke_all(tx, id, None, "password_reset", at)?;
            let body = "Пароль от вашего кабинета изменён, все сеансы завершены. Если это были не вы, обратитесь в поддержку.".to_string();
            let audit = AuditEntry::new("auth.password_reset", "account").by(Some(id)).target(id).from_ip(ip);
            alerts::raise(tx, Alert { account: id, kind: "password_changed", title: "Пароль изменён", body, audit }, at)?;
            Ok(())
        })
        .await?;
    Ok(Json(Accepted {
        status: "password_changed",
        detail: "The password has been changed; log in again.",
    }))
}
