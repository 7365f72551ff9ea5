//! Simple electronic signatures of an application (as Gosuslugi uses them): a participant
//! signs the current version — the hash of its form and its attachments' hashes —
//! confirming with a fresh one-time code: the authenticator's TOTP when second factor is
//! on, otherwise a code sent through the outbox. An edit makes earlier signatures stale.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::access::Action;
use domain::ids::{AccountId, ApplicationId, SignatureId};
use domain::joint::{self as rules, ParticipantRole, RequestKind};
use persistence::joint::{self as store, Signature};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::second_factor::send_code;
use crate::auth::{second_factor, Actor};
use crate::clock::now;
use crate::concurrency::{stale, IfMatch};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::joint::{self, Tidings};
use crate::lifecycle::{self, Acting};
use crate::state::State;

const PURPOSE: &str = "application.sign";

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c50-0000-7000-8000-000000000003", "account_id": "019a4c3e-0000-7000-8000-000000000001",
    "role": "co_applicant", "content_hash": "5d41402abc4b2a76b9719d911017c592ae0b1f3e2a8c5f0e6d1b7a2c3e4f5a6b",
    "application_version": 4, "method": "totp", "signed_at": "2026-11-23T10:20:00Z", "current": true
}))]
pub struct SignatureView {
    #[schema(value_type = String, format = Uuid)]
    pub id: SignatureId,
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
    /// SHA-256 of the signed form and attachment hashes.
    pub content_hash: String,
    pub application_version: i64,
    /// `totp` or `code`.
    pub method: String,
    pub signed_at: chrono::DateTime<chrono::Utc>,
    /// Whether it covers the application as it is now (an edit makes it stale).
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Signer {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
}

#[derive(Serialize, ToSchema)]
pub struct SignatureList {
    pub items: Vec<SignatureView>,
    /// The hash of the current version.
    pub content_hash: String,
    /// Who still has to sign the current version before submission.
    pub missing: Vec<Signer>,
}

fn view(s: &Signature, current_hash: &str) -> SignatureView {
    SignatureView {
        id: s.id,
        account_id: s.account,
        role: s.role,
        content_hash: s.content_hash.clone(),
        application_version: s.application_version,
        method: s.method.clone(),
        signed_at: s.signed_at,
        current: s.content_hash == current_hash,
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct SignBody {
    /// The authenticator's code, or the code sent by `POST …/signatures/code`.
    pub code: String,
}

/// The application's signatures and who still has to sign.
#[utoipa::path(
    tag = "joint",
    operation_id = "listSignatures",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Signatures", body = SignatureList))
)]
#[get("/applications/{id}/signatures")]
pub async fn list(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
) -> Result<Json<SignatureList>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let list = state
        .read(move |c| {
            let app = lifecycle::visible(c, &acting, id, Action::ApplicationsRead)?;
            let hash = lifecycle::content_hash(c, &app)?;
            let items = store::signatures_of(c, id)?
                .iter()
                .map(|s| view(s, &hash))
                .collect();
            let missing = lifecycle::unsigned(c, &app)?
                .into_iter()
                .map(|(account_id, role)| Signer { account_id, role })
                .collect();
            Ok(SignatureList {
                items,
                content_hash: hash,
                missing,
            })
        })
        .await?;
    Ok(Json(list))
}

