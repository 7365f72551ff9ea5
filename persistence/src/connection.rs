//! The one connection type for both backends, and the r2d2 manager that opens it.
//! The derive lives alone in this module because it generates a fixed inner module name.

use std::borrow::Cow;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, ConnectionResult, PgConnection, SqliteConnection};

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens a PostgreSQL session; every one in the process goes through here.
///
/// Threads that nobody joins (r2d2's workers opening sessions, the sealer, the event
/// listener, a test binary's servers) may be inside libpq when the process exits, and two of
/// the libraries libpq loads free their state at exit under them: the process then dies
/// *after* its work, with SIGSEGV or heap corruption. OpenSSL registers that exit handler at
/// its first initialisation, so it is initialised here first with `OPENSSL_INIT_NO_ATEXIT`
/// (openssl/openssl#6214, diesel-rs/diesel#3441). Kerberos (libkrb5, whose destructors cannot
/// be turned off) is only entered for GSSAPI encryption, which libpq tries by default; it is
/// off unless the URL asks for it with `gssencmode`. Measured with a program whose threads
/// keep connecting while `main` returns: 26 of 200 exits crashed with neither, 6 of 150 with
/// only the OpenSSL change (all in libkrb5), 0 of 200 with both.
pub fn establish_postgres(url: &str) -> ConnectionResult<PgConnection> {
    openssl_sys::init();
    PgConnection::establish(&without_default_gss_encryption(url))
}

fn without_default_gss_encryption(url: &str) -> Cow<'_, str> {
    if url.contains("gssencmode=") {
        return Cow::Borrowed(url);
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Cow::Owned(format!("{url}{separator}gssencmode=disable"))
}

/// Which database a URL names, decided by its scheme alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path (never `:memory:`, which would give every pooled connection its own database).
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") {
                return Err("sqlite:// needs a file path (an in-memory database is per connection)".into());
            }
            Ok(DatabaseUrl::Sqlite(path.to_string()))
        } else {
            Err("expected postgres://… or sqlite://PATH".into())
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }

    /// For logs: the scheme and location, never a password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// Opens connections for r2d2, choosing the backend from the URL so that the real libpq
/// or SQLite error reaches the operator (the derive's own `establish` drops both).
#[derive(Clone, Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => establish_postgres(url)
                .map(DbConnection::Postgresql)
                .map_err(diesel::r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(diesel::r2d2::Error::ConnectionError)?;
                // Per-connection settings: WAL lets readers run beside the writer; the busy
                // timeout makes writers queue instead of failing at once. It comes first
                // because switching to WAL itself needs a lock that other new connections
                // of the pool may hold. The file is mapped (up to 1 GiB): a read touches its
                // pages in place instead of a `pread` and a copy each.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = 1073741824;",
                )
                .map_err(|e| {
                    diesel::r2d2::Error::ConnectionError(ConnectionError::BadConnection(e.to_string()))
                })?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert!(DatabaseUrl::parse("postgres://u@h/db")
            .map(|u| u.is_postgres())
            .unwrap_or(false));
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/k.db"),
            Ok(DatabaseUrl::Sqlite("./data/k.db".into()))
        );
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn redaction_hides_credentials() {
        let url = DatabaseUrl::parse("postgres://user:secret@db:5432/kabinet")
            .unwrap_or(DatabaseUrl::Sqlite(String::new()));
        assert_eq!(url.redacted(), "postgres://…@db:5432/kabinet");
    }

    #[test]
    fn gss_encryption_is_off_unless_the_url_asks_for_it() {
        assert_eq!(
            without_default_gss_encryption("postgres://k@db:5432/kabinet"),
            "postgres://k@db:5432/kabinet?gssencmode=disable"
        );
        assert_eq!(
            without_default_gss_encryption("postgres://k@db/kabinet?sslmode=require"),
            "postgres://k@db/kabinet?sslmode=require&gssencmode=disable"
        );
        assert_eq!(
            without_default_gss_encryption("postgres://k@db/kabinet?gssencmode=require"),
            "postgres://k@db/kabinet?gssencmode=require"
        );
    }
}
