//! Registering a citizen account, proving its e-mail and phone with the codes sent to them,
//! and an officer confirming a citizen's identity.

use actix_web::web::{Json, Path};
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use domain::account::{AccountLevel, RegistrationInput};
use domain::ids::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::network::client_ip;
use crate::auth::{passwords, Caller};
use crate::concurrency::etag;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::accounts::proofs::{self, ProofAttempt};
use crate::usecases::accounts::{identity, registration};
use crate::usecases::Acting;
use crate::views::profile::{PassportBody, ProfileView};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "surname": "Иванова", "given_name": "Мария", "patronymic": "Петровна", "birth_date": "1990-05-17",
    "snils": "112-233-445 95", "inn": "500100732259", "phone": "+7 916 123-45-67",
    "email": "maria@example.ru", "password": "Tundra-Violet-42",
    "passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}
}))]
pub struct RegistrationRequest {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    /// With or without separators; checked with its check digits.
    pub snils: String,
    /// A citizen's 12-digit INN, checked with its check digits.
    pub inn: Option<String>,
    /// E.164, e.g. +79161234567.
    pub phone: String,
    pub email: String,
    pub password: String,
    /// With the passport (and SNILS) the account starts at level `standard`.
    pub passport: Option<PassportBody>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "level": "confirmed"}))]
pub struct LevelView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AccountId,
    #[schema(value_type = String, example = "confirmed")]
    pub level: AccountLevel,
}

impl RegistrationRequest {
    /// What was typed, and the password apart from it.
    fn into_parts(self) -> (RegistrationInput, String) {
        let input = RegistrationInput {
            surname: self.surname,
            given_name: self.given_name,
            patronymic: self.patronymic,
            birth_date: self.birth_date,
            snils: self.snils,
            inn: self.inn,
            phone: self.phone,
            email: self.email,
            passport: self.passport.map(Into::into),
        };
        (input, self.password)
    }
}

/// Register a citizen account.
///
/// Caller: anyone, no token. Creates a citizen account at level `simplified` (or `standard`
/// when a passport is given) and sends a code to its e-mail and to its phone: each becomes
/// a login once its code comes back. 409 when a proven login is taken, without saying which
/// one.
#[utoipa::path(
    tag = "accounts",
    operation_id = "register",
    request_body = RegistrationRequest,
    responses(
        (status = 201, description = "Registered", body = ProfileView,
            headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::Busy),
    )
)]
#[post("/accounts")]
pub async fn register(
    state: State,
    body: Json<RegistrationRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (input, password) = body.into_inner().into_parts();
    let (pii, policy) = (state.pii.clone(), state.config.password_policy());
    let typed = password.clone();
    let checked = state
        .query(move |c, now| registration::check(c, &pii, &policy, input, &typed, now))
        .await?;
    // Hashed between the check and the transaction: argon2 is slow, and a write
    // transaction held through it would stall every other writer.
    let password_hash = state
        .passwords
        .run(move || passwords::hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    let (pii, ip) = (state.pii.clone(), client_ip(&req));
    let ttl = chrono::TimeDelta::minutes(state.config.code_ttl_minutes);
    let account = state
        .run(move |tx, now| registration::register(tx, (&pii, ttl), checked, password_hash, ip, now))
        .await?;
    let view = ProfileView::of(&account, &state.pii)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", "/api/v1/me"))
        .insert_header(("ETag", etag(view.version)))
        .json(view))
}

/// Confirm a citizen's identity.
///
/// Caller: an officer or an admin (anyone else: 403 `role_required`). Changes: raises the
/// account to level `confirmed`, which delegating, submitting and signing need; audited.
/// 409 `documents_missing` below `standard` (passport and SNILS first), `already_confirmed`
/// when it is.
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmIdentity",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Account id")),
    responses(
        (status = 200, description = "Confirmed", body = LevelView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/accounts/{id}/confirm-identity")]
pub async fn confirm_identity(
    state: State,
    caller: Caller,
    id: Path<AccountId>,
) -> Result<Json<LevelView>, ApiError> {
    let target = id.into_inner();
    let level = state
        .run_as(caller, move |tx, actor, now| {
            identity::confirm(tx, &Acting::from(actor), target, now)
        })
        .await?;
    Ok(Json(LevelView { id: target, level }))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"kind": "email", "code": "318204"}))]
pub struct ContactProof {
    /// `email` or `phone`.
    pub kind: String,
    /// The code sent to that contact at registration (or by the resend).
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"kind": "phone"}))]
pub struct ContactKindBody {
    /// `email` or `phone`.
    #[schema(pattern = "^(email|phone)$")]
    pub kind: String,
}

/// Prove a registered e-mail or phone with the code sent to it.
///
/// Caller: anyone, no token: the code is the proof. Changes: the contact becomes a login
/// and matches invitations; other accounts' unproven claims on it are released and their
/// holders told. A wrong code counts toward the code's tries; a contact another account
/// proved first is 409 `contact_unavailable`.
#[utoipa::path(
    tag = "accounts",
    operation_id = "proveContact",
    request_body = ContactProof,
    params(("id" = String, Path, format = Uuid, description = "Account id, as registration answered it")),
    responses(
        (status = 204, description = "The contact is proven (or was already)"),
        (status = 409, description = "`contact_unavailable`: another account proved this contact first", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/accounts/{id}/contact-proofs")]
pub async fn prove_contact(
    state: State,
    id: Path<AccountId>,
    body: Json<ContactProof>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let ContactProof { kind, code } = body.into_inner();
    let attempt = ProofAttempt {
        account: id.into_inner(),
        kind: proofs::kind_of(&kind)?,
        code,
        ip: client_ip(&req),
    };
    let (pii, tries) = (state.pii.clone(), state.config.code_max_attempts);
    state
        .run(move |tx, now| proofs::confirm(tx, (&pii, tries), attempt, now))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a new code to a registered e-mail or phone not proven yet.
///
/// Caller: anyone, no token. Changes: a fresh code replaces the previous one, if the
/// account has such an unproven contact. The answer is the same whatever the id or the
/// contact, so it tells a stranger nothing.
#[utoipa::path(
    tag = "accounts",
    operation_id = "resendContactCode",
    request_body = ContactKindBody,
    params(("id" = String, Path, format = Uuid, description = "Account id, as registration answered it")),
    responses(
        (status = 202, description = "A code is on its way if the contact waits for one", body = crate::views::accepted::Accepted),
    )
)]
#[post("/accounts/{id}/contact-proofs/code")]
pub async fn resend_contact_code(
    state: State,
    id: Path<AccountId>,
    body: Json<ContactKindBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = (id.into_inner(), proofs::kind_of(&body.kind)?);
    let (pii, ttl) = (
        state.pii.clone(),
        chrono::TimeDelta::minutes(state.config.code_ttl_minutes),
    );
    state
        .run(move |tx, now| proofs::resend(tx, &pii, id, kind, ttl, now))
        .await?;
    Ok(HttpResponse::Accepted().json(crate::views::accepted::ACCEPTED))
}
