//! Kabinet in a real browser, headless Chromium. First, a web frontend: a page from another
//! origin (a second server on another port) logs in cross-origin, reads `/api/v1/me` and
//! its `ETag`, takes a stream ticket and opens an `EventSource`; the test then causes an
//! event and the page reports what it saw. Second, the API reference at `/docs` (Redoc)
//! renders every operation under its own Content Security Policy. SQLite only: what is
//! tested is the browser's side, which the database does not change (the ticket rules run
//! on both backends in `web_frontends`).
//!
//! Why plain `chromium --headless` and no driver: the frontend page reports each step by
//! POSTing JSON to its own server, and `/docs` is read back with `--dump-dom`, so the tests
//! need neither the DevTools protocol nor an npm package, only a process to start and kill;
//! every wait has a deadline.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{json, Backend, TempDir, TestApp, PASSWORD};

/// How long one step of the page may take (the browser's start included).
const STEP: Duration = Duration::from_secs(60);

/// The browser to drive: `KABINET_CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KABINET_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The browser, or `None` when there is none and the test may be skipped (it says so).
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let binary = chromium();
    if binary.is_none() {
        if std::env::var("KABINET_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("no chromium on PATH but KABINET_REQUIRE_BROWSER=1 (make browser-deps installs it)");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "SKIPPED browser::{test} — no chromium");
    }
    binary
}

/// The page: each step reported to `/report` on its own origin; the API is another origin.
fn page(api: &str, login: &str) -> String {
    let settings = json!({"api": api, "login": login, "password": PASSWORD});
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>Kabinet frontend</title>
<script>
const S = {settings};
const report = (step, data) => fetch('/report', {{
  method: 'POST', headers: {{'Content-Type': 'application/json'}},
  body: JSON.stringify(Object.assign({{step}}, data)),
}});
(async () => {{
  try {{
    const login = await fetch(S.api + '/api/v1/auth/login', {{
      method: 'POST', headers: {{'Content-Type': 'application/json'}},
      body: JSON.stringify({{login: S.login, password: S.password}}),
    }});
    const tokens = await login.json();
    const auth = {{Authorization: 'Bearer ' + tokens.access_token}};
    const me = await fetch(S.api + '/api/v1/me', {{headers: auth}});
    const profile = await me.json();
    const ticket = await fetch(S.api + '/api/v1/events/tickets', {{
      method: 'POST', headers: Object.assign({{'Content-Type': 'application/json'}}, auth),
      body: JSON.stringify({{stream: 'me'}}),
    }});
    const issued = await ticket.json();
    const seen = {{
      login: login.status, me: me.status, email: profile.email,
      etag: me.headers.get('ETag'), request_id: me.headers.get('X-Request-Id'),
      ticket: ticket.status,
    }};
    const source = new EventSource(S.api + issued.stream_url);
    source.onopen = () => report('ready', seen);
    source.onerror = () => report('stream_error', {{ready_state: source.readyState}});
    source.addEventListener('application.create', (event) => {{
      source.close();
      report('event', {{id: event.lastEventId, data: JSON.parse(event.data)}});
    }});
  }} catch (error) {{
    report('error', {{message: String(error)}});
  }}
}})();
</script>"#
    )
}

/// A running browser, killed with its whole process group when dropped.
struct Browser {
    child: Child,
    log: PathBuf,
    output: PathBuf,
    _profile: TempDir,
}

impl Browser {
    /// Chromium on `url`, with `extra` switches after the usual headless ones.
    fn open(binary: &PathBuf, url: &str, extra: &[&str]) -> Browser {
        use std::os::unix::process::CommandExt;
        let profile = TempDir::new();
        let log = profile.0.join("chromium.log");
        let output = profile.0.join("stdout");
        let stderr = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let stdout = std::fs::File::create(&output).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .args([
                "--headless",
                // Tests may run as root, where Chromium's sandbox refuses to start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
            ])
            .arg(format!("--user-data-dir={}", profile.0.join("profile").display()))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Browser {
            child,
            log,
            output,
            _profile: profile,
        }
    }

    /// Waits until the browser exits by itself (as it does after `--dump-dom`), within
    /// [`STEP`], and returns what it printed on standard output.
    async fn finish(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(None) => panic!(
                    "the browser was still running after {STEP:?}; it said:\n{}",
                    self.log_tail()
                ),
                Err(e) => panic!("waiting for the browser: {e}"),
            }
        }
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// What the browser printed on standard error (its log and, with `--enable-logging`,
    /// the page's console).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of what the browser printed, for a failure message.
    fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().filter(|l| !l.contains("dbus")).collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group is the one this test started (process_group(0) above): the browser and
        // its helpers, nothing else.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page's next report, within [`STEP`].
async fn next_report(
    reports: &mut mpsc::UnboundedReceiver<Value>,
    browser: &Browser,
    waiting_for: &str,
) -> Value {
    match tokio::time::timeout(STEP, reports.recv()).await {
        Ok(Some(report)) => report,
        _ => panic!(
            "the page reported nothing within {STEP:?} (waiting for {waiting_for}); the browser said:\n{}",
            browser.log_tail()
        ),
    }
}

