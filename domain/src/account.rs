//! A citizen's account as the rules see it: levels (as in Gosuslugi), what registration
//! requires, the password policy and the lockout after failed logins.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::actions::Role;
use crate::field_error::FieldError;
use crate::ids::AccountId;
use crate::names::person_name;
use crate::person::{age_on, Email, Inn, PassportRf, Phone, Snils};
use crate::time::Instant;

/// How far the account holder's identity is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountLevel {
    /// Just registered.
    Simplified,
    /// Passport and SNILS given.
    Standard,
    /// Identity confirmed by an officer or a trusted identity provider.
    Confirmed,
}

impl AccountLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountLevel::Simplified => "simplified",
            AccountLevel::Standard => "standard",
            AccountLevel::Confirmed => "confirmed",
        }
    }

    pub fn parse(s: &str) -> Option<AccountLevel> {
        [
            AccountLevel::Simplified,
            AccountLevel::Standard,
            AccountLevel::Confirmed,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }

    /// The level the personal data supports on its own, before any confirmation.
    pub fn from_documents(snils: bool, passport: bool) -> AccountLevel {
        if snils && passport {
            AccountLevel::Standard
        } else {
            AccountLevel::Simplified
        }
    }
}

pub const MIN_AGE: u32 = 14;

/// Raw registration data as a client sends it.
#[derive(Clone, Debug, Default)]
pub struct RegistrationInput {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub snils: String,
    pub inn: Option<String>,
    pub phone: String,
    pub email: String,
    pub passport: Option<PassportInput>,
}

#[derive(Clone, Debug, Default)]
pub struct PassportInput {
    pub series: String,
    pub number: String,
    pub issued_on: NaiveDate,
    pub division_code: String,
}

/// Registration data that passed every rule: holding one proves validity.
#[derive(Clone, Debug, PartialEq)]
pub struct Registration {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub snils: Snils,
    pub inn: Option<Inn>,
    pub phone: Phone,
    pub email: Email,
    pub passport: Option<PassportRf>,
}

impl Registration {
    pub fn level(&self) -> AccountLevel {
        AccountLevel::from_documents(true, self.passport.is_some())
    }

