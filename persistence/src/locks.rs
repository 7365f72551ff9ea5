//! Row locks for appends that number themselves (`seq = max + 1`): two transactions
//! appending to the same application's history at once (two participants commenting, a
//! retried create racing its first try) would otherwise compute the same number and one
//! would fail on the unique key. Locking the parent row first makes the second wait for
//! the first to commit and then read its number.

use diesel::RunQueryDsl;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::prepared::{Bind, Prepared};

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
    fn statement(self) -> &'static str {
        match self {
            Parent::Application => "SELECT 1 FROM applications WHERE id = $1 FOR NO KEY UPDATE",
            Parent::Delegation => "SELECT 1 FROM delegations WHERE id = $1 FOR NO KEY UPDATE",
            Parent::Account => "SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
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
        DbConnection::Postgresql(pg) => {
            Prepared::new(parent.statement())
                .bind(Bind::Text(id))
                .execute(pg)?;
        }
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}
