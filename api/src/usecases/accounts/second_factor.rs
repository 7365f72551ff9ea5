//! The TOTP second factor: enrolment (a secret, then a first code that turns it on and
//! answers the recovery codes) and turning it off with a current code.

use domain::account::Account;
use domain::audit::AuditEntry;
use domain::time::Instant;
use persistence::{accounts, codes, DbConnection};

use super::load;
use crate::auth::alerts::Alert;
use crate::auth::second_factor::{self, totp_field};
use crate::auth::totp;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::proof::Proven;
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// A started enrolment: the secret to put into an authenticator app.
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// The caller's own account, once they may manage its credentials.
fn own_account(tx: &mut DbConnection, who: &Acting, now: Instant) -> Result<Account, ApiError> {
    who.manages_own_credentials(now)?;
    load(tx, who.account)
}

fn audit(action: &'static str, who: &Acting) -> AuditEntry {
    AuditEntry::new(action, "account")
        .by(Some(who.account))
        .target(who.account)
        .from_ip(who.ip.clone())
}

/// Starts (or restarts) enrolment with a new secret; audited, though nothing is in force yet.
pub fn start(
    tx: &mut DbConnection,
    who: &Acting,
    pii: &PiiCipher,
    now: Instant,
) -> Result<Outcome<Enrolment>, ApiError> {
    let account = own_account(tx, who, now)?;
    if account.totp.enabled {
        return Err(ApiError::conflict(
            "mfa_already_enabled",
            "TOTP is enabled already; disable it first.",
        ));
    }
    let secret = totp::new_secret();
    let label = account
        .email
        .clone()
        .unwrap_or_else(|| account.display_name.clone());
    let otpauth_uri = totp::provisioning_uri(&secret, &label).map_err(ApiError::internal)?;
    let sealed = pii.encrypt(&totp_field(account.id), &secret);
    accounts::set_totp(tx, account.id, Some(&sealed), false, now)?;
    let effects = Effects::none().audit(audit("mfa.totp_enrolment_started", who));
    Ok(Outcome::new(Enrolment { secret, otpauth_uri }, effects))
}

/// Confirms enrolment with a first code; answers the recovery codes (shown once).
pub fn confirm(
    tx: &mut DbConnection,
    who: &Acting,
    pii: &PiiCipher,
    code: &str,
    now: Instant,
) -> Result<Outcome<Vec<String>>, ApiError> {
    let account = own_account(tx, who, now)?;
    if account.totp.enabled {
        return Err(ApiError::conflict(
            "mfa_already_enabled",
            "TOTP is enabled already.",
        ));
    }
    if account.totp.secret.is_none() {
        return Err(ApiError::conflict(
            "mfa_not_started",
            "Start the enrolment first.",
        ));
    }
    if !second_factor::check_totp(tx, pii, &account, code, now)? {
        return Err(ApiError::field(
            "code",
            "invalid_code",
            "The code does not match; check the device's clock.",
        ));
    }
    let recovery = totp::new_recovery_codes();
    let hashes: Vec<String> = recovery
        .iter()
        .map(|c| second_factor::recovery_hash(pii, account.id, c))
        .collect();
    accounts::enable_totp(tx, account.id, now)?;
    codes::replace_recovery_codes(tx, account.id, &hashes)?;
    let alert = Alert {
        account: account.id,
        kind: "mfa_enabled",
        title: "Двухфакторная защита включена",
        body: "Для входа теперь нужен код из приложения-аутентификатора.".into(),
        audit: audit("mfa.totp_enabled", who),
    };
    Ok(Outcome::new(recovery, alert.effects()))
}

/// Turns TOTP off, once a current code proved the holder (see [`crate::usecases::proof`]).
pub fn disable(
    tx: &mut DbConnection,
    who: &Acting,
    proven: Proven,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    let account = own_account(tx, who, now)?;
    if proven.account() != account.id || !proven.by_totp() {
        return Err(ApiError::forbidden(
            "reauthentication_failed",
            "Confirm with a current code.",
        ));
    }
    if !account.totp.enabled {
        return Err(ApiError::conflict("mfa_not_enabled", "TOTP is not enabled."));
    }
    accounts::set_totp(tx, account.id, None, false, now)?;
    codes::replace_recovery_codes(tx, account.id, &[])?;
    let alert = Alert {
        account: account.id,
        kind: "mfa_disabled",
        title: "Двухфакторная защита отключена",
        body: "Двухфакторная защита отключена. Если это были не вы, смените пароль.".into(),
        audit: audit("mfa.totp_disabled", who),
    };
    Ok(Outcome::new((), alert.effects()))
}
