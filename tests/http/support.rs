//! Starting a fresh application for one test: its own database (a temporary SQLite file,
//! or a PostgreSQL database copied from a migrated template and dropped afterwards), its
//! own data directory and mailbox, on a free loopback port.

use std::path::PathBuf;
use std::sync::{Mutex, Once, OnceLock};

use api::state::AppState;
use api::{Application, Config, Source};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL server from `KABINET_TEST_POSTGRES`, if the run has one.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("KABINET_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url.trim_end_matches('/').to_string())),
            _ => {
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    eprintln!("KABINET_TEST_POSTGRES is unset: database tests run on SQLite only")
                });
                None
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Declares a database test that runs once per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! db_test {
    ($name:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }

            #[actix_web::test]
            async fn postgres() {
                if let Some(backend) = $crate::support::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    };
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("kabinet-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("temp dir {}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A PostgreSQL database that is dropped with this value.
pub struct PgDatabase {
    server: String,
    pub name: String,
}

impl PgDatabase {
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", self.server)) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
                .execute(&mut admin);
        }
    }
}

/// A migrated template, built once per test run; every test copies it, which is much
/// faster than migrating a fresh database each time.
fn template(server: &str) -> String {
    static TEMPLATE: OnceLock<Mutex<Option<String>>> = OnceLock::new();
    let lock = TEMPLATE.get_or_init(|| Mutex::new(None));
    let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = guard.as_ref() {
        return name.clone();
    }
    let name = format!("kabinet_tpl_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap_or_else(|e| panic!("create template: {e}"));
    let url = persistence::DatabaseUrl::parse(&format!("{server}/{name}")).unwrap_or_else(|e| panic!("{e}"));
    {
        let db = persistence::Database::open(&url, 1).unwrap_or_else(|e| panic!("open template: {e}"));
        db.migrate().unwrap_or_else(|e| panic!("migrate template: {e}"));
    }
    drop_template_at_exit(server, &name);
    *guard = Some(name.clone());
    name
}

/// Test binaries have no destructor for statics; a process-exit hook drops the template.
fn drop_template_at_exit(server: &str, name: &str) {
    static TEMPLATES: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    extern "C" fn drop_all() {
        if let Some(list) = TEMPLATES.get() {
            for (server, name) in list.lock().map(|l| l.clone()).unwrap_or_default() {
                if let Ok(mut admin) = PgConnection::establish(&format!("{server}/postgres")) {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin);
                }
            }
        }
    }
    let list = TEMPLATES.get_or_init(|| {
        extern "C" {
            fn atexit(f: extern "C" fn()) -> i32;
        }
        // SAFETY: registering a plain `extern "C" fn` with libc's atexit has no preconditions.
        unsafe {
            atexit(drop_all);
        }
        Mutex::new(Vec::new())
    });
    if let Ok(mut list) = list.lock() {
        list.push((server.to_string(), name.to_string()));
    }
}

pub fn fresh_postgres(server: &str) -> PgDatabase {
    let template = template(server);
    let name = format!("kabinet_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
    diesel::sql_query(format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
        .execute(&mut admin)
        .unwrap_or_else(|e| panic!("create test database: {e}"));
    PgDatabase {
        server: server.to_string(),
        name,
    }
}

/// One running application and what a test needs to talk to it.
pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub data_dir: TempDir,
    pub mailbox: PathBuf,
    pub database_url: String,
    handle: actix_web::dev::ServerHandle,
    _pg: Option<std::sync::Arc<PgDatabase>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |s| s).await
    }

    /// Starts an app whose configuration `adjust` may change.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(Source) -> Source) -> TestApp {
        let data_dir = TempDir::new();
        let (pg, database_url) = match &backend {
            Backend::Sqlite => (
                None,
                format!("sqlite://{}", data_dir.0.join("kabinet.db").display()),
            ),
            Backend::Postgres(server) => {
                let db = fresh_postgres(server);
                let url = db.url();
                (Some(std::sync::Arc::new(db)), url)
            }
        };
        TestApp::start(backend, data_dir, database_url, pg, adjust)
    }

    /// A second app on the same database (another API node).
    pub async fn second_node(&self) -> TestApp {
        let data_dir = TempDir::new();
        // Same signing key, as every node of one deployment has.
        let keys = self.data_dir.0.join("keys");
        let target = data_dir.0.join("keys");
        std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(keys.join("ed25519.pem"), target.join("ed25519.pem")).unwrap_or_else(|e| panic!("{e}"));
        TestApp::start(
            self.backend.clone(),
            data_dir,
            self.database_url.clone(),
            self._pg.clone(),
            |s| s,
        )
    }

    fn start(
        backend: Backend,
        data_dir: TempDir,
        database_url: String,
        pg: Option<std::sync::Arc<PgDatabase>>,
        adjust: impl FnOnce(Source) -> Source,
    ) -> TestApp {
        let mailbox = data_dir.0.join("mailbox.jsonl");
        let source = Source::default()
            .set("database_url", database_url.clone())
            .set("listen", "127.0.0.1:0")
            .set("data_dir", data_dir.0.to_string_lossy())
            .set("dev_mailbox", mailbox.to_string_lossy())
            .set("workers", "1")
            .set("db_pool_size", "4")
            .set("outbox_poll_ms", "50")
            .set("log", std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()));
        let config = Config::from_source(&adjust(source)).unwrap_or_else(|e| panic!("{e}"));
        api::telemetry::init(&config);
        let app = Application::build(config).unwrap_or_else(|e| panic!("start on {}: {e}", backend.name()));
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            backend,
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            state,
            data_dir,
            mailbox,
            database_url,
            handle,
            _pg: pg,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Creates a staff account directly in the database and logs it in; returns the token.
    pub async fn staff_token(&self, login: &str, role: domain::access::Role) -> String {
        let password = "Staff-Passw0rd!";
        let staff = persistence::accounts::NewStaff {
            id: domain::ids::AccountId::new(),
            login_key: domain::login::name_key(login),
            display_name: login.into(),
            roles: vec![role],
            agency_code: None,
            password_hash: api::auth::passwords::hash(password).unwrap_or_else(|e| panic!("{e}")),
            email: None,
        };
        let created = self
            .state
            .db
            .write(|tx| persistence::accounts::create_staff(tx, &staff, api::clock::now()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(created, "login {login} taken");
        let response = self
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {login}");
        let body: Value = response.json().await.unwrap_or_default();
        body["access_token"].as_str().unwrap_or_default().to_string()
    }

    /// Lines of the development mailbox, as JSON.
    pub fn mailbox_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.mailbox)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// Reads a problem+json answer, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["status"], status);
    body
}
