//! `Idempotency-Key` on creating `POST`s, on both backends: a repeat gets the first answer
//! (and creates nothing), another request under the same key is refused, keys are each
//! caller's own, a multipart upload is covered by its bytes, and purged keys create anew.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::s;
use crate::support::{citizen, json, problem, TestApp};

/// POSTs `body` to `path` as `token` with `key`.
async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

fn replayed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn draft(app: &TestApp, token: &str) -> String {
    let body = json!({"service_code": "test-passport", "form_data": {"reason": "age_20"}});
    let created = json(
        app.send(Method::POST, "/api/v1/applications", token, None, Some(body))
            .await,
        201,
    )
    .await;
    format!("/api/v1/applications/{}", s(&created["id"]))
}

async fn comment_count(app: &TestApp, path: &str, token: &str) -> usize {
    let page = json(app.get_as(&format!("{path}/comments"), token).await, 200).await;
    page["items"].as_array().map_or(0, Vec::len)
}

async fn a_repeated_create_gets_the_first_answer(backend: crate::support::Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (holder, _, token) = app.confirmed_citizen().await;
    let path = draft(&app, &token).await;
    let comments = format!("{path}/comments");
    let said = json!({"body": "Приложу справку завтра."});

    let first = post_keyed(&app, &comments, &token, "comment-1", &said).await;
    assert!(!replayed(&first));
    let etag = first.headers().get("etag").cloned();
    let first = json(first, 201).await;
    let repeat = post_keyed(&app, &comments, &token, "comment-1", &said).await;
    assert!(replayed(&repeat));
    assert_eq!(repeat.headers().get("etag").cloned(), etag);
    assert_eq!(json(repeat, 201).await, first);
    assert_eq!(comment_count(&app, &path, &token).await, 1);

    // The same key with another text, or on another application, is another request.
    let other_text = post_keyed(&app, &comments, &token, "comment-1", &json!({"body": "Другое"})).await;
    assert_eq!(
        problem(other_text, 422).await["errors"][0]["code"],
        "idempotency_key_reused"
    );
    let elsewhere = format!("{}/comments", draft(&app, &token).await);
    let other_path = post_keyed(&app, &elsewhere, &token, "comment-1", &said).await;
    assert_eq!(
        problem(other_path, 422).await["errors"][0]["code"],
        "idempotency_key_reused"
    );

    // A second invitation to the same contact is refused (409); its repeat is not.
    let invitee = json!({"email": s(&citizen(false)["email"]), "role": "viewer"});
    let participants = format!("{path}/participants");
    let invited = json(
        post_keyed(&app, &participants, &token, "invite-1", &invitee).await,
        201,
    )
    .await;
    let again = post_keyed(&app, &participants, &token, "invite-1", &invitee).await;
    assert!(replayed(&again));
    assert_eq!(json(again, 201).await["id"], invited["id"]);
    let unkeyed = app
        .send(Method::POST, &participants, &token, None, Some(invitee))
        .await;
    assert_eq!(problem(unkeyed, 409).await["code"], "already_invited");

    // Keys are each caller's own: someone else's "comment-1" is theirs.
    let (_, _, stranger) = app.confirmed_citizen().await;
    let theirs = format!("{}/comments", draft(&app, &stranger).await);
    let fresh = post_keyed(&app, &theirs, &stranger, "comment-1", &said).await;
    assert!(!replayed(&fresh));
    assert_ne!(json(fresh, 201).await["id"], first["id"]);

    // A malformed key is refused before anything is created.
    let long = "k".repeat(129);
    let refused = post_keyed(&app, &comments, &token, &long, &said).await;
    assert_eq!(problem(refused, 400).await["code"], "bad_idempotency_key");
    assert_eq!(comment_count(&app, &path, &token).await, 1);

    // Once purged, the key creates anew.
    app.state.clock.advance(chrono::Duration::days(2));
    let token = s(&app.login_ok(&s(&holder["email"]), crate::support::PASSWORD).await["access_token"]);
    // Three keys were kept: the owner's comment and invitation, the stranger's comment.
    assert_eq!(
        api::jobs::purge_idempotency_keys(&app.state.db, app.state.clock.now(), 24).ok(),
        Some(3)
    );
    let anew = post_keyed(&app, &comments, &token, "comment-1", &said).await;
    assert!(!replayed(&anew));
    assert_ne!(json(anew, 201).await["id"], first["id"]);
    assert_eq!(comment_count(&app, &path, &token).await, 2);
}
db_test!(a_repeated_create_gets_the_first_answer);

