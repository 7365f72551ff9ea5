//! Logging in: the password step and, for an account with TOTP, the second-factor step.
//! Every failure is counted under its key's lock (see [`crate::usecases::proof`]): the
//! password per account (or per typed login when it names none), the second factor per
//! account.

use domain::account::Account;
use domain::attempts::Failure;
use domain::audit::AuditEntry;
use domain::time::Instant;
use persistence::{accounts, attempts, DbConnection};
use serde_json::json;

use super::refused;
use crate::auth::second_factor::{self, Proof};
use crate::auth::session::{self, Origin, SessionRules, TokenPair};
use crate::auth::{MfaClaims, ISSUER};
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::proof::{self, guarded, Checked, Guards, LoginKey, Secret};
use crate::usecases::{Answered, Effects, Outcome};

/// A password login: the account its login names (if any), the key its failures count
/// under, and whether the password matched — checked before the transaction, see the
/// handler (which does not check it at all from an address the account does not allow).
pub struct PasswordAttempt {
    pub found: Option<Account>,
    pub key: LoginKey,
    pub password_ok: bool,
    pub origin: Origin,
}

/// What a correct password leads to.
pub enum LoginStep {
    Authenticated(TokenPair),
    /// The account has a second factor: send this token with a code.
    MfaRequired {
        mfa_token: String,
        expires_in: i64,
    },
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "The login or password is wrong.")
}

fn invalid_mfa_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_mfa_token",
        "The MFA token is invalid, expired or used; log in again.",
    )
}

/// Whether the handler should verify the password at all: not from an address the account
/// does not allow (the answer must not tell whether the password was right), nor while
/// the login is locked (argon2 is the expensive part of a guessing run).
pub fn worth_checking(
    conn: &mut DbConnection,
    found: Option<&Account>,
    key: &LoginKey,
    ip: Option<&str>,
    now: Instant,
) -> Result<bool, ApiError> {
    if found.is_some_and(|a| !a.allows_address(ip)) {
        return Ok(false);
    }
    Ok(attempts::peek(conn, &key.key())?.locked_at(now).is_none())
}

pub fn with_password(
    tx: &mut DbConnection,
    rules: &SessionRules,
    guards: Guards,
    attempt: PasswordAttempt,
    now: Instant,
) -> Result<Outcome<Answered<LoginStep>>, ApiError> {
    let PasswordAttempt {
        found,
        key,
        password_ok,
        origin,
    } = attempt;
    let ip = origin.ip.clone();
    let id = found.as_ref().map(|a| a.id);
    // The allow-list comes first: from elsewhere the password was not even checked.
    if found.as_ref().is_some_and(|a| !a.allows_address(ip.as_deref())) {
        let refusal = ApiError::forbidden(
            "ip_not_allowed",
            "Your account does not allow logins from this address.",
        );
        return Ok(refused("auth.login_ip_refused", id, ip, refusal));
    }
    let checked = guarded(tx, &key.key(), guards.login, now, |_| {
        Ok(found.is_some() && password_ok)
    })?;
    let account = match the_account(checked, found, (guards.zone, ip), now) {
        Ok(account) => account,
        Err(refusal) => return Ok(*refusal),
    };
    if account.totp.enabled {
        return Ok(Outcome::quiet(second_step(rules, &account, now)));
    }
    let opened = session::open(tx, rules, &account, vec!["pwd".into()], origin, now)?;
    Ok(opened.map(|tokens| Ok(LoginStep::Authenticated(tokens))))
}

/// The account whose password was checked, or the refusal to answer: an unknown login,
/// a locked one, or a wrong password (counted; a known account hears of a new lock).
fn the_account(
    checked: Checked,
    found: Option<Account>,
    (zone, ip): (domain::time::Zone, Option<String>),
    now: Instant,
) -> Result<Account, Box<Outcome<Answered<LoginStep>>>> {
    let id = found.as_ref().map(|a| a.id);
    match (checked, found) {
        (Checked::Passed, Some(account)) => Ok(account),
        (Checked::Passed, None) => Err(Box::new(refused(
            "auth.login_failed",
            None,
            ip,
            bad_credentials(),
        ))),
        (Checked::Locked(until), _) => Err(Box::new(refused(
            "auth.login_locked",
            id,
            ip,
            proof::login_locked(until, now),
        ))),
        (Checked::Failed(failure), Some(account)) => Err(Box::new(proof::failed(
            (account.id, zone),
            Secret::Password,
            failure,
            bad_credentials(),
            ip,
            now,
        ))),
        // An unknown login locks like a known one; there is nobody to alert.
        (Checked::Failed(failure), None) => {
            let answer = match failure {
                Failure::Counted { .. } => bad_credentials(),
                Failure::LockedNow { until } | Failure::StillLocked { until } => {
                    proof::login_locked(until, now)
                }
            };
            Err(Box::new(refused("auth.login_failed", None, ip, answer)))
        }
    }
}

