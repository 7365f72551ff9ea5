//! Proving a contact (issue 14, C.9): a registration's e-mail and phone are claims until the
//! code sent to each comes back. Only then does the contact become a login key — and match
//! invitations, delegations and resets by login — so someone who types another person's
//! address gets nothing from it. Claims are not unique: the first to prove a contact gets
//! it, and the other claims on it are released, their holders told.

use chrono::TimeDelta;
use domain::account::Account;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::{Channel, Message, Notice};
use domain::person::Phone;
use domain::time::Instant;
use persistence::accounts::{self, ContactKind};
use persistence::codes::{self, NewCode, Wanted};
use persistence::{outbox, DbConnection};
use serde_json::json;

use crate::auth::second_factor;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::{Answered, Effects, Outcome};

/// Which contact, as the API names it.
pub fn kind_of(text: &str) -> Result<ContactKind, ApiError> {
    match text {
        "email" => Ok(ContactKind::Email),
        "phone" => Ok(ContactKind::Phone),
        _ => Err(ApiError::field(
            "kind",
            "invalid_value",
            "kind is email or phone.",
        )),
    }
}

fn name(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Email => "email",
        ContactKind::Phone => "phone",
    }
}

fn purpose(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Email => "contact_proof.email",
        ContactKind::Phone => "contact_proof.phone",
    }
}

/// The account's contact of `kind` while it still waits for its proof.
fn unproven(account: &Account, kind: ContactKind) -> Option<&str> {
    match kind {
        ContactKind::Email => account.email.as_deref().filter(|_| !account.proven.email),
        ContactKind::Phone => account.phone.as_deref().filter(|_| !account.proven.phone),
    }
}

/// Sends a fresh proof code to the account's unproven contact of `kind`, if it has one.
pub fn send(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    account: &Account,
    kind: ContactKind,
    ttl: TimeDelta,
    now: Instant,
) -> Result<(), ApiError> {
    let Some(to) = unproven(account, kind) else {
        return Ok(());
    };
    let code = second_factor::new_numeric_code();
    let id = uuid::Uuid::now_v7().to_string();
    let hash = pii.keyed_hash(purpose(kind), &format!("{id}:{code}"));
    let new = NewCode {
        id: &id,
        account: account.id,
        purpose: purpose(kind),
        code_hash: &hash,
        target: Some(to),
        expires_at: now + ttl,
    };
    codes::issue(tx, &new, now)?;
    let channel = match kind {
        ContactKind::Email => Channel::Email,
        ContactKind::Phone => Channel::Sms,
    };
    let message = Message {
        channel,
        to: to.to_string(),
        subject: "Подтверждение контакта".into(),
        body: format!("Код подтверждения: {code}. Никому его не сообщайте."),
        code: Some(code),
    };
    outbox::enqueue(tx, &message, None, now)?;
    Ok(())
}

/// Another code for account `id`'s unproven contact. Answers alike whether or not there is
/// such an account or contact: the caller is not signed in.
pub fn resend(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    id: AccountId,
    kind: ContactKind,
    ttl: TimeDelta,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    if let Some(account) = accounts::find(tx, id)? {
        send(tx, pii, &account, kind, ttl, now)?;
    }
    Ok(Outcome::quiet(()))
}

/// A code for a contact of account `id`, and what checking it needs.
pub struct ProofAttempt {
    pub account: AccountId,
    pub kind: ContactKind,
    pub code: String,
    pub ip: Option<String>,
}

/// Proves the contact with its code; a wrong code still counts its try (a refusal that
/// commits). A contact proven already answers as proven; an account that does not exist
/// answers like a wrong code.
pub fn confirm(
    tx: &mut DbConnection,
    (pii, max_attempts): (&PiiCipher, i32),
    attempt: ProofAttempt,
    now: Instant,
) -> Result<Outcome<Answered<()>>, ApiError> {
    let wrong = || ApiError::field("code", "invalid_code", "The code is wrong, expired or used up.");
    let ProofAttempt {
        account: id,
        kind,
        code,
        ip,
    } = attempt;
    let Some(account) = accounts::find(tx, id)? else {
        return Ok(Outcome::quiet(Err(wrong())));
    };
    let Some(value) = unproven(&account, kind).map(str::to_string) else {
        return Ok(Outcome::quiet(Ok(())));
    };
    let wanted = Wanted {
        target: Some(&value),
        ..Wanted::purpose(purpose(kind))
    };
    let redeemed = second_factor::redeem(tx, pii, id, wanted, &code, max_attempts, now)?;
    if redeemed.is_none() {
        return Ok(Outcome::quiet(Err(wrong())));
    }
    let key = match kind {
        ContactKind::Email => domain::login::email_key(&value),
        ContactKind::Phone => {
            let phone =
                Phone::parse(&value).map_err(|_| ApiError::internal("a stored phone does not parse"))?;
            domain::login::phone_key(&phone)
        }
    };
    // The claimed contact replaces itself, proven: no old login key to drop.
    let Some(others) = accounts::replace_contact(tx, id, kind, &value, None, &key, now)? else {
        let taken = ApiError::conflict(
            "contact_unavailable",
            "This contact belongs to another account; log in there or reset its password.",
        );
        return Ok(Outcome::quiet(Err(taken)));
    };
    let entry = AuditEntry::new("account.contact_proven", "account")
        .by(Some(id))
        .target(id)
        .details(json!({ "kind": name(kind) }))
        .from_ip(ip);
    Ok(Outcome::new(
        Ok(()),
        Effects::none().audit(entry).and(released(&others, name(kind))),
    ))
}

/// What the holders of released claims hear (and the audit keeps): another account proved
/// the contact their account named.
pub fn released(accounts: &[AccountId], what: &str) -> Effects {
    accounts.iter().fold(Effects::none(), |effects, account| {
        let notice = Notice {
            recipient: *account,
            kind: "account.claim_released".into(),
            title: "Данные учётной записи изменены".into(),
            body: format!(
                "Другой пользователь подтвердил, что {what} принадлежит ему; из вашей учётной записи эти данные удалены."
            ),
            data: json!({ "released": what }),
            important: true,
        };
        let entry = AuditEntry::new("account.claim_released", "account")
            .target(*account)
            .details(json!({ "released": what }));
        effects.notice(notice).audit(entry)
    })
}
