//! What the benchmarks share: a server on its own thread and a signed-in citizen.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

pub struct Server {
    pub base: String,
    pub database: String,
    _data: TempDir,
}

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the server on its own thread (two workers, SQLite) and waits until it listens.
pub fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("kabinet-bench-{}", uuid::Uuid::new_v4()));
    let database = std::env::var("KABINET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("kabinet.db").display()));
    let source = api::Source::default()
        .set("database_url", database)
        .set("listen", "127.0.0.1:0")
        .set("data_dir", dir.to_string_lossy())
        .set("workers", "2")
        .set("demo", "1")
        .set("log", "warn")
        // The events bench holds thousands of streams of one account to measure what a node
        // can hold; the per-account cap (5 by default) would stop it at the fifth.
        .set("streams_per_account", "1000000")
        // One account uploads, opens streams and logs in far more often than a person may:
        // the abuse limits are set out of reach (still counted on every request), as
        // `scripts/bench.sh` sets them for the HTTP benchmark.
        .set("rate_uploads_per_account", "1000000000/1d")
        .set("rate_stream_tickets_per_account", "1000000000/1d")
        .set("rate_creates_per_account", "1000000000/1d")
        .set("rate_login_per_ip", "1000000000/1d")
        .set("rate_login_per_account", "1000000000/1d");
    let database_url = source_database(&dir);
    let config = api::Config::from_source(&source).unwrap_or_else(|e| panic!("{e}"));
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = api::Application::build(config).unwrap_or_else(|e| panic!("{e}"));
            let _ = port_tx.send(app.port());
            let _ = app.run_until_stopped().await;
        })
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    Server {
        base: format!("http://127.0.0.1:{port}"),
        database: database_url,
        _data: TempDir(dir),
    }
}

fn source_database(dir: &std::path::Path) -> String {
    std::env::var("KABINET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("kabinet.db").display()))
}

/// Runs SQL against the server's database (to confirm identities and switch 2FA on, which
/// have their own flows and tests).
pub fn execute(url: &str, sql: &str) {
    use diesel::RunQueryDsl;
    let url = persistence::DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
    let db = persistence::Database::open(&url, 1).unwrap_or_else(|e| panic!("{e}"));
    let sql = sql.to_string();
    db.read(move |c| {
        diesel::sql_query(sql)
            .execute(c)
            .map_err(persistence::StoreError::from)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

fn snils() -> String {
    // A fixed valid SNILS: the bench registers one account.
    "40050060084".into()
}

/// Makes the registered account with `email` log in by it, as proving the code sent to it
/// would (the seeding `kabinet-bench seed` does the same): the benches measure what a
/// session does, not the contact proof.
pub fn prove_email(database: &str, email: &str) {
    execute(
        database,
        &format!("UPDATE accounts SET email_proven = TRUE WHERE email = '{email}'"),
    );
    execute(
        database,
        &format!("INSERT INTO account_logins (login_key, account_id) SELECT 'email:' || email, id FROM accounts WHERE email = '{email}'"),
    );
}

pub async fn token(client: &reqwest::Client, server: &Server) -> String {
    let base = &server.base;
    let body = json!({
        "surname": "Иванова", "given_name": "Мария", "birth_date": "1990-05-17", "snils": snils(),
        "phone": "+79160000003", "email": "bench@example.ru", "password": "Tundra-Violet-42",
        "passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}
    });
    let _ = client
        .post(format!("{base}/api/v1/accounts"))
        .json(&body)
        .send()
        .await;
    prove_email(&server.database, "bench@example.ru");
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": "bench@example.ru", "password": "Tundra-Violet-42"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {login}"))
        .to_string()
}
