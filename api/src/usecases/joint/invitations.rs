//! Invitations to join an application: the owner invites by e-mail, phone or SNILS; the
//! invitee — even one who registers only later with that contact — accepts or declines
//! within the invitation's lifetime.

use chrono::TimeDelta;
use domain::access::{authorize_invitee, authorize_joining, Action};
use domain::application::Application;
use domain::catalog::Service;
use domain::ids::{AccountId, ApplicationId, InvitationId};
use domain::joint::{self as rules, Invitation, InvitationStatus, Participant, ParticipantRole, Refusal};
use domain::login;
use domain::notice::{Channel, Message};
use domain::person::{Email, Phone, Snils};
use domain::time::Instant;
use persistence::joint as store;
use persistence::{applications, DbConnection};
use serde_json::json;

use super::participants::bump;
use super::{members, recorded, refused, title, Tidings};
use crate::crypto::PiiCipher;
use crate::error::{from_field_error, ApiError};
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

/// Who to invite (exactly one contact) and as what.
pub struct InviteInput {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub snils: Option<String>,
    pub role: ParticipantRole,
}

/// The invitee's contact as a login key, a masked hint, and where to write to them
/// (nowhere for SNILS: it is no address).
struct Contact {
    login_key: String,
    hint: String,
    letter: Option<Message>,
}

fn letter(channel: Channel, to: &str) -> Option<Message> {
    Some(Message {
        channel,
        to: to.into(),
        subject: "Приглашение к заявлению".into(),
        body: "Вас пригласили участвовать в заявлении на портале. Войдите или зарегистрируйтесь с этим адресом, чтобы ответить.".into(),
        code: None,
    })
}

fn contact(input: &InviteInput, pii: &PiiCipher) -> Result<Contact, ApiError> {
    let given = [&input.email, &input.phone, &input.snils];
    if given.iter().filter(|g| g.is_some()).count() != 1 {
        return Err(refused(Refusal::OneContact));
    }
    if let Some(email) = &input.email {
        let email = Email::parse(email).map_err(from_field_error)?;
        return Ok(Contact {
            login_key: login::email_key(email.as_str()),
            hint: crate::dispatcher::mask_address(email.as_str()),
            letter: letter(Channel::Email, email.as_str()),
        });
    }
    if let Some(phone) = &input.phone {
        let phone = Phone::parse(phone).map_err(from_field_error)?;
        return Ok(Contact {
            login_key: login::phone_key(&phone),
            hint: crate::dispatcher::mask_address(phone.as_str()),
            letter: letter(Channel::Sms, phone.as_str()),
        });
    }
    let snils = Snils::parse(input.snils.as_deref().unwrap_or_default()).map_err(from_field_error)?;
    let index = crate::auth::logins::snils_index(pii, &snils);
    let digits = snils.as_str().chars().count();
    let tail: String = snils.as_str().chars().skip(digits.saturating_sub(2)).collect();
    Ok(Contact {
        login_key: login::snils_key(&index),
        hint: format!("СНИЛС ***-***-*** {tail}"),
        letter: None,
    })
}

