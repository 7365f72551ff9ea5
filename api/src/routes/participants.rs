//! Participants of an application and invitations to join one. The owner invites by
//! e-mail, phone or SNILS; the invitee — even one who registers only later with that
//! contact — accepts or declines within the invitation's lifetime. Changing who takes
//! part changes who must sign, so role changes and removals move the application to a
//! new version (`If-Match`).

use actix_web::web::{Json, Path};
use actix_web::{delete, get, patch, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::access::Action;
use domain::application::Application;
use domain::ids::{AccountId, ApplicationId, InvitationId};
use domain::joint::{self as rules, InvitationRefusal, InvitationStatus, ParticipantRole};
use domain::login;
use domain::notice::{Channel, Message};
use domain::person::{Email, Phone, Snils};
use persistence::joint::{self as store, Invitation, Participant};
use persistence::{applications, DbConnection};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::joint::{self, Tidings};
use crate::lifecycle::{self, Acting};
use crate::state::State;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"account_id": "019a4c3e-0000-7000-8000-000000000001", "role": "co_applicant", "added_at": "2026-11-23T10:00:00Z"}))]
pub struct ParticipantView {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
    pub added_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c41-0000-7000-8000-000000000002", "application_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69",
    "role": "contributor", "contact": "s***@example.ru", "status": "pending",
    "expires_at": "2026-11-30T10:00:00Z", "created_at": "2026-11-23T10:00:00Z"
}))]
pub struct InvitationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: InvitationId,
    #[schema(value_type = String, format = Uuid)]
    pub application_id: ApplicationId,
    #[schema(value_type = String, example = "contributor")]
    pub role: ParticipantRole,
    /// The invitee's contact, masked.
    pub contact: String,
    #[schema(value_type = String, format = Uuid)]
    pub invited_by: AccountId,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn invitation_view(i: &Invitation) -> InvitationView {
    let expired = i.status == InvitationStatus::Pending && i.expires_at <= now();
    InvitationView {
        id: i.id,
        application_id: i.application,
        role: i.role,
        contact: i.contact_hint.clone(),
        invited_by: i.invited_by,
        status: if expired {
            "expired".into()
        } else {
            i.status.as_str().into()
        },
        expires_at: i.expires_at,
        created_at: i.created_at,
    }
}

fn participant_view(p: &Participant) -> ParticipantView {
    ParticipantView {
        account_id: p.account,
        role: p.role,
        added_at: p.added_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ParticipantList {
    /// The owner first, then everyone who joined, in order.
    pub items: Vec<ParticipantView>,
    /// Invitations not answered yet.
    pub invitations: Vec<InvitationView>,
}

/// Who to invite: exactly one of `email`, `phone`, `snils`; and as what.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "spouse@example.ru", "role": "co_applicant"}))]
pub struct InviteBody {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub snils: Option<String>,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "viewer"}))]
pub struct RoleBody {
    #[schema(value_type = String, example = "viewer")]
    pub role: ParticipantRole,
}

fn refused(refusal: InvitationRefusal) -> ApiError {
    let message = match refusal {
        InvitationRefusal::CoApplicantsNotAllowed => "This service does not accept co-applicants.",
        InvitationRefusal::OwnerNotInvitable => {
            "An application has one owner; invite as co_applicant, contributor or viewer."
        }
        InvitationRefusal::AlreadyAnswered => "The invitation has already been answered.",
        InvitationRefusal::Expired => "The invitation has expired; ask for a new one.",
    };
    match refusal {
        InvitationRefusal::CoApplicantsNotAllowed | InvitationRefusal::OwnerNotInvitable => {
            ApiError::field("role", refusal.code(), message)
        }
        _ => ApiError::conflict(refusal.code(), message),
    }
}

