//! The caller's own account: profile, documents and allow-list, the TOTP second factor,
//! and changing the e-mail or phone (confirmed by a code sent to the new contact).

use actix_web::web::{Json, Path};
use actix_web::{delete, get, patch, post, HttpResponse};
use chrono::TimeDelta;
use domain::access::{authorize, Action, Resource};
use domain::account::AccountLevel;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::{Channel, Message};
use domain::person::{Email, Inn, PassportRf, Phone};
use persistence::accounts::{self, Account, ContactKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::profile::{field, PassportBody, ProfileView};
use crate::auth::alerts::{self, Alert};
use crate::auth::network::{ip_allowed, parse_entry};
use crate::auth::second_factor::{self, totp_field, Proof};
use crate::auth::{passwords, totp, Actor};
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::{from_field_error, ApiError};
use crate::state::{blocking, State};

async fn load(state: &State, id: AccountId) -> Result<Account, ApiError> {
    state
        .read(move |c| Ok(accounts::find(c, id)?))
        .await?
        .ok_or_else(ApiError::not_found)
}

fn profile_response(account: &Account, state: &State) -> Result<HttpResponse, ApiError> {
    let view = ProfileView::of(account, &state.pii)?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(view.version)))
        .json(view))
}

/// Your profile, with your personal data.
#[utoipa::path(
    tag = "accounts",
    operation_id = "getMe",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your profile", body = ProfileView,
            headers(("ETag" = String, description = "The version, for If-Match"))),
    )
)]
#[get("/me")]
pub async fn get_me(state: State, actor: Actor) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::ProfileRead,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    profile_response(&load(&state, actor.principal()).await?, &state)
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}, "ip_allow_list": ["203.0.113.0/24"]}))]
pub struct ProfilePatch {
    /// Giving or changing the passport sets the level to `standard` (a changed passport
    /// must be confirmed again).
    pub passport: Option<PassportBody>,
    pub inn: Option<String>,
    /// Addresses or CIDR networks logins and tokens may come from; `[]` allows every address.
    pub ip_allow_list: Option<Vec<String>>,
}

/// Update your documents or IP allow-list (requires `If-Match`).
#[utoipa::path(
    tag = "accounts",
    operation_id = "patchMe",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    params(("If-Match" = String, Header, description = "The ETag of the profile you read")),
    responses(
        (status = 200, description = "The updated profile", body = ProfileView),
    )
)]
#[patch("/me")]
pub async fn patch_me(
    state: State,
    actor: Actor,
    version: IfMatch,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::ProfileEdit,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let patch = body.into_inner();
    let at = now();
    let id = actor.principal();
    let passport = patch
        .passport
        .map(|p| {
            PassportRf::new(
                &p.series,
                &p.number,
                p.issued_on,
                &p.division_code,
                at.date_naive(),
            )
        })
        .transpose()
        .map_err(from_field_error)?;
    let inn = patch
        .inn
        .as_deref()
        .map(Inn::parse)
        .transpose()
        .map_err(from_field_error)?;
    if inn.as_ref().is_some_and(|i| !i.is_personal()) {
        return Err(ApiError::field(
            "inn",
            "not_personal",
            "A citizen's INN has 12 digits.",
        ));
    }
    let allow_list = match patch.ip_allow_list {
        None => None,
        Some(entries) => Some(allow_list(&entries, actor.ip.as_deref())?),
    };
    let pii = state.pii.clone();
    let ip = actor.ip.clone();
    let account = state
        .write(move |tx| {
            let current = accounts::find(tx, id)?.ok_or_else(ApiError::not_found)?;
            if current.row.version != version.0 || !accounts::bump_version(tx, id, version.0, at)? {
                return Err(stale(current.row.version));
            }
            let passport_enc = passport.as_ref().map(|p| {
                let json = json!({
                    "series": p.series(), "number": p.number(),
                    "issued_on": p.issued_on(), "division_code": p.division_code()
                });
                pii.encrypt(&field(id, "passport"), &json.to_string())
            });
            let level = match (&passport, current.level) {
                (Some(_), _) => AccountLevel::from_documents(current.row.snils_enc.is_some(), true),
                (None, level) => level,
            };
            let inn_enc = inn.map(|i| pii.encrypt(&field(id, "inn"), i.as_str()));
            accounts::set_documents(tx, id, passport_enc.as_deref(), inn_enc.as_deref(), level)?;
            if let Some(list) = &allow_list {
                accounts::store_ip_allow_list(tx, id, list.as_deref())?;
            }
            let changed: Vec<&str> = [
                passport_enc.as_ref().map(|_| "passport"),
                inn_enc.as_ref().map(|_| "inn"),
                allow_list.as_ref().map(|_| "ip_allow_list"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let entry = AuditEntry::new("account.update", "account")
                .by(Some(id))
                .target(id)
                .details(json!({ "changed": changed }))
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            accounts::find(tx, id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    profile_response(&account, &state)
}

/// Validates an allow-list; refuses one that would shut out the address it is set from.
fn allow_list(entries: &[String], caller: Option<&str>) -> Result<Option<String>, ApiError> {
    if entries.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = entries.iter().find(|e| parse_entry(e).is_none()) {
        return Err(ApiError::field(
            "ip_allow_list",
            "invalid_format",
            format!("{bad:?} is not an IP address or network."),
        ));
    }
    let list = entries.iter().map(|e| e.trim()).collect::<Vec<_>>().join(",");
    if !caller.is_some_and(|ip| ip_allowed(&list, ip)) {
        return Err(ApiError::field(
            "ip_allow_list",
            "excludes_current_address",
            "The list must include the address you are using now.",
        ));
    }
    Ok(Some(list))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/Kabinet:maria%40example.ru?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Kabinet"}))]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// Scan this (as a QR code) with an authenticator app.
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "492039"}))]
pub struct CodeBody {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"recovery_codes": ["ABCDE-23456", "FGHJK-78923"]}))]
pub struct RecoveryCodes {
    /// Shown once: each logs in once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// Start TOTP enrolment: a new secret to put into an authenticator app.
#[utoipa::path(
    tag = "accounts",
    operation_id = "startTotp",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Enrolment started; confirm it with a first code", body = TotpEnrolment),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/mfa/totp")]
