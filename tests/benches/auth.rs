//! What authentication costs per request: `GET /api/v1/me` (token check from the cache,
//! one indexed session lookup, the profile read and decrypted) against `GET /health`, both
//! driven over loopback at a fixed concurrency in the same run; and the token check alone,
//! cached and uncached. Run with `make bench`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

const CONCURRENCY: usize = 32;

struct Server {
    base: String,
    _data: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the server on its own thread (two workers, SQLite) and waits until it listens.
fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("kabinet-bench-{}", uuid::Uuid::new_v4()));
    let database = std::env::var("KABINET_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("kabinet.db").display()));
    let source = api::Source::default()
        .set("database_url", database)
        .set("listen", "127.0.0.1:0")
        .set("data_dir", dir.to_string_lossy())
        .set("workers", "2")
        .set("log", "warn");
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
        _data: TempDir(dir),
    }
}

fn snils() -> String {
    // A fixed valid SNILS: the bench registers one account.
    "11223344595".into()
}

async fn token(client: &reqwest::Client, base: &str) -> String {
    let body = json!({
        "surname": "Иванова", "given_name": "Мария", "birth_date": "1990-05-17", "snils": snils(),
        "phone": "+79161234567", "email": "bench@example.ru", "password": "Tundra-Violet-42",
        "passport": {"series": "4508", "number": "123456", "issued_on": "2010-06-01", "division_code": "770-001"}
    });
    let _ = client
        .post(format!("{base}/api/v1/accounts"))
        .json(&body)
        .send()
        .await;
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

/// Sends `n` GETs with `CONCURRENCY` in flight; answers the elapsed time.
async fn drive(client: &reqwest::Client, url: &str, bearer: Option<&str>, n: u64) -> Duration {
    let started = Instant::now();
    stream::iter(0..n)
        .map(|_| {
            let mut request = client.get(url);
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            async move {
                let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
                assert!(response.status().is_success(), "{}", response.status());
                let _ = response.bytes().await;
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

fn http(c: &mut Criterion) {
    let server = start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = runtime.block_on(token(&client, &server.base));
    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    let health = format!("{}/health", server.base);
    group.bench_function("GET /health", |b| {
        b.iter_custom(|n| runtime.block_on(drive(&client, &health, None, n)))
    });
    let me = format!("{}/api/v1/me", server.base);
    group.bench_function("GET /api/v1/me", |b| {
        b.iter_custom(|n| runtime.block_on(drive(&client, &me, Some(&token), n)))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    use api::auth::{AccessClaims, TokenKeys, ISSUER};
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let keys = TokenKeys::new(&key).unwrap_or_else(|e| panic!("{e}"));
    let claims = AccessClaims {
        iss: ISSUER.into(),
        sub: domain::ids::AccountId::new(),
        sid: domain::ids::SessionId::new(),
        roles: vec![domain::access::Role::Citizen],
        iat: 0,
        exp: 4_000_000_000,
        amr: vec!["pwd".into()],
    };
    let mut group = c.benchmark_group("token");
    let cached = keys.issue(&claims).unwrap_or_default();
    let _ = keys.verify(&cached, 1);
    group.bench_function("verify (cached)", |b| b.iter(|| keys.verify(&cached, 1)));
    group.bench_function("verify (signature)", |b| {
        // A fresh token each time, so every check does the Ed25519 verification.
        b.iter_batched(
            || {
                let mut fresh = claims.clone();
                fresh.iat = i64::from(rand::random::<u32>());
                keys.issue(&fresh).unwrap_or_default()
            },
            |token| keys.verify(&token, 1),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, tokens, http);
criterion_main!(benches);