/// The invitee's contact as a login key, a masked hint, and where to write to them.
fn contact(state: &State, body: &InviteBody) -> Result<(String, String, Option<Message>), ApiError> {
    let given = [body.email.is_some(), body.phone.is_some(), body.snils.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::field(
            "email",
            "one_contact",
            "Give exactly one of email, phone or snils.",
        ));
    }
    let letter = |channel, to: String| {
        Message {
        channel,
        to,
        subject: "Приглашение к заявлению".into(),
        body: "Вас пригласили участвовать в заявлении на портале. Войдите или зарегистрируйтесь с этим адресом, чтобы ответить.".into(),
        code: None,
    }
    };
    if let Some(email) = &body.email {
        let email = Email::parse(email).map_err(from_field_error)?;
        let hint = crate::dispatcher::mask_address(email.as_str());
        return Ok((
            login::email_key(email.as_str()),
            hint,
            Some(letter(Channel::Email, email.as_str().into())),
        ));
    }
    if let Some(phone) = &body.phone {
        let phone = Phone::parse(phone).map_err(from_field_error)?;
        let hint = crate::dispatcher::mask_address(phone.as_str());
        return Ok((
            login::phone_key(&phone),
            hint,
            Some(letter(Channel::Sms, phone.as_str().into())),
        ));
    }
    let snils = Snils::parse(body.snils.as_deref().unwrap_or_default()).map_err(from_field_error)?;
    let index = crate::auth::logins::snils_index(&state.pii, &snils);
    let tail: String = snils
        .as_str()
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Ok((
        login::snils_key(&index),
        format!("СНИЛС ***-***-*** {tail}"),
        None,
    ))
}

/// Moves the application to its next version (who must sign may have changed).
fn bump(tx: &mut DbConnection, app: &Application) -> Result<i64, ApiError> {
    if !applications::bump_version(tx, app.id, app.version, now())? {
        return Err(stale(app.version + 1));
    }
    Ok(app.version + 1)
}

/// The application's participants and pending invitations.
#[utoipa::path(
    tag = "joint",
    operation_id = "listParticipants",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Participants", body = ParticipantList))
)]
#[get("/applications/{id}/participants")]
pub async fn list(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
) -> Result<Json<ParticipantList>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let (app, joined, pending) = state
        .read(move |c| {
            let app = lifecycle::visible(c, &acting, id, Action::ApplicationsRead)?;
            Ok((
                app,
                store::participants_of(c, id)?,
                store::pending_invitations_of(c, id)?,
            ))
        })
        .await?;
    let owner = ParticipantView {
        account_id: app.owner,
        role: ParticipantRole::Owner,
        added_at: app.created_at,
    };
    Ok(Json(ParticipantList {
        items: std::iter::once(owner)
            .chain(joined.iter().map(participant_view))
            .collect(),
        invitations: pending.iter().map(invitation_view).collect(),
    }))
}

/// Invite someone by e-mail, phone or SNILS (the owner).
#[utoipa::path(
    tag = "joint",
    operation_id = "inviteParticipant",
    security(("bearer" = [])),
    request_body = InviteBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses(
        (status = 201, description = "Invited", body = InvitationView),
        (status = 409, description = "`already_participant` or `already_invited`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/applications/{id}/participants")]
pub async fn invite(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    body: Json<InviteBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, body, acting) = (id.into_inner(), body.into_inner(), Acting::from(&actor));
    let (login_key, hint, letter) = contact(&state, &body)?;
    let ttl = TimeDelta::days(state.config.invitation_ttl_days);
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                let (app, service) = lifecycle::load(tx, &acting, id, Action::ParticipantsManage)?;
                rules::check_role(body.role, &service.policy).map_err(refused)?;
                let invitee = persistence::accounts::find_by_login(tx, std::slice::from_ref(&login_key))?;
                if let Some(invitee) = &invitee {
                    if invitee.id == app.owner || store::role_of(tx, app.id, invitee.id)?.is_some() {
                        return Err(ApiError::conflict(
                            "already_participant",
                            "This person already takes part.",
                        ));
                    }
                }
                if store::pending_invitations_of(tx, app.id)?
                    .iter()
                    .any(|i| i.login_key == login_key && i.expires_at > now())
                {
                    return Err(ApiError::conflict(
                        "already_invited",
                        "This contact already has an open invitation.",
                    ));
                }
                let at = now();
                let invitation = Invitation {
                    id: InvitationId::new(),
                    application: app.id,
                    role: body.role,
                    login_key,
                    contact_hint: hint,
                    invited_by: acting.account,
                    status: InvitationStatus::Pending,
                    answered_by: None,
                    expires_at: at + ttl,
                    created_at: at,
                    answered_at: None,
                    version: 1,
                };
                store::insert_invitation(tx, &invitation)?;
                let tidings = Tidings {
                    kind: "application.invitation",
                    title: format!("Приглашение к заявлению {}", joint::title(&app)),
                    body: format!(
                        "Вас пригласили участвовать в заявлении «{}» ({}). Ответьте до {}.",
                        service.name_ru,
                        role_label(body.role),
                        invitation.expires_at.format("%d.%m.%Y")
                    ),
                    data: json!({ "invitation_id": invitation.id, "application_id": app.id }),
                };
                match (invitee, letter) {
                    (Some(invitee), _) => joint::tell(tx, invitee.id, &tidings, at)?,
                    (None, Some(letter)) => {
                        persistence::outbox::enqueue(tx, &letter, None, at)?;
                    }
                    (None, None) => {}
                }
                let details = json!({ "invitation_id": invitation.id, "role": body.role.as_str() });
                joint::record(
                    tx,
                    &acting,
                    &app,
                    "invite",
                    Some(role_label(body.role).into()),
                    details,
                    at,
                )?;
                Answer::created(&invitation_view(&invitation))
            })
        })
        .await?;
    Ok(answer.respond())
}

