//! Proving who you are — a password, a second factor, a one-time code — with guessing
//! bounded for every check, whichever endpoint asks (SPEC §8; issue 14, A).
//!
//! Each check is decided under its key's lock ([`persistence::attempts::hold`]): the
//! counter and the check are one atomic step on both backends and across nodes. Its
//! failure is a refusal that must commit — a use case returns it as `Ok(Err(..))`, or runs
//! [`prove`] in a transaction of its own before the change it guards — so no caller can
//! roll its own counter back.
//!
//! Keys: a login counts per account (`account:<id>`) when the login names one, and per
//! keyed hash of what was typed when it names none, so an unknown login locks and answers
//! exactly like a known one. A second factor counts per account (`factor:<id>`) for the
//! login's second step, turning TOTP off, re-authenticating and signing alike.

use actix_web::http::{header, StatusCode};
use domain::account::Account;
use domain::attempts::{Failure, LockoutPolicy};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::time::Instant;
use persistence::{attempts, DbConnection};
use serde_json::json;

use crate::auth::alerts::Alert;
use crate::auth::second_factor::{self, Proof};
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::{Acting, Answered, Effects, Outcome};

/// The limits on guessing, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Guards {
    pub login: LockoutPolicy,
    pub factor: LockoutPolicy,
    /// Tries of one code sent by e-mail or SMS.
    pub code_attempts: i32,
    /// The zone in which a lock's end is told to its holder.
    pub zone: domain::time::Zone,
}

/// What a login's failures count under.
pub enum LoginKey {
    Account(AccountId),
    /// What was typed, for a login that names no account (its keyed hash: never the login).
    Unknown(String),
}

impl LoginKey {
    pub fn of(found: Option<&Account>, pii: &PiiCipher, typed_keys: &[String]) -> LoginKey {
        match found {
            Some(account) => LoginKey::Account(account.id),
            None => LoginKey::Unknown(pii.keyed_hash("login-attempts", &typed_keys.join("\n"))),
        }
    }

    pub fn key(&self) -> String {
        match self {
            LoginKey::Account(id) => format!("account:{id}"),
            LoginKey::Unknown(hash) => format!("login:{hash}"),
        }
    }
}

pub fn factor_key(account: AccountId) -> String {
    format!("factor:{account}")
}

/// The answer while a login key is locked (the same for a known and an unknown login).
pub fn login_locked(until: Instant, now: Instant) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        "Too many failed attempts; the account is locked for a while.",
    )
    .with_header(header::RETRY_AFTER, retry_after(until, now))
}

/// The answer while an account's second factor is locked.
pub fn factor_locked(until: Instant, now: Instant) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "factor_locked",
        "Too many wrong codes; the second factor is locked for a while.",
    )
    .with_header(header::RETRY_AFTER, retry_after(until, now))
}

fn retry_after(until: Instant, now: Instant) -> String {
    (until - now).num_seconds().max(1).to_string()
}

/// How one guarded check went.
pub enum Checked {
    Passed,
    /// Refused before checking: a lock is in force until then.
    Locked(Instant),
    Failed(Failure),
}

/// Decides one check of a secret under `key`: refused while locked; otherwise `check`
/// runs, a success clears the key's failures and a failure is counted under `policy`.
pub fn guarded(
    tx: &mut DbConnection,
    key: &str,
    policy: LockoutPolicy,
    now: Instant,
    check: impl FnOnce(&mut DbConnection) -> Result<bool, ApiError>,
) -> Result<Checked, ApiError> {
    let held = attempts::hold(tx, key)?;
    if let Some(until) = held.locked_at(now) {
        return Ok(Checked::Locked(until));
    }
    if check(tx)? {
        attempts::clear(tx, key)?;
        return Ok(Checked::Passed);
    }
    let (after, failure) = held.fail(policy, now);
    attempts::store(tx, key, after)?;
    Ok(Checked::Failed(failure))
}

/// What a re-authentication or a second factor presents.
pub enum Presented {
    /// A password, verified before the transaction (argon2 is slow): whether it matched.
    Password(bool),
    Totp(String),
    Recovery(String),
}

/// A check that passed, for the change it guards; only [`prove`] makes one.
#[derive(Debug)]
pub struct Proven {
    account: AccountId,
    by_totp: bool,
}

impl Proven {
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Whether it was a current authenticator code (what turning TOTP off asks for).
    pub fn by_totp(&self) -> bool {
        self.by_totp
    }
}

/// Which secret a failure was of: it decides the key, the limit and the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    Password,
    SecondFactor,
}

