//! Organisations (legal entities) and their employees. An organisation is also an account,
//! so it can be a principal and an applicant — once staff have verified its registration.

use diesel::prelude::*;
use domain::ids::AccountId;
use domain::organisation::{Organisation, Status};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{organisation_employees, organisations};

/// Whether a verified organisation holds this OGRN or INN, or `head` already claims it in
/// a registration still pending. Someone else's pending claim never counts: anyone can
/// type a real company's numbers.
pub fn exists(conn: &mut DbConnection, ogrn: &str, inn: &str, head: AccountId) -> Result<bool, StoreError> {
    let verified = Status::Verified.as_str();
    let pending = Status::Pending.as_str();
    let found: i64 = organisations::table
        .filter(organisations::ogrn.eq(ogrn).or(organisations::inn.eq(inn)))
        .filter(
            organisations::status.eq(verified).or(organisations::status
                .eq(pending)
                .and(organisations::head_account_id.eq(head.to_string()))),
        )
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Stores the organisation's record (its account row exists already).
pub fn insert(conn: &mut DbConnection, o: &Organisation) -> Result<(), StoreError> {
    diesel::insert_into(organisations::table)
        .values((
            organisations::account_id.eq(o.id.to_string()),
            organisations::ogrn.eq(&o.ogrn),
            organisations::inn.eq(&o.inn),
            organisations::kpp.eq(&o.kpp),
            organisations::name.eq(&o.name),
            organisations::head_account_id.eq(o.head.to_string()),
            organisations::created_at.eq(to_db_time(o.created_at)),
            organisations::status.eq(o.status.as_str()),
            organisations::decided_by.eq(o.decided_by.map(|a| a.to_string())),
            organisations::decided_at.eq(o.decided_at.map(to_db_time)),
            organisations::rejection_reason.eq(&o.rejection_reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a decision on a pending registration; `false` when it was decided meanwhile
/// (the update is conditional, so two staff deciding at once cannot both win).
pub fn decide(conn: &mut DbConnection, o: &Organisation) -> Result<bool, StoreError> {
    let changed = diesel::update(
        organisations::table
            .find(o.id.to_string())
            .filter(organisations::status.eq(Status::Pending.as_str())),
    )
    .set((
        organisations::status.eq(o.status.as_str()),
        organisations::decided_by.eq(o.decided_by.map(|a| a.to_string())),
        organisations::decided_at.eq(o.decided_at.map(to_db_time)),
        organisations::rejection_reason.eq(&o.rejection_reason),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    chrono::NaiveDateTime,
    String,
    Option<String>,
    Option<chrono::NaiveDateTime>,
    Option<String>,
);

fn columns() -> (
    organisations::account_id,
    organisations::ogrn,
    organisations::inn,
    organisations::kpp,
    organisations::name,
    organisations::head_account_id,
    organisations::created_at,
    organisations::status,
    organisations::decided_by,
    organisations::decided_at,
    organisations::rejection_reason,
) {
    (
        organisations::account_id,
        organisations::ogrn,
        organisations::inn,
        organisations::kpp,
        organisations::name,
        organisations::head_account_id,
        organisations::created_at,
        organisations::status,
        organisations::decided_by,
        organisations::decided_at,
        organisations::rejection_reason,
    )
}

fn organisation(conn: &mut DbConnection, row: Row) -> Result<Organisation, StoreError> {
    let (id, ogrn, inn, kpp, name, head, created, status, decided_by, decided_at, reason) = row;
    let employees: Vec<String> = organisation_employees::table
        .filter(organisation_employees::organisation_id.eq(&id))
        .order(organisation_employees::added_at.asc())
        .select(organisation_employees::account_id)
        .load(conn)?;
    Ok(Organisation {
        id: parse_id("organisations", &id)?,
        ogrn,
        inn,
        kpp,
        name,
        head: parse_id("organisations", &head)?,
        created_at: from_db_time(created),
        employees: employees
            .iter()
            .map(|e| parse_id("organisation_employees", e))
            .collect::<Result<_, _>>()?,
        status: status
            .parse()
            .map_err(|_| StoreError::corrupt("organisations", format!("status {status}")))?,
        decided_by: parse_optional_id("organisations", decided_by.as_deref())?,
        decided_at: decided_at.map(from_db_time),
        rejection_reason: reason,
    })
}

pub fn find(conn: &mut DbConnection, id: AccountId) -> Result<Option<Organisation>, StoreError> {
    let row: Option<Row> = organisations::table
        .find(id.to_string())
        .select(columns())
        .first(conn)
        .optional()?;
    row.map(|r| organisation(conn, r)).transpose()
}

/// Pending registrations claiming the OGRN or INN of `of` (itself excluded).
pub fn rival_claims(conn: &mut DbConnection, of: &Organisation) -> Result<Vec<Organisation>, StoreError> {
    let rows: Vec<Row> = organisations::table
        .filter(
            organisations::ogrn
                .eq(&of.ogrn)
                .or(organisations::inn.eq(&of.inn)),
        )
        .filter(organisations::status.eq(Status::Pending.as_str()))
        .filter(organisations::account_id.ne(of.id.to_string()))
        .order(organisations::created_at.asc())
        .select(columns())
        .load(conn)?;
    rows.into_iter().map(|r| organisation(conn, r)).collect()
}

/// Whether `account` is an organisation staff have not verified (pending or rejected):
/// nobody acts for it.
pub fn unverified(conn: &mut DbConnection, account: AccountId) -> Result<bool, StoreError> {
    let status: Option<String> = organisations::table
        .find(account.to_string())
        .select(organisations::status)
        .first(conn)
        .optional()?;
    Ok(status.is_some_and(|s| s != Status::Verified.as_str()))
}

/// The head who speaks for `account` when it is an organisation staff have verified (one
/// primary-key lookup). A registration still pending, or rejected, is a claim: nobody
/// speaks for it, so it issues no delegation and decides no confirmation.
pub fn head(conn: &mut DbConnection, account: AccountId) -> Result<Option<AccountId>, StoreError> {
    let head: Option<String> = organisations::table
        .find(account.to_string())
        .filter(organisations::status.eq(Status::Verified.as_str()))
        .select(organisations::head_account_id)
        .first(conn)
        .optional()?;
    head.map(|h| parse_id("organisations", &h)).transpose()
}

/// Whether `account` works for `organisation`.
pub fn is_employee(
    conn: &mut DbConnection,
    organisation: AccountId,
    account: AccountId,
) -> Result<bool, StoreError> {
    let found: i64 = organisation_employees::table
        .find((organisation.to_string(), account.to_string()))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Removes an employee; `false` when they were none.
pub fn remove_employee(
    conn: &mut DbConnection,
    organisation: AccountId,
    account: AccountId,
) -> Result<bool, StoreError> {
    let removed =
        diesel::delete(organisation_employees::table.find((organisation.to_string(), account.to_string())))
            .execute(conn)?;
    Ok(removed == 1)
}

/// Adds an employee; `false` when they were one already.
pub fn add_employee(
    conn: &mut DbConnection,
    organisation: AccountId,
    account: AccountId,
    now: Instant,
) -> Result<bool, StoreError> {
    let exists: i64 = organisation_employees::table
        .find((organisation.to_string(), account.to_string()))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(organisation_employees::table)
        .values((
            organisation_employees::organisation_id.eq(organisation.to_string()),
            organisation_employees::account_id.eq(account.to_string()),
            organisation_employees::added_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Organisations `account` heads or works for.
pub fn of_member(conn: &mut DbConnection, account: AccountId) -> Result<Vec<AccountId>, StoreError> {
    let headed: Vec<String> = organisations::table
        .filter(organisations::head_account_id.eq(account.to_string()))
        .select(organisations::account_id)
        .load(conn)?;
    let employed: Vec<String> = organisation_employees::table
        .filter(organisation_employees::account_id.eq(account.to_string()))
        .select(organisation_employees::organisation_id)
        .load(conn)?;
    headed
        .iter()
        .chain(employed.iter())
        .map(|id| parse_id("organisations", id))
        .collect()
}
