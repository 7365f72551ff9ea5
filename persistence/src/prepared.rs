//! Statements of fixed text, for what diesel's builder cannot express (common table
//! expressions, `set_config`, `pg_current_snapshot`) or will not keep prepared (every
//! `UPDATE`), run as prepared statements that a PostgreSQL session parses and plans once.
//! diesel sends those unnamed, so the server parses and plans them again on every call; on
//! the write path that was most of PostgreSQL's time per request. (For the same reason our
//! `Insertable` rows say `treat_none_as_default_value = false`: a row whose `None` may mean
//! `DEFAULT` has no fixed text, so diesel does not keep it prepared either.)
//!
//! The text names its parameters `$1`, `$2`, … as PostgreSQL does; each is bound from
//! [`Bind`] in that order (a parameter used twice is bound twice). diesel's statement cache
//! keys the statement by its text and parameter types.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::bind_collector::RawBytesBindCollector;
use diesel::query_builder::{
    AstPass, CollectedQuery, MoveableBindCollector, Query, QueryBuilder, QueryFragment, QueryId,
};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp, Untyped};
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

use crate::connection::DbConnection;
use crate::error::StoreError;

/// One parameter's value.
#[derive(Clone, Debug)]
pub enum Bind<'a> {
    Text(&'a str),
    NullableText(Option<&'a str>),
    BigInt(i64),
    Timestamp(chrono::NaiveDateTime),
    TextArray(&'a [String]),
}

impl Bind<'_> {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        match self {
            Bind::Text(v) => out.push_bind_param::<Text, _>(v),
            Bind::NullableText(v) => out.push_bind_param::<Nullable<Text>, _>(v),
            Bind::BigInt(v) => out.push_bind_param::<BigInt, _>(v),
            Bind::Timestamp(v) => out.push_bind_param::<Timestamp, _>(v),
            Bind::TextArray(v) => out.push_bind_param::<Array<Text>, _>(v),
        }
    }
}

/// A statement of fixed text with its parameters; load rows as with `sql_query`
/// (`QueryableByName`).
#[derive(Debug)]
#[must_use = "a statement does nothing until it is run"]
pub struct Prepared<'a> {
    sql: &'static str,
    binds: Vec<Bind<'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(sql: &'static str) -> Prepared<'a> {
        Prepared {
            sql,
            binds: Vec::new(),
        }
    }

    /// The value of the next parameter.
    pub fn bind(mut self, value: Bind<'a>) -> Prepared<'a> {
        self.binds.push(value);
        self
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // Keyed by text, not by type: every statement has this one type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let bind = rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| self.binds.get(n.checked_sub(1)?))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!(
                            "no value for parameter {} of {}",
                            &rest[at..at + 1 + digits],
                            self.sql
                        )
                        .into(),
                    )
                })?;
            bind.push(&mut out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for Prepared<'_> {}

/// Runs `statement` (an `UPDATE` written once with diesel's DSL for both backends) as a
/// statement PostgreSQL keeps prepared, keyed by its text; SQLite's connection keeps its
/// own statements anyway.
///
/// diesel prepares no `UPDATE` (a changeset that skips `None` fields has no fixed text for
/// its type), so this collects the statement's text and parameters first and hands them
/// on as an already-collected query marked safe to keep, which diesel's cache then keys
/// by text. Only for statements whose text is fixed, or varies little: each distinct text
/// is one more prepared statement in the session. (`CollectedQuery` is public behind
/// diesel's `i-implement-a-third-party-backend…` feature; Cargo.lock pins the version.)
pub fn execute<Q>(conn: &mut DbConnection, statement: Q) -> Result<usize, StoreError>
where
    Q: QueryFragment<Pg> + ExecuteDsl<SqliteConnection>,
{
    Ok(match conn {
        DbConnection::Postgresql(pg) => {
            let mut sql = <Pg as Backend>::QueryBuilder::default();
            statement.to_sql(&mut sql, &Pg)?;
            let mut binds = RawBytesBindCollector::<Pg>::new();
            statement.collect_binds(&mut binds, pg, &Pg)?;
            ExecuteDsl::execute(CollectedQuery::new(sql.finish(), true, binds.moveable()), pg)?
        }
        DbConnection::Sqlite(sqlite) => ExecuteDsl::execute(statement, sqlite)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bound_in_the_order_the_text_names_them() {
        let statement = Prepared::new("SELECT $2, $1, $2 FROM t")
            .bind(Bind::BigInt(1))
            .bind(Bind::Text("x"));
        let sql = diesel::debug_query::<Pg, _>(&statement).to_string();
        assert!(sql.starts_with("SELECT $1, $2, $3 FROM t"), "{sql}");
        assert!(sql.contains(r#"binds: ["x", 1, "x"]"#), "{sql}");
    }

    #[test]
    fn a_parameter_without_a_value_is_an_error_not_a_panic() {
        let statement = Prepared::new("SELECT $3").bind(Bind::BigInt(1));
        let mut sql = String::new();
        let mut builder = <Pg as diesel::backend::Backend>::QueryBuilder::default();
        let built = QueryFragment::<Pg>::to_sql(&statement, &mut builder, &Pg);
        sql.push_str(&diesel::query_builder::QueryBuilder::finish(builder));
        assert!(built.is_err(), "{sql}");
    }
}