pub async fn start_totp(state: State, actor: Actor) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let account = load(&state, actor.account).await?;
    if account.row.totp_enabled {
        return Err(ApiError::conflict(
            "mfa_already_enabled",
            "TOTP is enabled already; disable it first.",
        ));
    }
    let secret = totp::new_secret();
    let label = account
        .row
        .email
        .clone()
        .unwrap_or_else(|| account.row.display_name.clone());
    let otpauth_uri = totp::provisioning_uri(&secret, &label).map_err(ApiError::internal)?;
    let sealed = state.pii.encrypt(&totp_field(account.id), &secret);
    let id = account.id;
    state
        .write(move |tx| Ok(accounts::set_totp(tx, id, Some(&sealed), false, now())?))
        .await?;
    Ok(HttpResponse::Created().json(TotpEnrolment { secret, otpauth_uri }))
}

/// Confirm TOTP enrolment with a first code; answers the recovery codes (shown once).
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmTotp",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/mfa/totp/confirm")]
pub async fn confirm_totp(
    state: State,
    actor: Actor,
    body: Json<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let account = load(&state, actor.account).await?;
    if account.row.totp_enabled {
        return Err(ApiError::conflict(
            "mfa_already_enabled",
            "TOTP is enabled already.",
        ));
    }
    if account.row.totp_secret_enc.is_none() {
        return Err(ApiError::conflict(
            "mfa_not_started",
            "Start the enrolment first.",
        ));
    }
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| second_factor::recovery_hash(&state.pii, account.id, c))
        .collect();
    let (pii, ip, code) = (state.pii.clone(), actor.ip.clone(), body.into_inner().code);
    let confirmed = state
        .write(move |tx| {
            if !second_factor::check_totp(tx, &pii, &account, &code)? {
                return Ok(false);
            }
            let at = now();
            let id = account.id;
            accounts::enable_totp(tx, id, at)?;
            persistence::codes::replace_recovery_codes(tx, id, &hashes)?;
            let body = "Для входа теперь нужен код из приложения-аутентификатора.".to_string();
            let audit = AuditEntry::new("mfa.totp_enabled", "account")
                .by(Some(id))
                .target(id)
                .from_ip(ip);
            let title = "Двухфакторная защита включена";
            alerts::raise(
                tx,
                Alert {
                    account: id,
                    kind: "mfa_enabled",
                    title,
                    body,
                    audit,
                },
                at,
            )?;
            Ok(true)
        })
        .await?;
    if !confirmed {
        return Err(ApiError::field(
            "code",
            "invalid_code",
            "The code does not match; check the device's clock.",
        ));
    }
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn TOTP off with a current code.
#[utoipa::path(
    tag = "accounts",
    operation_id = "disableTotp",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[delete("/me/mfa/totp")]
