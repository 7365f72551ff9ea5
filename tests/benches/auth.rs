//! What authentication costs per request: `GET /api/v1/me` (token check from the cache,
//! one indexed session lookup, the profile read and decrypted) against `GET /health`, both
//! driven over loopback at a fixed concurrency in the same run; and the token check alone,
//! cached and uncached. Run with `make bench`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

const CONCURRENCY: usize = 32;

mod common;
use common::{execute, post, prove_email, start, token, Server};

/// A principal with one application and a representative holding a `limited` delegation
/// from them: (principal token, representative token, principal id, application url).
async fn delegation(client: &reqwest::Client, server: &Server) -> (String, String, String, String) {
    let base = &server.base;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for (email, phone, snils) in [
        ("principal@example.ru", "+79160000001", "200-300-400 48"),
        ("agent@example.ru", "+79160000002", "300-200-100 42"),
    ] {
        let body = json!({
            "surname": "Иванова", "given_name": "Мария", "birth_date": "1990-05-17", "snils": snils,
            "phone": phone, "email": email, "password": "Tundra-Violet-42"
        });
        let profile = post(client, format!("{base}/api/v1/accounts"), None, body).await;
        ids.push(
            profile["id"]
                .as_str()
                .unwrap_or_else(|| panic!("registration: {profile}"))
                .to_string(),
        );
        prove_email(&server.database, email);
        let login = post(
            client,
            format!("{base}/api/v1/auth/login"),
            None,
            json!({"login": email, "password": "Tundra-Violet-42"}),
        )
        .await;
        let token = login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {email}: {login}"));
        tokens.push(token.to_string());
    }
    execute(
        &server.database,
        "UPDATE accounts SET level = 'confirmed', totp_enabled = TRUE WHERE email IN ('principal@example.ru', 'agent@example.ru')",
    );
    let app = post(
        client,
        format!("{base}/api/v1/applications"),
        Some(&tokens[0]),
        json!({"service_code": "passport-replacement"}),
    )
    .await;
    let app_url = format!(
        "{base}/api/v1/applications/{}",
        app["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no application: {app}"))
    );
    let from = chrono::Utc::now();
    let d = post(
        client,
        format!("{base}/api/v1/delegations"),
        Some(&tokens[0]),
        json!({"representative_id": ids[1], "kind": "limited", "valid_from": from, "valid_until": from + chrono::TimeDelta::days(10)}),
    )
    .await;
    let accept = client
        .post(format!(
            "{base}/api/v1/delegations/{}/accept",
            d["id"].as_str().unwrap_or_else(|| panic!("delegation: {d}"))
        ))
        .bearer_auth(&tokens[1])
        .header("If-Match", "\"1\"")
        .json(&json!({"code": d["verification_code"]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(accept.status().is_success(), "accept: {}", accept.status());
    (tokens[0].clone(), tokens[1].clone(), ids[0].clone(), app_url)
}

/// Sends `n` GETs with `CONCURRENCY` in flight; answers the elapsed time.
async fn drive(client: &reqwest::Client, url: &str, bearer: Option<&str>, n: u64) -> Duration {
    drive_as(client, url, bearer, None, n).await
}

async fn drive_as(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    on_behalf: Option<&str>,
    n: u64,
) -> Duration {
    let started = Instant::now();
    stream::iter(0..n)
        .map(|_| {
            let mut request = client.get(url);
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            if let Some(principal) = on_behalf {
                request = request.header("X-On-Behalf-Of", principal);
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
    let token = runtime.block_on(token(&client, &server));
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

    // The same read by its owner and by a representative: the difference is the
    // delegation check (one indexed lookup of the pair's delegations, then the core).
    let (owner, agent, principal, app_url) = runtime.block_on(delegation(&client, &server));
    let mut group = c.benchmark_group("on_behalf");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("GET application (owner)", |b| {
        b.iter_custom(|n| runtime.block_on(drive(&client, &app_url, Some(&owner), n)))
    });
    group.bench_function("GET application (X-On-Behalf-Of)", |b| {
        b.iter_custom(|n| runtime.block_on(drive_as(&client, &app_url, Some(&agent), Some(&principal), n)))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    use api::auth::{AccessClaims, SigningKeys, TokenKeys, ISSUER};
    let keys = TokenKeys::new(&SigningKeys::generate()).unwrap_or_else(|e| panic!("{e}"));
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