fn role_label(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Owner => "владелец",
        ParticipantRole::CoApplicant => "созаявитель",
        ParticipantRole::Contributor => "помощник",
        ParticipantRole::Viewer => "наблюдатель",
    }
}

/// Change a participant's role (the owner; requires the application's `If-Match`).
#[utoipa::path(
    tag = "joint",
    operation_id = "changeParticipantRole",
    security(("bearer" = [])),
    request_body = RoleBody,
    params(("id" = String, Path, format = Uuid), ("participant_id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses((status = 200, description = "Changed; `ETag` is the application's new version", body = ParticipantView, headers(("ETag" = String))))
)]
#[patch("/applications/{id}/participants/{participant_id}")]
pub async fn change_role(
    state: State,
    actor: Actor,
    path: Path<(ApplicationId, AccountId)>,
    version: IfMatch,
    body: Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let ((id, account), role, acting) = (path.into_inner(), body.role, Acting::from(&actor));
    let (participant, new_version) = state
        .write(move |tx| {
            let (app, service) = lifecycle::load(tx, &acting, id, Action::ParticipantsManage)?;
            if app.version != version.0 {
                return Err(stale(app.version));
            }
            rules::check_role(role, &service.policy).map_err(refused)?;
            let mut participant = store::participants_of(tx, id)?
                .into_iter()
                .find(|p| p.account == account)
                .ok_or_else(ApiError::not_found)?;
            store::set_role(tx, id, account, role)?;
            let new_version = bump(tx, &app)?;
            let at = now();
            let details =
                json!({ "account_id": account, "from": participant.role.as_str(), "to": role.as_str() });
            joint::record(
                tx,
                &acting,
                &app,
                "participant_role",
                Some(role_label(role).into()),
                details,
                at,
            )?;
            let tidings = Tidings {
                kind: "application.participant",
                title: format!("Заявление {}: ваша роль изменена", joint::title(&app)),
                body: format!("Теперь вы — {}.", role_label(role)),
                data: json!({ "application_id": app.id, "role": role.as_str() }),
            };
            joint::tell(tx, account, &tidings, at)?;
            participant.role = role;
            Ok((participant, new_version))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(new_version)))
        .json(participant_view(&participant)))
}

/// Remove a participant (the owner), or leave (a participant removing themselves);
/// requires the application's `If-Match`. Access ends with the very next request.
#[utoipa::path(
    tag = "joint",
    operation_id = "removeParticipant",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("participant_id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses((status = 204, description = "Removed; `ETag` is the application's new version", headers(("ETag" = String))))
)]
#[delete("/applications/{id}/participants/{participant_id}")]
pub async fn remove(
    state: State,
    actor: Actor,
    path: Path<(ApplicationId, AccountId)>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let ((id, account), acting) = (path.into_inner(), Acting::from(&actor));
    let new_version = state
        .write(move |tx| {
            let leaving = account == acting.principal();
            let action = if leaving {
                Action::ApplicationsRead
            } else {
                Action::ParticipantsManage
            };
            let (app, _) = lifecycle::load(tx, &acting, id, action)?;
            if app.version != version.0 {
                return Err(stale(app.version));
            }
            // Recorded while the participant is still on the application, so the event
            // reaches them too (and ends their open stream); a missing one rolls it back.
            let at = now();
            let event = if leaving {
                "participant_left"
            } else {
                "participant_removed"
            };
            let details = json!({ "account_id": account });
            joint::record(tx, &acting, &app, event, None, details, at)?;
            if !store::remove_participant(tx, id, account)? {
                return Err(ApiError::not_found());
            }
            let new_version = bump(tx, &app)?;
            let tidings = Tidings {
                kind: "application.participant",
                title: format!("Заявление {}: участник удалён", joint::title(&app)),
                body: "Состав участников заявления изменился.".into(),
                data: json!({ "application_id": app.id, "account_id": account }),
            };
            joint::tell_others(tx, &app, acting.account, &tidings, at)?;
            if !leaving {
                joint::tell(tx, account, &tidings, at)?;
            }
            Ok(new_version)
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("ETag", etag(new_version)))
        .finish())
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationView>,
}

