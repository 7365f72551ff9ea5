//! The persistence layer's errors. A database failure is never turned into "not found":
//! callers see exactly what went wrong and the api layer decides the status.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value that cannot be read back (bad id text, bad JSON): data corruption.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl StoreError {
    pub fn corrupt(table: &'static str, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            table,
            detail: detail.to_string(),
        }
    }

    /// True when the failure is a unique-constraint violation (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// True when the write lost a race with another transaction rather than failing on
    /// its own: a serialization failure or a deadlock on PostgreSQL, a lock wait that ran
    /// out on SQLite. Trying the whole request again is the remedy.
    pub fn is_contention(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            StoreError::Database(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            StoreError::Database(Error::DatabaseError(_, info)) => {
                let message = info.message();
                message.starts_with("deadlock detected") || message.starts_with("database is locked")
            }
            _ => false,
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}
