//! Registering a citizen account (level `simplified`, or `standard` with a passport).

use chrono::TimeDelta;
use domain::access::Role;
use domain::account::{sealed_field, Account, AccountLevel, PasswordPolicy, Registration, RegistrationInput};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use domain::time::Instant;
use persistence::accounts::{self, ContactKind, NewAccount};
use persistence::DbConnection;
use serde_json::json;

use super::{load, proofs, seal_passport};
use crate::auth::logins;
use crate::crypto::PiiCipher;
use crate::error::{from_field_errors, ApiError};
use crate::usecases::{Effects, Outcome};

/// A registration that passed every check, with the SNILS blind index it claims.
pub struct Checked {
    registration: Registration,
    snils_index: String,
}

/// A duplicate answers the same whichever login is taken: it must not tell a stranger
/// which e-mail, phone or SNILS has an account.
fn conflict() -> ApiError {
    ApiError::conflict(
        "registration_conflict",
        "An account with some of these details exists already; log in or reset the password.",
    )
}

/// Checks what was typed (every field problem at once) and that no login is taken yet —
/// before the password is hashed, which is slow. Only proven logins count as taken: an
/// e-mail, phone or SNILS someone merely typed into another registration blocks nobody.
pub fn check(
    conn: &mut DbConnection,
    pii: &PiiCipher,
    policy: &PasswordPolicy,
    input: RegistrationInput,
    password: &str,
    now: Instant,
) -> Result<Checked, ApiError> {
    let personal = [
        input.email.as_str(),
        input.surname.as_str(),
        input.given_name.as_str(),
    ];
    let password_check = policy.check(password, &personal);
    let registration = match (
        Registration::validate(input.clone(), now.date_naive()),
        password_check,
    ) {
        (Ok(registration), Ok(())) => registration,
        (validated, password_check) => {
            let mut errors = validated.err().unwrap_or_default();
            errors.extend(password_check.err());
            return Err(from_field_errors(errors));
        }
    };
    let snils_index = logins::snils_index(pii, &registration.snils);
    let login_keys = [
        domain::login::email_key(registration.email.as_str()),
        domain::login::phone_key(&registration.phone),
        domain::login::snils_key(&snils_index),
    ];
    if accounts::any_login_taken(conn, &login_keys)? {
        return Err(conflict());
    }
    Ok(Checked {
        registration,
        snils_index,
    })
}

/// Creates the checked account with its password hash, sends a code to its e-mail and its
/// phone (each becomes a login once its code comes back), welcomes its holder and audits.
pub fn register(
    tx: &mut DbConnection,
    (pii, code_ttl): (&PiiCipher, TimeDelta),
    checked: Checked,
    password_hash: String,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Account>, ApiError> {
    let id = AccountId::new();
    let new = new_account(pii, id, checked, password_hash);
    // A login taken since the check (a race) is the same conflict.
    if !accounts::create(tx, &new, now)? {
        return Err(conflict());
    }
    let account = load(tx, id)?;
    for kind in [ContactKind::Email, ContactKind::Phone] {
        proofs::send(tx, pii, &account, kind, code_ttl, now)?;
    }
    let welcome = Notice {
        recipient: id,
        kind: "account.registered".into(),
        title: "Добро пожаловать в Кабинет".into(),
        body: "Ваша учётная запись создана. Введите коды, отправленные на вашу почту и телефон, чтобы входить по ним; подтвердите личность, чтобы подавать заявления.".into(),
        data: json!({ "level": new.level.map(AccountLevel::as_str) }),
        important: false,
    };
    let entry = AuditEntry::new("account.register", "account")
        .by(Some(id))
        .target(id)
        .from_ip(ip);
    Ok(Outcome::new(
        account,
        Effects::none().notice(welcome).audit(entry),
    ))
}

/// The row to store: personal documents sealed to the new account.
fn new_account(pii: &PiiCipher, id: AccountId, checked: Checked, password_hash: String) -> NewAccount {
    let Checked {
        registration: r,
        snils_index,
    } = checked;
    NewAccount {
        id,
        display_name: format!("{} {}", r.given_name, r.surname),
        roles: vec![Role::Citizen],
        agency_code: None,
        level: Some(r.level()),
        password_hash,
        email: Some(r.email.as_str().to_string()),
        phone: Some(r.phone.as_str().to_string()),
        surname: Some(r.surname.clone()),
        given_name: Some(r.given_name.clone()),
        patronymic: r.patronymic.clone(),
        birth_date: Some(r.birth_date),
        snils_enc: Some(pii.encrypt(&sealed_field(id, "snils"), r.snils.as_str())),
        inn_enc: r
            .inn
            .as_ref()
            .map(|inn| pii.encrypt(&sealed_field(id, "inn"), inn.as_str())),
        passport_enc: r.passport.as_ref().map(|p| seal_passport(pii, id, p)),
        login_keys: Vec::new(),
        contacts_unproven: true,
        snils_claim: Some(snils_index),
    }
}
