//! Participants of an application and invitations to join one: the HTTP side of
//! `usecases::joint::{participants, invitations}`. Changing who takes part changes who
//! must sign, so role changes and removals move the application to a new version
//! (`If-Match`).

use actix_web::web::{Json, Path};
use actix_web::{delete, get, patch, post, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use domain::ids::{AccountId, ApplicationId, InvitationId};
use domain::joint::{Invitation, Participant, ParticipantRole};
use domain::time::Instant;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::joint::invitations::{self, InviteInput};
use crate::usecases::joint::participants;
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use domain::access::Action;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"account_id": "019a4c3e-0000-7000-8000-000000000001", "role": "co_applicant", "added_at": "2026-11-23T10:00:00Z"}))]
pub struct ParticipantView {
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    #[schema(value_type = String, example = "co_applicant")]
    pub role: ParticipantRole,
    pub added_at: chrono::DateTime<chrono::Utc>,
    /// Set when a representative invited them for this principal (on behalf), not the
    /// principal themselves.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub invited_on_behalf_of: Option<AccountId>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c41-0000-7000-8000-000000000002", "application_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69",
    "role": "contributor", "contact": "s***@example.ru", "invited_by": "019a4c3e-0000-7000-8000-000000000001", "status": "pending",
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
    /// The principal `invited_by` acted for, when they invited on behalf.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub invited_on_behalf_of: Option<AccountId>,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The invitation as seen at `now`: a pending one past its lifetime shows as `expired`.
fn invitation_view(i: &Invitation, now: Instant) -> InvitationView {
    InvitationView {
        id: i.id,
        application_id: i.application,
        role: i.role,
        contact: i.contact_hint.clone(),
        invited_by: i.invited_by,
        invited_on_behalf_of: i.invited_on_behalf_of,
        status: if i.is_expired(now) {
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
        invited_on_behalf_of: p.invited_on_behalf_of,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"account_id": "019a4c3e-0000-7000-8000-000000000001", "added_at": "2026-11-23T10:00:00Z", "role": "co_applicant"}], "invitations": [{"application_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "contact": "s***@example.ru", "created_at": "2026-11-23T10:00:00Z", "expires_at": "2026-11-30T10:00:00Z", "id": "019a4c41-0000-7000-8000-000000000002", "role": "contributor", "status": "pending", "invited_by": "019a4c3e-0000-7000-8000-000000000001"}]}))]
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
    #[schema(value_type = String, example = "viewer", pattern = "^(owner|co_applicant|contributor|viewer)$")]
    pub role: ParticipantRole,
}

/// The application's participants and pending invitations.
///
/// Caller: whoever may read the application (owner, participant, representative with
/// `applications.read`, officer handling it). Changes nothing. The owner first, then
/// everyone who joined, in order; then the invitations not answered yet.
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
    caller: Caller,
    id: Path<ApplicationId>,
) -> Result<Json<ParticipantList>, ApiError> {
    let id = id.into_inner();
    let (roster, now) = state
        .query_as(caller, move |c, actor, now| {
            Ok((participants::list(c, &Acting::from(actor), id, now)?, now))
        })
        .await?;
    Ok(Json(ParticipantList {
        items: roster.people.iter().map(participant_view).collect(),
        invitations: roster
            .invitations
            .iter()
            .map(|i| invitation_view(i, now))
            .collect(),
    }))
}

/// Invite someone to an application.
///
/// Caller: the owner, or a representative with `participants.manage` (never inviting their
/// own account: 403 `self_invitation`). Changes: an invitation by e-mail, phone or SNILS in
/// a role (co-applicant, contributor, viewer); the invitee is told. No new co-applicants
/// after submission (409 `participants_fixed`).
#[utoipa::path(
    tag = "joint",
    operation_id = "inviteParticipant",
    security(("bearer" = [])),
    request_body = InviteBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses(
        (status = 201, description = "Invited", body = InvitationView),
        (status = 403, description = "Not allowed; acting on behalf, inviting your own account: `self_invitation` (a representative does not join the principal's matter)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_participant`, `already_invited`, or `participants_fixed` (an invitation as co-applicant after submission)", body = crate::error::Problem, content_type = "application/problem+json"),
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
    let (id, acting, pii) = (id.into_inner(), Acting::from(&actor), state.pii.clone());
    let InviteBody {
        email,
        phone,
        snils,
        role,
    } = body.into_inner();
    let input = InviteInput {
        email,
        phone,
        snils,
        role,
    };
    let ttl = TimeDelta::days(state.config.invitation_ttl_days);
    let answer = state
        .run(move |tx, now| {
            let recheck = |tx: &mut _, _: &Answer| {
                replays::on_application(tx, &acting, id, Action::ParticipantsManage, now)
            };
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let invited = invitations::invite(tx, &acting, id, input, (&pii, ttl), now)?;
                created(invited, |i| invitation_view(i, now))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// A created resource's answer, kept for `Idempotency-Key` repeats.
fn created<T, V: Serialize>(
    outcome: Outcome<T>,
    view: impl FnOnce(&T) -> V,
) -> Result<Outcome<Answer>, ApiError> {
    let (value, effects) = outcome.into_parts();
    Ok(Outcome::new(Answer::created(&view(&value))?, effects))
}

/// Change a participant's role.
///
/// Caller: the owner, or a representative with `participants.manage` (requires the
/// application's `If-Match`). Changes: the role, so what the participant may do from the
/// next request. After submission nobody becomes or stops being a co-applicant (409
/// `participants_fixed`).
#[utoipa::path(
    tag = "joint",
    operation_id = "changeParticipantRole",
    security(("bearer" = [])),
    request_body = RoleBody,
    params(("id" = String, Path, format = Uuid), ("participant_id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Changed; `ETag` is the application's new version", body = ParticipantView, headers(("ETag" = String))),
        (status = 409, description = "`participants_fixed`: after submission nobody becomes or stops being a co-applicant (who signs was fixed with the submitted content)", body = crate::error::Problem, content_type = "application/problem+json", example = json!({"type": "urn:kabinet:problem:participants_fixed", "title": "Conflict", "status": 409, "detail": "Who signs was fixed when the application was submitted: co-applicants cannot be added, removed or given another role now.", "code": "participants_fixed"})),
    )
)]
#[patch("/applications/{id}/participants/{participant_id}")]
pub async fn change_role(
    state: State,
    caller: Caller,
    path: Path<(ApplicationId, AccountId)>,
    version: IfMatch,
    body: Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let (path, role) = (path.into_inner(), body.role);
    let changed = state
        .run_as(caller, move |tx, actor, now| {
            participants::change_role(tx, &Acting::from(actor), path, role, version.0, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(changed.version)))
        .json(participant_view(&changed.participant)))
}

/// Remove a participant, or leave.
///
/// Caller: the owner or a representative with `participants.manage` (removing anyone), or a
/// participant removing themselves (requires the application's `If-Match`). Changes: the
/// participant loses access with the very next request and their open event streams end.
/// Co-applicants stay after submission (409 `participants_fixed`).
#[utoipa::path(
    tag = "joint",
    operation_id = "removeParticipant",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("participant_id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 204, description = "Removed; `ETag` is the application's new version", headers(("ETag" = String))),
        (status = 409, description = "`participants_fixed`: after submission nobody becomes or stops being a co-applicant (who signs was fixed with the submitted content)", body = crate::error::Problem, content_type = "application/problem+json", example = json!({"type": "urn:kabinet:problem:participants_fixed", "title": "Conflict", "status": 409, "detail": "Who signs was fixed when the application was submitted: co-applicants cannot be added, removed or given another role now.", "code": "participants_fixed"})),
    )
)]
#[delete("/applications/{id}/participants/{participant_id}")]
pub async fn remove(
    state: State,
    caller: Caller,
    path: Path<(ApplicationId, AccountId)>,
    version: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    let new_version = state
        .run_as(caller, move |tx, actor, now| {
            participants::remove(tx, &Acting::from(actor), path, version.0, now)
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("ETag", etag(new_version)))
        .finish())
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"application_id": "019a4c3e-7d2f-7c10-9b8e-2f1d3c4b5a69", "contact": "s***@example.ru", "created_at": "2026-11-23T10:00:00Z", "expires_at": "2026-11-30T10:00:00Z", "id": "019a4c41-0000-7000-8000-000000000002", "role": "contributor", "status": "pending", "invited_by": "019a4c3e-0000-7000-8000-000000000001"}]}))]
pub struct InvitationList {
    pub items: Vec<InvitationView>,
}

