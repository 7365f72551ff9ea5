//! PostgreSQL: the write path's statements are parsed and planned once per session. A
//! statement sent unnamed (diesel's `sql_query`, and every `UPDATE` diesel builds) is parsed
//! and planned again on each call, which was most of the server's time per write; here
//! each is run twice on one pooled session and must be in its prepared statements once.

use diesel::RunQueryDsl;
use domain::attempts::Attempts;
use domain::ids::{ApplicationId, SessionId};
use domain::rate::Quota;
use kabinet_persistence::test_server::{self, Scratch};
use kabinet_persistence::{applications, attempts, events, rate_limits, DbConnection, StoreError};

#[derive(diesel::QueryableByName)]
struct Statement {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement: String,
}

fn prepared(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let DbConnection::Postgresql(pg) = conn else {
        return Ok(vec![]);
    };
    Ok(
        diesel::sql_query("SELECT statement FROM pg_prepared_statements ORDER BY statement")
            .load::<Statement>(pg)?
            .into_iter()
            .map(|s| s.statement)
            .collect(),
    )
}

#[test]
fn write_path_statements_are_prepared_once_per_session() {
    let Some(server) = test_server::postgres_for("write_path_statements_are_prepared_once_per_session")
    else {
        return;
    };
    let scratch = Scratch::create(&server).unwrap_or_else(|e| panic!("{e}"));
    let db = scratch.open(1).unwrap_or_else(|e| panic!("{e}"));
    let Some(quota) = Quota::parse("100/1m") else {
        panic!("a quota that parses")
    };
    let once = |conn: &mut DbConnection| -> Result<(), StoreError> {
        let now = chrono::Utc::now();
        rate_limits::take(conn, "probe", quota, now)?;
        let held = attempts::hold(conn, "probe")?;
        attempts::store(
            conn,
            "probe",
            Attempts {
                failures: held.failures + 1,
                ..held
            },
        )?;
        let event = events::NewLiveEvent {
            application: domain::ids::ApplicationId::new(),
            service: "probe".into(),
            kind: "probe".into(),
            data: serde_json::json!({}),
            audience: vec![domain::ids::AccountId::new()],
        };
        events::publish(conn, &event, now)?;
        Ok(())
    };
    let (first, second) = db
        .write(|conn| {
            once(conn)?;
            let first = prepared(conn)?;
            once(conn)?;
            Ok::<_, StoreError>((first, prepared(conn)?))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second, "a statement was prepared again");
    for start in [
        "INSERT INTO rate_limits",
        "INSERT INTO secret_attempts",
        "UPDATE \"secret_attempts\"",
        "WITH block AS",
    ] {
        assert!(
            first.iter().any(|s| s.starts_with(start)),
            "{start} is not prepared: {first:#?}"
        );
    }
    let failures = db
        .read(|conn| attempts::peek(conn, "probe"))
        .unwrap_or_else(|e| panic!("{e}"))
        .failures;
    assert_eq!(failures, 2, "the prepared update wrote");
}

/// The query a submission starts with (session, application, service, its number and its
/// attachments) is kept prepared: a raw SQL fragment in it (`dsl::sql`) would make diesel
/// send it unnamed, planned anew on every submission.
#[test]
fn the_submission_load_is_prepared_once_per_session() {
    let Some(server) = test_server::postgres_for("the_submission_load_is_prepared_once_per_session") else {
        return;
    };
    let scratch = Scratch::create(&server).unwrap_or_else(|e| panic!("{e}"));
    let db = scratch.open(1).unwrap_or_else(|e| panic!("{e}"));
    let load = |conn: &mut DbConnection| -> Result<(), StoreError> {
        let (session, found) =
            applications::find_with_session(conn, SessionId::new(), ApplicationId::new(), true)?;
        assert!(
            session.is_none() && found.is_none(),
            "nothing to find in an empty database"
        );
        Ok(())
    };
    let (first, second) = db
        .read(|conn| {
            load(conn)?;
            let first = prepared(conn)?;
            load(conn)?;
            Ok::<_, StoreError>((first, prepared(conn)?))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second, "a statement was prepared again");
    let loads = first.iter().filter(|s| s.contains("json_agg")).count();
    assert_eq!(loads, 1, "the submission's load is not prepared: {first:#?}");
}