/// The owner invites someone by contact; they hear of it in their notices when they
/// have an account, by a letter to the address otherwise.
pub fn invite(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    input: InviteInput,
    (pii, ttl): (&PiiCipher, TimeDelta),
    now: Instant,
) -> Result<Outcome<Invitation>, ApiError> {
    let contact = contact(&input, pii)?;
    let (app, service) =
        crate::usecases::applications::load(tx, acting, id, Action::ParticipantsManage, now)?;
    rules::check_open(app.effective_status(now), app.appeal_used).map_err(refused)?;
    rules::check_role(input.role, &service.policy).map_err(refused)?;
    rules::check_signers_fixed(app.submitted_at.is_some(), None, Some(input.role)).map_err(refused)?;
    let invitee = persistence::accounts::find_by_login(tx, std::slice::from_ref(&contact.login_key))?;
    authorize_invitee(&acting.subject, invitee.as_ref().map(|i| i.id))?;
    not_yet_asked(tx, &app, &contact.login_key, invitee.as_ref(), now)?;
    let invitation = Invitation {
        id: InvitationId::new(),
        application: app.id,
        role: input.role,
        login_key: contact.login_key,
        contact_hint: contact.hint,
        invited_by: acting.account,
        status: InvitationStatus::Pending,
        answered_by: None,
        expires_at: now + ttl,
        created_at: now,
        answered_at: None,
        version: 1,
        invited_on_behalf_of: acting.on_behalf_of.map(AccountId::from_uuid),
    };
    store::insert_invitation(tx, &invitation)?;
    let mut effects = Effects::none();
    if let Some(principal) = invitation.invited_on_behalf_of {
        effects = effects.notice(invited_for(&app, &invitation).to(principal));
    }
    match (invitee, contact.letter) {
        (Some(invitee), _) => {
            effects = effects.notice(invitation_tidings(&app, &service, &invitation).to(invitee.id))
        }
        (None, Some(letter)) => {
            persistence::outbox::enqueue(tx, &letter, None, now)?;
        }
        (None, None) => {}
    }
    let details = json!({ "invitation_id": invitation.id, "role": input.role.as_str() });
    let label = Some(input.role.label().into());
    let step = recorded(acting, &app, "invite", label, details, members(tx, &app)?);
    Ok(Outcome::new(invitation, step.and(effects)))
}

/// One person, one open invitation: the person behind the contact is neither on the
/// application nor invited already — through any of their contacts, since an open
/// invitation to any of their login keys counts.
fn not_yet_asked(
    tx: &mut DbConnection,
    app: &Application,
    login_key: &str,
    invitee: Option<&domain::account::Account>,
    now: Instant,
) -> Result<(), ApiError> {
    let mut addressed = vec![login_key.to_string()];
    if let Some(invitee) = invitee {
        if rules::role_on(app.owner, &store::participants_of(tx, app.id)?, invitee.id).is_some() {
            return Err(refused(Refusal::AlreadyParticipant));
        }
        addressed.extend(store::login_keys_of(tx, invitee.id)?);
    }
    if store::pending_invitations_of(tx, app.id)?
        .iter()
        .any(|i| addressed.contains(&i.login_key) && i.is_open(now))
    {
        return Err(refused(Refusal::AlreadyInvited));
    }
    Ok(())
}

/// The principal hears whom their representative invited in their name: a party chosen
/// for them is one they should know of (and may remove).
fn invited_for(app: &Application, invitation: &Invitation) -> Tidings {
    Tidings {
        kind: "application.invited_on_behalf",
        title: format!("Заявление {}: приглашение от вашего имени", title(app)),
        body: format!(
            "Ваш представитель пригласил участника ({}, {}) к заявлению от вашего имени.",
            invitation.role.label(),
            invitation.contact_hint
        ),
        data: json!({
            "application_id": app.id, "invitation_id": invitation.id, "invited_by": invitation.invited_by
        }),
    }
}

fn invitation_tidings(app: &Application, service: &Service, invitation: &Invitation) -> Tidings {
    Tidings {
        kind: "application.invitation",
        title: format!("Приглашение к заявлению {}", title(app)),
        body: format!(
            "Вас пригласили участвовать в заявлении «{}» ({}). Ответьте до {}.",
            service.name_ru,
            invitation.role.label(),
            invitation.expires_at.format("%d.%m.%Y")
        ),
        data: json!({ "invitation_id": invitation.id, "application_id": app.id }),
    }
}

/// Invitations waiting for `account` (sent to any of its e-mail, phone or SNILS).
pub fn mine(tx: &mut DbConnection, account: AccountId, now: Instant) -> Result<Vec<Invitation>, ApiError> {
    let found = store::invitations_for(tx, account)?;
    Ok(found.into_iter().filter(|i| i.is_open(now)).collect())
}

