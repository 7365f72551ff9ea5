//! The PostgreSQL server tests run against, for this crate's tests and the HTTP tests
//! alike: `KABINET_TEST_POSTGRES`, and what a test does without it. Nothing in the product
//! calls it.

use diesel::RunQueryDsl;

use crate::connection::establish_postgres;
use crate::{Database, DatabaseUrl, StoreError};

/// The server from `KABINET_TEST_POSTGRES` (without a database), if the run has one.
/// Without one the PostgreSQL variant of `test` says SKIPPED on the terminal (not in the
/// captured output a passing test hides), and panics when `KABINET_REQUIRE_POSTGRES=1` (as
/// `make test-ci` sets) so CI can never pass on SQLite alone.
pub fn postgres_for(test: &str) -> Option<String> {
    match std::env::var("KABINET_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            if std::env::var("KABINET_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("{test}::postgres: KABINET_TEST_POSTGRES is unset but KABINET_REQUIRE_POSTGRES=1");
            }
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}::postgres — KABINET_TEST_POSTGRES is unset"
            );
            None
        }
    }
}

/// Creates database `name` on the test server, a copy of `template` when one is named. When
/// `KABINET_TEST_TABLESPACE` names a tablespace (`make test-ci` makes one in memory, see
/// scripts/test_tablespace.sh), its files go there: every test creates a database and drops
/// it, thousands of files each time, and on the disk's file system finding inodes for them
/// cost PostgreSQL more CPU than the tests' own queries.
pub fn create_database(server: &str, name: &str, template: Option<&str>) -> Result<(), StoreError> {
    let mut admin =
        establish_postgres(&format!("{server}/postgres")).map_err(|e| StoreError::Pool(e.to_string()))?;
    let mut statement = format!("CREATE DATABASE \"{name}\"");
    if let Some(template) = template {
        statement.push_str(&format!(" TEMPLATE \"{template}\""));
    }
    if let Some(space) = std::env::var("KABINET_TEST_TABLESPACE")
        .ok()
        .filter(|s| !s.is_empty())
    {
        statement.push_str(&format!(" TABLESPACE \"{space}\""));
    }
    diesel::sql_query(statement).execute(&mut admin)?;
    Ok(())
}

/// Drops database `name` on the test server, closing its sessions; a failure is ignored
/// (the database is a test's leftover, and a drop runs from destructors).
pub fn drop_database(server: &str, name: &str) {
    if let Ok(mut admin) = establish_postgres(&format!("{server}/postgres")) {
        let _ =
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin);
    }
}

/// A migrated database of its own on the test server, dropped when this is.
pub struct Scratch {
    server: String,
    name: String,
}

impl Scratch {
    pub fn create(server: &str) -> Result<Scratch, StoreError> {
        let name = format!("kabinet_scratch_{}", uuid::Uuid::new_v4().simple());
        create_database(server, &name, None)?;
        let scratch = Scratch {
            server: server.to_string(),
            name,
        };
        scratch.open(1)?.migrate()?;
        Ok(scratch)
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// A pool of `size` sessions on it.
    pub fn open(&self, size: u32) -> Result<Database, StoreError> {
        let url = DatabaseUrl::parse(&self.url()).map_err(StoreError::Pool)?;
        Database::open(&url, size)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        drop_database(&self.server, &self.name);
    }
}
