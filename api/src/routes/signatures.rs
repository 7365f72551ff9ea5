//! Simple electronic signatures of an application: the HTTP side of
//! `usecases::joint::signatures`. A participant signs the current version with a fresh
//! one-time code; an edit makes earlier signatures stale.

use actix_web::web::{Json, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::ids::{AccountId, ApplicationId, SignatureId};
use domain::joint::{ParticipantRole, Signature};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::joint::signatures::{self, SignInput};
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use domain::access::Action;
use persistence::DbConnection;

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
#[schema(example = json!({"account_id": "019a4c3e-0000-7000-8000-000000000002", "role": "co_applicant"}))]
pub struct Signer {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"account_id": "019a4c3e-0000-7000-8000-000000000001", "application_version": 4, "content_hash": "5d41402abc4b2a76b9719d911017c592ae0b1f3e2a8c5f0e6d1b7a2c3e4f5a6b", "current": true, "id": "019a4c50-0000-7000-8000-000000000003", "method": "totp", "role": "co_applicant", "signed_at": "2026-11-23T10:20:00Z"}], "content_hash": "5d41402abc4b2a76b9719d911017c592ae0b1f3e2a8c5f0e6d1b7a2c3e4f5a6b", "missing": [{"account_id": "019a4c3e-0000-7000-8000-000000000002", "role": "co_applicant"}]}))]
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
        method: s.method.as_str().into(),
        signed_at: s.signed_at,
        current: s.covers(current_hash),
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
///
/// Caller: whoever may read the application. Changes nothing. Each signature says whether
/// it covers the current content.
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
    caller: Caller,
    id: Path<ApplicationId>,
) -> Result<Json<SignatureList>, ApiError> {
    let id = id.into_inner();
    let sheet = state
        .query_as(caller, move |c, actor, now| {
            signatures::list(c, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(Json(SignatureList {
        items: sheet
            .signatures
            .iter()
            .map(|s| view(s, &sheet.content_hash))
            .collect(),
        missing: sheet
            .missing
            .into_iter()
            .map(|(account_id, role)| Signer { account_id, role })
            .collect(),
        content_hash: sheet.content_hash,
    }))
}

/// Send a one-time code for signing.
///
/// Caller: a signer — the owner or a co-applicant, in person (signing is never done on
/// behalf). Changes: a code goes to the caller's e-mail (or phone), for signers without an
/// authenticator app.
#[utoipa::path(
    tag = "joint",
    operation_id = "sendSigningCode",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 202, description = "A code is on its way to your e-mail or phone", body = crate::views::accepted::Accepted))
)]
#[post("/applications/{id}/signatures/code")]
pub async fn send(state: State, caller: Caller, id: Path<ApplicationId>) -> Result<HttpResponse, ApiError> {
    let (id, pii) = (id.into_inner(), state.pii.clone());
    let ttl = TimeDelta::minutes(state.config.code_ttl_minutes);
    state
        .run_as(caller, move |tx, actor, now| {
            signatures::send_code(tx, &Acting::from(actor), id, (&pii, ttl), now)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(crate::views::accepted::ACCEPTED))
}

/// Sign the current version of an application.
///
/// Caller: the owner or a co-applicant, in person, with a `confirmed` account (never on
/// behalf); requires `If-Match` naming the version and a fresh one-time code. Changes: a
/// simple electronic signature of that content. Wrong codes count toward the second
/// factor's lock (429 `factor_locked`).
#[utoipa::path(
    tag = "joint",
    operation_id = "signApplication",
    security(("bearer" = [])),
    request_body = SignBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader, IdempotencyKey),
    responses(
        (status = 201, description = "Signed", body = SignatureView),
        (status = 409, description = "`already_signed`, or `not_signable` outside the draft and information requests", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`factor_locked`: too many wrong codes; the second factor is locked for a while (`Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/signatures")]
pub async fn sign(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    version: IfMatch,
    body: Json<SignBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &caller, &*body)?;
    let (id, pii, guards) = (id.into_inner(), state.pii.clone(), state.config.guards());
    let (code, input) = (body.into_inner().code, SignInput { version: version.0 });
    // One transaction: a wrong code is refused after it commits, so its attempt stays
    // counted; a right one is spent by the signature it proves, and stays unspent if the
    // signing itself is refused (a stale If-Match, say), as nothing was signed with it.
    let answer = state
        .run_as(caller, move |tx, actor, now| {
            let acting = Acting::from(actor);
            let recheck = |tx: &mut DbConnection, _: &Answer| {
                replays::on_application(tx, &acting, id, Action::ApplicationsSign, now)
            };
            // A replay answers before the code is checked again: it was spent by the first request.
            if let Some(first) = idempotency::replayed(tx, key.as_ref(), recheck)? {
                return Ok(Outcome::quiet(Ok(first)));
            }
            let (proven, proving) =
                signatures::prove_signer(tx, &acting, id, code, (&pii, guards), now)?.into_parts();
            let proven = match proven {
                Ok(proven) => proven,
                Err(refused) => return Ok(Outcome::new(Err(refused), proving)),
            };
            let (answer, signing) = idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (signature, effects) =
                    signatures::sign(tx, &acting, id, input, proven, now)?.into_parts();
                let answer = Answer::created(&view(&signature, &signature.content_hash))?;
                Ok(Outcome::new(answer, effects))
            })?
            .into_parts();
            Ok(Outcome::new(Ok(answer), proving.and(signing)))
        })
        .await??;
    Ok(answer.respond())
}
