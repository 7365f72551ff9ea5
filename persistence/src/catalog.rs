//! Agencies and the service catalog. JSON (form schemas, document lists) is stored as text
//! and parsed here, so the rest of the code only sees typed values.

use diesel::prelude::*;
use domain::catalog::{Agency, Service, ServiceLevel, ServicePolicy};
use domain::search::fold;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::to_db_time;
use crate::schema::{agencies, services};

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services)]
pub(crate) struct ServiceRow {
    code: String,
    name_ru: String,
    name_en: String,
    description: String,
    level: String,
    region: Option<String>,
    agency_code: String,
    form_schema: String,
    required_documents: String,
    allowed_file_types: String,
    max_file_bytes: i64,
    #[diesel(embed)]
    policy: PolicyRow,
    search_text: String,
    version: i64,
}

/// A service's policy columns (not its form schema): part of every service row, and
/// selected alone or joined where only the policy is needed.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services)]
pub(crate) struct PolicyRow {
    processing_days: i32,
    editable_after_submit: bool,
    cancellable_in_review: bool,
    co_applicants_allowed: bool,
    appeal_window_days: i32,
    restore_window_days: i32,
    fee_kopecks: i64,
    forward_to: String,
    file_fills_several_papers: bool,
}

impl PolicyRow {
    fn of(p: &ServicePolicy) -> PolicyRow {
        PolicyRow {
            processing_days: days(p.processing_days),
            editable_after_submit: p.editable_after_submit,
            cancellable_in_review: p.cancellable_in_review,
            co_applicants_allowed: p.co_applicants_allowed,
            appeal_window_days: days(p.appeal_window_days),
            restore_window_days: days(p.restore_window_days),
            fee_kopecks: p.fee_kopecks,
            forward_to: serde_json::Value::from(p.forward_to.clone()).to_string(),
            file_fills_several_papers: p.file_fills_several_papers,
        }
    }
}

impl TryFrom<PolicyRow> for ServicePolicy {
    type Error = StoreError;

    fn try_from(r: PolicyRow) -> Result<Self, StoreError> {
        Ok(ServicePolicy {
            editable_after_submit: r.editable_after_submit,
            cancellable_in_review: r.cancellable_in_review,
            co_applicants_allowed: r.co_applicants_allowed,
            appeal_window_days: i64::from(r.appeal_window_days),
            restore_window_days: i64::from(r.restore_window_days),
            fee_kopecks: r.fee_kopecks,
            processing_days: i64::from(r.processing_days),
            forward_to: serde_json::from_str(&r.forward_to).map_err(corrupt)?,
            file_fills_several_papers: r.file_fills_several_papers,
        })
    }
}

fn corrupt(detail: impl ToString) -> StoreError {
    StoreError::corrupt("services", detail)
}