/// Send a one-time code for signing (for signers without an authenticator).
#[utoipa::path(
    tag = "joint",
    operation_id = "sendSigningCode",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 202, description = "A code is on its way to your e-mail or phone", body = super::auth::Accepted))
)]
#[post("/applications/{id}/signatures/code")]
pub async fn send(state: State, actor: Actor, id: Path<ApplicationId>) -> Result<HttpResponse, ApiError> {
    let (id, acting, pii) = (id.into_inner(), Acting::from(&actor), state.pii.clone());
    let ttl = TimeDelta::minutes(state.config.code_ttl_minutes);
    state
        .write(move |tx| {
            lifecycle::visible(tx, &acting, id, Action::ApplicationsSign)?;
            let account = persistence::accounts::find(tx, acting.account)?.ok_or_else(ApiError::not_found)?;
            let at = now();
            let code = second_factor::new_numeric_code();
            let code_id = uuid::Uuid::now_v7().to_string();
            let hash = pii.keyed_hash(PURPOSE, &format!("{code_id}:{code}"));
            let target = id.to_string();
            let new = persistence::codes::NewCode {
                id: &code_id,
                account: account.id,
                purpose: PURPOSE,
                code_hash: &hash,
                target: Some(&target),
                expires_at: at + ttl,
            };
            persistence::codes::issue(tx, &new, at)?;
            send_code(tx, &account, &code, "Код для подписания заявления", at)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Accepted().json(super::auth::ACCEPTED))
}

/// Sign the current version (requires `If-Match` naming it and a fresh one-time code).
#[utoipa::path(
    tag = "joint",
    operation_id = "signApplication",
    security(("bearer" = [])),
    request_body = SignBody,
    params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header), IdempotencyKey),
    responses(
        (status = 201, description = "Signed", body = SignatureView),
        (status = 409, description = "`already_signed`, or `not_signable` outside the draft and information requests", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/signatures")]
pub async fn sign(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<SignBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, acting, pii) = (id.into_inner(), Acting::from(&actor), state.pii.clone());
    let attempts = state.config.code_max_attempts;
    let code = body.into_inner().code;
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                let app = lifecycle::visible(tx, &acting, id, Action::ApplicationsSign)?;
                if app.version != version.0 {
                    return Err(stale(app.version));
                }
                if !rules::may_sign(app.status) {
                    return Err(ApiError::conflict(
                        "not_signable",
                        "Signing is open in the draft and while the agency asks for information.",
                    ));
                }
                let account =
                    persistence::accounts::find(tx, acting.account)?.ok_or_else(ApiError::not_found)?;
                let at = now();
                let method = if account.totp.enabled {
                    second_factor::check_totp(tx, &pii, &account, &code, at)?.then_some("totp")
                } else {
                    let target = id.to_string();
                    second_factor::redeem(tx, &pii, account.id, PURPOSE, None, &code, attempts, at)?
                        .filter(|t| t.as_deref() == Some(target.as_str()))
                        .map(|_| "code")
                };
                let Some(method) = method else {
                    return Err(ApiError::field(
                        "code",
                        "invalid_code",
                        "The code is wrong or no longer valid.",
                    ));
                };
                let hash = lifecycle::content_hash(tx, &app)?;
                let signer = acting.principal();
                if store::signatures_of(tx, id)?
                    .iter()
                    .any(|s| s.account == signer && s.content_hash == hash)
                {
                    return Err(ApiError::conflict(
                        "already_signed",
                        "You have already signed this version.",
                    ));
                }
                let role = if signer == app.owner {
                    ParticipantRole::Owner
                } else {
                    store::role_of(tx, id, signer)?.ok_or_else(ApiError::not_found)?
                };
                let signature = Signature {
                    id: SignatureId::new(),
                    application: id,
                    account: signer,
                    role,
                    content_hash: hash,
                    application_version: app.version,
                    method: method.into(),
                    signed_at: at,
                };
                store::insert_signature(tx, &signature)?;
                store::fulfil_requests(tx, id, signer, RequestKind::Signature, None, at)?;
                let details = json!({
                    "signature_id": signature.id, "content_hash": signature.content_hash,
                    "version": app.version,
                });
                joint::record(tx, &acting, &app, "sign", None, details, at)?;
                let tidings = Tidings {
                    kind: "application.signature",
                    title: format!("Заявление {}: подпись", joint::title(&app)),
                    body: "Участник подписал текущую версию заявления.".into(),
                    data: json!({ "application_id": app.id, "account_id": signer, "version": app.version }),
                };
                joint::tell_others(tx, &app, signer, &tidings, at)?;
                Answer::created(&view(&signature, &signature.content_hash))
            })
        })
        .await?;
    Ok(answer.respond())
}