/// The password was right and the account has a second factor: a short-lived token that
/// only the second step accepts.
fn second_step(rules: &SessionRules, account: &Account, now: Instant) -> Answered<LoginStep> {
    let claims = MfaClaims {
        iss: ISSUER.into(),
        sub: account.id,
        jti: uuid::Uuid::now_v7().to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + rules.mfa_ttl_secs,
    };
    let mfa_token = rules.keys.issue_mfa(&claims).map_err(ApiError::internal)?;
    Ok(LoginStep::MfaRequired {
        mfa_token,
        expires_in: rules.mfa_ttl_secs,
    })
}

/// The second step: the token the password step gave, and exactly one code.
pub struct SecondFactorAttempt {
    pub mfa_token: String,
    pub code: Option<String>,
    pub recovery_code: Option<String>,
    pub origin: Origin,
}

pub fn with_second_factor(
    tx: &mut DbConnection,
    rules: &SessionRules,
    (guards, pii): (Guards, &PiiCipher),
    attempt: SecondFactorAttempt,
    now: Instant,
) -> Result<Outcome<Answered<TokenPair>>, ApiError> {
    let claims = rules
        .keys
        .verify_mfa(&attempt.mfa_token, now.timestamp())
        .map_err(|_| invalid_mfa_token())?;
    let account = accounts::find(tx, claims.sub)?.ok_or_else(invalid_mfa_token)?;
    if let Some(until) = attempts::peek(tx, &LoginKey::Account(account.id).key())?.locked_at(now) {
        return Err(proof::login_locked(until, now));
    }
    let proof = proof_of(attempt.code, attempt.recovery_code)?;
    let ip = attempt.origin.ip.clone();
    let key = Secret::SecondFactor.key(account.id);
    let checked = guarded(tx, &key, guards.factor, now, |tx| {
        Ok(second_factor::check(tx, pii, &account, &proof, now)?)
    })?;
    match checked {
        Checked::Passed => {}
        Checked::Locked(until) => return Ok(Outcome::quiet(Err(proof::factor_locked(until, now)))),
        Checked::Failed(failure) => {
            let wrong = ApiError::unauthorized("invalid_code", "The code is wrong or was used already.");
            return Ok(proof::failed(
                (account.id, guards.zone),
                Secret::SecondFactor,
                failure,
                wrong,
                ip,
                now,
            ));
        }
    }
    // Spent once, on any node: a second login with the same token is refused.
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    if !attempts::spend_token(tx, &claims.jti, expires)? {
        let replay = AuditEntry::new("auth.mfa_token_replayed", "account")
            .by(Some(account.id))
            .target(account.id)
            .details(json!({}))
            .from_ip(ip);
        return Ok(Outcome::new(
            Err(invalid_mfa_token()),
            Effects::none().audit(replay),
        ));
    }
    let amr = vec!["pwd".into(), "mfa".into(), "otp".into()];
    Ok(session::open(tx, rules, &account, amr, attempt.origin, now)?.map(Ok))
}

/// The one second factor a login step sends: a TOTP code or a recovery code.
fn proof_of(code: Option<String>, recovery_code: Option<String>) -> Result<Proof, ApiError> {
    match (code, recovery_code) {
        (Some(code), None) => Ok(Proof::Totp(code)),
        (None, Some(code)) => Ok(Proof::Recovery(code)),
        _ => Err(ApiError::field(
            "code",
            "required",
            "Send exactly one of code and recovery_code.",
        )),
    }
}

/// The account a typed login names (its candidate keys), if any.
pub fn find_account(conn: &mut DbConnection, login_keys: &[String]) -> Result<Option<Account>, ApiError> {
    Ok(accounts::find_by_login(conn, login_keys)?)
}
