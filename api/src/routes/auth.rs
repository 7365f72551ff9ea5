//! Logging in with a login and a password.

use actix_web::{post, web::Json, HttpRequest};
use domain::audit::AuditEntry;
use domain::ids::SessionId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{passwords, AccessClaims};
use crate::clock::now;
use crate::error::ApiError;
use crate::state::{blocking, State};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"login": "admin", "password": "Demo-Admin-2026!"}))]
pub struct LoginRequest {
    /// E-mail, phone, SNILS or staff user name.
    #[schema(min_length = 1)]
    pub login: String,
    #[schema(min_length = 1)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjVmMmIxYzBhOWU4ZDdjNmIifQ.eyJzdWIiOiIuLi4ifQ.sig", "token_type": "Bearer", "expires_in": 900}))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Log in with a login and password; answers an access token.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: State,
    body: Json<LoginRequest>,
    req: HttpRequest,
) -> Result<Json<TokenResponse>, ApiError> {
    let LoginRequest { login, password } = body.into_inner();
    if login.trim().is_empty() {
        return Err(ApiError::field("login", "required", "login is required"));
    }
    let ip = req.connection_info().realip_remote_addr().map(str::to_string);
    let keys = domain::login::candidate_keys(&login);
    let found = state
        .read(move |conn| Ok(persistence::accounts::find_credentials(conn, &keys)?))
        .await?;
    // Verify against a decoy when the login is unknown, so both cases take the same time.
    let stored = found
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy().to_string());
    let password_ok = blocking(move || Ok(passwords::verify(&password, &stored))).await?;
    let at = now();
    let account = found.filter(|_| password_ok);
    let entry = match &account {
        Some(credentials) => AuditEntry::new("auth.login", "account")
            .by(Some(credentials.id))
            .target(credentials.id),
        None => {
            AuditEntry::new("auth.login_failed", "account").details(json!({ "reason": "bad_credentials" }))
        }
    };
    let entry = entry.from_ip(ip);
    state
        .write(move |tx| Ok(persistence::audit::record(tx, entry, at)?))
        .await?;
    let Some(credentials) = account else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "The login or password is wrong.",
        ));
    };
    let ttl = state.config.access_token_ttl_secs;
    let claims = AccessClaims {
        iss: crate::auth::ISSUER.into(),
        sub: credentials.id,
        sid: SessionId::new(),
        roles: credentials.roles,
        iat: at.timestamp(),
        exp: at.timestamp() + ttl,
        amr: vec!["pwd".into()],
    };
    let access_token = state.tokens.issue(&claims).map_err(ApiError::internal)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
    }))
}