pub async fn disable_totp(
    state: State,
    actor: Actor,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let account = load(&state, actor.account).await?;
    if !account.row.totp_enabled {
        return Err(ApiError::conflict("mfa_not_enabled", "TOTP is not enabled."));
    }
    let (pii, ip, code) = (state.pii.clone(), actor.ip.clone(), body.into_inner().code);
    let disabled = state
        .write(move |tx| {
            if !second_factor::check(tx, &pii, &account, &Proof::Totp(code))? {
                return Ok(false);
            }
            let (at, id) = (now(), account.id);
            accounts::set_totp(tx, id, None, false, at)?;
            persistence::codes::replace_recovery_codes(tx, id, &[])?;
            let body = "Двухфакторная защита отключена. Если это были не вы, смените пароль.".to_string();
            let audit = AuditEntry::new("mfa.totp_disabled", "account")
                .by(Some(id))
                .target(id)
                .from_ip(ip);
            let title = "Двухфакторная защита отключена";
            alerts::raise(
                tx,
                Alert {
                    account: id,
                    kind: "mfa_disabled",
                    title,
                    body,
                    audit,
                },
                at,
            )?;
            Ok(true)
        })
        .await?;
    if !disabled {
        return Err(ApiError::field(
            "code",
            "invalid_code",
            "The code does not match.",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"kind": "email", "value": "maria.new@example.ru", "password": "Tundra-Violet-42"}))]
pub struct ContactChangeRequest {
    /// `email` or `phone`.
    pub kind: String,
    pub value: String,
    /// Your password, or instead a current TOTP code in `totp_code`.
    pub password: Option<String>,
    pub totp_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "kind": "email", "expires_at": "2026-11-23T10:10:00Z"}))]
