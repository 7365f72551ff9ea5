//! Rate-limit counting on both backends, next to the code (the HTTP tests see only its
//! answers). On PostgreSQL a count commits on its own without waiting for the disk; the
//! setting that does it must end with the counting statement, or the pooled session would
//! commit the next request's business writes unsynced too. A count made inside a write
//! (a limit on what is stored) must leave that write's commit durable.

use diesel::RunQueryDsl;
use domain::rate::Quota;
use domain::time::Instant;
use kabinet_persistence::test_server::{self, Scratch};
use kabinet_persistence::{rate_limits, Database, DatabaseUrl, DbConnection, StoreError};

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    synchronous_commit: String,
}

/// Where the counts are made.
#[derive(Clone, Copy)]
enum Counted {
    Alone,
    InWrite,
}

/// Three requests against a quota of two, then what the session (or the write it counted
/// in) would commit with next.
fn count_three(db: &Database, counted: Counted) -> (Vec<bool>, Option<String>) {
    let Some(quota) = Quota::parse("2/1m") else {
        panic!("a quota that parses")
    };
    let now: Instant = chrono::Utc::now();
    let key = match counted {
        Counted::Alone => "probe",
        Counted::InWrite => "probe in a write",
    };
    let work = |conn: &mut DbConnection| {
        let decisions = (0..3)
            .map(|_| rate_limits::take(conn, key, quota, now).map(|d| d.allowed))
            .collect::<Result<Vec<_>, _>>()?;
        let setting = match conn {
            DbConnection::Postgresql(pg) => diesel::sql_query("SHOW synchronous_commit")
                .get_result::<Setting>(pg)
                .map(|s| Some(s.synchronous_commit))?,
            DbConnection::Sqlite(_) => None,
        };
        Ok::<_, StoreError>((decisions, setting))
    };
    match counted {
        Counted::Alone => db.count(work),
        Counted::InWrite => db.write(work),
    }
    .unwrap_or_else(|e| panic!("counting: {e}"))
}

fn migrated(url: &str) -> Database {
    let url = DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
    let db = Database::open(&url, 1).unwrap_or_else(|e| panic!("open: {e}"));
    db.migrate().unwrap_or_else(|e| panic!("migrate: {e}"));
    db
}

#[test]
fn sqlite_counts_exactly() {
    let dir = std::env::temp_dir().join(format!("kabinet-counting-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db = migrated(&format!("sqlite://{}", dir.join("k.db").display()));
    let (decisions, _) = count_three(&db, Counted::Alone);
    let (in_write, _) = count_three(&db, Counted::InWrite);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(decisions, [true, true, false]);
    assert_eq!(in_write, [true, true, false]);
}

#[test]
fn postgres_counts_exactly_and_the_session_stays_durable() {
    let Some(server) = test_server::postgres_for("postgres_counts_exactly_and_the_session_stays_durable")
    else {
        return;
    };
    let scratch = Scratch::create(&server).unwrap_or_else(|e| panic!("{e}"));
    let db = scratch.open(1).unwrap_or_else(|e| panic!("{e}"));
    let (decisions, setting) = count_three(&db, Counted::Alone);
    assert_eq!(decisions, [true, true, false]);
    assert_eq!(setting.as_deref(), Some("on"));
    // Inside a write the setting, read before its commit, is still durable.
    let (decisions, setting) = count_three(&db, Counted::InWrite);
    assert_eq!(decisions, [true, true, false]);
    assert_eq!(setting.as_deref(), Some("on"));
}
