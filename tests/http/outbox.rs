//! Notifications and their outbox messages commit or roll back with the change that caused
//! them; the dispatcher delivers after commit, retries with backoff and gives up in the end.

use std::time::Duration;

use diesel::prelude::*;
use domain::access::Role;
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use persistence::accounts::{create_staff, NewStaff};
use persistence::schema::{accounts, notifications, outbox};
use persistence::{DbConnection, StoreError};
use serde_json::json;

use crate::db_test;
use crate::support::{Backend, TestApp};

fn staff(email: &str) -> NewStaff {
    NewStaff {
        id: AccountId::new(),
        login_key: domain::login::email_key(email),
        display_name: email.into(),
        roles: vec![Role::Citizen],
        agency_code: None,
        password_hash: "x".into(),
        email: Some(email.into()),
    }
}

fn notice(recipient: AccountId) -> Notice {
    Notice {
        recipient,
        kind: "test.notice".into(),
        title: "Заявление принято".into(),
        body: "Ваше заявление получено ведомством.".into(),
        data: json!({}),
        important: false,
    }
}

fn count(conn: &mut DbConnection) -> (i64, i64, i64) {
    let a = accounts::table.count().get_result(conn).unwrap_or(-1);
    let n = notifications::table.count().get_result(conn).unwrap_or(-1);
    let o = outbox::table.count().get_result(conn).unwrap_or(-1);
    (a, n, o)
}

#[derive(Debug)]
struct Boom;

impl From<StoreError> for Boom {
    fn from(e: StoreError) -> Self {
        panic!("unexpected store error: {e}")
    }
}

async fn a_failed_change_leaves_no_notification_and_no_message(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("outbox_poll_ms", "3600000")).await;
    let db = &app.state.db;
    let now = api::clock::now();
    let account = staff("rollback@example.ru");
    let failed: Result<(), Boom> = db.write(|tx| {
        create_staff(tx, &account, now)?;
        persistence::notifications::notify(tx, &notice(account.id), now)?;
        persistence::audit::record(tx, AuditEntry::new("test.change", "account"), now)?;
        Err(Boom) // the use case fails after writing everything
    });
    assert!(failed.is_err());
    assert_eq!(
        db.read(|c| Ok::<_, StoreError>(count(c))).unwrap_or_default(),
        (0, 0, 0)
    );
    let audit_records = db
        .read(|c| {
            use diesel::prelude::*;
            persistence::schema::audit_log::table
                .count()
                .get_result::<i64>(c)
                .map_err(StoreError::from)
        })
        .unwrap_or(-1);
    assert_eq!(audit_records, 0, "the audit record was rolled back too");

    let done: Result<(), StoreError> = db.write(|tx| {
        create_staff(tx, &account, now)?;
        persistence::notifications::notify(tx, &notice(account.id), now)?;
        Ok(())
    });
    assert!(done.is_ok());
    assert_eq!(
        db.read(|c| Ok::<_, StoreError>(count(c))).unwrap_or_default(),
        (1, 1, 1)
    );
}
db_test!(a_failed_change_leaves_no_notification_and_no_message);

