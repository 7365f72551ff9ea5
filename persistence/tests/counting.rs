//! Rate-limit counting on both backends, next to the code (the HTTP tests see only its
//! answers). On PostgreSQL a count commits on its own without waiting for the disk; the
//! setting that does it must end with the counting statement, or the pooled session would
//! commit the next request's business writes unsynced too.

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

/// Three requests against a quota of two, then what the session would commit with next.
fn count_three(db: &Database) -> (Vec<bool>, Option<String>) {
    let Some(quota) = Quota::parse("2/1m") else {
        panic!("a quota that parses")
    };
    let now: Instant = chrono::Utc::now();
    db.count(|conn| {
        let decisions = (0..3)
            .map(|_| rate_limits::take(conn, "probe", quota, now).map(|d| d.allowed))
            .collect::<Result<Vec<_>, _>>()?;
        let setting = match conn {
            DbConnection::Postgresql(pg) => diesel::sql_query("SHOW synchronous_commit")
                .get_result::<Setting>(pg)
                .map(|s| Some(s.synchronous_commit))?,
            DbConnection::Sqlite(_) => None,
        };
        Ok::<_, StoreError>((decisions, setting))
    })
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
    let (decisions, _) = count_three(&db);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(decisions, [true, true, false]);
}

#[test]
fn postgres_counts_exactly_and_the_session_stays_durable() {
    let Some(server) = test_server::postgres_for("postgres_counts_exactly_and_the_session_stays_durable")
    else {
        return;
    };
    let scratch = Scratch::create(&server).unwrap_or_else(|e| panic!("{e}"));
    let db = scratch.open(1).unwrap_or_else(|e| panic!("{e}"));
    let (decisions, setting) = count_three(&db);
    assert_eq!(decisions, [true, true, false]);
    assert_eq!(setting.as_deref(), Some("on"));
}
