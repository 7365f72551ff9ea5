//! What moving a 5 MB document costs: an upload over loopback (multipart streamed to a
//! staging file, hashed, synced, published, row written) and a download, each against
//! its floor measured in the same run — hashing and writing the same bytes to disk
//! directly, and reading them back. Run with `make bench`.

use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::Digest;

mod common;
use common::{start, token};

const SIZE: usize = 5 * 1024 * 1024;

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..SIZE - 9).map(|i| (i % 251) as u8));
    bytes
}

async fn upload(client: &reqwest::Client, base: &str, token: &str, body: &[u8]) -> String {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(body.to_vec()).file_name("bench.pdf"),
    );
    let response = client
        .post(format!("{base}/api/v1/documents"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 201);
    let created: serde_json::Value = response.json().await.unwrap_or_default();
    created["id"].as_str().unwrap_or_default().to_string()
}

fn documents(c: &mut Criterion) {
    let server = start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // The runtime only turns while a request is in flight, so the client never sees the
    // server close an idle keep-alive connection during the floor benchmarks; an idle
    // timeout below the server's (5 s) keeps it from reusing such a dead connection.
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = runtime.block_on(token(&client, &server));
    let body = pdf();
    let scratch = std::env::temp_dir().join(format!("kabinet-bench-floor-{}", uuid::Uuid::new_v4()));

    let mut group = c.benchmark_group("documents");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("upload 5 MB (HTTP)", |b| {
        b.iter_custom(|n| {
            // Each upload differs by one byte: a new blob every time, as in real use.
            let started = Instant::now();
            for i in 0..n {
                let mut body = body.clone();
                body[SIZE - 1] = (i % 256) as u8;
                body[SIZE - 2] = ((i / 256) % 256) as u8;
                runtime.block_on(upload(&client, &server.base, &token, &body));
            }
            started.elapsed()
        })
    });
    group.bench_function("hash + write + fsync 5 MB (floor)", |b| {
        b.iter(|| {
            let digest = sha2::Sha256::digest(&body);
            let mut file = std::fs::File::create(&scratch).unwrap_or_else(|e| panic!("{e}"));
            file.write_all(&body).unwrap_or_else(|e| panic!("{e}"));
            file.sync_all().unwrap_or_else(|e| panic!("{e}"));
            digest
        })
    });
    let id = runtime.block_on(upload(&client, &server.base, &token, &body));
    let url = format!("{}/api/v1/documents/{id}/content", server.base);
    group.bench_function("download 5 MB (HTTP)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let bytes = response.bytes().await.unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(bytes.len(), SIZE);
            })
        })
    });
    group.bench_function("read 5 MB from disk (floor)", |b| {
        b.iter(|| std::fs::read(&scratch).unwrap_or_else(|e| panic!("{e}")).len())
    });
    group.finish();
    let _ = std::fs::remove_file(&scratch);
}

criterion_group!(benches, documents);
criterion_main!(benches);
