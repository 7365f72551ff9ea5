//! Logging in (password, then a second factor when enabled), refreshing and ending
//! sessions, and resetting a forgotten password.

use actix_web::web::{Json, Path};
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::account::Account;
use domain::ids::SessionId;
use persistence::sessions::Session;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::network::client_ip;
use crate::auth::session::{Origin, SessionRules, TokenPair};
use crate::auth::{actor::user_agent, logins, passwords, Actor, Caller};
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::proof::LoginKey;
use crate::usecases::sessions;
use crate::usecases::sessions::login::{LoginStep, PasswordAttempt, SecondFactorAttempt};
use crate::usecases::sessions::reset::{self, NewPassword, ResetRules};
use crate::usecases::sessions::{own, refresh as refreshing};
use crate::usecases::Acting;
use crate::validation::Valid;
use crate::views::accepted::{Accepted, ACCEPTED};
use validator::Validate;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "maria@example.ru", "password": "Tundra-Violet-42"}))]
pub struct LoginRequest {
    /// E-mail, phone, SNILS or staff user name (surrounding spaces are ignored, so one of
    /// its characters is not a space).
    #[schema(
        min_length = 1,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub login: String,
    #[schema(min_length = 1)]
    pub password: String,
}

/// Either tokens (`status` `authenticated`), or a request for the second factor (`status`
/// `mfa_required`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!({"status": "mfa_required", "mfa_token": "eyJhbGciOiJFZERTQSIsInR5cCI6Im1mYStqd3QifQ.e30.c2ln", "mfa_expires_in": 300}))]
pub enum LoginResponse {
    Authenticated(LoggedIn),
    MfaRequired(SecondFactorRequired),
}

// Each answer is a named schema stating its own `status`: client generators then see a
// plain union of two objects (one generator refuses an `allOf` inside a `oneOf`).

/// Logged in: the tokens.
#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    #[schema(inline)]
    status: Authenticated,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// The password was right; now send `mfa_token` with a code to `/api/v1/auth/login/mfa`.
#[derive(Serialize, ToSchema)]
pub struct SecondFactorRequired {
    #[schema(inline)]
    status: MfaRequired,
    mfa_token: String,
    /// Seconds the `mfa_token` stays valid.
    mfa_expires_in: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Authenticated {
    Authenticated,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum MfaRequired {
    MfaRequired,
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
#[schema(example = json!({"items": [{"created_at": "2026-11-23T10:00:00Z", "current": true, "expires_at": "2026-12-23T10:00:00Z", "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "ip": "203.0.113.7", "last_seen_at": "2026-11-23T10:14:00Z", "revoked_at": null, "revoked_reason": null, "user_agent": "Mozilla/5.0"}]}))]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

#[derive(Deserialize, ToSchema, Validate)]
#[schema(example = json!({"login": "maria@example.ru"}))]
pub struct PasswordResetRequest {
    #[schema(min_length = 1)]
    #[validate(length(min = 1))]
    pub login: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "maria@example.ru", "code": "318204", "new_password": "Glacier-Sonnet-77"}))]
pub struct PasswordResetConfirm {
    pub login: String,
    pub code: String,
    pub new_password: String,
}

impl From<LoginStep> for LoginResponse {
    fn from(step: LoginStep) -> LoginResponse {
        match step {
            LoginStep::Authenticated(tokens) => LoginResponse::authenticated(tokens),
            LoginStep::MfaRequired {
                mfa_token,
                expires_in,
            } => LoginResponse::MfaRequired(SecondFactorRequired {
                status: MfaRequired::MfaRequired,
                mfa_token,
                mfa_expires_in: expires_in,
            }),
        }
    }
}

impl LoginResponse {
    fn authenticated(tokens: TokenPair) -> LoginResponse {
        LoginResponse::Authenticated(LoggedIn {
            status: Authenticated::Authenticated,
            tokens,
        })
    }
}

impl SessionView {
    fn of(s: Session, current: SessionId) -> SessionView {
        SessionView {
            current: s.id == current,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason,
            ip: s.ip,
            user_agent: s.user_agent,
        }
    }
}

fn origin(req: &HttpRequest) -> Origin {
    Origin {
        ip: client_ip(req),
        user_agent: user_agent(req),
    }
}

/// Why the password is checked before the use case's transaction: argon2 takes tens of
/// milliseconds of CPU, and a write transaction held through it (on SQLite the only
/// writer) would serialise every login. An unknown login is checked against a decoy,
/// so both cases take the same time. Not checked at all when `worth` is false (a locked
/// login, an address the account does not allow): the use case refuses those first.
/// The check runs in the bounded password pool: a flood of logins is answered 503 `busy`
/// rather than starving every other request.
async fn check_password(
    state: &State,
    found: Option<&Account>,
    password: String,
    worth: bool,
) -> Result<bool, ApiError> {
    if !worth {
        return Ok(false);
    }
    let stored = found
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy().to_string());
    state
        .passwords
        .run(move || passwords::verify(&password, &stored))
        .await
}

