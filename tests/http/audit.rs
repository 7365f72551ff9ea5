//! The audit log is append-only and hash-chained; verify finds tampering on both backends.

use diesel::RunQueryDsl;
use domain::access::Role;
use domain::audit::AuditEntry;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{problem, Backend, TestApp};

fn append(app: &TestApp, n: usize) {
    for i in 0..n {
        let entry = AuditEntry::new("test.event", "thing")
            .target(i)
            .details(json!({"i": i}));
        app.state
            .db
            .write(|tx| persistence::audit::record(tx, entry, api::clock::now()))
            .unwrap_or_else(|e| panic!("append: {e}"));
    }
}

async fn tampering_is_detected_by_verify(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let admin = app.staff_token("auditor", Role::Admin).await; // its login is audit record 1
    append(&app, 5);
    let verdict: Value = app
        .get_as("/api/v1/audit/verify", &admin)
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(verdict["intact"], true, "{verdict}");
    assert_eq!(verdict["head_seq"], 6);
    assert_eq!(verdict["records_checked"], 6);

    // The database refuses ordinary edits of the log…
    let refused = app.state.db.read(|conn| {
        diesel::sql_query("UPDATE audit_log SET action = 'test.forged' WHERE seq = 3")
            .execute(conn)
            .map_err(persistence::StoreError::from)
    });
    assert!(refused.is_err(), "audit_log accepted an UPDATE");

    // …so a tamperer must first disable the guard, and verify still catches the edit.
    let disable = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres(_) => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    };
    app.state
        .db
        .read(|conn| -> Result<(), persistence::StoreError> {
            diesel::sql_query(disable).execute(conn)?;
            diesel::sql_query("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 4").execute(conn)?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("tamper: {e}"));
    let verdict: Value = app
        .get_as("/api/v1/audit/verify", &admin)
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(verdict["intact"], false, "{verdict}");
    assert_eq!(verdict["first_broken_seq"], 4);
    assert_eq!(verdict["problem"], "altered");
    assert_eq!(verdict["records_checked"], 3);
}
db_test!(tampering_is_detected_by_verify);

async fn a_truncated_tail_is_detected(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    append(&app, 4);
    let disable = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_delete",
        Backend::Postgres(_) => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    };
    let verification = app
        .state
        .db
        .read(|conn| -> Result<_, persistence::StoreError> {
            diesel::sql_query(disable).execute(conn)?;
            diesel::sql_query("DELETE FROM audit_log WHERE seq = 4").execute(conn)?;
            persistence::audit::verify(conn)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!verification.is_intact());
    assert_eq!(verification.records_checked, 3);
}
db_test!(a_truncated_tail_is_detected);

async fn concurrent_appends_never_fork_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = app.state.db.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let entry = AuditEntry::new("test.concurrent", "writer").target(format!("{w}-{i}"));
                    db.write(|tx| persistence::audit::record(tx, entry, api::clock::now()))
                        .unwrap_or_else(|e| panic!("writer {w}: {e}"));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    }
    let verification = app
        .state
        .db
        .read(persistence::audit::verify)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.head_seq, 60);
}
db_test!(concurrent_appends_never_fork_the_chain);

async fn only_admins_verify(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let officer = app.staff_token("officer-1", Role::Officer).await;
    let body = problem(app.get_as("/api/v1/audit/verify", &officer).await, 403).await;
    assert_eq!(body["code"], "role_required");
}
db_test!(only_admins_verify);

async fn logins_are_audited_with_their_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.staff_token("someone", Role::Admin).await;
    let failed = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"login": "someone", "password": "wrong"}),
        )
        .await;
    assert_eq!(problem(failed, 401).await["code"], "invalid_credentials");
    let unknown = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"login": "nobody", "password": "wrong"}),
        )
        .await;
    assert_eq!(problem(unknown, 401).await["code"], "invalid_credentials");
    let actions: Vec<String> = app
        .state
        .db
        .read(|conn| {
            use diesel::prelude::*;
            use persistence::schema::audit_log::dsl::*;
            audit_log
                .order(seq.asc())
                .select(action)
                .load::<String>(conn)
                .map_err(persistence::StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        actions,
        vec!["auth.login", "auth.login_failed", "auth.login_failed"]
    );
}
db_test!(logins_are_audited_with_their_outcome);
