//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock skew either way) and
//! recovery codes. A code is accepted once: the step it belongs to is remembered.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

const DIGITS: u8 = 6;
const STEP: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

fn totp(secret_base32: &str, account_label: &str) -> Result<Totp, String> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|e| format!("{e:?}"))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret)
        .with_issuer(Some("Kabinet"))
        .with_account_name(account_label)
        .build()
        .map_err(|e| format!("{e:?}"))
}

/// A new random secret, as base32 (what authenticator apps take).
pub fn new_secret() -> String {
    Secret::generate().to_base32()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn provisioning_uri(secret_base32: &str, account_label: &str) -> Result<String, String> {
    totp(secret_base32, account_label)?
        .to_url()
        .map_err(|e| format!("{e:?}"))
}

/// The time step `code` is valid for at unix time `now` (±1 step), if any. The caller
/// must accept each step once (RFC 6238 §5.2).
pub fn matching_step(secret_base32: &str, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret_base32, "check").ok()?.check(code, now)?;
    i64::try_from(step).ok()
}

/// The code for `now`, for tests and for the development tools only.
pub fn code_at(secret_base32: &str, now: u64) -> Option<String> {
    Some(totp(secret_base32, "check").ok()?.generate(now).to_string())
}

/// Ten fresh recovery codes, `XXXXX-XXXXX` from an unambiguous alphabet (50 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Recovery codes compare case-insensitively and without separators.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap_or_default();
        assert_eq!(matching_step(&secret, &code, now), Some(60_000_000));
        assert!(
            matching_step(&secret, &code, now + 30).is_some(),
            "one step of skew"
        );
        assert_eq!(matching_step(&secret, &code, now + 90), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
    }

    #[test]
    fn the_uri_names_the_issuer() {
        let uri = provisioning_uri(&new_secret(), "maria@example.ru").unwrap_or_default();
        assert!(uri.starts_with("otpauth://totp/Kabinet:"), "{uri}");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        assert_eq!(normalize_recovery_code(" abcde-23456 "), "ABCDE23456");
    }
}