async fn the_dispatcher_delivers_to_the_dev_mailbox_and_scrubs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let account = staff("citizen@example.ru");
    db.write(|tx| -> Result<_, StoreError> {
        create_staff(tx, &account, api::clock::now())?;
        persistence::notifications::notify(tx, &notice(account.id), api::clock::now())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = app.mailbox_lines();
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lines.len(), 1, "one message delivered");
    assert_eq!(lines[0]["channel"], "email");
    assert_eq!(lines[0]["to"], "citizen@example.ru");
    assert_eq!(lines[0]["subject"], "Заявление принято");
    assert_eq!(lines[0]["body"], "Ваше заявление получено ведомством.");
    // Give the dispatcher's mark-sent a moment; it commits right after the write.
    let mut row = (String::new(), String::from("?"));
    for _ in 0..100 {
        row = db
            .read(|c| {
                outbox::table
                    .select((outbox::status, outbox::body))
                    .first::<(String, String)>(c)
                    .map_err(StoreError::from)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        if row.0 == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        row,
        ("sent".to_string(), String::new()),
        "delivered messages lose their body"
    );
}
db_test!(the_dispatcher_delivers_to_the_dev_mailbox_and_scrubs);

async fn failed_deliveries_back_off_and_finally_die(backend: Backend) {
    // No background dispatcher: this test drives ticks itself, against a mailbox that is a
    // directory, so every delivery fails.
    let app = TestApp::spawn_with(backend, |s| s.set("outbox_poll_ms", "3600000")).await;
    let db = app.state.db.clone();
    let account = staff("unlucky@example.ru");
    db.write(|tx| -> Result<_, StoreError> {
        create_staff(tx, &account, api::clock::now())?;
        persistence::notifications::notify(tx, &notice(account.id), api::clock::now())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let broken = app.data_dir.0.join("not-a-file");
    std::fs::create_dir_all(&broken).unwrap_or_else(|e| panic!("{e}"));

    let patient = api::dispatcher::Dispatcher::new(
        db.clone(),
        app.state.clock.clone(),
        Some(broken.clone()),
        3,
        Duration::from_secs(1),
    );
    assert_eq!(patient.tick().unwrap_or(99), 0);
    let (status, attempts, next, error): (String, i32, chrono::NaiveDateTime, Option<String>) = db
        .read(|c| {
            outbox::table
                .select((
                    outbox::status,
                    outbox::attempts,
                    outbox::next_attempt_at,
                    outbox::last_error,
                ))
                .first(c)
                .map_err(StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(next > api::clock::now().naive_utc(), "retried later, not at once");
    assert!(error.is_some_and(|e| e.contains("mailbox")));
    // Not due yet: a second tick leaves it alone.
    assert_eq!(patient.tick().unwrap_or(99), 0);
    let attempts: i32 = db
        .read(|c| {
            outbox::table
                .select(outbox::attempts)
                .first(c)
                .map_err(StoreError::from)
        })
        .unwrap_or(-1);
    assert_eq!(attempts, 1);

    // Make it due again; with one attempt left the next failure is final.
    db.read(|c| {
        diesel::update(outbox::table)
            .set(outbox::next_attempt_at.eq(api::clock::now().naive_utc() - chrono::TimeDelta::seconds(1)))
            .execute(c)
            .map_err(StoreError::from)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let impatient = api::dispatcher::Dispatcher::new(
        db.clone(),
        app.state.clock.clone(),
        Some(broken),
        2,
        Duration::from_secs(1),
    );
    assert_eq!(impatient.tick().unwrap_or(99), 0);
    let status: String = db
        .read(|c| {
            outbox::table
                .select(outbox::status)
                .first(c)
                .map_err(StoreError::from)
        })
        .unwrap_or_default();
    assert_eq!(status, "dead");
}
db_test!(failed_deliveries_back_off_and_finally_die);

/// On PostgreSQL a write of one row of each kind (history, audit, live event heard by one
/// account, at most one notice) has a statement of its own (`records::One`), and any other
/// write goes through the arrays' statement; SQLite writes each row alone. Whichever way,
/// the history counts on, the events take the next positions and reach their listener, the
/// audit record waits for the sealer, and an important notice goes out by e-mail and SMS.
async fn one_row_of_each_kind_is_recorded_as_many_rows_are(backend: Backend) {
    use domain::ids::ApplicationId;
    use persistence::applications::NewHistory;
    use persistence::events::NewLiveEvent;
    use persistence::records::{self, Records};
    use persistence::schema::{audit_log, audit_unsealed, event_audience, events};

    // The dispatcher runs: signing up proves the citizen's contacts with codes it sends.
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, token) = app.citizen_token(true).await;
    let created = crate::support::json(
        app.send(
            reqwest::Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(json!({"service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}})),
        )
        .await,
        201,
    )
    .await;
    let id: ApplicationId = serde_json::from_value(created["id"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let owner: AccountId =
        serde_json::from_value(created["owner_id"].clone()).unwrap_or_else(|e| panic!("{e}"));
    app.execute(&format!(
        "UPDATE accounts SET phone = '+79990001122' WHERE id = '{owner}'"
    ));
    let db = &app.state.db;
    let draft = db
        .read(|c| persistence::applications::find(c, id))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the draft"));
    let important = |title: &str| Notice {
        kind: "test.decided".into(),
        title: title.into(),
        important: true,
        ..notice(owner)
    };
    let write = |notices: Vec<Notice>| {
        let history = [NewHistory::of(&draft, "test.noted", Some(draft.status)).by(Some(owner), None)];
        let audit = [AuditEntry::new("test.noted", "application")
            .by(Some(owner))
            .target(id)];
        let events = [NewLiveEvent {
            application: id,
            service: draft.service_code.clone(),
            kind: "test.noted".into(),
            data: json!({}),
            audience: vec![owner],
        }];
        db.write(|tx| {
            records::write(
                tx,
                Records {
                    history: &history,
                    audit: &audit,
                    events: &events,
                    notices: &notices,
                },
                api::clock::now(),
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    };
    write(vec![important("one")]);
    write(vec![important("two"), important("three")]);

    let history = db
        .read(|c| persistence::applications::history(c, id))
        .unwrap_or_else(|e| panic!("{e}"));
    let seqs: Vec<i32> = history.iter().map(|h| h.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "the draft's creation, then one entry per write");
    let (positions, heard, audited, waiting, messages) = db
        .read(|c| {
            let positions: Vec<i64> = events::table
                .filter(events::application_id.eq(id.to_string()))
                .filter(events::kind.eq("test.noted"))
                .select(events::id)
                .order(events::id)
                .load(c)?;
            let heard: Vec<i64> = event_audience::table
                .filter(event_audience::account_id.eq(owner.to_string()))
                .filter(event_audience::event_id.eq_any(&positions))
                .select(event_audience::event_id)
                .order(event_audience::event_id)
                .load(c)?;
            let audited: Vec<i64> = audit_log::table
                .filter(audit_log::action.eq("test.noted"))
                .select(audit_log::seq)
                .order(audit_log::seq)
                .load(c)?;
            let waiting: i64 = audit_unsealed::table
                .filter(audit_unsealed::seq.eq_any(&audited))
                .count()
                .get_result(c)?;
            let messages: Vec<(String, String, String)> = outbox::table
                .inner_join(notifications::table.on(outbox::notification_id.eq(notifications::id.nullable())))
                .filter(notifications::kind.eq("test.decided"))
                .select((notifications::title, outbox::channel, outbox::recipient))
                .order((notifications::title, outbox::channel))
                .load(c)?;
            Ok::<_, StoreError>((positions, heard, audited, waiting, messages))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(positions.len(), 2, "one live event per write: {positions:?}");
    assert_eq!(heard, positions, "each event reaches its listener");
    assert_eq!(audited.len(), 2);
    assert_eq!(waiting, 2, "both audit records wait for the sealer");
    let email: Option<String> = db
        .read(|c| {
            accounts::table
                .filter(accounts::id.eq(owner.to_string()))
                .select(accounts::email)
                .first(c)
                .map_err(StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(email) = email else {
        panic!("a signed-in citizen has an e-mail address")
    };
    let expected: Vec<(String, String, String)> = ["one", "three", "two"]
        .into_iter()
        .flat_map(|title| {
            [
                (title.to_string(), "email".to_string(), email.clone()),
                (title.to_string(), "sms".to_string(), "+79990001122".to_string()),
            ]
        })
        .collect();
    assert_eq!(messages, expected, "every important notice by e-mail and SMS");
}
db_test!(one_row_of_each_kind_is_recorded_as_many_rows_are);
