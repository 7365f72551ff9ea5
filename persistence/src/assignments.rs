//! Who works an application: the officer who took it, until it is forwarded elsewhere.
//! Kept beside the application row, not in it, so a take or forward touches only this.

use diesel::prelude::*;
use domain::ids::{AccountId, ApplicationId};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{parse_id, to_db_time};
use crate::schema::{application_assignments, delegations};

/// The officer working `application`, if someone took it.
pub fn assignee_of(
    conn: &mut DbConnection,
    application: ApplicationId,
) -> Result<Option<AccountId>, StoreError> {
    let found: Option<String> = application_assignments::table
        .find(application.to_string())
        .select(application_assignments::officer_id)
        .first(conn)
        .optional()?;
    found
        .map(|id| parse_id("application_assignments", &id))
        .transpose()
}

/// `officer` took `application`: they work it now (replacing an earlier assignment; no
/// upsert, whose syntax differs between the backends).
pub fn assign(
    conn: &mut DbConnection,
    application: ApplicationId,
    officer: AccountId,
    at: Instant,
) -> Result<(), StoreError> {
    release(conn, application)?;
    diesel::insert_into(application_assignments::table)
        .values((
            application_assignments::application_id.eq(application.to_string()),
            application_assignments::officer_id.eq(officer.to_string()),
            application_assignments::assigned_at.eq(to_db_time(at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Nobody works `application` any more (it went to another agency's queue).
pub fn release(conn: &mut DbConnection, application: ApplicationId) -> Result<(), StoreError> {
    diesel::delete(application_assignments::table.find(application.to_string())).execute(conn)?;
    Ok(())
}

/// Whether `representative` holds or ever held powers from `principal`: a delegation
/// between them that was accepted at some time, whatever its status now.
pub fn ever_represented(
    conn: &mut DbConnection,
    representative: AccountId,
    principal: AccountId,
) -> Result<bool, StoreError> {
    let accepted: i64 = delegations::table
        .filter(delegations::representative_id.eq(representative.to_string()))
        .filter(delegations::principal_id.eq(principal.to_string()))
        .filter(delegations::accepted_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(accepted > 0)
}