fn days(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl ServiceRow {
    fn of(s: &Service) -> ServiceRow {
        ServiceRow {
            code: s.code.clone(),
            name_ru: s.name_ru.clone(),
            name_en: s.name_en.clone(),
            description: s.description.clone(),
            level: s.level.as_str().into(),
            region: s.region.clone(),
            agency_code: s.agency_code.clone(),
            form_schema: s.form_schema.to_string(),
            required_documents: serde_json::Value::from(s.required_documents.clone()).to_string(),
            allowed_file_types: serde_json::Value::from(s.allowed_file_types.clone()).to_string(),
            max_file_bytes: s.max_file_bytes,
            policy: PolicyRow::of(&s.policy),
            search_text: fold(&format!("{} {} {}", s.code, s.name_ru, s.name_en)),
            version: s.version,
        }
    }
}

impl TryFrom<ServiceRow> for Service {
    type Error = StoreError;

    fn try_from(r: ServiceRow) -> Result<Self, StoreError> {
        Ok(Service {
            level: ServiceLevel::parse(&r.level).ok_or_else(|| corrupt(format!("level {:?}", r.level)))?,
            form_schema: serde_json::from_str(&r.form_schema).map_err(corrupt)?,
            required_documents: serde_json::from_str(&r.required_documents).map_err(corrupt)?,
            allowed_file_types: serde_json::from_str(&r.allowed_file_types).map_err(corrupt)?,
            policy: ServicePolicy::try_from(r.policy)?,
            code: r.code,
            name_ru: r.name_ru,
            name_en: r.name_en,
            description: r.description,
            region: r.region,
            agency_code: r.agency_code,
            max_file_bytes: r.max_file_bytes,
            version: r.version,
        })
    }
}

/// Creates the agency when missing; returns whether it was created.
pub fn ensure_agency(conn: &mut DbConnection, agency: &Agency) -> Result<bool, StoreError> {
    if agency_exists(conn, &agency.code)? {
        return Ok(false);
    }
    diesel::insert_into(agencies::table)
        .values((
            agencies::code.eq(&agency.code),
            agencies::name.eq(&agency.name),
            agencies::level.eq(agency.level.as_str()),
            agencies::region.eq(&agency.region),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn agency_exists(conn: &mut DbConnection, code: &str) -> Result<bool, StoreError> {
    let found: i64 = agencies::table.find(code).count().get_result(conn)?;
    Ok(found > 0)
}

pub fn find(conn: &mut DbConnection, code: &str) -> Result<Option<Service>, StoreError> {
    services::table
        .find(code)
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()?
        .map(Service::try_from)
        .transpose()
}

/// Inserts a new service (version 1); `Ok(false)` when the code is taken.
pub fn insert(conn: &mut DbConnection, service: &Service, now: Instant) -> Result<bool, StoreError> {
    if find(conn, &service.code)?.is_some() {
        return Ok(false);
    }
    let row = ServiceRow {
        version: 1,
        ..ServiceRow::of(service)
    };
    diesel::insert_into(services::table)
        .values((
            row,
            services::created_at.eq(to_db_time(now)),
            services::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Replaces a service if it is still at `expected` version; `Ok(false)` otherwise.
pub fn replace(
    conn: &mut DbConnection,
    service: &Service,
    expected: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    let row = ServiceRow {
        version: expected + 1,
        ..ServiceRow::of(service)
    };
    let updated = diesel::update(
        services::table
            .find(&service.code)
            .filter(services::version.eq(expected)),
    )
    .set((row, services::updated_at.eq(to_db_time(now))))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Filters for the catalog list.
#[derive(Clone, Debug, Default)]
pub struct ServiceFilter {
    pub level: Option<ServiceLevel>,
    pub region: Option<String>,
    pub q: Option<String>,
    /// Keyset cursor: codes after this one.
    pub after: Option<String>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, filter: &ServiceFilter) -> Result<Vec<Service>, StoreError> {
    let mut query = services::table.select(ServiceRow::as_select()).into_boxed();
    if let Some(level) = filter.level {
        query = query.filter(services::level.eq(level.as_str()));
    }
    if let Some(region) = &filter.region {
        // Federal services apply everywhere; regional ones only in their region.
        query = query.filter(services::region.eq(region.clone()).or(services::region.is_null()));
    }
    if let Some(q) = &filter.q {
        query = query.filter(
            services::search_text
                .like(format!("%{}%", escape_like(&fold(q))))
                .escape('\\'),
        );
    }
    if let Some(after) = &filter.after {
        query = query.filter(services::code.gt(after.clone()));
    }
    query
        .order(services::code.asc())
        .limit(filter.limit)
        .load(conn)?
        .into_iter()
        .map(Service::try_from)
        .collect()
}

/// Escapes LIKE wildcards so user text matches literally.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The policies of `codes`, in one query and without reading the form schemas (the queue
/// needs only the processing times).
pub fn policies(
    conn: &mut DbConnection,
    codes: &[String],
) -> Result<std::collections::HashMap<String, ServicePolicy>, StoreError> {
    let rows: Vec<(String, PolicyRow)> = services::table
        .filter(services::code.eq_any(codes))
        .select((services::code, PolicyRow::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|(code, row)| Ok((code, ServicePolicy::try_from(row)?)))
        .collect()
}