    /// The names as stored (NFC, trimmed), or the problems with them and the birth date.
    fn person(input: &RegistrationInput, today: NaiveDate) -> (Names, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut check = |result: Result<String, FieldError>| match result {
            Ok(name) => Some(name),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let names = Names {
            surname: check(person_name("surname", &input.surname)),
            given_name: check(person_name("given_name", &input.given_name)),
            patronymic: input
                .patronymic
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .and_then(|p| check(person_name("patronymic", p))),
        };
        if input.birth_date > today {
            errors.push(FieldError::in_future("birth_date"));
        } else if age_on(input.birth_date, today) < MIN_AGE {
            errors.push(FieldError::new(
                "birth_date",
                "too_young",
                format!("Account holders must be at least {MIN_AGE}."),
            ));
        }
        (names, errors)
    }

    /// Validates every field and reports all problems at once, not just the first.
    pub fn validate(input: RegistrationInput, today: NaiveDate) -> Result<Registration, Vec<FieldError>> {
        let (names, mut errors) = Registration::person(&input, today);
        let snils = Snils::parse(&input.snils);
        let inn = input
            .inn
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(Inn::parse)
            .transpose();
        let phone = Phone::parse(&input.phone);
        let email = Email::parse(&input.email);
        let passport = input
            .passport
            .map(|p| PassportRf::new(&p.series, &p.number, p.issued_on, &p.division_code, today))
            .transpose();
        if let Ok(Some(inn)) = &inn {
            if !inn.is_personal() {
                errors.push(FieldError::new(
                    "inn",
                    "not_personal",
                    "A citizen's INN has 12 digits.",
                ));
            }
        }
        let first = |r: &Result<_, FieldError>| r.as_ref().err().cloned();
        errors.extend(
            [
                first(&snils.clone().map(|_| ())),
                first(&inn.clone().map(|_| ())),
                first(&phone.clone().map(|_| ())),
            ]
            .into_iter()
            .chain([
                first(&email.clone().map(|_| ())),
                first(&passport.clone().map(|_| ())),
            ])
            .flatten(),
        );
        match (snils, inn, phone, email, passport) {
            (Ok(snils), Ok(inn), Ok(phone), Ok(email), Ok(passport)) if errors.is_empty() => {
                let (Some(surname), Some(given_name)) = (names.surname, names.given_name) else {
                    return Err(errors);
                };
                Ok(Registration {
                    surname,
                    given_name,
                    patronymic: names.patronymic,
                    birth_date: input.birth_date,
                    snils,
                    inn,
                    phone,
                    email,
                    passport,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The names of a registration, each as stored once it passed.
struct Names {
    surname: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
}

/// The password rules of SPEC §8 (config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_classes: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            require_classes: true,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password`; `personal` are the holder's own words (names, e-mail) that a
    /// guesser would try first.
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), FieldError> {
        const FIELD: &str = "password";
        if password.chars().count() < self.min_length {
            return Err(FieldError::new(
                FIELD,
                "too_short",
                format!("At least {} characters.", self.min_length),
            ));
        }
        if password.len() > 256 {
            return Err(FieldError::too_long(FIELD, "At most 256 bytes."));
        }
        if self.require_classes {
            let upper = password.chars().any(char::is_uppercase);
            let lower = password.chars().any(char::is_lowercase);
            let digit = password.chars().any(|c| c.is_ascii_digit());
            let special = password.chars().any(|c| !c.is_alphanumeric());
            if !(upper && lower && digit && special) {
                return Err(FieldError::new(
                    FIELD,
                    "too_simple",
                    "Use upper- and lower-case letters, a digit and a special character.",
                ));
            }
        }
        // zxcvbn knows the common-password lists and the patterns people use to pad them
        // ("Password1!", "Qwerty123$"); a score below 3 is guessable in an online attack.
        let weak = zxcvbn::zxcvbn(password, personal).score() < zxcvbn::Score::Three;
        if weak {
            return Err(FieldError::new(
                FIELD,
                "too_common",
                "This password is too common or easy to guess.",
            ));
        }
        Ok(())
    }
}

/// An account as stored. Personal documents stay sealed (ciphertexts bound to the account);
/// only the holder's profile view opens them.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub roles: Vec<Role>,
    pub level: AccountLevel,
    pub display_name: String,
    pub agency_code: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub sealed: SealedDocuments,
    pub password_hash: String,
    pub totp: SecondFactor,
    /// Comma-separated addresses or networks (see [`crate::login::address_allowed`]).
    pub ip_allow_list: Option<String>,
    /// Which contacts came back with the code sent to them: only those are login keys.
    pub proven: ProvenContacts,
    /// The blind index of a SNILS this account claims while its identity is unconfirmed.
    pub snils_claim: Option<String>,
    pub version: i64,
    pub created_at: Instant,
}

/// Whether the account's e-mail and phone are proven (a code sent to each came back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProvenContacts {
    pub email: bool,
    pub phone: bool,
}

/// The personal documents, encrypted.
#[derive(Clone, Debug, Default)]
pub struct SealedDocuments {
    pub snils: Option<String>,
    pub inn: Option<String>,
    pub passport: Option<String>,
}

/// Why an officer cannot confirm an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmationRefused {
    AlreadyConfirmed,
    /// The account needs a passport and SNILS (level `standard`) first.
    DocumentsMissing,
}

impl AccountLevel {
    /// The level an officer's confirmation of the identity leads to.
    pub fn confirm(self) -> Result<AccountLevel, ConfirmationRefused> {
        match self {
            AccountLevel::Standard => Ok(AccountLevel::Confirmed),
            AccountLevel::Confirmed => Err(ConfirmationRefused::AlreadyConfirmed),
            AccountLevel::Simplified => Err(ConfirmationRefused::DocumentsMissing),
        }
    }
}

/// The associated data binding a sealed personal document to its account and field, so
/// a ciphertext moved to another account or field fails to open.
pub fn sealed_field(account: AccountId, name: &str) -> String {
    format!("{name}/{account}")
}

/// The TOTP second factor: its sealed secret, and whether it is in force (confirmed).
#[derive(Clone, Debug, Default)]
pub struct SecondFactor {
    pub secret: Option<String>,
    pub enabled: bool,
}

impl Account {
    /// Whether a login or request from `ip` may use this account.
    pub fn allows_address(&self, ip: Option<&str>) -> bool {
        crate::login::address_allowed(self.ip_allow_list.as_deref(), ip)
    }

    /// The personal words a new password must not contain.
    pub fn personal_words(&self) -> Vec<String> {
        [&self.email, &self.surname]
            .into_iter()
            .map(|w| w.clone().unwrap_or_default())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_a_standard_account_can_be_confirmed() {
        use ConfirmationRefused::*;
        let table = [
            (AccountLevel::Simplified, Err(DocumentsMissing)),
            (AccountLevel::Standard, Ok(AccountLevel::Confirmed)),
            (AccountLevel::Confirmed, Err(AlreadyConfirmed)),
        ];
        for (level, expected) in table {
            assert_eq!(level.confirm(), expected, "{level:?}");
        }
    }

    fn input() -> RegistrationInput {
        RegistrationInput {
            surname: "Иванова".into(),
            given_name: "Мария".into(),
            patronymic: Some("Петровна".into()),
            birth_date: NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
            snils: "112-233-445 95".into(),
            inn: Some("500100732259".into()),
            phone: "+7 916 123-45-67".into(),
            email: "maria@example.ru".into(),
            passport: None,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn a_complete_registration_is_simplified_until_the_passport_is_given() {
        let registration = Registration::validate(input(), today()).unwrap();
        assert_eq!(registration.level(), AccountLevel::Simplified);
        let mut with_passport = input();
        with_passport.passport = Some(PassportInput {
            series: "4508".into(),
            number: "123456".into(),
            issued_on: NaiveDate::from_ymd_opt(2010, 6, 1).unwrap(),
            division_code: "770-001".into(),
        });
        assert_eq!(
            Registration::validate(with_passport, today()).unwrap().level(),
            AccountLevel::Standard
        );
    }

    #[test]
    fn names_are_stored_composed() {
        let mut decomposed = input();
        decomposed.given_name = "Андреи\u{306}".into();
        decomposed.patronymic = Some(" ".into());
        let registration = Registration::validate(decomposed, today()).unwrap();
        assert_eq!(registration.given_name, "Андрей");
        assert_eq!(registration.patronymic, None);
        let mut mixed = input();
        mixed.surname = "Ивaнoва".into();
        let errors = Registration::validate(mixed, today()).unwrap_err();
        assert_eq!((errors[0].field, errors[0].code), ("surname", "mixed_scripts"));
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let mut bad = input();
        bad.surname = " ".into();
        bad.snils = "112-233-445 96".into();
        bad.phone = "89161234567".into();
        bad.email = "not-an-email".into();
        bad.inn = Some("7707083893".into());
        let errors = Registration::validate(bad, today()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field, e.code)).collect();
        assert!(fields.contains(&("surname", "required")));
        assert!(fields.contains(&("snils", "invalid_checksum")));
        assert!(fields.contains(&("phone", "invalid_format")));
        assert!(fields.contains(&("email", "invalid_format")));
        assert!(fields.contains(&("inn", "not_personal")));
    }

    #[test]
    fn birth_date_must_be_past_and_at_least_fourteen_years_ago() {
        let mut young = input();
        young.birth_date = NaiveDate::from_ymd_opt(2012, 11, 24).unwrap();
        let errors = Registration::validate(young, today()).unwrap_err();
        assert_eq!(errors[0].code, "too_young");
        let mut fourteen_today = input();
        fourteen_today.birth_date = NaiveDate::from_ymd_opt(2012, 11, 23).unwrap();
        assert!(Registration::validate(fourteen_today, today()).is_ok());
        let mut unborn = input();
        unborn.birth_date = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(
            Registration::validate(unborn, today()).unwrap_err()[0].code,
            "in_future"
        );
    }

    #[test]
    fn password_policy() {
        let policy = PasswordPolicy::default();
        let code = |p: &str| {
            policy
                .check(p, &["maria@example.ru", "Иванова"])
                .err()
                .map(|e| e.code)
        };
        assert_eq!(code("Ab1!"), Some("too_short"));
        assert_eq!(code("alllowercase1!"), Some("too_simple"));
        assert_eq!(code("NoDigitsHere!"), Some("too_simple"));
        assert_eq!(code("Password1!"), Some("too_common"));
        assert_eq!(code("Qwerty123!"), Some("too_common"));
        assert_eq!(code("Tundra-Violet-42"), None);
    }
}
