//! Resetting a forgotten password: a one-time code to the account's contact, then a new
//! password with that code, which ends every session.

use chrono::TimeDelta;
use domain::account::PasswordPolicy;
use domain::audit::AuditEntry;
use domain::time::Instant;
use persistence::codes::{self, NewCode, Wanted};
use persistence::{accounts, sessions, DbConnection};

use crate::auth::alerts::Alert;
use crate::auth::second_factor::{self, send_code};
use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};
use crate::usecases::proof::LoginKey;
use crate::usecases::Answered;
use crate::usecases::{Effects, Outcome};

const RESET: &str = "password_reset";

/// Sends a reset code to the account that `login_keys` name, if there is one; the caller
/// answers the same either way.
pub fn request(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    login_keys: &[String],
    code_ttl: TimeDelta,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    let Some(account) = accounts::find_by_login(tx, login_keys)? else {
        return Ok(Outcome::quiet(()));
    };
    let code = second_factor::new_numeric_code();
    let id = uuid::Uuid::now_v7().to_string();
    let hash = pii.keyed_hash(RESET, &format!("{id}:{code}"));
    let new = NewCode {
        id: &id,
        account: account.id,
        purpose: RESET,
        code_hash: &hash,
        target: None,
        expires_at: now + code_ttl,
    };
    codes::issue(tx, &new, now)?;
    send_code(tx, &account, &code, "Код для смены пароля", now)?;
    let entry = AuditEntry::new("auth.password_reset_requested", "account")
        .target(account.id)
        .from_ip(ip);
    Ok(Outcome::new((), Effects::none().audit(entry)))
}

/// A new password for the account `login_keys` name, proven with the code it was sent.
pub struct NewPassword {
    pub login_keys: Vec<String>,
    pub code: String,
    pub password: String,
    /// The new password's hash, computed before the transaction (argon2 is slow).
    pub hash: String,
}

/// Code checks and policy for a reset.
pub struct ResetRules {
    pub policy: PasswordPolicy,
    pub max_attempts: i32,
}

/// Sets the new password and ends every session. A wrong code still counts its try, and
/// a refused password still uses up the code: both are refusals that commit.
pub fn confirm(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    rules: &ResetRules,
    input: NewPassword,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Answered<()>>, ApiError> {
    let invalid = || {
        ApiError::field(
            "code",
            "invalid_code",
            "The code is wrong, expired or used up; request a new one.",
        )
    };
    let Some(account) = accounts::find_by_login(tx, &input.login_keys)? else {
        return Err(invalid());
    };
    let id = account.id;
    let matched = second_factor::redeem(
        tx,
        pii,
        id,
        Wanted::purpose(RESET),
        &input.code,
        rules.max_attempts,
        now,
    )?;
    if matched.is_none() {
        return Ok(Outcome::quiet(Err(invalid())));
    }
    let personal = account.personal_words();
    let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
    if let Err(problem) = rules.policy.check(&input.password, &personal) {
        return Ok(Outcome::quiet(Err(from_field_error(problem))));
    }
    accounts::set_password(tx, id, &input.hash, now)?;
    // Whoever holds the code owns the account: a lock on guessing its old password ends.
    persistence::attempts::clear(tx, &LoginKey::Account(id).key())?;
    sessions::revoke_all(tx, id, None, "password_reset", now)?;
    let body = "Пароль от вашего кабинета изменён, все сеансы завершены. Если это были не вы, обратитесь в поддержку.";
    let audit = AuditEntry::new("auth.password_reset", "account")
        .by(Some(id))
        .target(id)
        .from_ip(ip);
    let alert = Alert {
        account: id,
        kind: "password_changed",
        title: "Пароль изменён",
        body: body.into(),
        audit,
    };
    Ok(Outcome::new(Ok(()), alert.effects()))
}
