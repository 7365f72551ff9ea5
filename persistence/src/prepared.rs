//! Statements a PostgreSQL session parses and plans once. diesel keeps its selects and
//! fixed-text inserts prepared, but sends raw SQL (`sql_query`) and every `UPDATE` (a
//! changeset may skip `None` fields, so one Rust type has no fixed text) unnamed: the
//! server parses and plans them again on every call, which on the write path was most of
//! PostgreSQL's time per request. [`kept`] collects such a statement's text and parameters
//! and hands them on as a query marked safe to keep, which diesel's statement cache then
//! keys by its text. (For the same reason our `Insertable` rows say
//! `treat_none_as_default_value = false`: a row whose `None` may mean `DEFAULT` has no fixed
//! text either.)
//!
//! Only for statements whose text is fixed, or varies little: each distinct text is one
//! more prepared statement in the session. `CollectedQuery` is public behind diesel's
//! `i-implement-a-third-party-backend…` feature; Cargo.lock pins the version.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::bind_collector::RawBytesBindCollector;
use diesel::query_builder::{
    AstPass, CollectedQuery, MoveableBindCollector, Query, QueryBuilder, QueryFragment, QueryId,
};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::sql_types::Untyped;
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

use crate::connection::DbConnection;
use crate::error::StoreError;

/// A statement with its parameters collected, run as a prepared statement of the session;
/// load rows as from `sql_query` (`QueryableByName`).
#[must_use = "a statement does nothing until it is run"]
pub struct Kept(CollectedQuery<RawBytesBindCollector<Pg>>);

/// `statement` (raw SQL with its binds, or any statement diesel builds) as one the session
/// keeps prepared.
pub fn kept(pg: &mut PgConnection, statement: impl QueryFragment<Pg>) -> QueryResult<Kept> {
    let mut sql = <Pg as Backend>::QueryBuilder::default();
    statement.to_sql(&mut sql, &Pg)?;
    let mut binds = RawBytesBindCollector::<Pg>::new();
    statement.collect_binds(&mut binds, pg, &Pg)?;
    Ok(Kept(CollectedQuery::new(sql.finish(), true, binds.moveable())))
}

impl QueryId for Kept {
    type QueryId = ();
    // Keyed by text, not by type: every statement has this one type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Kept {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for Kept {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl RunQueryDsl<PgConnection> for Kept {}

/// Runs `statement` (an `UPDATE` written once with diesel's DSL for both backends), kept
/// prepared on PostgreSQL; SQLite's connection keeps its own statements.
pub fn execute<Q>(conn: &mut DbConnection, statement: Q) -> Result<usize, StoreError>
where
    Q: QueryFragment<Pg> + ExecuteDsl<SqliteConnection>,
{
    Ok(match conn {
        DbConnection::Postgresql(pg) => kept(pg, statement)?.execute(pg)?,
        DbConnection::Sqlite(sqlite) => ExecuteDsl::execute(statement, sqlite)?,
    })
}

/// Runs `first`, then `then` (statements written once with diesel's DSL for both backends)
/// and answers `then`'s count. On PostgreSQL they are one statement, kept prepared, `first`
/// a data-modifying `WITH` of `then`: one round trip instead of two. Both see the rows as
/// they were before either ran, so they must not write the same rows.
pub fn execute_alongside<A, B>(conn: &mut DbConnection, first: A, then: B) -> Result<usize, StoreError>
where
    A: QueryFragment<Pg> + ExecuteDsl<SqliteConnection>,
    B: QueryFragment<Pg> + ExecuteDsl<SqliteConnection>,
{
    Ok(match conn {
        DbConnection::Postgresql(pg) => kept(pg, Alongside(first, then))?.execute(pg)?,
        DbConnection::Sqlite(sqlite) => {
            ExecuteDsl::execute(first, sqlite)?;
            ExecuteDsl::execute(then, sqlite)?
        }
    })
}

/// `WITH alongside AS (first) then`.
struct Alongside<A, B>(A, B);

impl<A: QueryFragment<Pg>, B: QueryFragment<Pg>> QueryFragment<Pg> for Alongside<A, B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH alongside AS (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.1.walk_ast(out.reborrow())
    }
}
