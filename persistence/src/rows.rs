//! Conversions between stored text/timestamps and domain types, in one place so every
//! repository reads and writes them identically on both backends.

use std::str::FromStr;

use chrono::format::{Fixed, Item, Numeric, Pad, Parsed};
use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;
use domain::time::{to_storage_precision, Instant};

use crate::connection::MultiBackend;
use crate::error::StoreError;

pub fn to_db_time(t: Instant) -> NaiveDateTime {
    to_storage_precision(t).naive_utc()
}

pub fn from_db_time(t: impl Into<NaiveDateTime>) -> Instant {
    Utc.from_utc_datetime(&t.into())
}

/// A stored timestamp, for rows read many at a time (list pages). PostgreSQL sends it in
/// binary. SQLite stores text, which diesel reads by trying eighteen format strings, each
/// taken apart by chrono again for every value: 5% of the server's CPU serving list pages
/// on SQLite (perf), half of it taking the format string apart. Here the one format our
/// writes store (`%F %T%.f`, diesel's) is parsed from items built at compile time; any
/// other text is read by diesel's formats as before.
#[derive(Clone, Copy, Debug, FromSqlRow)]
pub struct DbTime(NaiveDateTime);

impl From<DbTime> for NaiveDateTime {
    fn from(t: DbTime) -> NaiveDateTime {
        t.0
    }
}

/// `%F %T%.f` as chrono's format parser takes it.
const STORED_TIME: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
    Item::Space(" "),
    Item::Numeric(Numeric::Hour, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Minute, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Second, Pad::Zero),
    Item::Fixed(Fixed::Nanosecond),
];

fn parse_stored_time(text: &str) -> Option<NaiveDateTime> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, STORED_TIME.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok()
}

impl FromSql<Timestamp, Pg> for DbTime {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(bytes).map(DbTime)
    }
}

impl FromSql<Timestamp, Sqlite> for DbTime {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(t) = parse_stored_time(value.read_text()) {
            return Ok(DbTime(t));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(DbTime)
    }
}

impl FromSql<Timestamp, MultiBackend> for DbTime {
    fn from_sql(
        bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, Timestamp>()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_read_as_diesels_formats_read_them() {
        for text in [
            "2026-12-04 19:16:22",
            "2026-12-04 19:16:22.5",
            "2026-12-04 19:16:22.123456",
            "1999-01-31 00:00:00.000000001",
        ] {
            let expected = NaiveDateTime::parse_from_str(text, "%F %T%.f").ok();
            assert!(expected.is_some(), "{text}");
            assert_eq!(parse_stored_time(text), expected, "{text}");
        }
        // Diesel's other formats (a zone, a T, minutes only) are left to diesel.
        for text in [
            "2026-12-04 19:16:22+03:00",
            "2026-12-04T19:16:22",
            "2026-12-04 19:16",
            "2460000.5",
        ] {
            assert_eq!(parse_stored_time(text), None, "{text}");
        }
    }
}
