//! PostgreSQL: what writers share takes no lock until commit, and what readers take as final
//! follows commit order. A transaction that took its number, its event position or its
//! audit record first and commits last keeps no other writer waiting, and holds back what
//! committed after it until it commits (moved here from the HTTP tests: they open a
//! transaction beside the server's, which a black-box test cannot).

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use diesel::RunQueryDsl;
use domain::audit::AuditEntry;
use domain::ids::ApplicationId;
use kabinet_persistence::connection::establish_postgres;
use kabinet_persistence::events::{self, NewLiveEvent};
use kabinet_persistence::test_server::{self, Scratch};
use kabinet_persistence::{applications, audit, Database, DbConnection};

/// The horizon is the whole server's: one of these tests holding it open would hold back
/// another's records, so they take turns.
static HORIZON: Mutex<()> = Mutex::new(());

struct Setup {
    _turn: std::sync::MutexGuard<'static, ()>,
    db: Database,
    /// A session of its own, beside the pool: the slow transaction.
    slow: DbConnection,
    _scratch: Scratch,
}

fn setup(test: &str) -> Option<Setup> {
    let server = test_server::postgres_for(test)?;
    let turn = HORIZON.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::create(&server).unwrap_or_else(|e| panic!("{e}"));
    let db = scratch.open(2).unwrap_or_else(|e| panic!("{e}"));
    let slow = establish_postgres(&scratch.url()).unwrap_or_else(|e| panic!("{e}"));
    Some(Setup {
        _turn: turn,
        db,
        slow: DbConnection::Postgresql(slow),
        _scratch: scratch,
    })
}

fn sql(conn: &mut DbConnection, statement: &str) {
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Runs `write` in a transaction of the pool on another thread, failing if it waits
/// longer than ten seconds (for the slow transaction's lock, say).
fn without_waiting<T: Send + 'static>(
    db: &Database,
    write: impl FnOnce(&mut DbConnection) -> Result<T, kabinet_persistence::StoreError> + Send + 'static,
) -> T {
    let db = db.clone();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(db.write(write));
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("a write waited for another transaction"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Asks `look` until it says yes: after the slow transaction commits, the horizon moves as
/// soon as every transaction that began before it has ended.
fn eventually(what: &str, mut look: impl FnMut() -> bool) {
    for _ in 0..200 {
        if look() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never: {what}");
}

/// Numbers come from a sequence: a transaction that has taken one and not committed keeps
/// no submission waiting (a counter row's lock did, until commit); a rolled-back number is a
/// gap, never a duplicate.
#[test]
fn an_open_transaction_holding_a_number_keeps_no_other_waiting() {
    let Some(mut s) = setup("an_open_transaction_holding_a_number_keeps_no_other_waiting") else {
        return;
    };
    let now = chrono::Utc::now();
    sql(&mut s.slow, "BEGIN");
    let held = applications::next_number(&mut s.slow, now).unwrap_or_else(|e| panic!("{e}"));
    let first = without_waiting(&s.db, move |tx| applications::next_number(tx, now));
    sql(&mut s.slow, "ROLLBACK");
    let second = without_waiting(&s.db, move |tx| applications::next_number(tx, now));
    let numbers = [held, first, second];
    assert!(numbers.iter().all(|n| n.starts_with("KB-")), "{numbers:?}");
    assert!(numbers[0] < numbers[1] && numbers[1] < numbers[2], "{numbers:?}");
}

/// Live events need no lock shared by writers, yet a reader never skips one: an event whose
/// transaction took its position first and commits last holds back the events committed
/// after it; once it commits, a reader gets both in position order, and so does a client
/// resuming from the start.
#[test]
fn a_slow_transaction_holds_back_later_events() {
    let Some(mut s) = setup("a_slow_transaction_holds_back_later_events") else {
        return;
    };
    let application = ApplicationId::new();
    let event = |kind: &str| NewLiveEvent {
        application,
        service: "test-passport".into(),
        kind: kind.into(),
        data: serde_json::json!({ "kind": kind }),
        audience: vec![domain::ids::AccountId::new()],
    };
    sql(&mut s.slow, "BEGIN");
    let slow_event = event("application.slow");
    let held =
        events::publish(&mut s.slow, &slow_event, chrono::Utc::now()).unwrap_or_else(|e| panic!("{e}"));
    let later_event = event("application.save_draft");
    let later = without_waiting(&s.db, move |tx| {
        events::publish(tx, &later_event, chrono::Utc::now())
    });
    assert!(later > held, "positions follow the order they were taken in");

    let loaded =
        s.db.read(|c| events::after(c, 0, 100))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.events.is_empty(),
        "an event was final while an earlier position was still open: {:?}",
        loaded.events
    );
    assert!(loaded.held_back, "the loader is told that committed events wait");

    sql(&mut s.slow, "COMMIT");
    let ids = |loaded: Vec<events::LiveEvent>| loaded.iter().map(|e| e.id).collect::<Vec<_>>();
    eventually("both events are final", || {
        let loaded =
            s.db.read(|c| events::after(c, 0, 100))
                .unwrap_or_else(|e| panic!("{e}"));
        ids(loaded.events) == [held, later]
    });
    let resumed =
        s.db.read(|c| events::of_application_after(c, application, 0, 100))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(resumed.clone()), [held, later]);
    assert_eq!(resumed[0].kind, "application.slow");
}

/// A record whose transaction has not committed holds back every later one, even
/// committed: leaves follow commit order, and no record is ever skipped.
#[test]
fn a_slow_transaction_holds_back_later_records() {
    let Some(mut s) = setup("a_slow_transaction_holds_back_later_records") else {
        return;
    };
    let record = |db: &Database, action: &'static str| {
        db.write(move |tx| audit::record(tx, AuditEntry::new(action, "thing"), chrono::Utc::now()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let seal = |db: &Database| {
        db.write(|tx| audit::seal(tx, 100))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let leaf = |db: &Database, id| {
        db.read(|c| audit::find(c, id))
            .unwrap_or_else(|e| panic!("{e}"))
            .and_then(|r| r.leaf_index)
    };
    record(&s.db, "test.first");
    eventually("the first record is sealed", || seal(&s.db).tree_size == 1);

    sql(&mut s.slow, "BEGIN");
    let held = audit::record(
        &mut s.slow,
        AuditEntry::new("test.slow", "thing"),
        chrono::Utc::now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let later = record(&s.db, "test.later");
    assert_eq!(
        seal(&s.db).tree_size,
        1,
        "a later record was sealed before a slow one"
    );
    assert_eq!(leaf(&s.db, later), None);

    sql(&mut s.slow, "COMMIT");
    eventually("both records are sealed", || seal(&s.db).tree_size == 3);
    assert_eq!(leaf(&s.db, held), Some(1), "the slow record keeps its turn");
    assert_eq!(leaf(&s.db, later), Some(2));
    let verified = s.db.read(audit::verify).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (verified.records_checked, verified.first_break.is_none()),
        (3, true)
    );
}