/// Invitations waiting for you.
///
/// Caller: any signed-in account: invitations sent to any of its proven e-mail, phone or
/// SNILS. Changes nothing.
#[utoipa::path(
    tag = "joint",
    operation_id = "listInvitations",
    security(("bearer" = [])),
    responses((status = 200, description = "Open invitations", body = InvitationList))
)]
#[get("/invitations")]
pub async fn mine(state: State, caller: Caller) -> Result<Json<InvitationList>, ApiError> {
    let (found, now) = state
        .query_as(caller, move |c, actor, now| {
            Ok((invitations::mine(c, actor.account, now)?, now))
        })
        .await?;
    Ok(Json(InvitationList {
        items: found.iter().map(|i| invitation_view(i, now)).collect(),
    }))
}

/// Accept an invitation to an application.
///
/// Caller: the invitee (an invitation sent on behalf is never the sender's to accept: 403
/// `self_invitation`). Changes: the caller joins the application in the invited role;
/// everyone on it is told. 409 when it expired, was answered, or the role is closed after
/// submission.
#[utoipa::path(
    tag = "joint",
    operation_id = "acceptInvitation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Joined", body = InvitationView),
        (status = 403, description = "`self_invitation`: you sent this invitation on someone's behalf; it is not yours to accept", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_expired`, `invitation_answered`, `already_participant`, or `participants_fixed` (joining as co-applicant after submission)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/invitations/{id}/accept")]
pub async fn accept(
    state: State,
    caller: Caller,
    id: Path<InvitationId>,
) -> Result<Json<InvitationView>, ApiError> {
    let id = id.into_inner();
    let answered = state
        .run_as(caller, move |tx, actor, now| {
            Ok(invitations::accept(tx, &Acting::from(actor), id, now)?.map(|i| invitation_view(&i, now)))
        })
        .await?;
    Ok(Json(answered))
}

/// Decline an invitation.
///
/// Caller: the invitee. Changes: the invitation is `declined` and can no longer be
/// accepted; 409 when it expired or was answered already.
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
    caller: Caller,
    id: Path<InvitationId>,
) -> Result<Json<InvitationView>, ApiError> {
    let id = id.into_inner();
    let answered = state
        .run_as(caller, move |tx, actor, now| {
            Ok(invitations::decline(tx, &Acting::from(actor), id, now)?.map(|i| invitation_view(&i, now)))
        })
        .await?;
    Ok(Json(answered))
}