/// Log in with a login and a password.
///
/// Caller: anyone, no token; the login is an e-mail, phone, SNILS or user name. Changes:
/// opens a session and answers its tokens, or answers `mfa_required` with an `mfa_token`
/// when TOTP is on. Failures count toward the login's lock (429 `account_locked`); an
/// address outside the account's allow-list is 403.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in, or a second factor is required", body = LoginResponse),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Busy),
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
    let (keys, origin) = (logins::candidate_keys(&state.pii, &typed), origin(&req));
    let (pii, ip) = (state.pii.clone(), origin.ip.clone());
    let (found, key, worth) = state
        .query(move |c, now| {
            let found = sessions::login::find_account(c, &keys)?;
            let key = LoginKey::of(found.as_ref(), &pii, &keys);
            let worth = sessions::login::worth_checking(c, found.as_ref(), &key, ip.as_deref(), now)?;
            Ok((found, key, worth))
        })
        .await?;
    let password_ok = check_password(&state, found.as_ref(), password, worth).await?;
    let attempt = PasswordAttempt {
        found,
        key,
        password_ok,
        origin,
    };
    let (rules, guards) = (SessionRules::of(&state), state.config.guards());
    let step = state
        .run(move |tx, now| sessions::login::with_password(tx, &rules, guards, attempt, now))
        .await??;
    Ok(Json(step.into()))
}

/// Complete a login with a TOTP code or a recovery code.
///
/// Caller: anyone holding the `mfa_token` from `login`. Changes: opens the session and
/// answers its tokens; a recovery code is used up. Wrong codes count toward the second
/// factor's lock (429).
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
    let attempt = SecondFactorAttempt {
        mfa_token,
        code,
        recovery_code,
        origin: origin(&req),
    };
    let (rules, guards, pii) = (SessionRules::of(&state), state.config.guards(), state.pii.clone());
    let tokens = state
        .run(move |tx, now| sessions::login::with_second_factor(tx, &rules, (guards, &pii), attempt, now))
        .await??;
    Ok(Json(LoginResponse::authenticated(tokens)))
}

/// Exchange a refresh token for new tokens.
///
/// Caller: anyone holding a refresh token (no bearer token needed). Changes: the refresh
/// token rotates. The same token again within a few seconds (two tabs) answers the same
/// pair; later, it means a copy exists and ends the whole session (401).
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
    let (rules, ip, presented) = (
        SessionRules::of(&state),
        client_ip(&req),
        body.into_inner().refresh_token,
    );
    let pair = state
        .run(move |tx, now| refreshing::refresh(tx, &rules, &presented, ip, now))
        .await??;
    Ok(Json(pair))
}

/// End the current session.
///
/// Caller: the signed-in account holder. Changes: the session of this access token ends,
/// with its refresh token; the access token stops working on the next request.
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
    let (acting, session) = (Acting::from(&actor), actor.session);
    state
        .run(move |tx, now| own::log_out(tx, &acting, session, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List your sessions (the 50 most recent).
///
/// Caller: the account holder only (sessions guard the account: never on behalf). Changes
/// nothing.
#[utoipa::path(
    tag = "auth",
    operation_id = "listSessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions, newest first", body = SessionList),
    )
)]
#[get("/auth/sessions")]
pub async fn list_sessions(state: State, caller: Caller) -> Result<Json<SessionList>, ApiError> {
    let current = caller.session();
    let listed = state
        .query_as(caller, move |c, actor, now| {
            own::list(c, &Acting::from(actor), now)
        })
        .await?;
    let items = listed.into_iter().map(|s| SessionView::of(s, current)).collect();
    Ok(Json(SessionList { items }))
}

/// End one of your sessions.
///
/// Caller: the account holder only (never on behalf). Changes: that session and its tokens
/// stop working at the next request; audited. Someone else's session is 404.
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
    caller: Caller,
    id: Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session = id.into_inner();
    state
        .run_as(caller, move |tx, actor, now| {
            own::end_one(tx, &Acting::from(actor), session, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password-reset code.
///
/// Caller: anyone, no token. Changes: a one-time code goes to the account's proven contact,
/// if the login names an account; the answer is the same whether or not it does.
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
    body: Valid<PasswordResetRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let keys = logins::candidate_keys(&state.pii, &body.login);
    let (ip, pii) = (client_ip(&req), state.pii.clone());
    let ttl = TimeDelta::minutes(state.config.code_ttl_minutes);
    state
        .run(move |tx, now| reset::request(tx, &pii, &keys, ttl, ip, now))
        .await?;
    Ok(HttpResponse::Accepted().json(ACCEPTED))
}

/// Set a new password with the code sent by `password-reset`.
///
/// Caller: anyone holding the reset code. Changes: the new password is set and every
/// session of the account ends. A wrong code counts its try; a refused password still uses
/// up the code.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirmPasswordReset",
    request_body = PasswordResetConfirm,
    responses(
        (status = 200, description = "The password has been changed", body = Accepted),
        (status = 503, response = crate::openapi::Busy),
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
    let login_keys = logins::candidate_keys(&state.pii, &typed);
    // Hashed before the transaction, for the reason `check_password` gives.
    let password = new_password.clone();
    let hash = state
        .passwords
        .run(move || passwords::hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    let input = NewPassword {
        login_keys,
        code,
        password: new_password,
        hash,
    };
    let rules = ResetRules {
        policy: state.config.password_policy(),
        max_attempts: state.config.code_max_attempts,
    };
    let (pii, ip) = (state.pii.clone(), client_ip(&req));
    state
        .run(move |tx, now| reset::confirm(tx, &pii, &rules, input, ip, now))
        .await??;
    Ok(Json(Accepted {
        status: "password_changed",
        detail: "The password has been changed; log in again.",
    }))
}
