//! What a replayed create must pass again before its first answer is served (see
//! `idempotency::once`): the check a fresh request would meet first, so an old key does
//! not outlive the caller's right to act — a revoked delegation, a participant removed.

use domain::access::{authorize, Action, ApplicationFacts, Resource};
use domain::application::Status;
use domain::ids::ApplicationId;
use domain::time::Instant;
use persistence::DbConnection;

use crate::error::ApiError;
use crate::idempotency::Answer;
use crate::usecases::Acting;

/// Something created on application `id` under `action` (a comment, an invitation, a
/// signature …): the caller must still be allowed `action` there.
pub fn on_application(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    action: Action,
    now: Instant,
) -> Result<(), ApiError> {
    crate::usecases::applications::visible(tx, acting, id, action, now).map(|_| ())
}

/// A new application (201) or a creation held for the principal (202): the caller must
/// still be allowed to create one of that service for the principal, and to see the
/// application that was created.
pub fn application_created(
    tx: &mut DbConnection,
    acting: &Acting,
    first: &Answer,
    now: Instant,
) -> Result<(), ApiError> {
    let body = first.body_json();
    let service = body["service_code"]
        .as_str()
        .or(body["payload"]["service_code"].as_str())
        .unwrap_or_default();
    let facts = ApplicationFacts {
        owner: acting.principal(),
        service_code: service.into(),
        agency_code: String::new(),
        status: Status::Draft,
        received: false,
        participant: None,
        assignee: None,
        represents_owner: false,
    };
    authorize(
        &acting.subject,
        Action::ApplicationsCreate,
        &Resource::Application(facts),
        now,
    )?;
    match body["id"].as_str().and_then(|id| id.parse().ok()) {
        Some(id) if first.status() == actix_web::http::StatusCode::CREATED => {
            on_application(tx, acting, id, Action::ApplicationsRead, now)
        }
        _ => Ok(()),
    }
}

/// Something of the principal's own account (a template, an organisation registered):
/// the caller must still be allowed `action` on it.
pub fn on_account(acting: &Acting, action: Action, now: Instant) -> Result<(), ApiError> {
    authorize(
        &acting.subject,
        action,
        &Resource::Account(acting.principal()),
        now,
    )?;
    Ok(())
}

/// The create was authorized before the key was looked at (the catalog's admin check, the
/// upload's limits): the replay passed that same check already.
pub fn checked_before(_: &mut DbConnection, _: &Answer) -> Result<(), ApiError> {
    Ok(())
}
