//! The service catalog: browsed by anyone, services added and replaced by admins.

use domain::access::{authorize, Action, Resource};
use domain::catalog::Service;
use domain::time::Instant;
use persistence::catalog::{self, ServiceFilter};
use persistence::DbConnection;
use serde_json::json;

use crate::concurrency::stale;
use crate::error::ApiError;
use crate::usecases::applications::checks::known_agency;
use crate::usecases::{Acting, Effects, Outcome};

/// A page of services by code (anyone may browse).
pub fn list(tx: &mut DbConnection, filter: &ServiceFilter) -> Result<Vec<Service>, ApiError> {
    Ok(catalog::list(tx, filter)?)
}

/// One service; 404 when the catalog has no such code.
pub fn one(tx: &mut DbConnection, code: &str) -> Result<Service, ApiError> {
    catalog::find(tx, code)?.ok_or_else(ApiError::not_found)
}

/// Only admins manage the catalog.
pub fn may_manage(acting: &Acting, now: Instant) -> Result<(), ApiError> {
    Ok(authorize(
        &acting.subject,
        Action::CatalogManage,
        &Resource::System,
        now,
    )?)
}

/// The owning agency and every agency applications may be forwarded to are in the catalog.
fn known_agencies(tx: &mut DbConnection, service: &Service) -> Result<(), ApiError> {
    known_agency(tx, &service.agency_code)?;
    for agency in &service.policy.forward_to {
        if !catalog::agency_exists(tx, agency)? {
            return Err(ApiError::field(
                "forward_to",
                "unknown_agency",
                format!("No such agency: {agency}."),
            ));
        }
    }
    Ok(())
}

/// Adds a service with a code not taken yet, of an agency the catalog knows.
pub fn create(
    tx: &mut DbConnection,
    acting: &Acting,
    service: Service,
    now: Instant,
) -> Result<Outcome<Service>, ApiError> {
    may_manage(acting, now)?;
    known_agencies(tx, &service)?;
    if !catalog::insert(tx, &service, now)? {
        return Err(ApiError::conflict(
            "service_exists",
            "A service with this code exists already.",
        ));
    }
    let entry = acting.audit("catalog.create", "service").target(&service.code);
    let created = one(tx, &service.code)?;
    Ok(Outcome::new(created, Effects::none().audit(entry)))
}

/// Replaces a service read at `version`.
pub fn replace(
    tx: &mut DbConnection,
    acting: &Acting,
    service: Service,
    version: i64,
    now: Instant,
) -> Result<Outcome<Service>, ApiError> {
    may_manage(acting, now)?;
    let current = one(tx, &service.code)?;
    known_agencies(tx, &service)?;
    if !catalog::replace(tx, &service, version, now)? {
        return Err(stale(current.version));
    }
    let entry = acting
        .audit("catalog.replace", "service")
        .target(&service.code)
        .details(json!({ "version": version + 1 }));
    let replaced = one(tx, &service.code)?;
    Ok(Outcome::new(replaced, Effects::none().audit(entry)))
}
