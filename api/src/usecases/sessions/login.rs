//! Logging in: the password step and, for an account with TOTP, the second-factor step.
//! Failures are counted and lock the account at the policy's limit.

use domain::account::{after_failure, Account, LockoutPolicy};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::time::Instant;
use persistence::{accounts, DbConnection};
use serde_json::json;

use super::{locked, refused, Answered};
use crate::auth::alerts::Alert;
use crate::auth::second_factor::{self, Proof};
use crate::auth::session::{self, Origin, SessionRules, TokenPair};
use crate::auth::{MfaClaims, ISSUER};
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::{Effects, Outcome};

/// A password login: the account its login names (if any) and whether the password
/// matched — checked before the transaction, see the handler.
pub struct PasswordAttempt {
    pub found: Option<Account>,
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
        "The MFA token is invalid or expired; log in again.",
    )
}

pub fn with_password(
    tx: &mut DbConnection,
    rules: &SessionRules,
    lockout: LockoutPolicy,
    attempt: PasswordAttempt,
    now: Instant,
) -> Result<Outcome<Answered<LoginStep>>, ApiError> {
    let PasswordAttempt {
        found,
        password_ok,
        origin,
    } = attempt;
    let ip = origin.ip.clone();
    let Some(account) = found else {
        return Ok(refused("auth.login_failed", None, ip, bad_credentials()));
    };
    if let Some(until) = account.locked_at(now) {
        return Ok(refused(
            "auth.login_locked",
            Some(account.id),
            ip,
            locked(until, now),
        ));
    }
    if !password_ok {
        return count_failure(
            tx,
            lockout,
            account.id,
            ip,
            "bad_password",
            bad_credentials(),
            now,
        );
    }
    if !account.allows_address(ip.as_deref()) {
        let refusal = ApiError::forbidden(
            "ip_not_allowed",
            "Your account does not allow logins from this address.",
        );
        return Ok(refused("auth.login_ip_refused", Some(account.id), ip, refusal));
    }
    if account.totp.enabled {
        let claims = MfaClaims {
            iss: ISSUER.into(),
            sub: account.id,
            iat: now.timestamp(),
            exp: now.timestamp() + rules.mfa_ttl_secs,
        };
        let mfa_token = rules.keys.issue_mfa(&claims).map_err(ApiError::internal)?;
        let step = LoginStep::MfaRequired {
            mfa_token,
            expires_in: rules.mfa_ttl_secs,
        };
        return Ok(Outcome::quiet(Ok(step)));
    }
    let opened = session::open(tx, rules, &account, vec!["pwd".into()], origin, now)?;
    Ok(opened.map(|tokens| Ok(LoginStep::Authenticated(tokens))))
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
    lockout: LockoutPolicy,
    pii: &PiiCipher,
    attempt: SecondFactorAttempt,
    now: Instant,
) -> Result<Outcome<Answered<TokenPair>>, ApiError> {
    let claims = rules
        .keys
        .verify_mfa(&attempt.mfa_token, now.timestamp())
        .map_err(|_| invalid_mfa_token())?;
    let account = accounts::find(tx, claims.sub)?.ok_or_else(invalid_mfa_token)?;
    if let Some(until) = account.locked_at(now) {
        return Err(locked(until, now));
    }
    let proof = match (attempt.code, attempt.recovery_code) {
        (Some(code), None) => Proof::Totp(code),
        (None, Some(code)) => Proof::Recovery(code),
        _ => {
            return Err(ApiError::field(
                "code",
                "required",
                "Send exactly one of code and recovery_code.",
            ))
        }
    };
    let ip = attempt.origin.ip.clone();
    if !second_factor::check(tx, pii, &account, &proof, now)? {
        let error = ApiError::unauthorized("invalid_code", "The code is wrong or was used already.");
        return count_failure(tx, lockout, account.id, ip, "bad_second_factor", error, now);
    }
    let amr = vec!["pwd".into(), "mfa".into(), "otp".into()];
    Ok(session::open(tx, rules, &account, amr, attempt.origin, now)?.map(Ok))
}

/// Counts a failed attempt, locking the account when the limit is reached; the refusal
/// is `error`, or the lock when this failure started one.
fn count_failure<T>(
    tx: &mut DbConnection,
    lockout: LockoutPolicy,
    account: AccountId,
    ip: Option<String>,
    reason: &'static str,
    error: ApiError,
    now: Instant,
) -> Result<Outcome<Answered<T>>, ApiError> {
    let failures = accounts::count_failure(tx, account)?;
    let (remaining, lock) = after_failure(lockout, failures - 1, now);
    accounts::record_failure(tx, account, remaining, lock)?;
    let failed = AuditEntry::new("auth.login_failed", "account")
        .by(Some(account))
        .target(account)
        .details(json!({ "reason": reason }))
        .from_ip(ip.clone());
    let effects = Effects::none().audit(failed);
    let Some(until) = lock else {
        return Ok(Outcome::new(Err(error), effects));
    };
    let body = format!(
        "После нескольких неудачных попыток вход заблокирован до {} UTC. Если это были не вы, смените пароль.",
        until.format("%H:%M")
    );
    let audit = AuditEntry::new("auth.locked", "account")
        .target(account)
        .from_ip(ip);
    let alert = Alert {
        account,
        kind: "lockout",
        title: "Вход заблокирован",
        body,
        audit,
    };
    Ok(Outcome::new(
        Err(locked(until, now)),
        effects.and(alert.effects()),
    ))
}

/// The account a typed login names (its candidate keys), if any.
pub fn find_account(conn: &mut DbConnection, login_keys: &[String]) -> Result<Option<Account>, ApiError> {
    Ok(accounts::find_by_login(conn, login_keys)?)
}
