//! The account as its holder sees it: personal data decrypted for its owner only, and
//! the passport as requests carry it.

use chrono::NaiveDate;
use domain::account::{sealed_field, Account, AccountLevel, PassportInput};
use domain::ids::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::crypto::PiiCipher;
use crate::error::ApiError;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}))]
pub struct PassportBody {
    pub series: String,
    pub number: String,
    pub issued_on: NaiveDate,
    pub division_code: String,
}

impl From<PassportBody> for PassportInput {
    fn from(body: PassportBody) -> PassportInput {
        PassportInput {
            series: body.series,
            number: body.number,
            issued_on: body.issued_on,
            division_code: body.division_code,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "level": "standard", "roles": ["citizen"],
    "display_name": "Мария Иванова", "surname": "Иванова", "given_name": "Мария", "patronymic": "Петровна", "birth_date": "1990-05-17",
    "snils": "11223344595", "inn": "500100732259", "phone": "+79161234567", "email": "maria@example.ru",
    "passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"},
    "email_verified": true, "phone_verified": false, "totp_enabled": false, "ip_allow_list": null, "agency_code": null, "version": 1,
    "created_at": "2026-11-23T10:00:00Z"
}))]
pub struct ProfileView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AccountId,
    #[schema(value_type = String, example = "standard")]
    pub level: AccountLevel,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<domain::access::Role>,
    pub display_name: String,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub snils: Option<String>,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub passport: Option<PassportBody>,
    /// Whether the e-mail came back with its code: only then is it a login.
    pub email_verified: bool,
    /// Whether the phone came back with its code: only then is it a login.
    pub phone_verified: bool,
    pub totp_enabled: bool,
    pub ip_allow_list: Option<Vec<String>>,
    pub agency_code: Option<String>,
    /// The version for `If-Match`; also sent as the `ETag`.
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn open(
    pii: &PiiCipher,
    account: AccountId,
    name: &str,
    sealed: Option<&str>,
) -> Result<Option<String>, ApiError> {
    sealed
        .map(|s| {
            pii.decrypt(&sealed_field(account, name), s)
                .map_err(ApiError::internal)
        })
        .transpose()
}

impl ProfileView {
    pub fn of(account: &Account, pii: &PiiCipher) -> Result<ProfileView, ApiError> {
        let sealed = &account.sealed;
        let passport = open(pii, account.id, "passport", sealed.passport.as_deref())?
            .map(|json| serde_json::from_str::<PassportBody>(&json).map_err(ApiError::internal))
            .transpose()?;
        Ok(ProfileView {
            id: account.id,
            level: account.level,
            roles: account.roles.clone(),
            display_name: account.display_name.clone(),
            surname: account.surname.clone(),
            given_name: account.given_name.clone(),
            patronymic: account.patronymic.clone(),
            birth_date: account.birth_date,
            snils: open(pii, account.id, "snils", sealed.snils.as_deref())?,
            inn: open(pii, account.id, "inn", sealed.inn.as_deref())?,
            phone: account.phone.clone(),
            email: account.email.clone(),
            passport,
            email_verified: account.email.is_some() && account.proven.email,
            phone_verified: account.phone.is_some() && account.proven.phone,
            totp_enabled: account.totp.enabled,
            ip_allow_list: account.ip_allow_list.as_deref().map(|l| {
                l.split(',')
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect()
            }),
            agency_code: account.agency_code.clone(),
            version: account.version,
            created_at: account.created_at,
        })
    }
}
