//! Loading an application for a caller: what the authorization core needs to know about
//! it, and the application (with its service) only when the caller may take the action.

use domain::access::{authorize, Action, ApplicationFacts, Resource, Role};
use domain::application::Application;
use domain::catalog::Service;
use domain::ids::ApplicationId;
use domain::joint::ParticipantRole;
use domain::time::Instant;
use persistence::applications::ForChange;
use persistence::{applications, assignments, joint, DbConnection};

use crate::auth::actor::Caller;
use crate::error::ApiError;
use crate::usecases::Acting;

pub fn facts(app: &Application, participant: Option<ParticipantRole>) -> ApplicationFacts {
    ApplicationFacts {
        owner: app.owner,
        service_code: app.service_code.clone(),
        agency_code: app.agency_code.clone(),
        status: app.status,
        received: app.submitted_at.is_some(),
        participant,
        assignee: None,
        represents_owner: false,
    }
}

/// The caller's (or principal's) role on the application when they joined it; the owner
/// needs no lookup. Officers are looked up too: taking part in a case is a conflict of
/// interest for the officer handling it.
fn participation(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
) -> Result<Option<ParticipantRole>, ApiError> {
    let principal = acting.principal();
    if principal == app.owner {
        return Ok(None);
    }
    Ok(joint::role_of(tx, app.id, principal)?)
}

/// What the core weighs for an officer: who took the application, and whether the
/// officer holds (or held) the owner's powers. Asked only of officers: nobody else's
/// rules read them, so citizens' requests spend no lookups on them.
fn handling(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
    facts: ApplicationFacts,
) -> Result<ApplicationFacts, ApiError> {
    if !acting.subject.has_role(Role::Officer) {
        return Ok(facts);
    }
    Ok(ApplicationFacts {
        assignee: assignments::assignee_of(tx, app.id)?,
        represents_owner: assignments::ever_represented(tx, acting.account, app.owner)?,
        ..facts
    })
}

/// The application alone, when the caller may take `action` on it (reads need no service:
/// loading and parsing its form schema would be most of a read's cost).
pub fn visible(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
    now: Instant,
) -> Result<Application, ApiError> {
    let found = applications::find(tx, id)?.map(|app| (app, ()));
    Ok(authorized(tx, acting, found, action, now)?.0)
}

/// The caller's session checked and the application (with its service, and whether anyone
/// joined it) loaded in one query, when the caller may take `action` on it: a request about
/// one application starts with one round trip, not two. Answers the checked caller to act as.
/// With `take_number`, a submission's number is taken, and its attachments read, by the same
/// query where it can be (see `applications::find_with_session`).
pub fn load_as(
    tx: &mut DbConnection,
    caller: &Caller,
    id: ApplicationId,
    action: Action,
    take_number: bool,
    now: Instant,
) -> Result<(Acting, Application, ForChange), ApiError> {
    let (session, found) = applications::find_with_session(tx, caller.session(), id, take_number)?;
    let acting = Acting::from(&caller.check_read(tx, session, now)?);
    let (app, with) = authorized(tx, &acting, found, action, now)?;
    Ok((acting, app, with))
}

/// `found` (an application and what was loaded with it) when the core lets the caller
/// take `action` on it; 404 for a missing one.
pub fn authorized<T>(
    tx: &mut DbConnection,
    acting: &Acting,
    found: Option<(Application, T)>,
    action: Action,
    now: Instant,
) -> Result<(Application, T), ApiError> {
    let (app, with) = found.ok_or_else(ApiError::not_found)?;
    // As time has it: past its due date an unanswered request is expired for every
    // decision, whether or not the expiry job has run.
    let app = app.at(now);
    let participant = participation(tx, acting, &app)?;
    let facts = handling(tx, acting, &app, facts(&app, participant))?;
    authorize(&acting.subject, action, &Resource::Application(facts), now)?;
    Ok((app, with))
}

/// Loads an application the caller may take `action` on; 404 when it may not even see it.
pub fn load(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
    now: Instant,
) -> Result<(Application, Service), ApiError> {
    let found = applications::find_with_service(tx, id)?;
    authorized(tx, acting, found, action, now)
}
