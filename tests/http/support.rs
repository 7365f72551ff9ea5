//! Starting a fresh application for one test: its own database (a temporary SQLite file,
//! or a PostgreSQL database copied from a migrated template and dropped afterwards), its
//! own data directory and mailbox, on a free loopback port.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use api::state::AppState;
use api::{Application, Config, Source};
use persistence::test_server;
use serde_json::Value;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL server from `KABINET_TEST_POSTGRES`, if the run has one. Without
    /// one, the PostgreSQL variant of `test` says SKIPPED on the terminal (not in the
    /// captured output a passing test hides), and fails when `KABINET_REQUIRE_POSTGRES=1`
    /// (as `make test-ci` sets) so CI can never pass on SQLite alone.
    pub fn postgres_for(test: &str) -> Option<Backend> {
        persistence::test_server::postgres_for(test).map(Backend::Postgres)
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
                if let Some(backend) = $crate::support::Backend::postgres_for(stringify!($name)) {
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
        test_server::drop_database(&self.server, &self.name);
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
    test_server::create_database(server, &name, None)
        .unwrap_or_else(|e| panic!("create template on PostgreSQL at {server}: {e}"));
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
                test_server::drop_database(&server, &name);
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

/// A PostgreSQL database with no tables at all (tests of migrations).
pub fn empty_postgres(server: &str) -> PgDatabase {
    let name = format!("kabinet_test_{}", uuid::Uuid::new_v4().simple());
    test_server::create_database(server, &name, None)
        .unwrap_or_else(|e| panic!("create test database on PostgreSQL at {server}: {e}"));
    PgDatabase {
        server: server.to_string(),
        name,
    }
}

pub fn fresh_postgres(server: &str) -> PgDatabase {
    let template = template(server);
    let name = format!("kabinet_test_{}", uuid::Uuid::new_v4().simple());
    test_server::create_database(server, &name, Some(&template))
        .unwrap_or_else(|e| panic!("create test database on PostgreSQL at {server}: {e}"));
    PgDatabase {
        server: server.to_string(),
        name,
    }
}

/// Every log line of the test run, kept so tests can prove what never reaches the logs.
static LOGS: OnceLock<std::sync::Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Debug-level logs of our own code and the framework, captured in memory.
fn install_log_capture() {
    let buffer = LOGS
        .get_or_init(|| std::sync::Arc::new(Mutex::new(Vec::new())))
        .clone();
    let filter = tracing_subscriber::EnvFilter::new(
        "debug,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info",
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        // Timestamps carry six random digits per line; tests look for leaked numbers.
        .without_time()
        .with_writer(move || Capture(buffer.clone()))
        .try_init();
}

/// Everything logged so far in this test run.
pub fn captured_logs() -> String {
    LOGS.get()
        .and_then(|l| l.lock().ok().map(|b| String::from_utf8_lossy(&b).into_owned()))
        .unwrap_or_default()
}

/// The internal errors logged so far in this test run (what a 500 left behind).
pub fn internal_errors() -> Vec<String> {
    captured_logs()
        .lines()
        .filter(|l| l.contains("internal error"))
        .map(str::to_string)
        .collect()
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
    /// Stops this app as a signal would.
    pub shutdown: api::Shutdown,
    _pg: Option<std::sync::Arc<PgDatabase>>,
    /// How many codes sent to each address the test has taken (see `wait_for_code`).
    taken_codes: std::sync::Mutex<std::collections::HashMap<String, usize>>,
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
        let mailbox = data_dir.0.join("mailbox.jsonl");
        TestApp::start(backend, data_dir, (database_url, mailbox), pg, None, adjust)
    }

    /// A second app on the same database (another API node).
    pub async fn second_node(&self) -> TestApp {
        self.second_node_with(|s| s).await
    }

    /// A second node whose configuration `adjust` may change (as a deployment sets every
    /// node alike).
    pub async fn second_node_with(&self, adjust: impl FnOnce(Source) -> Source) -> TestApp {
        self.try_second_node_with(adjust)
            .unwrap_or_else(|e| panic!("start on {}: {e}", self.backend.name()))
    }

    /// A second node, or why it refused to start.
    pub fn try_second_node_with(
        &self,
        adjust: impl FnOnce(Source) -> Source,
    ) -> Result<TestApp, api::app::StartError> {
        // A data directory of its own: keys come from the shared database or from what
        // `adjust` configures, never from another node's files.
        let data_dir = TempDir::new();
        // One mailbox: whichever node's dispatcher sends a message, the test finds it.
        TestApp::try_start(
            self.backend.clone(),
            data_dir,
            (self.database_url.clone(), self.mailbox.clone()),
            self._pg.clone(),
            Some(self.state.clock.clone()),
            adjust,
        )
    }

    fn start(
        backend: Backend,
        data_dir: TempDir,
        (database_url, mailbox): (String, PathBuf),
        pg: Option<std::sync::Arc<PgDatabase>>,
        clock: Option<std::sync::Arc<api::clock::Clock>>,
        adjust: impl FnOnce(Source) -> Source,
    ) -> TestApp {
        let name = backend.name();
        TestApp::try_start(backend, data_dir, (database_url, mailbox), pg, clock, adjust)
            .unwrap_or_else(|e| panic!("start on {name}: {e}"))
    }

    fn try_start(
        backend: Backend,
        data_dir: TempDir,
        (database_url, mailbox): (String, PathBuf),
        pg: Option<std::sync::Arc<PgDatabase>>,
        clock: Option<std::sync::Arc<api::clock::Clock>>,
        adjust: impl FnOnce(Source) -> Source,
    ) -> Result<TestApp, api::app::StartError> {
        let source = Source::default()
            .set("database_url", database_url.clone())
            .set("listen", "127.0.0.1:0")
            .set("data_dir", data_dir.0.to_string_lossy())
            .set("dev_mailbox", mailbox.to_string_lossy())
            .set("workers", "1")
            .set("db_pool_size", "4")
            .set("outbox_poll_ms", "50")
            .set("log", "debug");
        // Tests make many requests from one address and account; the abuse limits are
        // tested with their own settings (tests/http/limits.rs).
        let source = api::config::RATE_KEYS
            .iter()
            .fold(source, |s, key| s.set(key, "100000/1h"));
        let config = Config::from_source(&adjust(source))?;
        install_log_capture();
        // Nodes of one deployment share a clock, so moving it moves the whole cluster.
        let clock = clock.unwrap_or_else(|| std::sync::Arc::new(api::clock::Clock::system()));
        let app = Application::build_with_clock(config, clock)?;
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let handle = app.handle();
        let shutdown = app.shutdown();
        actix_web::rt::spawn(app.run_until_stopped());
        Ok(TestApp {
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
            shutdown,
            _pg: pg,
            taken_codes: Default::default(),
        })
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

    /// Posts `body`; the returned future owns the request, so `body` may be a temporary.
    pub fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> impl std::future::Future<Output = reqwest::Response> + 'static {
        let pending = self.client.post(self.url(path)).json(body).send();
        let path = path.to_string();
        async move { pending.await.unwrap_or_else(|e| panic!("POST {path}: {e}")) }
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
            .write(|tx| persistence::accounts::create_staff(tx, &staff, self.state.clock.now()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(created, "login {login} taken");
        let response = self
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {login}");
        let body: Value = body_json(response).await;
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
    let body = body_json(response).await;
    assert_eq!(body["status"], status);
    body
}

/// The body as JSON; a body that is not JSON fails the test with what it was, rather than
/// becoming `null` for the assertions after it.
pub async fn body_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading a {status} body: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("a {status} body is not JSON ({e}): {text:.300}"))
}

/// A random SNILS with correct check digits (above the unchecked historical range).
pub fn snils() -> String {
    loop {
        let body: Vec<u32> = uuid::Uuid::new_v4()
            .as_bytes()
            .iter()
            .take(9)
            .map(|b| u32::from(*b) % 10)
            .collect();
        let number: u64 = body.iter().fold(0, |n, d| n * 10 + u64::from(*d));
        if number <= 1_001_998 {
            continue;
        }
        let sum: u32 = body.iter().enumerate().map(|(i, d)| d * (9 - i as u32)).sum();
        let check = match sum {
            s if s < 100 => s,
            100 | 101 => 0,
            s => (s % 101) % 100,
        };
        let digits: String = body.iter().map(|d| d.to_string()).collect();
        return format!("{digits}{check:02}");
    }
}

/// A random 12-digit (personal) INN with correct check digits.
pub fn inn12() -> String {
    let mut digits: Vec<u32> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(10)
        .map(|b| u32::from(*b) % 10)
        .collect();
    let weights11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    let n11 = digits.iter().zip(weights11).map(|(d, w)| d * w).sum::<u32>() % 11 % 10;
    digits.push(n11);
    let weights12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    let n12 = digits.iter().zip(weights12).map(|(d, w)| d * w).sum::<u32>() % 11 % 10;
    digits.push(n12);
    digits.iter().map(|d| d.to_string()).collect()
}

/// A random Russian mobile number in E.164.
pub fn phone() -> String {
    let digits: String = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(7)
        .map(|b| (b % 10).to_string())
        .collect();
    format!("+7916{digits}")
}

pub const PASSWORD: &str = "Tundra-Violet-42";

/// A citizen's registration body with fresh unique details.
pub fn citizen(with_passport: bool) -> Value {
    let mut body = serde_json::json!({
        "surname": "Иванова",
        "given_name": "Мария",
        "patronymic": "Петровна",
        "birth_date": "1990-05-17",
        "snils": snils(),
        "inn": inn12(),
        "phone": phone(),
        "email": format!("maria.{}@example.ru", uuid::Uuid::new_v4().simple()),
        "password": PASSWORD,
    });
    if with_passport {
        body["passport"] = serde_json::json!({
            "series": "4508", "number": format!("{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000),
            "issued_on": "2010-06-01", "division_code": "770-001"
        });
    }
    body
}

impl TestApp {
    /// Registers `body`, proves its e-mail and phone with the codes sent to them, and
    /// answers the profile as registration answered it.
    pub async fn register(&self, body: &Value) -> Value {
        let profile = self.register_unproven(body).await;
        for kind in ["email", "phone"] {
            self.prove_contact(&profile, kind).await;
        }
        profile
    }

    /// Registers `body` and answers the profile; its contacts wait for their codes.
    pub async fn register_unproven(&self, body: &Value) -> Value {
        let response = self.post_json("/api/v1/accounts", body).await;
        let status = response.status();
        let profile: Value = body_json(response).await;
        assert_eq!(status, 201, "registration: {profile}");
        profile
    }

    /// Proves the registered account's contact of `kind` with the code sent to it.
    pub async fn prove_contact(&self, profile: &Value, kind: &str) {
        let to = profile[kind].as_str().unwrap_or_default();
        let code = self.wait_for_code(to).await;
        let path = format!(
            "/api/v1/accounts/{}/contact-proofs",
            profile["id"].as_str().unwrap_or_default()
        );
        let proven = self
            .post_json(&path, &serde_json::json!({"kind": kind, "code": code}))
            .await;
        assert_eq!(proven.status(), 204, "proving the {kind} of {to}");
    }

    /// Logs in and answers the whole response body (tokens or an MFA challenge).
    pub async fn login(&self, login: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"login": login, "password": password}),
        )
        .await
    }

    pub async fn login_ok(&self, login: &str, password: &str) -> Value {
        let response = self.login(login, password).await;
        assert_eq!(response.status(), 200, "login of {login}");
        let body: Value = body_json(response).await;
        assert_eq!(body["status"], "authenticated", "{body}");
        body
    }

    /// Registers a citizen and logs in; answers (registration body, access token).
    pub async fn citizen_token(&self, with_passport: bool) -> (Value, String) {
        let body = citizen(with_passport);
        self.register(&body).await;
        let tokens = self
            .login_ok(body["email"].as_str().unwrap_or_default(), PASSWORD)
            .await;
        (
            body,
            tokens["access_token"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// A client whose requests come from another loopback address.
    pub fn client_from(ip: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().ok())
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The codes the development mailbox received at `to`, oldest first.
    pub fn codes_sent_to(&self, to: &str) -> Vec<String> {
        self.mailbox_lines()
            .into_iter()
            .filter(|l| l["to"] == to)
            .filter_map(|l| l["code"].as_str().map(str::to_string))
            .collect()
    }

    fn take_new_code(&self, to: &str) -> Option<String> {
        let mut codes = self.codes_sent_to(to);
        let mut taken = self.taken_codes.lock().unwrap_or_else(|e| e.into_inner());
        if codes.len() <= taken.get(to).copied().unwrap_or(0) {
            return None;
        }
        taken.insert(to.to_string(), codes.len());
        codes.pop()
    }

    /// Waits (bounded) until the mailbox has a code for `to` that the test has not taken
    /// yet, and takes it (the newest; older untaken ones are taken with it).
    pub async fn wait_for_code(&self, to: &str) -> String {
        for _ in 0..100 {
            if let Some(code) = self.take_new_code(to) {
                return code;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no code was sent to {to}");
    }

    /// Waits (bounded, about five seconds) until `ready` holds: for what a background
    /// worker does after the request that caused it was answered. Panics naming `what`.
    pub async fn wait_until(&self, what: &str, mut ready: impl FnMut(&TestApp) -> bool) {
        for _ in 0..100 {
            if ready(self) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}");
    }

    pub async fn count_notifications(&self, kind: &str) -> i64 {
        use diesel::prelude::*;
        use persistence::schema::notifications;
        let kind = kind.to_string();
        self.state
            .db
            .read(move |c| {
                notifications::table
                    .filter(notifications::kind.eq(kind))
                    .count()
                    .get_result::<i64>(c)
                    .map_err(persistence::StoreError::from)
            })
            .unwrap_or(-1)
    }

    /// The (actor, on behalf of) of every audit record of `action`, oldest first.
    pub fn audit_parties(&self, action: &str) -> Vec<(Option<String>, Option<String>)> {
        use diesel::prelude::*;
        use persistence::schema::audit_log;
        let action = action.to_string();
        self.state
            .db
            .read(move |c| {
                audit_log::table
                    .filter(audit_log::action.eq(action))
                    .order(audit_log::seq.asc())
                    .select((audit_log::actor_id, audit_log::on_behalf_of))
                    .load::<(Option<String>, Option<String>)>(c)
                    .map_err(persistence::StoreError::from)
            })
            .unwrap_or_default()
    }

    pub fn audit_actions(&self) -> Vec<String> {
        use diesel::prelude::*;
        use persistence::schema::audit_log;
        self.state
            .db
            .read(|c| {
                audit_log::table
                    .order(audit_log::seq.asc())
                    .select(audit_log::action)
                    .load::<String>(c)
                    .map_err(persistence::StoreError::from)
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// An officer of `agency` (created directly) and its access token.
    pub async fn officer_token(&self, login: &str, agency: &str) -> String {
        let password = "Staff-Passw0rd!";
        let staff = persistence::accounts::NewStaff {
            id: domain::ids::AccountId::new(),
            login_key: domain::login::name_key(login),
            display_name: login.into(),
            roles: vec![domain::access::Role::Officer],
            agency_code: Some(agency.into()),
            password_hash: api::auth::passwords::hash(password).unwrap_or_else(|e| panic!("{e}")),
            email: None,
        };
        self.state
            .db
            .write(|tx| persistence::accounts::create_staff(tx, &staff, self.state.clock.now()))
            .unwrap_or_else(|e| panic!("{e}"));
        let tokens = self.login_ok(login, password).await;
        tokens["access_token"].as_str().unwrap_or_default().to_string()
    }

    /// A registered citizen raised to `confirmed` (as an officer would); (body, id, token).
    pub async fn confirmed_citizen(&self) -> (Value, String, String) {
        self.confirmed_citizen_from(citizen(true)).await
    }

    /// Registers `body` (from [`citizen`]), confirms the identity and logs in.
    pub async fn confirmed_citizen_from(&self, body: Value) -> (Value, String, String) {
        let profile = self.register(&body).await;
        let id: domain::ids::AccountId = profile["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or_default();
        self.state
            .db
            .write(|tx| {
                let now = self.state.clock.now();
                persistence::accounts::set_level(tx, id, domain::account::AccountLevel::Confirmed, now)?;
                // As the officer's confirmation does: the claimed SNILS becomes a login.
                let claim = persistence::accounts::find(tx, id)?.and_then(|a| a.snils_claim);
                if let Some(index) = claim {
                    persistence::accounts::prove_snils(
                        tx,
                        id,
                        &index,
                        &domain::login::snils_key(&index),
                        now,
                    )?;
                }
                Ok::<_, persistence::StoreError>(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let tokens = self
            .login_ok(body["email"].as_str().unwrap_or_default(), PASSWORD)
            .await;
        (
            body,
            id.to_string(),
            tokens["access_token"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Agencies `mvd`, `fns` and `gibdd` and a service `test-passport` handled by `mvd`
    /// (which may forward to `fns`), whose form needs `reason` (one of three) and
    /// `full_name`.
    pub fn seed_catalog(
        &self,
        editable_after_submit: bool,
        cancellable_in_review: bool,
        processing_days: i64,
    ) {
        use domain::catalog::{Agency, Service, ServiceLevel, ServicePolicy};
        let now = self.state.clock.now();
        self.state
            .db
            .write(|tx| -> Result<(), persistence::StoreError> {
                let agencies = [
                    ("mvd", "МВД России"),
                    ("fns", "ФНС России"),
                    ("gibdd", "Госавтоинспекция"),
                ];
                for (code, name) in agencies {
                    let agency = Agency {
                        code: code.into(),
                        name: name.into(),
                        level: ServiceLevel::Federal,
                        region: None,
                    };
                    persistence::catalog::ensure_agency(tx, &agency)?;
                }
                let service = Service {
                    code: "test-passport".into(),
                    name_ru: "Замена паспорта".into(),
                    name_en: "Passport replacement".into(),
                    description: String::new(),
                    level: ServiceLevel::Federal,
                    region: None,
                    agency_code: "mvd".into(),
                    form_schema: serde_json::json!({
                        "type": "object",
                        "properties": {
                            "reason": {"type": "string", "enum": ["age_20", "age_45", "name_change"]},
                            "full_name": {"type": "string", "minLength": 3}
                        },
                        "required": ["reason", "full_name"]
                    }),
                    required_documents: vec![],
                    allowed_file_types: vec!["pdf".into()],
                    max_file_bytes: 5 * 1024 * 1024,
                    policy: ServicePolicy {
                        editable_after_submit,
                        cancellable_in_review,
                        processing_days,
                        forward_to: vec!["fns".into()],
                        ..ServicePolicy::default()
                    },
                    version: 1,
                };
                persistence::catalog::insert(tx, &service, now)?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Adds a service to the catalog (see [`service`]).
    pub fn add_service(&self, service: &domain::catalog::Service) {
        self.state
            .db
            .write(|tx| persistence::catalog::insert(tx, service, self.state.clock.now()))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Sends a request with a bearer token, an optional If-Match and an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        if_match: Option<i64>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(version) = if_match {
            request = request.header("If-Match", format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Uploads `file` as `name` with the given text fields (`query` is appended to the path).
    pub async fn upload(
        &self,
        token: &str,
        query: &str,
        file: Vec<u8>,
        name: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        for (key, value) in fields {
            form = form.text(key.to_string(), value.to_string());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name(name.to_string()),
        );
        self.client
            .post(self.url(&format!("/api/v1/documents{query}")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload: {e}"))
    }

    /// Every file under the document store and its staging area.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.data_dir.0.join("documents"), &mut found);
        found
    }

    /// Rows in `documents` and `blobs`.
    pub fn document_rows(&self) -> (i64, i64) {
        use diesel::prelude::*;
        use persistence::schema::{blobs, documents};
        self.state
            .db
            .read(|c| {
                let documents = documents::table.count().get_result::<i64>(c)?;
                let blobs = blobs::table.count().get_result::<i64>(c)?;
                Ok::<_, persistence::StoreError>((documents, blobs))
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a statement against the test database (to move time, or to tamper).
    pub fn execute(&self, sql: &str) {
        use diesel::RunQueryDsl;
        let sql = sql.to_string();
        self.state
            .db
            .read(move |c| {
                diesel::sql_query(sql)
                    .execute(c)
                    .map_err(persistence::StoreError::from)
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Reads a JSON body after checking the status.
pub async fn json(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body = body_json(response).await;
    assert_eq!(actual, status, "{body}");
    body
}

/// A federal service of `agency` with an open form that takes PDF up to 5 MiB and needs no
/// documents; tests change what they need.
pub fn service(code: &str, agency: &str) -> domain::catalog::Service {
    use domain::catalog::{Service, ServiceLevel, ServicePolicy};
    Service {
        code: code.into(),
        name_ru: format!("Услуга {code}"),
        name_en: format!("Service {code}"),
        description: String::new(),
        level: ServiceLevel::Federal,
        region: None,
        agency_code: agency.into(),
        form_schema: serde_json::json!({"type": "object"}),
        required_documents: vec![],
        allowed_file_types: vec!["pdf".into()],
        max_file_bytes: 5 * 1024 * 1024,
        policy: ServicePolicy::default(),
        version: 1,
    }
}

/// One event read from a Server-Sent Events stream.
#[derive(Clone, Debug)]
pub struct SseEvent {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// A Server-Sent Events stream being read frame by frame; dropping it disconnects.
pub struct Sse {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    /// The next event (comments and `retry:` skipped), or `None` when none arrives within
    /// `within` or the stream ends.
    pub async fn next_event(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse::<i64>().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).ok();
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return Some(SseEvent { id, event, data });
                }
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// Whether the server ends the stream within `within` (whatever it sends before).
    pub async fn ends_within(&mut self, within: std::time::Duration) -> bool {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The next event, which must arrive within 5 s.
    pub async fn expect_event(&mut self) -> SseEvent {
        self.next_event(std::time::Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no event arrived within 5 s"))
    }
}

impl TestApp {
    /// Opens an SSE stream at `path`, optionally resuming after `last_event_id`.
    pub async fn open_events(
        &self,
        path: &str,
        token: &str,
        last_event_id: Option<i64>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Opens an SSE stream that must be accepted, ready to read.
    pub async fn events(&self, path: &str, token: &str, last_event_id: Option<i64>) -> Sse {
        let response = self.open_events(path, token, last_event_id).await;
        Sse::of(response, path)
    }

    /// Opens an SSE stream for `principal` (`X-On-Behalf-Of`) that must be accepted.
    pub async fn events_on_behalf(
        &self,
        path: &str,
        token: &str,
        principal: &str,
        last_event_id: Option<i64>,
    ) -> Sse {
        let mut request = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .header("X-On-Behalf-Of", principal)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Sse::of(response, path)
    }
}

impl Sse {
    pub fn of(response: reqwest::Response, path: &str) -> Sse {
        assert_eq!(response.status(), 200, "GET {path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(content_type, "text/event-stream");
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }
}