async fn a_repeated_upload_stores_one_document(backend: crate::support::Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let upload = |key: &'static str, bytes: &'static [u8]| {
        let form = reqwest::multipart::Form::new()
            .text("doc_type", "income_certificate")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("income.pdf"),
            );
        app.client
            .post(app.url("/api/v1/documents"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .multipart(form)
            .send()
    };
    let first = upload("upload-1", b"%PDF-1.7\nfirst")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let location = first.headers().get("location").cloned();
    let first = json(first, 201).await;
    let repeat = upload("upload-1", b"%PDF-1.7\nfirst")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(replayed(&repeat));
    assert_eq!(repeat.headers().get("location").cloned(), location);
    assert_eq!(json(repeat, 201).await["id"], first["id"]);
    assert_eq!(app.document_rows(), (1, 1));

    // Other bytes under the same key: refused, and nothing of them is kept.
    let other = upload("upload-1", b"%PDF-1.7\nsecond")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        problem(other, 422).await["errors"][0]["code"],
        "idempotency_key_reused"
    );
    assert_eq!(app.document_rows(), (1, 1));
    assert_eq!(app.stored_files().len(), 1);
}
db_test!(a_repeated_upload_stores_one_document);

/// Repeats racing each other (a client retrying before the first answer came) create one
/// comment: each gets the first answer, or 409 `idempotency_key_in_use` when it ran
/// alongside the first, and never a 500.
async fn racing_repeats_create_once(backend: crate::support::Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("db_pool_size", "8")).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    let path = draft(&app, &token).await;
    let comments = format!("{path}/comments");
    let said = json!({"body": "Все вместе"});
    let answers =
        futures_util::future::join_all((0..8).map(|_| post_keyed(&app, &comments, &token, "racing", &said)))
            .await;
    let mut created = std::collections::BTreeSet::new();
    for answer in answers {
        match answer.status().as_u16() {
            201 => {
                created.insert(s(&json(answer, 201).await["id"]));
            }
            409 => assert_eq!(problem(answer, 409).await["code"], "idempotency_key_in_use"),
            other => panic!(
                "a racing repeat got {other}: {:?}",
                crate::support::internal_errors()
            ),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(comment_count(&app, &path, &token).await, 1);
}
db_test!(racing_repeats_create_once);

/// A delegation's answer shows its verification code once: a repeat gets the same
/// delegation and code, and the kept answer does not hold the code in the clear.
async fn a_repeated_delegation_is_one_and_its_code_rests_encrypted(backend: crate::support::Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = crate::delegations::person(&app).await;
    let representative = crate::delegations::person(&app).await;
    let (valid_from, valid_until) = crate::delegations::term(10);
    let body = json!({
        "kind": "specific", "actions": ["applications.read"], "services": ["test-passport"],
        "valid_from": valid_from, "valid_until": valid_until,
        "representative_id": representative.id,
    });
    let path = "/api/v1/delegations";
    let first = json(
        post_keyed(&app, path, &principal.token, "power-1", &body).await,
        201,
    )
    .await;
    let code = s(&first["verification_code"]);
    assert_eq!(code.len(), 6, "{first}");
    let repeat = post_keyed(&app, path, &principal.token, "power-1", &body).await;
    assert!(replayed(&repeat));
    let repeat = json(repeat, 201).await;
    assert_eq!(
        (&repeat["id"], &repeat["verification_code"]),
        (&first["id"], &first["verification_code"])
    );
    let listed = json(app.get_as(path, &principal.token).await, 200).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

    use diesel::prelude::*;
    use persistence::schema::idempotency_keys;
    let kept: Vec<String> = app
        .state
        .db
        .read(|c| {
            let bodies = idempotency_keys::table.select(idempotency_keys::body).load(c)?;
            Ok::<_, persistence::StoreError>(bodies)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].contains(&code) && !kept[0].contains(&s(&first["id"])));
}
db_test!(a_repeated_delegation_is_one_and_its_code_rests_encrypted);
