//! For the events' unit tests: a throw-away SQLite database, removed when dropped, and
//! events stored in it as a request's writer stores them.

use domain::ids::ApplicationId;
use persistence::events::{self, NewLiveEvent};
use persistence::{Database, DatabaseUrl};
use serde_json::json;

pub struct Scratch {
    pub db: Database,
    dir: std::path::PathBuf,
}

impl Scratch {
    /// A migrated database in a directory of its own under the system's temp dir.
    pub fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("kabinet-events-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.join("k.db").display()))
            .unwrap_or_else(|e| panic!("{e}"));
        let db = Database::open(&url, 2).unwrap_or_else(|e| panic!("{e}"));
        db.migrate().unwrap_or_else(|e| panic!("{e}"));
        Scratch { db, dir }
    }

    /// Stores one event of `application` (a draft saved, heard by nobody in particular).
    pub fn publish(&self, application: ApplicationId) {
        let event = NewLiveEvent {
            application,
            service: "test-passport".into(),
            kind: "application.save_draft".into(),
            data: json!({}),
            audience: vec![],
        };
        self.db
            .write(|tx| events::publish(tx, &event, chrono::Utc::now()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
