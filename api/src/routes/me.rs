//! The caller's own account: profile, documents and allow-list, the TOTP second factor,
//! and changing the e-mail or phone (confirmed by a code sent to the new contact).

use actix_web::web::{Json, Path};
use actix_web::{delete, get, patch, post, HttpResponse};
use chrono::TimeDelta;
use domain::account::Account;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{passwords, Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::accounts::contacts;
use crate::usecases::accounts::profile::{self, ProfileChanges};
use crate::usecases::accounts::{load, second_factor};
use crate::usecases::proof::{self, Presented, Proven};
use crate::usecases::Acting;
use crate::views::profile::{PassportBody, ProfileView};

fn profile_response(account: &Account, state: &State) -> Result<HttpResponse, ApiError> {
    let view = ProfileView::of(account, &state.pii)?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(view.version)))
        .json(view))
}

/// Your profile, with your personal data.
///
/// Caller: the account holder, or a representative with `profile.read` (then the
/// principal's profile). Changes nothing; personal data is decrypted for this answer only.
#[utoipa::path(
    tag = "accounts",
    operation_id = "getMe",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your profile", body = ProfileView,
            headers(("ETag" = String, description = "The version, for If-Match"))),
    )
)]
#[get("/me")]
pub async fn get_me(state: State, caller: Caller) -> Result<HttpResponse, ApiError> {
    let account = state
        .query_as(caller, move |c, actor, now| {
            profile::read(c, &Acting::from(actor), now)
        })
        .await?;
    profile_response(&account, &state)
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}, "ip_allow_list": ["203.0.113.0/24"]}))]
pub struct ProfilePatch {
    /// Giving or changing the passport sets the level to `standard` (a changed passport
    /// must be confirmed again).
    pub passport: Option<PassportBody>,
    pub inn: Option<String>,
    /// Addresses or CIDR networks logins and tokens may come from; `[]` allows every address.
    pub ip_allow_list: Option<Vec<String>>,
}

/// Update your documents or IP allow-list.
///
/// Caller: the account holder (requires `If-Match`); a representative with `profile.edit`
/// may change the INN only. Changes: the passport (which can raise the level to
/// `standard`), the INN, the IP allow-list. The passport (`identity.manage`) and the
/// allow-list (`credentials.manage`) are never done on behalf: 403 `action_not_covered`.
#[utoipa::path(
    tag = "accounts",
    operation_id = "patchMe",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    params(IfMatchHeader),
    responses(
        (status = 200, description = "The updated profile", body = ProfileView),
        (status = 403, description = "Not allowed. On behalf, the passport (`identity.manage`) and the IP allow-list (`credentials.manage`) are never covered, whatever the delegation: `action_not_covered`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::openapi::Unprocessable),
    )
)]
#[patch("/me")]
pub async fn patch_me(
    state: State,
    caller: Caller,
    version: IfMatch,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner();
    let changes = ProfileChanges {
        passport: patch.passport.map(Into::into),
        inn: patch.inn,
        ip_allow_list: patch.ip_allow_list,
    };
    let pii = state.pii.clone();
    let account = state
        .run_as(caller, move |tx, actor, now| {
            profile::change(tx, &Acting::from(actor), &pii, version.0, changes, now)
        })
        .await?;
    profile_response(&account, &state)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/Kabinet:maria%40example.ru?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Kabinet"}))]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// Scan this (as a QR code) with an authenticator app.
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "492039"}))]
pub struct CodeBody {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"recovery_codes": ["ABCDE-23456", "FGHJK-78923"]}))]
pub struct RecoveryCodes {
    /// Shown once: each logs in once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// Start TOTP enrolment.
///
/// Caller: the account holder only (`credentials.manage`, never on behalf). Changes: a new
/// secret to put into an authenticator app, not in force until confirmed; audited. 409 when
/// TOTP is on already.
#[utoipa::path(
    tag = "accounts",
    operation_id = "startTotp",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Enrolment started; confirm it with a first code", body = TotpEnrolment),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/mfa/totp")]
pub async fn start_totp(state: State, caller: Caller) -> Result<HttpResponse, ApiError> {
    let pii = state.pii.clone();
    let started = state
        .run_as(caller, move |tx, actor, now| {
            second_factor::start(tx, &Acting::from(actor), &pii, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(TotpEnrolment {
        secret: started.secret,
        otpauth_uri: started.otpauth_uri,
    }))
}

/// Confirm TOTP enrolment with a first code.
///
/// Caller: the account holder only (never on behalf). Changes: TOTP is on from now (logins
/// ask for a code); answers the recovery codes, shown this once. 409 without an enrolment
/// in progress.
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmTotp",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/mfa/totp/confirm")]
pub async fn confirm_totp(
    state: State,
    caller: Caller,
    body: Json<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let (pii, code) = (state.pii.clone(), body.into_inner().code);
    let recovery_codes = state
        .run_as(caller, move |tx, actor, now| {
            second_factor::confirm(tx, &Acting::from(actor), &pii, &code, now)
        })
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turn TOTP off with a current code.
///
/// Caller: the account holder only (never on behalf). Changes: TOTP is off and the recovery
/// codes void; audited. Wrong codes count toward the second factor's lock (401
/// `invalid_code`, then 429 `factor_locked`).
#[utoipa::path(
    tag = "accounts",
    operation_id = "disableTotp",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 401, description = "`invalid_code`: the code is wrong or was used already (counted toward the second factor's lock)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
        (status = 429, description = "`factor_locked`: too many wrong codes; the second factor is locked for a while (`Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me/mfa/totp")]
