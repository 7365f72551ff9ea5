//! Changing the e-mail or phone: the holder proves themselves again, a code goes to the new
//! contact, and the change takes effect with that code. The old contact hears about it.

use chrono::TimeDelta;
use domain::account::Account;
use domain::audit::AuditEntry;
use domain::notice::{Channel, Message};
use domain::person::{Email, Phone};
use domain::time::Instant;
use persistence::accounts::{self, ContactKind};
use persistence::codes::{self, NewCode, Wanted};
use persistence::{outbox, DbConnection};
use serde_json::json;

use super::load;
use crate::auth::alerts::Alert;
use crate::auth::second_factor;
use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};
use crate::usecases::proof::Proven;
use crate::usecases::Acting;
use crate::usecases::Answered;
use crate::usecases::{Effects, Outcome};

const CONTACT: &str = "contact_change";

/// A started change: its id (for the confirmation) and when its code expires.
pub struct Started {
    pub id: String,
    pub kind: String,
    pub expires_at: Instant,
}

/// The new contact's channel and canonical form; 422 for an unknown kind or a bad value.
fn new_contact(kind: &str, value: &str) -> Result<(Channel, String), ApiError> {
    match kind {
        "email" => Ok((
            Channel::Email,
            Email::parse(value)
                .map_err(from_field_error)?
                .as_str()
                .to_string(),
        )),
        "phone" => Ok((
            Channel::Sms,
            Phone::parse(value)
                .map_err(from_field_error)?
                .as_str()
                .to_string(),
        )),
        _ => Err(ApiError::field(
            "kind",
            "invalid_value",
            "kind is email or phone.",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn start(
    tx: &mut DbConnection,
    who: &Acting,
    pii: &PiiCipher,
    code_ttl: TimeDelta,
    kind: String,
    value: &str,
    proven: Proven,
    now: Instant,
) -> Result<Outcome<Started>, ApiError> {
    who.manages_own_credentials(now)?;
    let (channel, canonical) = new_contact(&kind, value)?;
    let account = load(tx, who.account)?;
    if proven.account() != account.id {
        return Err(ApiError::forbidden(
            "reauthentication_failed",
            "Confirm with your password or a code.",
        ));
    }
    let code = second_factor::new_numeric_code();
    let id = uuid::Uuid::now_v7().to_string();
    let hash = pii.keyed_hash(CONTACT, &format!("{id}:{code}"));
    let target = format!("{kind}:{canonical}");
    let expires_at = now + code_ttl;
    let new = NewCode {
        id: &id,
        account: account.id,
        purpose: CONTACT,
        code_hash: &hash,
        target: Some(&target),
        expires_at,
    };
    codes::issue(tx, &new, now)?;
    let message = Message {
        channel,
        to: canonical,
        subject: "Подтверждение нового контакта".into(),
        body: format!("Код подтверждения: {code}. Никому его не сообщайте."),
        code: Some(code),
    };
    outbox::enqueue(tx, &message, None, now)?;
    let entry = AuditEntry::new("account.contact_change_requested", "account")
        .by(Some(account.id))
        .target(account.id)
        .details(json!({ "kind": kind }))
        .from_ip(who.ip.clone());
    Ok(Outcome::new(
        Started { id, kind, expires_at },
        Effects::none().audit(entry),
    ))
}

/// Confirms change `change` with `code`. A wrong code still counts its try: it is a
/// refusal that commits.
pub fn confirm(
    tx: &mut DbConnection,
    who: &Acting,
    pii: &PiiCipher,
    max_attempts: i32,
    change: &str,
    code: &str,
    now: Instant,
) -> Result<Outcome<Answered<Account>>, ApiError> {
    who.manages_own_credentials(now)?;
    let id = who.account;
    let before = load(tx, id)?;
    let redeemed = second_factor::redeem(
        tx,
        pii,
        id,
        Wanted {
            id: Some(change),
            ..Wanted::purpose(CONTACT)
        },
        code,
        max_attempts,
        now,
    )?;
    let Some(Some(target)) = redeemed else {
        let wrong = ApiError::field("code", "invalid_code", "The code is wrong, expired or used up.");
        return Ok(Outcome::quiet(Err(wrong)));
    };
    let (kind, value) = target
        .split_once(':')
        .ok_or_else(|| ApiError::internal("malformed contact target"))?;
    let replaced = Replacement::of(&before, kind, value)?;
    let Some(released) = accounts::replace_contact(
        tx,
        id,
        replaced.contact,
        value,
        replaced.old_key.as_deref(),
        &replaced.new_key,
        now,
    )?
    else {
        let taken = ApiError::conflict(
            "contact_unavailable",
            "This contact cannot be used for your account.",
        );
        return Ok(Outcome::quiet(Err(taken)));
    };
    // The alert goes to the old contact too: the person who lost control of the
    // account must hear about it where they still read.
    let body = format!("Контакт для входа изменён ({kind}). Если это были не вы, обратитесь в поддержку.");
    if let Some(old) = replaced.old_address {
        tell_old_contact(tx, kind, old, &body, now)?;
    }
    Ok(Outcome::new(
        Ok(load(tx, id)?),
        changed(who, kind, body)
            .effects()
            .and(super::proofs::released(&released, kind)),
    ))
}

/// The alert (and its audit record) that a login contact of `who` changed.
fn changed(who: &Acting, kind: &str, body: String) -> Alert {
    let audit = AuditEntry::new("account.contact_changed", "account")
        .by(Some(who.account))
        .target(who.account)
        .details(json!({ "kind": kind }))
        .from_ip(who.ip.clone());
    Alert {
        account: who.account,
        kind: "contact_changed",
        title: "Контакт изменён",
        body,
        audit,
    }
}

/// Sends the change's alert to the contact it replaced.
fn tell_old_contact(
    tx: &mut DbConnection,
    kind: &str,
    old: String,
    body: &str,
    now: Instant,
) -> Result<(), ApiError> {
    let channel = if kind == "email" {
        Channel::Email
    } else {
        Channel::Sms
    };
    let message = Message {
        channel,
        to: old,
        subject: "Контакт изменён".into(),
        body: body.to_string(),
        code: None,
    };
    outbox::enqueue(tx, &message, None, now)?;
    Ok(())
}

/// Which contact a confirmed change replaces, and the login keys it swaps.
struct Replacement {
    contact: ContactKind,
    old_key: Option<String>,
    new_key: String,
    old_address: Option<String>,
}

impl Replacement {
    fn of(before: &Account, kind: &str, value: &str) -> Result<Replacement, ApiError> {
        if kind == "email" {
            return Ok(Replacement {
                contact: ContactKind::Email,
                old_key: before.email.as_deref().map(domain::login::email_key),
                new_key: domain::login::email_key(value),
                old_address: before.email.clone(),
            });
        }
        let phone = Phone::parse(value).map_err(|e| ApiError::internal(e.to_string()))?;
        let old = before.phone.as_deref().and_then(|p| Phone::parse(p).ok());
        Ok(Replacement {
            contact: ContactKind::Phone,
            old_key: old.as_ref().map(domain::login::phone_key),
            new_key: domain::login::phone_key(&phone),
            old_address: before.phone.clone(),
        })
    }
}
