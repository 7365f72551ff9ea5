//! Reading applications: one (with a draft's schema warnings), its history, the owner's
//! lists and the agency's queue.

use domain::access::{authorize, Action, Resource, Subject};
use domain::application::{Application, Status};
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;
use persistence::applications::{self, HistoryEntry, ListFilter};
use persistence::{catalog, DbConnection};

use super::load::{authorized, visible};
use super::shown::Shown;
use crate::auth::actor::Caller;
use crate::error::ApiError;
use crate::forms::FormValidators;
use crate::usecases::Acting;

/// One application as `caller` asks for it, with its schema warnings while it is a draft
/// and its next steps. The session is read with the application and its service's policy,
/// in one query, and a draft is checked with the schema this node compiled: the read every
/// screen starts with is one round trip.
pub fn one(
    tx: &mut DbConnection,
    forms: &FormValidators,
    caller: &Caller,
    id: ApplicationId,
    now: Instant,
) -> Result<Shown, ApiError> {
    let (session, found) = applications::find_shown_with_session(tx, caller.session(), id)?;
    let acting = Acting::from(&caller.check_read(tx, session, now)?);
    let (app, (policy, version)) = authorized(tx, &acting, found, Action::ApplicationsRead, now)?;
    let warnings = match app.status {
        Status::Draft => match forms.problems_if_compiled(&app.service_code, version, &app.form_data) {
            Some(problems) => problems,
            None => catalog::find(tx, &app.service_code)?
                .map(|service| forms.problems(&service, &app.form_data))
                .unwrap_or_default(),
        },
        _ => vec![],
    };
    Ok(Shown::new(app, warnings, &policy, now))
}

/// Every transition of application `id`, oldest first.
pub fn history(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    now: Instant,
) -> Result<Vec<HistoryEntry>, ApiError> {
    visible(tx, acting, id, Action::ApplicationsRead, now)?;
    Ok(applications::history(tx, id)?)
}

/// The applications of the caller (or of the principal they act for) that `filter`
/// selects; a delegation restricted to some services shows only theirs.
pub fn list(
    tx: &mut DbConnection,
    subject: &Subject,
    owner: AccountId,
    mut filter: ListFilter,
    now: Instant,
) -> Result<Vec<Application>, ApiError> {
    authorize(subject, Action::ApplicationsRead, &Resource::Account(owner), now)?;
    filter.services = subject.visible_services(Action::ApplicationsRead, now);
    Ok(applications::list_for_owner(tx, owner, &filter, now)?
        .into_iter()
        .map(|app| app.at(now))
        .collect())
}

/// An application in the agency's queue, and whether it is past the service's normative
/// processing time.
pub struct Queued {
    pub application: Application,
    pub overdue: bool,
}

/// The officer's agency's open applications after `after`, oldest submission first.
pub fn queue(
    tx: &mut DbConnection,
    subject: &Subject,
    after: Option<(Instant, String)>,
    limit: i64,
    now: Instant,
) -> Result<Vec<Queued>, ApiError> {
    let agency = subject.agency.clone().unwrap_or_default();
    authorize(
        subject,
        Action::AgencyQueueRead,
        &Resource::Agency(agency.clone()),
        now,
    )?;
    let apps = applications::queue(tx, &agency, after.as_ref(), limit)?;
    let mut codes: Vec<String> = apps.iter().map(|a| a.service_code.clone()).collect();
    codes.sort();
    codes.dedup();
    let policies = catalog::policies(tx, &codes)?;
    Ok(apps
        .into_iter()
        .map(|application| Queued {
            overdue: policies
                .get(&application.service_code)
                .is_some_and(|p| application.is_overdue(p, now)),
            application: application.at(now),
        })
        .collect())
}
