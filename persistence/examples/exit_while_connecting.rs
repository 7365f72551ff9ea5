//! Exits while six threads keep opening PostgreSQL sessions, as a node or a test binary
//! does when its pools' workers are still connecting. `make exit-check` runs it many times
//! and counts the runs that crashed; with `--raw` the sessions open without
//! `establish_postgres` (libpq's defaults, OpenSSL's exit handler), to show what it prevents.
//!
//! `KABINET_TEST_POSTGRES` names the server (default postgres://postgres@127.0.0.1:5432).

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use kabinet_persistence::connection::establish_postgres;

fn main() {
    let raw = std::env::args().any(|a| a == "--raw");
    let server = std::env::var("KABINET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{}/postgres?sslmode=prefer", server.trim_end_matches('/'));
    for _ in 0..6 {
        let url = url.clone();
        std::thread::spawn(move || loop {
            let session = if raw {
                PgConnection::establish(&url)
            } else {
                establish_postgres(&url)
            };
            if let Ok(mut session) = session {
                let _ = diesel::sql_query("SELECT 1").execute(&mut session);
            }
        });
    }
    std::thread::sleep(Duration::from_millis(150));
}
