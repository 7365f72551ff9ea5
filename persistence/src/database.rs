//! The pool, migrations and transactions: everything a use case needs to reach the
//! database, identical for PostgreSQL and SQLite.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::connection::{DatabaseUrl, DbConnection, Manager};
use crate::error::StoreError;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

pub type Conn = PooledConnection<Manager>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A snapshot of the pool for `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct PoolUsage {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A pool of connections to one database, cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<Manager>,
    backend: Backend,
    /// SQLite lets one transaction write at a time. Without this, the others would wait for
    /// its lock in SQLite's busy handler, which sleeps in steps of up to 100 ms and is not
    /// woken when the lock frees: at half the peak rate a queue of writers then waited tens
    /// of milliseconds for nothing. This node's writers queue here and start the moment the
    /// one before them commits; only another process still meets the busy handler.
    sqlite_writer: Arc<Mutex<()>>,
}

impl Database {
    /// Opens the pool and checks one connection, so a wrong URL fails at start with the
    /// database's own error rather than 30 s of silent retries.
    pub fn open(url: &DatabaseUrl, max_connections: u32) -> Result<Database, StoreError> {
        let backend = if url.is_postgres() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(5))
            // A checkout round trip costs ~50–90 µs; broken connections are detected by
            // `has_broken` after a failed query instead.
            .test_on_check_out(false)
            .build_unchecked(Manager::new(url.clone()));
        let database = Database {
            pool,
            backend,
            sqlite_writer: Arc::default(),
        };
        database.connection()?;
        Ok(database)
    }

    /// Runs `work` for counters that every request updates (rate limits). On PostgreSQL
    /// it runs outside a transaction: each counting statement is its own atomic step and
    /// commits without waiting for the disk (see `rate_limits`), one round trip instead of
    /// four (BEGIN, SET LOCAL, the statement, COMMIT). A crash can lose the last few hundred
    /// milliseconds of counts (the WAL writer flushes every 200 ms), a handful of extra
    /// requests once per database crash, while waiting would add an fsync to every request.
    /// SQLite decides in one IMMEDIATE transaction (its WAL mode does not sync on commit).
    pub fn count<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        match self.backend {
            Backend::Postgres => self.read(work),
            Backend::Sqlite => self.write(work),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn connection(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    pub fn usage(&self) -> PoolUsage {
        let state = self.pool.state();
        PoolUsage {
            size: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Runs `work` on one connection without a transaction (reads).
    pub fn read<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.connection()?;
        work(&mut conn)
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.connection()?;
        self.transaction(&mut conn, work)
    }

    /// `write` on a connection the caller holds (the sealer keeps one): on SQLite it waits
    /// for this node's other writers first (see `sqlite_writer`).
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        conn: &mut DbConnection,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = self.writer_turn();
        transaction(conn, work)
    }

    fn writer_turn(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            // A writer that panicked left nothing half-done behind the lock: its
            // transaction rolled back with its connection.
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|e| e.into_inner())),
            Backend::Postgres => None,
        }
    }

    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.connection()?;
        let applied = match &mut *conn {
            DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Applies pending migrations up to and including `version` (`2026-12-03-000019`), so a
    /// test can write data under an older schema and watch the next migration carry it.
    pub fn migrate_through(&self, version: &str) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        match &mut *conn {
            DbConnection::Postgresql(c) => run_through(c, POSTGRES_MIGRATIONS, version),
            DbConnection::Sqlite(c) => run_through(c, SQLITE_MIGRATIONS, version),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Reverts the newest applied migration (tests of down migrations).
    pub fn revert_last_migration(&self) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        match &mut *conn {
            DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ()),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ()),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// How many embedded migrations the database has not applied yet.
    pub fn pending_migrations(&self) -> Result<usize, StoreError> {
        let mut conn = self.connection()?;
        let pending = match &mut *conn {
            DbConnection::Postgresql(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(|p| p.len()),
            DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|p| p.len()),
        };
        pending.map_err(|e| StoreError::Migration(e.to_string()))
    }
}

/// One transaction on `conn`. SQLite transactions begin IMMEDIATE: a deferred one that
/// reads and then writes fails with SQLITE_BUSY when another writer got in between,
/// whereas an immediate one waits its turn under the busy timeout.
pub fn transaction<T, E: From<StoreError>>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    let begin = match conn {
        DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c),
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
    };
    begin.map_err(StoreError::from)?;
    match work(conn) {
        Ok(value) => {
            let commit = match conn {
                DbConnection::Postgresql(c) => AnsiTransactionManager::commit_transaction(c),
                DbConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
            };
            commit.map_err(StoreError::from)?;
            Ok(value)
        }
        Err(error) => {
            let rollback = match conn {
                DbConnection::Postgresql(c) => AnsiTransactionManager::rollback_transaction(c),
                DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
            };
            if let Err(rollback_error) = rollback {
                tracing::error!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

fn run_through<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: EmbeddedMigrations,
    version: &str,
) -> diesel::migration::Result<()>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let last = version.replace('-', "");
    for migration in conn.pending_migrations(source)? {
        if migration.name().version().to_string().replace('-', "") > last {
            break;
        }
        conn.run_migration(&*migration)?;
    }
    Ok(())
}
