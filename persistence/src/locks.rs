//! Row locks for appends that number themselves (`seq = max + 1`): two transactions
//! appending to the same application's history at once (two participants commenting, a
//! retried create racing its first try) would otherwise compute the same number and one
//! would fail on the unique key. Locking the parent row first makes the second wait for
//! the first to commit and then read its number.

use diesel::sql_types::Text;
use diesel::{PgConnection, RunQueryDsl};

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared;

/// Rows that may be locked; the table name is never taken from input.
#[derive(Clone, Copy, Debug)]
pub enum Parent {
    Application,
    Delegation,
    /// An account: serialises what is counted per principal (a representative's daily
    /// creations on their behalf).
    Account,
}

impl Parent {
    fn table(self) -> &'static str {
        match self {
            Parent::Application => "applications",
            Parent::Delegation => "delegations",
            Parent::Account => "accounts",
        }
    }
}

/// Holds `id`'s row until the transaction ends. PostgreSQL only: SQLite transactions
/// begin IMMEDIATE, so its writers take turns already.
///
/// `FOR NO KEY UPDATE`, the lock an `UPDATE` of the row takes, not `FOR UPDATE`: a
/// transaction that already inserted a child row (a comment) holds `FOR KEY SHARE` on the
/// parent through the foreign key, and two such transactions asking for `FOR UPDATE`
/// would deadlock; `FOR NO KEY UPDATE` does not conflict with `FOR KEY SHARE`.
pub fn lock(conn: &mut DbConnection, parent: Parent, id: &str) -> Result<(), StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => lock_row(pg, parent, id),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// [`lock`] on a PostgreSQL connection.
pub(crate) fn lock_row(pg: &mut PgConnection, parent: Parent, id: &str) -> Result<(), StoreError> {
    let statement = diesel::sql_query(format!(
        "SELECT 1 FROM {} WHERE id = $1 FOR NO KEY UPDATE",
        parent.table()
    ))
    .bind::<Text, _>(id);
    prepared::kept(pg, statement)?.execute(pg)?;
    Ok(())
}
