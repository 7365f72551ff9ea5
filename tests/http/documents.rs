//! Documents over HTTP, on both backends: types from bytes, the size limit, the vault and
//! its downloads, attachments that freeze at submission, who may read what, retention,
//! and what a crash between bytes and row leaves behind.

use std::io::Write;

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::{accept, delegate, on_behalf, person, s, term};
use crate::support::{json, problem, service, Backend, TestApp, PASSWORD};

fn pdf(filler: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', filler));
    bytes
}

fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend([7u8; 64]);
    bytes
}

/// A ZIP package with the given parts (stored, uncompressed).
fn package(parts: &[&str]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for part in parts {
        zip.start_file(*part, options).unwrap_or_else(|e| panic!("{e}"));
        zip.write_all(b"<xml/>").unwrap_or_else(|e| panic!("{e}"));
    }
    zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or_default()
}

/// A service of `mvd` that needs a passport scan, accepts PDF and JPG, and lets the
/// applicant change papers after submission when `editable`.
fn documents_service(app: &TestApp, editable: bool) {
    app.seed_catalog(true, false, 30);
    let mut docs = service("test-docs", "mvd");
    docs.required_documents = vec!["passport_scan".into()];
    docs.allowed_file_types = vec!["pdf".into(), "jpg".into()];
    docs.policy.editable_after_submit = editable;
    app.add_service(&docs);
}

async fn draft(app: &TestApp, token: &str) -> Value {
    json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            token,
            None,
            Some(json!({"service_code": "test-docs", "form_data": {}})),
        )
        .await,
        201,
    )
    .await
}

async fn get_bytes(app: &TestApp, path: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn types_are_read_from_the_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    documents_service(&app, false);
    let (_, _, token) = app.confirmed_citizen().await;
    let application = draft(&app, &token).await;
    let for_application = format!("?application_id={}", s(&application["id"]));

    // A PNG renamed to .pdf is still a PNG: the service takes PDF and JPG only.
    let renamed = problem(
        app.upload(&token, &for_application, png(), "scan.pdf", &[]).await,
        415,
    )
    .await;
    assert_eq!(renamed["code"], "unsupported_file_type");
    assert_eq!(renamed["context"]["detected_type"], "png", "{renamed}");
    assert_eq!(renamed["context"]["allowed"], json!(["pdf", "jpg"]));

    // In the vault PNG is accepted, and it is recorded as what it is.
    let stored = json(app.upload(&token, "", png(), "scan.pdf", &[]).await, 201).await;
    assert_eq!(
        (stored["file_type"].clone(), stored["media_type"].clone()),
        (json!("png"), json!("image/png"))
    );

    // Office files are told apart by their parts, not by being ZIP archives.
    let docx = package(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"]);
    let xlsx = package(&["[Content_Types].xml", "xl/workbook.xml"]);
    let docm = package(&["[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"]);
    let plain = package(&["notes.txt"]);
    let uploaded = json(app.upload(&token, "", docx, "заявление.docx", &[]).await, 201).await;
    assert_eq!(uploaded["file_type"], "docx");
    assert_eq!(uploaded["name"], "заявление.docx");
    assert_eq!(
        json(app.upload(&token, "", xlsx, "a.docx", &[]).await, 201).await["file_type"],
        "xlsx"
    );
    for (bytes, detected) in [(plain, "zip"), (b"GIF89a....".to_vec(), "gif")] {
        let refused = problem(app.upload(&token, "", bytes, "x.docx", &[]).await, 415).await;
        assert_eq!(refused["context"]["detected_type"], detected);
    }
    // A macro-enabled document is a DOCX that carries what we refuse (tests/http/uploads.rs).
    let macros = problem(app.upload(&token, "", docm, "x.docx", &[]).await, 422).await;
    assert_eq!(macros["code"], "package_macros");

    // A path for a name is only a name; the declared type fields are checked.
    let named = json(
        app.upload(&token, "", pdf(10), "../../etc/passwd", &[]).await,
        201,
    )
    .await;
    assert_eq!(named["name"], "passwd");
    let bad = problem(
        app.upload(&token, "", pdf(10), "a.pdf", &[("access", "public")])
            .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "access");
    let json_body = app
        .send(
            Method::POST,
            "/api/v1/documents",
            &token,
            None,
            Some(json!({"file": "x"})),
        )
        .await;
    assert_eq!(problem(json_body, 415).await["code"], "unsupported_media_type");
}
db_test!(types_are_read_from_the_bytes);

async fn an_upload_over_the_limit_leaves_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let limit = app.state.config.max_upload_bytes as usize;
    assert_eq!(limit, 5 * 1024 * 1024);

    let over = problem(
        app.upload(&token, "", pdf(limit + 1 - 9), "big.pdf", &[]).await,
        413,
    )
    .await;
    assert_eq!(over["code"], "file_too_large");
    assert_eq!(app.document_rows(), (0, 0));
    assert_eq!(app.stored_files(), Vec::<std::path::PathBuf>::new());

    // Exactly at the limit is fine, and the hash is the file's SHA-256.
    let at_limit = pdf(limit - 9);
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&at_limit))
    };
    let stored = json(app.upload(&token, "", at_limit, "big.pdf", &[]).await, 201).await;
    assert_eq!(stored["size_bytes"], limit);
    assert_eq!(stored["sha256"], expected);
    assert_eq!(app.document_rows(), (1, 1));
}
db_test!(an_upload_over_the_limit_leaves_nothing);

