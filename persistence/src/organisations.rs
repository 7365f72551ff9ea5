//! Organisations (legal entities) and their employees. An organisation is also an account,
//! so it can be a principal and an applicant.

use diesel::prelude::*;
use domain::ids::AccountId;
use domain::organisation::Organisation;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::{organisation_employees, organisations};

/// Whether an organisation with this OGRN or INN is registered already.
pub fn exists(conn: &mut DbConnection, ogrn: &str, inn: &str) -> Result<bool, StoreError> {
    let found: i64 = organisations::table
        .filter(organisations::ogrn.eq(ogrn).or(organisations::inn.eq(inn)))
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
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: AccountId) -> Result<Option<Organisation>, StoreError> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        chrono::NaiveDateTime,
    );
    let row: Option<Row> = organisations::table
        .find(id.to_string())
        .select((
            organisations::account_id,
            organisations::ogrn,
            organisations::inn,
            organisations::kpp,
            organisations::name,
            organisations::head_account_id,
            organisations::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, ogrn, inn, kpp, name, head, created)) = row else {
        return Ok(None);
    };
    let employees: Vec<String> = organisation_employees::table
        .filter(organisation_employees::organisation_id.eq(&id))
        .order(organisation_employees::added_at.asc())
        .select(organisation_employees::account_id)
        .load(conn)?;
    Ok(Some(Organisation {
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
    }))
}

/// The head of `account` when it is an organisation (one primary-key lookup).
pub fn head(conn: &mut DbConnection, account: AccountId) -> Result<Option<AccountId>, StoreError> {
    let head: Option<String> = organisations::table
        .find(account.to_string())
        .select(organisations::head_account_id)
        .first(conn)
        .optional()?;
    head.map(|h| parse_id("organisations", &h)).transpose()
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
