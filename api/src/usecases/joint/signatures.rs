//! Simple electronic signatures of an application (as Gosuslugi uses them): a participant
//! signs the current content — the hash of its form and its attachments' hashes —
//! confirming with a fresh one-time code: the authenticator's TOTP when second factor is
//! on, otherwise a code sent through the outbox. An edit makes earlier signatures stale.

use chrono::TimeDelta;
use domain::access::Action;
use domain::application::Application;
use domain::ids::{AccountId, ApplicationId, SignatureId};
use domain::joint::{self as rules, ParticipantRole, Refusal, RequestKind, Signature, SignatureMethod};
use domain::notice::{Channel, Message};
use domain::time::Instant;
use persistence::accounts::Account;
use persistence::codes::Wanted;
use persistence::joint as store;
use persistence::DbConnection;
use serde_json::json;

use super::{members_among, recorded, refused, title, Tidings};
use crate::auth::second_factor;
use crate::concurrency::stale;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::applications::Parts;
use crate::usecases::proof::{self, Guards, Presented};
use crate::usecases::{Acting, Answered};
use crate::usecases::{Effects, Outcome};

const PURPOSE: &str = "application.sign";

/// The application's signatures, the hash of its current content, and who still has to
/// sign that content before submission.
pub struct Sheet {
    pub signatures: Vec<Signature>,
    pub content_hash: String,
    pub missing: Vec<(AccountId, ParticipantRole)>,
}

pub fn list(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<Sheet, ApiError> {
    let app = crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    let mut parts = Parts::of(&app);
    Ok(Sheet {
        content_hash: parts.content_hash(tx)?,
        signatures: store::signatures_of(tx, id)?,
        missing: parts.unsigned(tx)?,
    })
}

/// Sends the caller a one-time code for signing (for signers without an authenticator),
/// valid for `ttl`.
pub fn send_code(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    (pii, ttl): (&PiiCipher, TimeDelta),
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsSign, now)?;
    let account = persistence::accounts::find(tx, acting.account)?.ok_or_else(ApiError::not_found)?;
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
        expires_at: now + ttl,
    };
    persistence::codes::issue(tx, &new, now)?;
    if let Some(letter) = code_letter(&account, &code) {
        persistence::outbox::enqueue(tx, &letter, None, now)?;
    }
    Ok(Outcome::quiet(()))
}

/// The code to the account's e-mail (or phone when it has no e-mail); like the sign-in
/// codes, with this purpose's subject.
fn code_letter(account: &Account, code: &str) -> Option<Message> {
    let (channel, to) = match (&account.email, &account.phone) {
        (Some(email), _) => (Channel::Email, email.clone()),
        (None, Some(phone)) => (Channel::Sms, phone.clone()),
        (None, None) => return None,
    };
    Some(Message {
        channel,
        to,
        subject: "Код для подписания заявления".into(),
        body: format!("Ваш код: {code}. Никому его не сообщайте."),
        code: Some(code.into()),
    })
}

/// What a signer sends: the application version they sign.
pub struct SignInput {
    pub version: i64,
}

/// A signer's code that was checked: how they confirmed, and the application as it was
/// loaded for the check (in the same transaction, under the same authorization, so the
/// signing need not load it again). Only [`prove_signer`] makes one.
pub struct SignerProof {
    signer: AccountId,
    application: Application,
    method: SignatureMethod,
}

/// Checks the caller's one-time code for signing `id`: the authenticator's when second
/// factor is on (counted toward its lock), otherwise the newest code sent for signing this
/// application (its tries counted on the code). A wrong code comes back as a refusal in an
/// `Ok` outcome: the caller commits it, so its attempt stays counted, and answers with it.
pub fn prove_signer(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    code: String,
    (pii, guards): (&PiiCipher, Guards),
    now: Instant,
) -> Result<Outcome<Answered<SignerProof>>, ApiError> {
    let app = crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsSign, now)?;
    let account = persistence::accounts::find(tx, acting.account)?.ok_or_else(ApiError::not_found)?;
    let proof = |method| SignerProof {
        signer: account.id,
        application: app.clone(),
        method,
    };
    if account.totp.enabled {
        let proven = proof::prove(
            tx,
            (pii, guards),
            &account,
            Presented::Totp(code),
            acting.ip.clone(),
            now,
        )?;
        return Ok(proven.map(|answer| answer.map(|_| proof(SignatureMethod::Totp))));
    }
    let target = id.to_string();
    let wanted = Wanted {
        target: Some(&target),
        ..Wanted::purpose(PURPOSE)
    };
    let redeemed = second_factor::redeem(tx, pii, account.id, wanted, &code, guards.code_attempts, now)?;
    Ok(Outcome::quiet(match redeemed {
        Some(_) => Ok(proof(SignatureMethod::Code)),
        None => Err(ApiError::field(
            "code",
            "invalid_code",
            "The code is wrong or no longer valid.",
        )),
    }))
}

/// Signs the current content for the caller's principal, once their code was proven.
pub fn sign(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    input: SignInput,
    proven: SignerProof,
    now: Instant,
) -> Result<Outcome<Signature>, ApiError> {
    if proven.signer != acting.account || proven.application.id != id {
        return Err(ApiError::field(
            "code",
            "invalid_code",
            "The code is wrong or no longer valid.",
        ));
    }
    let app = proven.application;
    if app.version != input.version {
        return Err(stale(app.version));
    }
    if !rules::may_sign(app.status) {
        return Err(refused(Refusal::NotSignable));
    }
    let method = proven.method;
    let hash = Parts::of(&app).content_hash(tx)?;
    let signer = acting.principal();
    rules::check_not_signed(&store::signatures_of(tx, id)?, signer, &hash).map_err(refused)?;
    let participants = store::participants_of(tx, id)?;
    let role = rules::role_on(app.owner, &participants, signer).ok_or_else(ApiError::not_found)?;
    let signature = Signature {
        id: SignatureId::new(),
        application: id,
        account: signer,
        role,
        content_hash: hash,
        application_version: app.version,
        method,
        signed_at: now,
    };
    store::insert_signature(tx, &signature)?;
    store::fulfil_requests(tx, id, signer, RequestKind::Signature, None, now)?;
    let details = json!({
        "signature_id": signature.id, "content_hash": signature.content_hash,
        "version": app.version,
    });
    let everyone = members_among(&app, &participants);
    let tidings = Tidings {
        kind: "application.signature",
        title: format!("Заявление {}: подпись", title(&app)),
        body: "Участник подписал текущую версию заявления.".into(),
        data: json!({ "application_id": app.id, "account_id": signer, "version": app.version }),
    };
    let notices = tidings.to_others(&everyone, signer);
    let effects: Effects = recorded(acting, &app, "sign", None, details, everyone).notices(notices);
    Ok(Outcome::new(signature, effects))
}
