//! Who takes part in an application: the list, changing a participant's role, removing
//! one, and leaving. Changing who takes part changes who must sign, so these move the
//! application to a new version (`If-Match`).

use domain::access::Action;
use domain::application::Application;
use domain::ids::{AccountId, ApplicationId};
use domain::joint::{self as rules, Invitation, Participant, ParticipantRole};
use domain::time::Instant;
use persistence::joint as store;
use persistence::{applications, DbConnection};
use serde_json::json;

use super::{members, recorded, refused, title, Tidings};
use crate::concurrency::stale;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::Outcome;

/// Everyone on an application, the owner first, and the invitations not answered yet.
pub struct Roster {
    pub people: Vec<Participant>,
    pub invitations: Vec<Invitation>,
}

pub fn list(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<Roster, ApiError> {
    let app = crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    let owner = Participant {
        account: app.owner,
        role: ParticipantRole::Owner,
        added_by: app.owner,
        added_at: app.created_at,
        invited_on_behalf_of: None,
    };
    let mut people = vec![owner];
    people.extend(store::participants_of(tx, id)?);
    Ok(Roster {
        people,
        invitations: store::pending_invitations_of(tx, id)?,
    })
}

/// Moves the application to its next version (who must sign may have changed).
pub(super) fn bump(tx: &mut DbConnection, app: &Application, now: Instant) -> Result<i64, ApiError> {
    if !applications::bump_version(tx, app.id, app.version, now)? {
        return Err(stale(app.version + 1));
    }
    Ok(app.version + 1)
}

/// A participant with a new role, and the application's new version.
pub struct Changed {
    pub participant: Participant,
    pub version: i64,
}

/// The owner gives a participant another role (at the application's `version`).
pub fn change_role(
    tx: &mut DbConnection,
    acting: &Acting,
    (id, account): (ApplicationId, AccountId),
    role: ParticipantRole,
    version: i64,
    now: Instant,
) -> Result<Outcome<Changed>, ApiError> {
    let (app, service) =
        crate::usecases::applications::load(tx, acting, id, Action::ParticipantsManage, now)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    rules::check_role(role, &service.policy).map_err(refused)?;
    let mut participant = store::participants_of(tx, id)?
        .into_iter()
        .find(|p| p.account == account)
        .ok_or_else(ApiError::not_found)?;
    rules::check_signers_fixed(app.submitted_at.is_some(), Some(participant.role), Some(role))
        .map_err(refused)?;
    store::set_role(tx, id, account, role)?;
    let new_version = bump(tx, &app, now)?;
    let details = json!({ "account_id": account, "from": participant.role.as_str(), "to": role.as_str() });
    let effects = recorded(
        acting,
        &app,
        "participant_role",
        Some(role.label().into()),
        details,
        members(tx, &app)?,
    );
    let tidings = Tidings {
        kind: "application.participant",
        title: format!("Заявление {}: ваша роль изменена", title(&app)),
        body: format!("Теперь вы — {}.", role.label()),
        data: json!({ "application_id": app.id, "role": role.as_str() }),
    };
    participant.role = role;
    let changed = Changed {
        participant,
        version: new_version,
    };
    Ok(Outcome::new(changed, effects.notice(tidings.to(account))))
}

/// The owner removes a participant, or a participant leaves (removes themselves), at
/// the application's `version`; returns its new version. Access ends with the very next
/// request.
pub fn remove(
    tx: &mut DbConnection,
    acting: &Acting,
    (id, account): (ApplicationId, AccountId),
    version: i64,
    now: Instant,
) -> Result<Outcome<i64>, ApiError> {
    let action = rules::removal(account, acting.principal());
    let leaving = action == Action::ParticipationLeave;
    let (app, _) = crate::usecases::applications::load(tx, acting, id, action, now)?;
    if app.version != version {
        return Err(stale(app.version));
    }
    let current = store::role_of(tx, id, account)?;
    rules::check_signers_fixed(app.submitted_at.is_some(), current, None).map_err(refused)?;
    // The audience is taken while the participant is still on the application, so the
    // live event reaches them too (and ends their open stream).
    let everyone = members(tx, &app)?;
    let step = if leaving {
        "participant_left"
    } else {
        "participant_removed"
    };
    let effects = recorded(
        acting,
        &app,
        step,
        None,
        json!({ "account_id": account }),
        everyone,
    );
    if !store::remove_participant(tx, id, account)? {
        return Err(ApiError::not_found());
    }
    let new_version = bump(tx, &app, now)?;
    let tidings = Tidings {
        kind: "application.participant",
        title: format!("Заявление {}: участник удалён", title(&app)),
        body: "Состав участников заявления изменился.".into(),
        data: json!({ "application_id": app.id, "account_id": account }),
    };
    let mut notices = tidings.to_others(&members(tx, &app)?, acting.account);
    if !leaving {
        notices.push(tidings.to(account));
    }
    Ok(Outcome::new(new_version, effects.notices(notices)))
}
