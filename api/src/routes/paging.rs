//! Cursor pagination (CONTRACT.md): `?limit=` (default 20, max 100) and an opaque
//! `?cursor=` naming the last row of the previous page; answers `{items, next_cursor}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The keyset position: the sort time (when the order has one) and the row's id.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let at = self
            .at
            .map(|t| t.timestamp_micros().to_string())
            .unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{at}|{}", self.id))
    }

    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::field("cursor", "invalid_value", "Not a cursor this API gave out.");
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (at, id) = raw.split_once('|').ok_or_else(bad)?;
        let at = match at {
            "" => None,
            micros => Some(
                chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?)
                    .ok_or_else(bad)?,
            ),
        };
        Ok(Cursor {
            at,
            id: id.to_string(),
        })
    }
}

/// The keyset position of a list ordered by time: `None` on the first page.
pub fn after(cursor: Option<&str>) -> Result<Option<(DateTime<Utc>, String)>, ApiError> {
    match cursor.map(Cursor::decode).transpose()? {
        Some(Cursor { at: Some(at), id }) => Ok(Some((at, id))),
        Some(_) => Err(ApiError::field(
            "cursor",
            "invalid_value",
            "Not a cursor of this list.",
        )),
        None => Ok(None),
    }
}

/// The page of `fetched`, which was asked for with `limit + 1` rows: the extra row, when
/// it came, says that a next page exists, and the cursor names the last row shown (`key`).
/// So the last page never carries a cursor to an empty one.
pub fn page_of<T>(
    mut fetched: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> Option<Cursor>,
) -> (Vec<T>, Option<String>) {
    let shown = usize::try_from(limit).unwrap_or(0);
    let more = fetched.len() > shown;
    fetched.truncate(shown);
    let next = more.then(|| fetched.last().and_then(key)).flatten();
    (fetched, next.map(|cursor| cursor.encode()))
}

/// The cursor of a row ordered by time, then id.
pub fn at(at: DateTime<Utc>, id: impl ToString) -> Option<Cursor> {
    Some(Cursor {
        at: Some(at),
        id: id.to_string(),
    })
}

/// Validates `limit`.
pub fn limit(requested: Option<i64>) -> Result<i64, ApiError> {
    let limit = requested.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::field("limit", "out_of_range", "Between 1 and 100."))
    }
}

/// The schema of a `from`/`to` filter value: a date or an RFC 3339 instant (see `instant`).
pub fn date_or_instant() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .build(),
    )
}

/// A `from`/`to` filter value: a date (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 instant.
pub fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::field(
                field,
                "invalid_value",
                "A date (YYYY-MM-DD) or an RFC 3339 instant.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row past the limit means a next page, named by the last row shown; no extra
    /// row means the last page, with no cursor to an empty one.
    #[test]
    fn a_page_has_a_cursor_only_when_a_row_follows() {
        let key = |n: &i64| {
            Some(Cursor {
                at: None,
                id: n.to_string(),
            })
        };
        let (shown, next) = page_of(vec![1, 2, 3], 2, key);
        assert_eq!(shown, vec![1, 2]);
        assert_eq!(
            next.as_deref()
                .map(Cursor::decode)
                .transpose()
                .ok()
                .flatten()
                .map(|c| c.id),
            Some("2".into())
        );
        let (shown, next) = page_of(vec![1, 2], 2, key);
        assert_eq!(shown, vec![1, 2]);
        assert_eq!(next, None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            at: chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456),
            id: "abc".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        let plain = Cursor {
            at: None,
            id: "passport".into(),
        };
        assert_eq!(Cursor::decode(&plain.encode()).ok(), Some(plain));
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x|y")).is_err());
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(None).ok(), Some(20));
    }
}