impl Secret {
    pub fn key(self, account: AccountId) -> String {
        match self {
            Secret::Password => LoginKey::Account(account).key(),
            Secret::SecondFactor => factor_key(account),
        }
    }

    pub fn policy(self, guards: Guards) -> LockoutPolicy {
        match self {
            Secret::Password => guards.login,
            Secret::SecondFactor => guards.factor,
        }
    }

    pub fn locked(self, until: Instant, now: Instant) -> ApiError {
        match self {
            Secret::Password => login_locked(until, now),
            Secret::SecondFactor => factor_locked(until, now),
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Secret::Password => "bad_password",
            Secret::SecondFactor => "bad_second_factor",
        }
    }
}

/// Proves `presented` for `account`: a password counts toward the login lock, a code
/// toward the second factor's. Run it in a transaction of its own (or return its refusal
/// as a committed `Ok(Err(..))`).
pub fn prove(
    tx: &mut DbConnection,
    (pii, guards): (&PiiCipher, Guards),
    account: &Account,
    presented: Presented,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Answered<Proven>>, ApiError> {
    if !matches!(presented, Presented::Password(_)) && !account.totp.enabled {
        return Err(ApiError::conflict("mfa_not_enabled", "TOTP is not enabled."));
    }
    let (secret, by_totp) = match &presented {
        Presented::Password(_) => (Secret::Password, false),
        Presented::Totp(_) => (Secret::SecondFactor, true),
        Presented::Recovery(_) => (Secret::SecondFactor, false),
    };
    let checked = guarded(tx, &secret.key(account.id), secret.policy(guards), now, |tx| {
        Ok(match presented {
            Presented::Password(matched) => matched,
            Presented::Totp(code) => second_factor::check(tx, pii, account, &Proof::Totp(code), now)?,
            Presented::Recovery(code) => second_factor::check(tx, pii, account, &Proof::Recovery(code), now)?,
        })
    })?;
    let wrong = match secret {
        Secret::SecondFactor => {
            ApiError::unauthorized("invalid_code", "The code is wrong or was used already.")
        }
        Secret::Password => ApiError::forbidden("reauthentication_failed", "The password or code is wrong."),
    };
    Ok(match checked {
        Checked::Passed => Outcome::quiet(Ok(Proven {
            account: account.id,
            by_totp,
        })),
        Checked::Locked(until) => Outcome::quiet(Err(secret.locked(until, now))),
        Checked::Failed(failure) => failed((account.id, guards.zone), secret, failure, wrong, ip, now),
    })
}

/// The refusal of a counted failure of `account`'s `secret`, with its audit record, and
/// the alert when this failure started a lock.
pub fn failed<T>(
    (account, zone): (AccountId, domain::time::Zone),
    secret: Secret,
    failure: Failure,
    wrong: ApiError,
    ip: Option<String>,
    now: Instant,
) -> Outcome<Answered<T>> {
    let entry = AuditEntry::new("auth.login_failed", "account")
        .by(Some(account))
        .target(account)
        .details(json!({ "reason": secret.reason() }))
        .from_ip(ip.clone());
    let effects = Effects::none().audit(entry);
    let until = match failure {
        Failure::Counted { .. } => return Outcome::new(Err(wrong), effects),
        Failure::StillLocked { until } => return Outcome::new(Err(secret.locked(until, now)), effects),
        Failure::LockedNow { until } => until,
    };
    let (title, what) = match secret {
        Secret::Password => ("Вход заблокирован", "вход"),
        Secret::SecondFactor => ("Второй фактор заблокирован", "второй фактор"),
    };
    let body = format!(
        "После нескольких неудачных попыток {what} заблокирован до {}. Если это были не вы, смените пароль.",
        domain::time::local_text(until, zone)
    );
    let audit = AuditEntry::new("auth.locked", "account")
        .target(account)
        .details(json!({ "reason": secret.reason() }))
        .from_ip(ip);
    let alert = Alert {
        account,
        kind: "lockout",
        title,
        body,
        audit,
    };
    Outcome::new(Err(secret.locked(until, now)), effects.and(alert.effects()))
}

/// Proves the caller themselves — never on someone's behalf — before a change to their own
/// credentials. Run in a transaction of its own, so a wrong guess stays counted whatever
/// the change then does.
pub fn prove_self(
    tx: &mut DbConnection,
    who: &Acting,
    keys: (&PiiCipher, Guards),
    presented: Presented,
    now: Instant,
) -> Result<Outcome<Answered<Proven>>, ApiError> {
    who.manages_own_credentials(now)?;
    let account = persistence::accounts::find(tx, who.account)?.ok_or_else(ApiError::not_found)?;
    prove(tx, keys, &account, presented, who.ip.clone(), now)
}