#[actix_web::test]
async fn a_page_on_another_origin_logs_in_and_follows_live_events() {
    let Some(binary) = chromium_or_skip("a_page_on_another_origin_logs_in_and_follows_live_events") else {
        return;
    };

    // The page's server first: its port is the origin the API must list.
    let (sender, mut reports) = mpsc::unbounded_channel::<Value>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let origin = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    );
    // Two sessions of one account: the page's and the test's own (which causes the event).
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.set("cors_origins", origin.clone()).set("single_session", "0")
    })
    .await;
    app.seed_catalog(true, false, 30);
    let (citizen, _, token) = app.confirmed_citizen().await;
    let login = citizen["email"].as_str().unwrap_or_default().to_string();
    let html = page(&app.address, &login);
    let sender = web::Data::new(sender);
    let server = HttpServer::new(move || {
        let html = html.clone();
        App::new()
            .app_data(sender.clone())
            .route(
                "/page.html",
                web::get().to(move || {
                    let html = html.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(html)
                    }
                }),
            )
            .route(
                "/report",
                web::post().to(
                    |report: web::Json<Value>, to: web::Data<mpsc::UnboundedSender<Value>>| async move {
                        let _ = to.send(report.into_inner());
                        HttpResponse::NoContent().finish()
                    },
                ),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap_or_else(|e| panic!("{e}"))
    .run();
    let page_server = server.handle();
    actix_web::rt::spawn(server);

    let browser = Browser::open(&binary, &format!("{origin}/page.html"), &[]);
    let ready = next_report(&mut reports, &browser, "the stream to open").await;
    assert_eq!(ready["step"], "ready", "{ready}");
    assert_eq!(ready["login"], 200, "{ready}");
    assert_eq!(ready["me"], 200, "{ready}");
    assert_eq!(ready["email"], citizen["email"], "{ready}");
    assert_eq!(ready["ticket"], 201, "{ready}");
    assert!(
        ready["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{ready}"
    );
    let me = app.get_as("/api/v1/me", &token).await;
    let etag = me
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert!(etag.is_some(), "GET /api/v1/me has an ETag");
    assert_eq!(ready["etag"].as_str(), etag.as_deref(), "the page read the ETag");

    // Another session of the same citizen makes a change; the page's stream carries it.
    let created = json(
        app.send(Method::POST, "/api/v1/applications", &token, None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}
        })))
        .await,
        201,
    )
    .await;
    let event = next_report(&mut reports, &browser, "the live event").await;
    assert_eq!(event["step"], "event", "{event}");
    assert_eq!(event["data"]["kind"], "application.create", "{event}");
    assert_eq!(event["data"]["application_id"], created["id"], "{event}");
    assert!(
        event["id"].as_str().is_some_and(|id| id.parse::<i64>().is_ok()),
        "{event}"
    );

    drop(browser);
    page_server.stop(false).await;
}

#[actix_web::test]
async fn the_api_reference_renders_every_operation_under_its_content_security_policy() {
    let Some(binary) =
        chromium_or_skip("the_api_reference_renders_every_operation_under_its_content_security_policy")
    else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut browser = Browser::open(
        &binary,
        &format!("{}/docs", app.address),
        &[
            // Virtual time runs only while nothing is loading: the page gets the document
            // and renders before the DOM is printed, however slow the machine.
            "--virtual-time-budget=30000",
            "--dump-dom",
            // The page's console, where Chromium reports what the policy refused.
            "--enable-logging=stderr",
            "--v=0",
        ],
    );
    let dom = browser.finish().await;

    // Every operation's summary is on the page, as Redoc rendered it from the served spec.
    let spec = serde_json::to_value(api::spec()).unwrap_or_default();
    let summaries: Vec<String> = spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation["summary"].as_str())
        .map(|summary| {
            summary
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect();
    assert!(summaries.len() > 50, "the spec lists its operations");
    let missing: Vec<&String> = summaries.iter().filter(|s| !dom.contains(s.as_str())).collect();
    assert!(
        missing.is_empty(),
        "/docs did not render {} of {} operations, e.g. {:?}; the page ({} bytes) begins:\n{}\nthe browser said:\n{}",
        missing.len(),
        summaries.len(),
        missing.first(),
        dom.len(),
        dom.chars().take(800).collect::<String>(),
        browser.log_tail()
    );

    // Nothing the page needs was refused; Redocly's footer logo from its CDN is refused on
    // purpose (the page contacts no other origin) and the bundle then hides it.
    let log = browser.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("Content Security Policy"))
        .filter(|line| !line.contains("https://cdn.redoc.ly/"))
        .collect();
    assert!(
        refused.is_empty(),
        "the policy of /docs refused:\n{}",
        refused.join("\n")
    );
}
