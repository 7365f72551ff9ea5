//! Registering a citizen account, and an officer confirming a citizen's identity.

use actix_web::web::{Json, Path};
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use domain::access::{authorize, Action, Resource, Role};
use domain::account::{AccountLevel, PassportInput, Registration, RegistrationInput};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use persistence::accounts::{self, NewAccount};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::profile::{field, PassportBody, ProfileView};
use crate::auth::network::client_ip;
use crate::auth::{logins, passwords, Actor};
use crate::clock::now;
use crate::concurrency::etag;
use crate::error::{from_field_errors, ApiError};
use crate::state::{blocking, State};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "surname": "Иванова", "given_name": "Мария", "patronymic": "Петровна", "birth_date": "1990-05-17",
    "snils": "112-233-445 95", "inn": "500100732259", "phone": "+7 916 123-45-67",
    "email": "maria@example.ru", "password": "Tundra-Violet-42",
    "passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}
}))]
pub struct RegistrationRequest {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    /// With or without separators; checked with its check digits.
    pub snils: String,
    /// A citizen's 12-digit INN, checked with its check digits.
    pub inn: Option<String>,
    /// E.164, e.g. +79161234567.
    pub phone: String,
    pub email: String,
    pub password: String,
    /// With the passport (and SNILS) the account starts at level `standard`.
    pub passport: Option<PassportBody>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "level": "confirmed"}))]
pub struct LevelView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AccountId,
    #[schema(value_type = String, example = "confirmed")]
    pub level: AccountLevel,
}

pub fn passport_input(body: PassportBody) -> PassportInput {
    PassportInput {
        series: body.series,
        number: body.number,
        issued_on: body.issued_on,
        division_code: body.division_code,
    }
}

/// Register a citizen account (level `simplified`, or `standard` with a passport).
#[utoipa::path(
    tag = "accounts",
    operation_id = "register",
    request_body = RegistrationRequest,
    responses(
        (status = 201, description = "Registered", body = ProfileView,
            headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/accounts")]
pub async fn register(
    state: State,
    body: Json<RegistrationRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let password = body.password;
    let input = RegistrationInput {
        surname: body.surname,
        given_name: body.given_name,
        patronymic: body.patronymic,
        birth_date: body.birth_date,
        snils: body.snils,
        inn: body.inn,
        phone: body.phone,
        email: body.email,
        passport: body.passport.map(passport_input),
    };
    let at = now();
    let validated = Registration::validate(input.clone(), at.date_naive());
    let personal = [
        input.email.as_str(),
        input.surname.as_str(),
        input.given_name.as_str(),
    ];
    let password_check = state.config.password_policy().check(&password, &personal);
    let registration = match (validated, password_check) {
        (Ok(registration), Ok(())) => registration,
        (validated, password_check) => {
            let mut errors = validated.err().unwrap_or_default();
            errors.extend(password_check.err());
            return Err(from_field_errors(errors));
        }
    };
    let pii = state.pii.clone();
    let id = AccountId::new();
    let login_keys = vec![
        domain::login::email_key(registration.email.as_str()),
        domain::login::phone_key(&registration.phone),
        domain::login::snils_key(&logins::snils_index(&pii, &registration.snils)),
    ];
    // A duplicate answers the same whichever login is taken: it must not tell a stranger
    // which e-mail, phone or SNILS has an account.
    let conflict = || {
        ApiError::conflict(
            "registration_conflict",
            "An account with some of these details exists already; log in or reset the password.",
        )
    };
    let keys = login_keys.clone();
    if state
        .read(move |c| Ok(accounts::any_login_taken(c, &keys)?))
        .await?
    {
        return Err(conflict());
    }
    let password_hash = blocking(move || passwords::hash(&password).map_err(ApiError::internal)).await?;
    let passport_json = registration.passport.as_ref().map(|p| {
        json!({
            "series": p.series(), "number": p.number(),
            "issued_on": p.issued_on(), "division_code": p.division_code()
        })
        .to_string()
    });
    let new = NewAccount {
        id,
        display_name: format!("{} {}", registration.given_name, registration.surname),
        roles: vec![Role::Citizen],
        agency_code: None,
        level: Some(registration.level()),
        password_hash,
        email: Some(registration.email.as_str().to_string()),
        phone: Some(registration.phone.as_str().to_string()),
        surname: Some(registration.surname.clone()),
        given_name: Some(registration.given_name.clone()),
        patronymic: registration.patronymic.clone(),
        birth_date: Some(registration.birth_date),
        snils_enc: Some(pii.encrypt(&field(id, "snils"), registration.snils.as_str())),
        inn_enc: registration
            .inn
            .as_ref()
            .map(|inn| pii.encrypt(&field(id, "inn"), inn.as_str())),
        passport_enc: passport_json.map(|p| pii.encrypt(&field(id, "passport"), &p)),
        login_keys,
    };
    let ip = client_ip(&req);
    let created = state
        .write(move |tx| {
            if !accounts::create(tx, &new, at)? {
                return Ok(None);
            }
            let welcome = Notice {
                recipient: id,
                kind: "account.registered".into(),
                title: "Добро пожаловать в Кабинет".into(),
                body: "Ваша учётная запись создана. Подтвердите личность, чтобы подавать заявления.".into(),
                data: json!({ "level": new.level.map(AccountLevel::as_str) }),
                important: false,
            };
            persistence::notifications::notify(tx, &welcome, at)?;
            let entry = AuditEntry::new("account.register", "account")
                .by(Some(id))
                .target(id)
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            Ok(accounts::find(tx, id)?)
        })
        .await?;
    let account = created.ok_or_else(conflict)?;
    let view = ProfileView::of(&account, &state.pii)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", "/api/v1/me"))
        .insert_header(("ETag", etag(view.version)))
        .json(view))
}

/// Confirm a citizen's identity (officers and admins): raises the account to `confirmed`.
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmIdentity",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Account id")),
    responses(
        (status = 200, description = "Confirmed", body = LevelView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/accounts/{id}/confirm-identity")]
pub async fn confirm_identity(
    state: State,
    actor: Actor,
    id: Path<AccountId>,
) -> Result<Json<LevelView>, ApiError> {
    let target = id.into_inner();
    authorize(
        &actor.subject,
        Action::AccountsConfirmIdentity,
        &Resource::Account(target),
        now(),
    )?;
    let (officer, ip) = (actor.account, actor.ip.clone());
    state
        .write(move |tx| {
            let account = accounts::find(tx, target)?.ok_or_else(ApiError::not_found)?;
            match account.level {
                AccountLevel::Confirmed => {
                    return Err(ApiError::conflict("already_confirmed", "This identity is confirmed already."))
                }
                AccountLevel::Simplified => {
                    return Err(ApiError::conflict(
                        "documents_missing",
                        "The account needs a passport and SNILS (level standard) before confirmation.",
                    ))
                }
                AccountLevel::Standard => {}
            }
            let at = now();
            accounts::set_level(tx, target, AccountLevel::Confirmed, at)?;
            let notice = Notice {
                recipient: target,
                kind: "account.confirmed".into(),
                title: "Личность подтверждена".into(),
                body: "Ваша учётная запись подтверждена: теперь вы можете подавать заявления и выдавать доверенности."
                    .into(),
                data: json!({}),
                important: false,
            };
            persistence::notifications::notify(tx, &notice, at)?;
            let entry = AuditEntry::new("account.confirm_identity", "account").by(Some(officer)).target(target).from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            Ok(LevelView { id: target, level: AccountLevel::Confirmed })
        })
        .await
        .map(Json)
}