/// The invitation, if it was sent to one of the caller's own contacts.
fn addressed(tx: &mut DbConnection, actor: AccountId, id: InvitationId) -> Result<Invitation, ApiError> {
    let invitation = store::find_invitation(tx, id)?.ok_or_else(ApiError::not_found)?;
    if !store::addressed_to(tx, &invitation.login_key, actor)? {
        return Err(ApiError::not_found());
    }
    Ok(invitation)
}

/// Accept an invitation: the caller joins the application in the invited role.
pub fn accept(
    tx: &mut DbConnection,
    acting: &Acting,
    id: InvitationId,
    now: Instant,
) -> Result<Outcome<Invitation>, ApiError> {
    answer(tx, acting, id, InvitationStatus::Accepted, now)
}

pub fn decline(
    tx: &mut DbConnection,
    acting: &Acting,
    id: InvitationId,
    now: Instant,
) -> Result<Outcome<Invitation>, ApiError> {
    answer(tx, acting, id, InvitationStatus::Declined, now)
}

/// Answers an invitation and tells the application's members.
fn answer(
    tx: &mut DbConnection,
    acting: &Acting,
    id: InvitationId,
    status: InvitationStatus,
    now: Instant,
) -> Result<Outcome<Invitation>, ApiError> {
    let mut invitation = addressed(tx, acting.account, id)?;
    if status == InvitationStatus::Accepted {
        authorize_joining(
            &acting.subject,
            invitation.invited_by,
            invitation.invited_on_behalf_of,
        )?;
    }
    invitation.check_answer(now).map_err(refused)?;
    if !store::answer_invitation(tx, &invitation, status, acting.account, now)? {
        return Err(refused(Refusal::AlreadyAnswered));
    }
    let app = applications::find(tx, invitation.application)?.ok_or_else(ApiError::not_found)?;
    let (step, what) = if status == InvitationStatus::Accepted {
        join(tx, acting, &app, &invitation, now)?;
        ("participant_joined", "приглашение принято")
    } else {
        ("invitation_declined", "приглашение отклонено")
    };
    let everyone = members(tx, &app)?;
    let details = json!({ "invitation_id": invitation.id, "role": invitation.role.as_str() });
    let label = Some(invitation.role.label().into());
    let effects = recorded(acting, &app, step, label, details, everyone.clone());
    let tidings = Tidings {
        kind: "application.participant",
        title: format!("Заявление {}: {what}", title(&app)),
        body: format!(
            "Приглашённый участник ({}) ответил на приглашение.",
            invitation.role.label()
        ),
        data: json!({ "application_id": app.id, "invitation_id": invitation.id, "account_id": acting.account }),
    };
    let notices = tidings.to_others(&everyone, acting.account);
    invitation.status = status;
    Ok(Outcome::new(invitation, effects.notices(notices)))
}

/// The caller joins `app` in the invited role; the application moves to a new version
/// (who must sign may have changed).
fn join(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
    invitation: &Invitation,
    now: Instant,
) -> Result<(), ApiError> {
    if rules::role_on(app.owner, &store::participants_of(tx, app.id)?, acting.account).is_some() {
        return Err(ApiError::conflict(
            "already_participant",
            "You already take part in this application.",
        ));
    }
    // An invitation sent before a cancellation or the end is not a way in afterwards.
    rules::check_open(app.effective_status(now), app.appeal_used).map_err(refused)?;
    // An invitation sent before submission is not a way around the fixed signers.
    rules::check_signers_fixed(app.submitted_at.is_some(), None, Some(invitation.role)).map_err(refused)?;
    let participant = Participant {
        account: acting.account,
        role: invitation.role,
        added_by: invitation.invited_by,
        added_at: now,
        invited_on_behalf_of: invitation.invited_on_behalf_of,
    };
    store::add_participant(tx, app.id, &participant)?;
    bump(tx, app, now)?;
    Ok(())
}