async fn the_vault_lists_serves_and_shares(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let (_, _, stranger) = app.confirmed_citizen().await;
    let body = pdf(100_000);
    let doc = json(
        app.upload(
            &token,
            "",
            body.clone(),
            "Паспорт «скан».pdf",
            &[("doc_type", "passport_scan")],
        )
        .await,
        201,
    )
    .await;
    json(
        app.upload(&token, "", png(), "photo.png", &[("doc_type", "photo")])
            .await,
        201,
    )
    .await;
    let id = s(&doc["id"]);
    assert_eq!(doc["access"], "private");

    // Filters and pages.
    let pdfs = json(
        app.send(Method::GET, "/api/v1/documents?file_type=pdf", &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(pdfs["items"].as_array().map(Vec::len), Some(1));
    let first = json(
        app.send(Method::GET, "/api/v1/documents?limit=1", &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(first["items"][0]["doc_type"], "photo");
    let next = format!("/api/v1/documents?limit=1&cursor={}", s(&first["next_cursor"]));
    let second = json(app.send(Method::GET, &next, &token, None, None).await, 200).await;
    assert_eq!(second["items"][0]["id"], doc["id"]);
    let none = json(
        app.send(Method::GET, "/api/v1/documents?to=2000-01-01", &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(none["items"], json!([]));

    // The whole file, a range, and a conditional request.
    let path = format!("/api/v1/documents/{id}/content");
    let full = get_bytes(&app, &path, &token, &[]).await;
    assert_eq!(full.status().as_u16(), 200);
    assert_eq!(header(&full, "content-type"), "application/pdf");
    let etag = header(&full, "etag");
    assert_eq!(etag, format!("\"{}\"", s(&doc["sha256"])));
    assert!(header(&full, "content-disposition")
        .contains("filename*=UTF-8''%D0%9F%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82%20%C2%AB"));
    assert_eq!(full.bytes().await.map(|b| b.to_vec()).ok(), Some(body.clone()));
    let part = get_bytes(&app, &path, &token, &[("Range", "bytes=0-8")]).await;
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 0-8/{}", body.len())
    );
    assert_eq!(
        part.bytes().await.map(|b| b.to_vec()).ok(),
        Some(b"%PDF-1.7\n".to_vec())
    );
    let cached = get_bytes(&app, &path, &token, &[("If-None-Match", &etag)]).await;
    assert_eq!(cached.status().as_u16(), 304);
    let outside = get_bytes(&app, &path, &token, &[("Range", "bytes=999999999-")]).await;
    assert_eq!(
        header(&outside, "content-range"),
        format!("bytes */{}", body.len())
    );
    assert_eq!(problem(outside, 416).await["code"], "range_not_satisfiable");

    // Someone else's document does not exist for them.
    for p in [format!("/api/v1/documents/{id}"), path.clone()] {
        assert_eq!(
            problem(app.send(Method::GET, &p, &stranger, None, None).await, 404).await["code"],
            "not_found"
        );
    }

    // Sharing is versioned and audited; the services level needs services.
    let doc_path = format!("/api/v1/documents/{id}");
    let unlisted = app
        .send(
            Method::PATCH,
            &doc_path,
            &token,
            Some(1),
            Some(json!({"access": "services"})),
        )
        .await;
    assert_eq!(problem(unlisted, 422).await["errors"][0]["field"], "services");
    let shared = json(
        app.send(
            Method::PATCH,
            &doc_path,
            &token,
            Some(1),
            Some(json!({"access": "services", "services": ["test-docs"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (shared["access"].clone(), version(&shared)),
        (json!("services"), 2)
    );
    let stale = app
        .send(
            Method::PATCH,
            &doc_path,
            &token,
            Some(1),
            Some(json!({"access": "agencies"})),
        )
        .await;
    assert_eq!(problem(stale, 412).await["code"], "stale_version");
    let past = app
        .send(
            Method::PATCH,
            &doc_path,
            &token,
            Some(2),
            Some(json!({"retain_until": "2001-01-01"})),
        )
        .await;
    assert_eq!(problem(past, 422).await["errors"][0]["field"], "retain_until");
    assert!(app.audit_actions().contains(&"document.update".to_string()));

    // Deleting removes the row at once; the bytes wait for the sweep.
    let gone = app.send(Method::DELETE, &doc_path, &token, None, None).await;
    assert_eq!(gone.status().as_u16(), 204);
    assert_eq!(
        problem(app.send(Method::GET, &doc_path, &token, None, None).await, 404).await["code"],
        "not_found"
    );
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"document.upload".to_string()) && actions.contains(&"document.delete".to_string())
    );
}
db_test!(the_vault_lists_serves_and_shares);

async fn attachments_freeze_at_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    documents_service(&app, true);
    let (_, owner_id, token) = app.confirmed_citizen().await;
    let mvd = app.officer_token("officer-mvd", "mvd").await;
    let fns = app.officer_token("officer-fns", "fns").await;
    let application = draft(&app, &token).await;
    let id = s(&application["id"]);
    let at = |tail: &str| format!("/api/v1/applications/{id}{tail}");

    // Uploaded for the application: shared with its service by default.
    let original = pdf(1000);
    let scan = json(
        app.upload(
            &token,
            &format!("?application_id={id}"),
            original.clone(),
            "passport.pdf",
            &[("doc_type", "passport_scan")],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (scan["access"].clone(), scan["services"].clone()),
        (json!("services"), json!(["test-docs"]))
    );
    let private = json(
        app.upload(
            &token,
            "",
            pdf(10),
            "private.pdf",
            &[("doc_type", "passport_scan")],
        )
        .await,
        201,
    )
    .await;

    // Submission needs the passport scan.
    let early = app
        .send(Method::POST, &at("/submit"), &token, Some(1), None)
        .await;
    let early = problem(early, 409).await;
    assert_eq!(early["code"], "required_documents_missing");
    assert_eq!(early["context"]["missing_documents"], json!(["passport_scan"]));

    // A private document must be shared first; attaching needs the current version.
    let refused = app
        .send(
            Method::POST,
            &at("/attachments"),
            &token,
            Some(1),
            Some(json!({"document_id": private["id"]})),
        )
        .await;
    assert_eq!(problem(refused, 409).await["code"], "document_not_shared");
    let missing = app
        .send(
            Method::POST,
            &at("/attachments"),
            &token,
            None,
            Some(json!({"document_id": scan["id"]})),
        )
        .await;
    assert_eq!(missing.status().as_u16(), 428);
    let attached = app
        .send(
            Method::POST,
            &at("/attachments"),
            &token,
            Some(1),
            Some(json!({"document_id": scan["id"]})),
        )
        .await;
    assert_eq!(header(&attached, "etag"), "\"2\"");
    let attached = json(attached, 201).await;
    assert_eq!(
        (attached["revision"].clone(), attached["frozen"].clone()),
        (json!(1), json!(false))
    );
    let submitted = json(
        app.send(Method::POST, &at("/submit"), &token, Some(2), None)
            .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");

    // Frozen: it cannot be removed, and the vault copy changing does not touch it.
    let v = version(&submitted);
    let removal = app
        .send(
            Method::DELETE,
            &at(&format!("/attachments/{}", s(&scan["id"]))),
            &token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(problem(removal, 409).await["code"], "attachment_frozen");
    let renamed = app
        .send(
            Method::PATCH,
            &format!("/api/v1/documents/{}", s(&scan["id"])),
            &token,
            Some(1),
            Some(json!({"name": "new.pdf"})),
        )
        .await;
    assert_eq!(renamed.status().as_u16(), 200);
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/documents/{}", s(&scan["id"])),
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    let listed = json(
        app.send(Method::GET, &at("/attachments"), &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["name"], "passport.pdf");
    assert_eq!(listed["items"][0]["frozen"], true);
    let content = at(&format!("/attachments/{}/content", s(&attached["id"])));
    let served = get_bytes(&app, &content, &token, &[]).await;
    assert_eq!(
        served.bytes().await.map(|b| b.to_vec()).ok(),
        Some(original.clone())
    );

    // A change after submission is a new revision; the frozen one is kept.
    let newer = json(
        app.upload(
            &token,
            &format!("?application_id={id}"),
            pdf(2000),
            "passport-2.pdf",
            &[("doc_type", "passport_scan")],
        )
        .await,
        201,
    )
    .await;
    let second = json(
        app.send(
            Method::POST,
            &at("/attachments"),
            &token,
            Some(v),
            Some(json!({"document_id": newer["id"]})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(second["revision"], 2);
    let current = json(
        app.send(Method::GET, &at("/attachments"), &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(current["items"].as_array().map(Vec::len), Some(1));
    let all = json(
        app.send(Method::GET, &at("/attachments?all=true"), &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    assert!(!all["items"][0]["superseded_at"].is_null());
    let history = json(
        app.send(Method::GET, &at("/history"), &token, None, None).await,
        200,
    )
    .await;
    let events: Vec<String> = history["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| s(&h["event"]))
        .collect();
    assert!(events.contains(&"attach".to_string()), "{history}");

    // The handling agency's officer reads the attachment; another agency's gets 404,
    // and no officer reaches the vault itself.
    let read = get_bytes(&app, &content, &mvd, &[]).await;
    assert_eq!(read.status().as_u16(), 200);
    assert!(app.audit_actions().contains(&"attachment.download".to_string()));
    assert_eq!(
        problem(get_bytes(&app, &content, &fns, &[]).await, 404).await["code"],
        "not_found"
    );
    let vault_doc = format!("/api/v1/documents/{}/content", s(&newer["id"]));
    assert_eq!(
        problem(get_bytes(&app, &vault_doc, &mvd, &[]).await, 404).await["code"],
        "not_found"
    );
    let officer_upload = app
        .send(
            Method::POST,
            &at("/attachments"),
            &mvd,
            Some(v + 1),
            Some(json!({"document_id": newer["id"]})),
        )
        .await;
    assert_eq!(problem(officer_upload, 403).await["code"], "not_applicant");

    // Once in review nothing changes.
    let taken = json(
        app.send(Method::POST, &at("/take"), &mvd, Some(v + 1), None)
            .await,
        200,
    )
    .await;
    let closed = app
        .send(
            Method::POST,
            &at("/attachments"),
            &token,
            Some(version(&taken)),
            Some(json!({"document_id": private["id"]})),
        )
        .await;
    assert_eq!(problem(closed, 409).await["code"], "attachments_closed");
    let _ = owner_id;
}
db_test!(attachments_freeze_at_submission);

async fn a_limited_representative_downloads_but_cannot_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let (valid_from, valid_until) = term(10);
    let delegation = json(
        delegate(
            &app,
            &principal,
            &representative,
            json!({"kind": "limited", "valid_from": valid_from, "valid_until": valid_until}),
        )
        .await,
        201,
    )
    .await;
    let code = s(&delegation["verification_code"]);
    json(accept(&app, &representative, &delegation, &code).await, 200).await;
    let doc = json(
        app.upload(&principal.token, "", pdf(50), "справка.pdf", &[])
            .await,
        201,
    )
    .await;
    let path = format!("/api/v1/documents/{}/content", s(&doc["id"]));

    let listed = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::GET,
            "/api/v1/documents",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], doc["id"]);
    let downloaded = on_behalf(&app, &representative, &principal, Method::GET, &path, None, None).await;
    assert_eq!(downloaded.status().as_u16(), 200);
    assert!(app.audit_actions().contains(&"document.download".to_string()));

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf(10)).file_name("a.pdf"),
    );
    let upload = app
        .client
        .post(app.url("/api/v1/documents"))
        .bearer_auth(&representative.token)
        .header("X-On-Behalf-Of", &principal.id)
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problem(upload, 403).await["code"], "action_not_covered");
    let deletion = on_behalf(
        &app,
        &representative,
        &principal,
        Method::DELETE,
        &format!("/api/v1/documents/{}", s(&doc["id"])),
        None,
        None,
    )
    .await;
    assert_eq!(problem(deletion, 403).await["code"], "action_not_covered");
    assert_eq!(app.document_rows(), (1, 1));
}
db_test!(a_limited_representative_downloads_but_cannot_upload);

async fn the_retention_job_deletes_expired_documents_and_their_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (citizen, _, token) = app.confirmed_citizen().await;
    let soon = (app.state.clock.now() + chrono::TimeDelta::days(3))
        .date_naive()
        .to_string();
    let kept = json(
        app.upload(&token, "", pdf(20), "kept.pdf", &[("retain_until", &soon)])
            .await,
        201,
    )
    .await;
    let expiring = json(app.upload(&token, "", pdf(30), "old.pdf", &[]).await, 201).await;
    assert_eq!(app.stored_files().len(), 2);

    // Three days ahead is within the notice period: the owner is told once.
    assert_eq!(
        api::jobs::announce_retention(&app.state.db, app.state.clock.now(), 7).ok(),
        Some(1)
    );
    assert_eq!(
        api::jobs::announce_retention(&app.state.db, app.state.clock.now(), 7).ok(),
        Some(0)
    );
    assert_eq!(app.count_notifications("document.retention").await, 1);

    // The other one is kept until tomorrow; two days later its date has passed, and its
    // bytes were stored over the grace period ago.
    let tomorrow = (app.state.clock.now() + chrono::TimeDelta::days(1)).date_naive();
    let path = format!("/api/v1/documents/{}", s(&expiring["id"]));
    let until = Some(json!({ "retain_until": tomorrow }));
    json(app.send(Method::PATCH, &path, &token, Some(1), until).await, 200).await;
    app.state.clock.advance(chrono::Duration::days(2));
    let token = s(&app.login_ok(&s(&citizen["email"]), PASSWORD).await["access_token"]);
    assert_eq!(
        api::jobs::expire_documents(&app.state.db, app.state.clock.now()).ok(),
        Some(1)
    );
    let swept = app
        .state
        .vault
        .sweep(&app.state.db, app.state.clock.now(), chrono::TimeDelta::hours(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(swept.released, 1);
    let path = format!("/api/v1/documents/{}", s(&expiring["id"]));
    assert_eq!(
        problem(app.send(Method::GET, &path, &token, None, None).await, 404).await["code"],
        "not_found"
    );
    assert_eq!(app.count_notifications("document.expired").await, 1);
    assert_eq!(app.document_rows(), (1, 1));
    let files = app.stored_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(s(&kept["sha256"])), "{files:?}");
    assert!(app.audit_actions().contains(&"document.expire".to_string()));
}
db_test!(the_retention_job_deletes_expired_documents_and_their_bytes);

async fn a_crash_between_bytes_and_row_leaves_nothing_after_the_sweep(backend: Backend) {
    use std::sync::atomic::Ordering;
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let kept = json(app.upload(&token, "", pdf(40), "kept.pdf", &[]).await, 201).await;

    app.state
        .vault
        .faults
        .crash_after_publish
        .store(true, Ordering::SeqCst);
    let crashed = app.upload(&token, "", pdf(41), "lost.pdf", &[]).await;
    app.state
        .vault
        .faults
        .crash_after_publish
        .store(false, Ordering::SeqCst);
    assert_eq!(crashed.status().as_u16(), 503);
    // The crash left published bytes and the staged file, and no row.
    assert_eq!(app.document_rows(), (1, 1));
    assert_eq!(app.stored_files().len(), 3, "{:?}", app.stored_files());

    // Within the grace period the sweep leaves them (an upload may be in flight)…
    let early = app
        .state
        .vault
        .sweep(&app.state.db, app.state.clock.now(), chrono::TimeDelta::hours(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(early, api::vault::Swept::default());
    // …after it, only what a row points at remains.
    let swept = app
        .state
        .vault
        .sweep(&app.state.db, app.state.clock.now(), chrono::TimeDelta::zero())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((swept.strays, swept.partials, swept.released), (1, 1, 0));
    let files = app.stored_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(s(&kept["sha256"])));
    assert_eq!(app.document_rows(), (1, 1));
    let content = get_bytes(
        &app,
        &format!("/api/v1/documents/{}/content", s(&kept["id"])),
        &token,
        &[],
    )
    .await;
    assert_eq!(content.bytes().await.map(|b| b.to_vec()).ok(), Some(pdf(40)));
}
db_test!(a_crash_between_bytes_and_row_leaves_nothing_after_the_sweep);

async fn object_storage_serves_the_same_contract(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("storage", "memory")).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let body = pdf(300_000);
    let doc = json(app.upload(&token, "", body.clone(), "a.pdf", &[]).await, 201).await;
    let path = format!("/api/v1/documents/{}/content", s(&doc["id"]));
    let full = get_bytes(&app, &path, &token, &[]).await;
    assert_eq!(full.bytes().await.map(|b| b.to_vec()).ok(), Some(body.clone()));
    let part = get_bytes(&app, &path, &token, &[("Range", "bytes=-5")]).await;
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.bytes().await.map(|b| b.to_vec()).ok(),
        Some(body[body.len() - 5..].to_vec())
    );
    // Nothing was written to the local store.
    assert!(app.stored_files().is_empty());
    let path = format!("/api/v1/documents/{}", s(&doc["id"]));
    assert_eq!(
        app.send(Method::DELETE, &path, &token, None, None).await.status(),
        204
    );
    app.state.clock.advance(chrono::Duration::days(1));
    let swept = app
        .state
        .vault
        .sweep(&app.state.db, app.state.clock.now(), chrono::TimeDelta::hours(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(swept.released, 1);
    assert!(!app
        .state
        .vault
        .store
        .exists(s(&doc["sha256"]).as_str())
        .await
        .unwrap_or(true));
}
db_test!(object_storage_serves_the_same_contract);

/// Content-addressed bytes: the same file uploaded by two requests at the same moment
/// (a double click, two devices) makes two documents over one stored blob, never a
/// duplicate-key failure.
async fn the_same_bytes_uploaded_at_once_are_stored_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("db_pool_size", "8")).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let uploads = (0..4).map(|_| app.upload(&token, "", pdf(64), "same.pdf", &[]));
    for answer in futures_util::future::join_all(uploads).await {
        assert_eq!(answer.status().as_u16(), 201);
    }
    assert_eq!(app.document_rows(), (4, 1));
    assert_eq!(app.stored_files().len(), 1);
}
db_test!(the_same_bytes_uploaded_at_once_are_stored_once);

/// What the agency receives is checked when it leaves: one scan attached as every
/// required paper fills only one of them, and a paper made private after it was
/// attached stops the submission until it is shared again.
async fn papers_are_checked_when_they_go_to_the_agency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let mut papers = service("test-docs", "mvd");
    papers.required_documents = vec!["passport_scan".into(), "photo".into(), "receipt".into()];
    app.add_service(&papers);
    let (_, _, token) = app.confirmed_citizen().await;
    let application = draft(&app, &token).await;
    let id = s(&application["id"]);
    let at = |tail: &str| format!("/api/v1/applications/{id}{tail}");
    let upload = |filler: usize, paper: &'static str| {
        let (app, token, query) = (&app, &token, format!("?application_id={id}"));
        async move {
            json(
                app.upload(token, &query, pdf(filler), "scan.pdf", &[("doc_type", paper)])
                    .await,
                201,
            )
            .await
        }
    };
    let mut version = 1;
    let mut attach = |doc: Value, paper: &'static str| {
        version += 1;
        let (app, token, path, expected) = (&app, &token, at("/attachments"), version - 1);
        async move {
            let body = json!({"document_id": doc["id"], "doc_type": paper});
            json(
                app.send(Method::POST, &path, token, Some(expected), Some(body))
                    .await,
                201,
            )
            .await
        }
    };
    let everything = upload(100, "passport_scan").await;
    for paper in ["passport_scan", "photo", "receipt"] {
        attach(everything.clone(), paper).await;
    }
    let one_file = problem(
        app.send(Method::POST, &at("/submit"), &token, Some(4), None)
            .await,
        409,
    )
    .await;
    assert_eq!(
        (
            one_file["code"].clone(),
            one_file["context"]["missing_documents"].clone()
        ),
        (json!("required_documents_missing"), json!(["photo", "receipt"]))
    );
    attach(upload(101, "photo").await, "photo").await;
    attach(upload(102, "receipt").await, "receipt").await;

    // The owner withdraws the scan from the service after attaching it.
    let doc_path = format!("/api/v1/documents/{}", s(&everything["id"]));
    let withdrawn = json!({"access": "private"});
    json(
        app.send(Method::PATCH, &doc_path, &token, Some(1), Some(withdrawn))
            .await,
        200,
    )
    .await;
    let refused = problem(
        app.send(Method::POST, &at("/submit"), &token, Some(6), None)
            .await,
        409,
    )
    .await;
    assert_eq!(refused["code"], "document_not_shared");
    let listed = refused["context"]["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 3, "{refused}");
    assert!(listed
        .iter()
        .all(|a| a["document_id"] == everything["id"] && a["access"] == "private"));

    let shared = json!({"access": "services", "services": ["test-docs"]});
    json(
        app.send(Method::PATCH, &doc_path, &token, Some(2), Some(shared))
            .await,
        200,
    )
    .await;
    let submitted = json(
        app.send(Method::POST, &at("/submit"), &token, Some(6), None)
            .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
}
db_test!(papers_are_checked_when_they_go_to_the_agency);

/// A vault document deleted after it was attached stops the submission as a withdrawn one
/// does: the agency would receive a paper its owner took back. The attachment (and its
/// copy) stays on the draft for the owner to detach.
async fn a_document_deleted_after_attaching_stops_the_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    documents_service(&app, true);
    let (_, _, token) = app.confirmed_citizen().await;
    let application = draft(&app, &token).await;
    let id = s(&application["id"]);
    let at = |tail: &str| format!("/api/v1/applications/{id}{tail}");
    let scan = json(
        app.upload(
            &token,
            &format!("?application_id={id}"),
            pdf(300),
            "passport.pdf",
            &[("doc_type", "passport_scan")],
        )
        .await,
        201,
    )
    .await;
    let attached = json(
        app.send(
            Method::POST,
            &at("/attachments"),
            &token,
            Some(1),
            Some(json!({"document_id": scan["id"]})),
        )
        .await,
        201,
    )
    .await;
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/documents/{}", s(&scan["id"])),
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);

    let refused = problem(
        app.send(Method::POST, &at("/submit"), &token, Some(2), None)
            .await,
        409,
    )
    .await;
    assert_eq!(refused["code"], "document_not_shared");
    assert_eq!(
        refused["context"]["attachments"],
        json!([{
            "attachment_id": attached["id"], "document_id": scan["id"],
            "doc_type": "passport_scan", "access": "deleted",
        }])
    );
    let still = json(app.send(Method::GET, &at(""), &token, None, None).await, 200).await;
    assert_eq!(
        (still["status"].clone(), still["number"].clone()),
        (json!("draft"), Value::Null)
    );
}
db_test!(a_document_deleted_after_attaching_stops_the_submission);
