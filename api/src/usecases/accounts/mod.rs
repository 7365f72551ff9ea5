//! Accounts: registering, an officer confirming an identity, the holder's profile, the
//! TOTP second factor, and changing the e-mail or phone.

pub mod contacts;
pub mod identity;
pub mod profile;
pub mod proofs;
pub mod registration;
pub mod second_factor;

use domain::account::{sealed_field, Account, PassportInput};
use domain::ids::AccountId;
use domain::person::PassportRf;
use persistence::{accounts, DbConnection};
use serde_json::json;

use crate::crypto::PiiCipher;
use crate::error::ApiError;

/// The account, or 404.
pub fn load(conn: &mut DbConnection, id: AccountId) -> Result<Account, ApiError> {
    accounts::find(conn, id)?.ok_or_else(ApiError::not_found)
}

/// The passport, sealed for `account`.
fn seal_passport(pii: &PiiCipher, account: AccountId, passport: &PassportRf) -> String {
    let json = json!({
        "series": passport.series(), "number": passport.number(),
        "issued_on": passport.issued_on(), "division_code": passport.division_code()
    });
    pii.encrypt(&sealed_field(account, "passport"), &json.to_string())
}

/// A passport as typed, checked against `today`.
fn passport(
    input: &PassportInput,
    today: chrono::NaiveDate,
) -> Result<PassportRf, domain::field_error::FieldError> {
    PassportRf::new(
        &input.series,
        &input.number,
        input.issued_on,
        &input.division_code,
        today,
    )
}