/// Invitations waiting for you (sent to any of your e-mail, phone or SNILS).
#[utoipa::path(
    tag = "joint",
    operation_id = "listInvitations",
    security(("bearer" = [])),
    responses((status = 200, description = "Open invitations", body = InvitationList))
)]
#[get("/invitations")]
pub async fn mine(state: State, actor: Actor) -> Result<Json<InvitationList>, ApiError> {
    let account = actor.account;
    let found = state
        .read(move |c| Ok(store::invitations_for(c, account)?))
        .await?;
    let at = now();
    Ok(Json(InvitationList {
        items: found
            .iter()
            .filter(|i| i.expires_at > at)
            .map(invitation_view)
            .collect(),
    }))
}

/// The invitation, if it was sent to one of the caller's own contacts.
fn addressed(tx: &mut DbConnection, actor: AccountId, id: InvitationId) -> Result<Invitation, ApiError> {
    let invitation = store::find_invitation(tx, id)?.ok_or_else(ApiError::not_found)?;
    if !store::addressed_to(tx, &invitation.login_key, actor)? {
        return Err(ApiError::not_found());
    }
    Ok(invitation)
}

/// Answers an invitation and tells the application's members.
fn answer(
    tx: &mut DbConnection,
    acting: &Acting,
    id: InvitationId,
    status: InvitationStatus,
) -> Result<Invitation, ApiError> {
    let mut invitation = addressed(tx, acting.account, id)?;
    let at = now();
    rules::check_answer(invitation.status, invitation.expires_at, at).map_err(refused)?;
    if !store::answer_invitation(tx, &invitation, status, acting.account, at)? {
        return Err(ApiError::conflict(
            "invitation_answered",
            "The invitation has already been answered.",
        ));
    }
    let app = applications::find(tx, invitation.application)?.ok_or_else(ApiError::not_found)?;
    let (event, title) = if status == InvitationStatus::Accepted {
        if app.owner == acting.account || store::role_of(tx, app.id, acting.account)?.is_some() {
            return Err(ApiError::conflict(
                "already_participant",
                "You already take part in this application.",
            ));
        }
        let participant = Participant {
            account: acting.account,
            role: invitation.role,
            added_by: invitation.invited_by,
            added_at: at,
        };
        store::add_participant(tx, app.id, &participant)?;
        bump(tx, &app)?;
        ("participant_joined", "приглашение принято")
    } else {
        ("invitation_declined", "приглашение отклонено")
    };
    let details = json!({ "invitation_id": invitation.id, "role": invitation.role.as_str() });
    joint::record(
        tx,
        acting,
        &app,
        event,
        Some(role_label(invitation.role).into()),
        details,
        at,
    )?;
    let tidings = Tidings {
        kind: "application.participant",
        title: format!("Заявление {}: {title}", joint::title(&app)),
        body: format!(
            "Приглашённый участник ({}) ответил на приглашение.",
            role_label(invitation.role)
        ),
        data: json!({ "application_id": app.id, "invitation_id": invitation.id, "account_id": acting.account }),
    };
    joint::tell_others(tx, &app, acting.account, &tidings, at)?;
    invitation.status = status;
    Ok(invitation)
}

/// Accept an invitation: you join the application in the invited role.
#[utoipa::path(
    tag = "joint",
    operation_id = "acceptInvitation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Joined", body = InvitationView),
        (status = 409, description = "`invitation_expired`, `invitation_answered` or `already_participant`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/invitations/{id}/accept")]
pub async fn accept(
    state: State,
    actor: Actor,
    id: Path<InvitationId>,
) -> Result<Json<InvitationView>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let answered = state
        .write(move |tx| answer(tx, &acting, id, InvitationStatus::Accepted))
        .await?;
    Ok(Json(invitation_view(&answered)))
}

/// Decline an invitation.
#[utoipa::path(
    tag = "joint",
    operation_id = "declineInvitation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Declined", body = InvitationView),
        (status = 409, description = "`invitation_expired` or `invitation_answered`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/invitations/{id}/decline")]
pub async fn decline(
    state: State,
    actor: Actor,
    id: Path<InvitationId>,
) -> Result<Json<InvitationView>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let answered = state
        .write(move |tx| answer(tx, &acting, id, InvitationStatus::Declined))
        .await?;
    Ok(Json(invitation_view(&answered)))
}
