//! Conversions between stored text/timestamps and domain types, in one place so every
//! repository reads and writes them identically on both backends.

use std::str::FromStr;

use chrono::{NaiveDateTime, TimeZone, Utc};
use domain::time::{to_storage_precision, Instant};

use crate::error::StoreError;

pub fn to_db_time(t: Instant) -> NaiveDateTime {
    to_storage_precision(t).naive_utc()
}

pub fn from_db_time(t: NaiveDateTime) -> Instant {
    Utc.from_utc_datetime(&t)
}

/// Parses a stored id; a malformed one is corruption, never "not found".
pub fn parse_id<T: FromStr>(table: &'static str, text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| StoreError::corrupt(table, format!("bad id {text:?}: {e}")))
}

pub fn parse_optional_id<T: FromStr>(table: &'static str, text: Option<&str>) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.map(|t| parse_id(table, t)).transpose()
}

/// A keyset condition as a row-value comparison, `(column, id) > (at, id)`: both backends
/// turn it into an index range, where the equivalent `a > x OR (a = x AND b > y)` makes
/// PostgreSQL walk and filter every row before the cursor.
pub fn after_key(
    column: &'static str,
    op: &'static str,
    at: Instant,
    id: &str,
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Bool,
    impl diesel::query_builder::QueryFragment<crate::connection::MultiBackend> + Send,
> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("({column}, id) {op} ("))
        .bind::<diesel::sql_types::Timestamp, _>(to_db_time(at))
        .sql(", ")
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .sql(")")
}
