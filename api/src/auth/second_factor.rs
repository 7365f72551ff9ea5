//! Proving something beyond the password: a TOTP code (each accepted once), a recovery code
//! (each usable once), or a one-time code sent through the outbox (limited tries, expiring).

use domain::account::Account;
use domain::ids::AccountId;
use domain::notice::{Channel, Message};
use domain::time::Instant;
use persistence::codes::{self, Wanted};
use persistence::{DbConnection, StoreError};
use rand::Rng;

use super::totp;
use crate::crypto::PiiCipher;

pub enum Proof {
    Totp(String),
    Recovery(String),
}

/// The stored TOTP secret in clear (it is kept encrypted, bound to its account).
pub fn totp_secret(pii: &PiiCipher, account: &Account) -> Option<String> {
    let sealed = account.totp.secret.as_deref()?;
    pii.decrypt(&totp_field(account.id), sealed).ok()
}

pub fn totp_field(account: AccountId) -> String {
    format!("totp/{account}")
}

pub fn recovery_hash(pii: &PiiCipher, account: AccountId, code: &str) -> String {
    pii.keyed_hash(
        "recovery",
        &format!("{account}:{}", totp::normalize_recovery_code(code)),
    )
}

/// Checks a TOTP code against the account's secret and consumes its time step, so the same
/// code is refused the second time (on any node: the step is kept in the database).
pub fn check_totp(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    account: &Account,
    code: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let Some(secret) = totp_secret(pii, account) else {
        return Ok(false);
    };
    let now = u64::try_from(now.timestamp()).unwrap_or(0);
    match totp::matching_step(&secret, code, now) {
        Some(step) => persistence::accounts::advance_totp_step(tx, account.id, step),
        None => Ok(false),
    }
}

/// Checks a second factor of an account with 2FA enabled.
pub fn check(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    account: &Account,
    proof: &Proof,
    now: Instant,
) -> Result<bool, StoreError> {
    if !account.totp.enabled {
        return Ok(false);
    }
    match proof {
        Proof::Totp(code) => check_totp(tx, pii, account, code, now),
        Proof::Recovery(code) => {
            codes::use_recovery_code(tx, account.id, &recovery_hash(pii, account.id, code), now)
        }
    }
}

/// A six-digit one-time code.
pub fn new_numeric_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
}

/// Redeems the newest pending code that `wanted` describes: counts the try, and on a match
/// marks the code used and returns its target. Expired codes and codes whose tries are used
/// up never match.
pub fn redeem(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    account: AccountId,
    wanted: Wanted<'_>,
    code: &str,
    max_attempts: i32,
    now: Instant,
) -> Result<Option<Option<String>>, StoreError> {
    let purpose = wanted.purpose;
    let Some(pending) = codes::pending(tx, account, wanted)? else {
        return Ok(None);
    };
    if pending.expires_at <= now {
        return Ok(None);
    }
    let presented = pii.keyed_hash(purpose, &format!("{}:{}", pending.id, code.trim()));
    let matched = presented == pending.code_hash;
    // The try is counted whether or not it matched; a match with no try left is refused.
    if !codes::try_code(tx, &pending.id, max_attempts, matched, now)? || !matched {
        return Ok(None);
    }
    Ok(Some(pending.target))
}

/// Queues a one-time code to the account's e-mail (or phone when it has no e-mail).
pub fn send_code(
    tx: &mut DbConnection,
    account: &Account,
    code: &str,
    subject: &str,
    at: Instant,
) -> Result<(), StoreError> {
    let (channel, to) = match (&account.email, &account.phone) {
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
