//! Running a hot statement on the backend's own connection.
//!
//! diesel's multi-backend connection (`DbConnection`) translates a query for the backend on
//! every run: it walks the query's whole tree to build its SQL text and to collect its binds
//! through a backend-neutral collector, allocating as it goes. On get-one that walk was
//! about a tenth of the server's CPU (`perf`: `collect_binds` and zeroed allocations under
//! the session check and the application read). The backend's own connection keeps a
//! statically typed query prepared under its type and binds its values directly, so the
//! statements every request runs go through [`natively!`].

/// Evaluates `$body` with `$c` bound to the backend's own connection (`PgConnection` or
/// `SqliteConnection`): the body is type-checked once per backend, so it must be written
/// with diesel's DSL only (which builds a query for any backend).
macro_rules! natively {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::DbConnection::Postgresql($c) => $body,
            $crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}

pub(crate) use natively;