pub async fn disable_totp(
    state: State,
    actor: Actor,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let (acting, pii, code) = (Acting::from(&actor), state.pii.clone(), body.into_inner().code);
    let (who, guards) = (acting.clone(), state.config.guards());
    let proven = state
        .run(move |tx, now| proof::prove_self(tx, &who, (&pii, guards), Presented::Totp(code), now))
        .await??;
    state
        .run(move |tx, now| second_factor::disable(tx, &acting, proven, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"kind": "email", "value": "maria.new@example.ru", "password": "Tundra-Violet-42"}))]
pub struct ContactChangeRequest {
    /// `email` or `phone`.
    pub kind: String,
    pub value: String,
    /// Your password, or instead a current TOTP code in `totp_code`.
    pub password: Option<String>,
    pub totp_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "kind": "email", "expires_at": "2026-11-23T10:10:00Z"}))]
pub struct ContactChange {
    pub id: String,
    pub kind: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The holder proves themselves again, in a transaction of its own so that a wrong guess
/// stays counted (toward the login lock for a password, the second factor's for a code).
/// The password is hashed before that transaction: argon2 is slow, and a write
/// transaction held through it would stall every other writer.
async fn reauthenticate(
    state: &State,
    acting: &Acting,
    password: Option<String>,
    totp_code: Option<String>,
) -> Result<Proven, ApiError> {
    let presented = match (password, totp_code) {
        (Some(password), _) => {
            let id = acting.account;
            let stored = state.query(move |c, _| load(c, id)).await?.password_hash;
            Presented::Password(
                state
                    .passwords
                    .run(move || passwords::verify(&password, &stored))
                    .await?,
            )
        }
        (None, Some(code)) => Presented::Totp(code),
        (None, None) => {
            return Err(ApiError::field(
                "password",
                "required",
                "Confirm with your password or a TOTP code.",
            ))
        }
    };
    let (who, pii, guards) = (acting.clone(), state.pii.clone(), state.config.guards());
    state
        .run(move |tx, now| proof::prove_self(tx, &who, (&pii, guards), presented, now))
        .await?
}

/// Start changing your e-mail or phone.
///
/// Caller: the account holder only (never on behalf), proving themselves again with the
/// password or a code. Changes: a code goes to the new contact; nothing else changes until
/// it is confirmed. Wrong proofs count toward the login or second-factor lock (403
/// `reauthentication_failed`, 429).
#[utoipa::path(
    tag = "accounts",
    operation_id = "startContactChange",
    security(("bearer" = [])),
    request_body = ContactChangeRequest,
    responses(
        (status = 202, description = "A code was sent to the new contact", body = ContactChange),
        (status = 403, description = "`reauthentication_failed`: the password or code is wrong (counted toward the login lock or the second factor's)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`account_locked` or `factor_locked`: too many wrong passwords or codes (`Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Busy),
    )
)]
#[post("/me/contact-changes")]
pub async fn start_contact_change(
    state: State,
    actor: Actor,
    body: Json<ContactChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let ContactChangeRequest {
        kind,
        value,
        password,
        totp_code,
    } = body.into_inner();
    let acting = Acting::from(&actor);
    let proof = reauthenticate(&state, &acting, password, totp_code).await?;
    let pii = state.pii.clone();
    let ttl = TimeDelta::minutes(state.config.code_ttl_minutes);
    let started = state
        .run(move |tx, now| contacts::start(tx, &acting, &pii, ttl, kind, &value, proof, now))
        .await?;
    Ok(HttpResponse::Accepted().json(ContactChange {
        id: started.id,
        kind: started.kind,
        expires_at: started.expires_at,
    }))
}

/// Confirm a contact change with the code sent to the new contact.
///
/// Caller: the account holder who started the change. Changes: the new contact replaces the
/// old one as a login, and the old contact is told. A wrong code counts its try; a change
/// already used or expired is 409.
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmContactChange",
    security(("bearer" = [])),
    request_body = CodeBody,
    params(("id" = String, Path, description = "The contact change id")),
    responses(
        (status = 200, description = "The contact is changed", body = ProfileView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/contact-changes/{id}/confirm")]
pub async fn confirm_contact_change(
    state: State,
    actor: Actor,
    id: Path<String>,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let (acting, pii, max) = (
        Acting::from(&actor),
        state.pii.clone(),
        state.config.code_max_attempts,
    );
    let (change, code) = (id.into_inner(), body.into_inner().code);
    // A wrong code must still count its try, so the refusal is answered after the commit.
    let updated = state
        .run(move |tx, now| contacts::confirm(tx, &acting, &pii, max, &change, &code, now))
        .await??;
    profile_response(&updated, &state)
}