pub struct ContactChange {
    pub id: String,
    pub kind: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

const CONTACT: &str = "contact_change";

/// Start changing your e-mail or phone: a code goes to the new contact.
#[utoipa::path(
    tag = "accounts",
    operation_id = "startContactChange",
    security(("bearer" = [])),
    request_body = ContactChangeRequest,
    responses(
        (status = 202, description = "A code was sent to the new contact", body = ContactChange),
    )
)]
#[post("/me/contact-changes")]
pub async fn start_contact_change(
    state: State,
    actor: Actor,
    body: Json<ContactChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let ContactChangeRequest {
        kind,
        value,
        password,
        totp_code,
    } = body.into_inner();
    let (channel, canonical) = match kind.as_str() {
        "email" => (
            Channel::Email,
            Email::parse(&value)
                .map_err(from_field_error)?
                .as_str()
                .to_string(),
        ),
        "phone" => (
            Channel::Sms,
            Phone::parse(&value)
                .map_err(from_field_error)?
                .as_str()
                .to_string(),
        ),
        _ => {
            return Err(ApiError::field(
                "kind",
                "invalid_value",
                "kind is email or phone.",
            ))
        }
    };
    let account = load(&state, actor.account).await?;
    let proven = match (password, totp_code) {
        (Some(password), _) => {
            let stored = account.row.password_hash.clone();
            blocking(move || Ok(passwords::verify(&password, &stored))).await?
        }
        (None, Some(code)) => {
            let (pii, checked) = (state.pii.clone(), account.clone());
            state
                .write(move |tx| Ok(second_factor::check(tx, &pii, &checked, &Proof::Totp(code))?))
                .await?
        }
        (None, None) => {
            return Err(ApiError::field(
                "password",
                "required",
                "Confirm with your password or a TOTP code.",
            ))
        }
    };
    if !proven {
        return Err(ApiError::forbidden(
            "reauthentication_failed",
            "The password or code is wrong.",
        ));
    }
    let code = second_factor::new_numeric_code();
    let id = uuid::Uuid::now_v7().to_string();
    let at = now();
    let expires_at = at + TimeDelta::minutes(state.config.code_ttl_minutes);
    let hash = state.pii.keyed_hash(CONTACT, &format!("{id}:{code}"));
    let target = format!("{kind}:{canonical}");
    let (change_id, account_id, ip, kind_out) = (id.clone(), account.id, actor.ip.clone(), kind.clone());
    state
        .write(move |tx| {
            let new = persistence::codes::NewCode {
                id: &change_id,
                account: account_id,
                purpose: CONTACT,
                code_hash: &hash,
                target: Some(&target),
                expires_at,
            };
            persistence::codes::issue(tx, &new, at)?;
            let message = Message {
                channel,
                to: canonical,
                subject: "Подтверждение нового контакта".into(),
                body: format!("Код подтверждения: {code}. Никому его не сообщайте."),
                code: Some(code),
            };
            persistence::outbox::enqueue(tx, &message, None, at)?;
            let entry = AuditEntry::new("account.contact_change_requested", "account")
                .by(Some(account_id))
                .target(account_id)
                .details(json!({ "kind": kind }))
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Accepted().json(ContactChange {
        id,
        kind: kind_out,
        expires_at,
    }))
}

/// Confirm a contact change with the code sent to the new contact.
#[utoipa::path(
    tag = "accounts",
    operation_id = "confirmContactChange",
    security(("bearer" = [])),
    request_body = CodeBody,
    params(("id" = String, Path, description = "The contact change id")),
    responses(
        (status = 200, description = "The contact is changed", body = ProfileView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/me/contact-changes/{id}/confirm")]
pub async fn confirm_contact_change(
    state: State,
    actor: Actor,
    id: Path<String>,
    body: Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    authorize(
        &actor.subject,
        Action::CredentialsManage,
        &Resource::Account(actor.principal()),
        now(),
    )?;
    let (pii, account, ip) = (state.pii.clone(), actor.account, actor.ip.clone());
    let (change, code, max) = (
        id.into_inner(),
        body.into_inner().code,
        state.config.code_max_attempts,
    );
    let updated = state
        .write(move |tx| {
            let at = now();
            let before = accounts::find(tx, account)?.ok_or_else(ApiError::not_found)?;
            let redeemed = second_factor::redeem(tx, &pii, account, CONTACT, Some(&change), &code, max, at)?;
            let Some(Some(target)) = redeemed else {
                return Ok(Err(ApiError::field(
                    "code",
                    "invalid_code",
                    "The code is wrong, expired or used up.",
                )));
            };
            let (kind, value) = target
                .split_once(':')
                .ok_or_else(|| ApiError::internal("malformed contact target"))?;
            let (contact, old_key, new_key, old_address) = match kind {
                "email" => (
                    ContactKind::Email,
                    before.row.email.as_deref().map(domain::login::email_key),
                    domain::login::email_key(value),
                    before.row.email.clone(),
                ),
                _ => {
                    let phone = Phone::parse(value).map_err(|e| ApiError::internal(e.to_string()))?;
                    let old = before.row.phone.as_deref().and_then(|p| Phone::parse(p).ok());
                    (
                        ContactKind::Phone,
                        old.as_ref().map(domain::login::phone_key),
                        domain::login::phone_key(&phone),
                        before.row.phone.clone(),
                    )
                }
            };
            if !accounts::replace_contact(tx, account, contact, value, old_key.as_deref(), &new_key, at)? {
                return Ok(Err(ApiError::conflict(
                    "contact_unavailable",
                    "This contact cannot be used for your account.",
                )));
            }
            // The alert goes to the old contact too: the person who lost control of the
            // account must hear about it where they still read.
            let body =
                format!("Контакт для входа изменён ({kind}). Если это были не вы, обратитесь в поддержку.");
            if let Some(old) = old_address {
                let channel = if kind == "email" {
                    Channel::Email
                } else {
                    Channel::Sms
                };
                let message = Message {
                    channel,
                    to: old,
                    subject: "Контакт изменён".into(),
                    body: body.clone(),
                    code: None,
                };
                persistence::outbox::enqueue(tx, &message, None, at)?;
            }
            let audit = AuditEntry::new("account.contact_changed", "account")
                .by(Some(account))
                .target(account)
                .details(json!({ "kind": kind }))
                .from_ip(ip);
            alerts::raise(
                tx,
                Alert {
                    account,
                    kind: "contact_changed",
                    title: "Контакт изменён",
                    body,
                    audit,
                },
                at,
            )?;
            Ok(Ok(accounts::find(tx, account)?.ok_or_else(ApiError::not_found)?))
        })
        .await?;
    // A wrong code must still count its try, so the refusal is returned after the commit.
    profile_response(&updated?, &state)
}
