//! The application lifecycle over HTTP, on both backends: the full walk from draft to
//! completion with an appeal, the windows, concurrency and idempotency, who sees what,
//! lists, export, the queue, forwarding, expiry and templates.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{json, problem, Backend, TestApp};

pub(crate) fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub(crate) fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or_default()
}

/// An app whose sessions outlive the month its tests travel forward with the clock.
pub(crate) async fn spawn_for_time_travel(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.set("access_token_ttl_secs", "7776000")
            .set("refresh_token_ttl_days", "90")
    })
    .await
}

/// POSTs `action` on application `v` as `token`, at `v`'s version, expecting 200.
pub(crate) async fn act(app: &TestApp, token: &str, v: &Value, action: &str, body: Option<Value>) -> Value {
    let path = format!("/api/v1/applications/{}/{action}", s(&v["id"]));
    json(
        app.send(Method::POST, &path, token, Some(version(v)), body).await,
        200,
    )
    .await
}

/// A draft of the test passport service, created by `token`'s owner.
async fn a_draft(app: &TestApp, token: &str) -> Value {
    let body = json!({"service_code": "test-passport", "form_data": {"full_name": "Иванова Мария"}});
    json(
        app.send(Method::POST, "/api/v1/applications", token, None, Some(body))
            .await,
        201,
    )
    .await
}

/// A submitted application taken into work and rejected by `officer`.
async fn rejected(app: &TestApp, officer: &str, v: Value) -> Value {
    let taken = act(app, officer, &v, "take", None).await;
    act(app, officer, &taken, "reject", Some(json!({"reason": "Нет"}))).await
}

/// A submitted application of a fresh confirmed citizen: (token, application).
pub(crate) async fn submitted(app: &TestApp) -> (String, Value) {
    let (_, _, token) = app.confirmed_citizen().await;
    let draft = json(
        app.send(Method::POST, "/api/v1/applications", &token, None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}
        })))
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/applications/{}/submit", s(&draft["id"]));
    let done = json(
        app.send(Method::POST, &path, &token, Some(version(&draft)), None)
            .await,
        200,
    )
    .await;
    (token, done)
}

async fn a_draft_submits_once_its_form_satisfies_the_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;

    let draft = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(json!({
                "service_code": "test-passport", "form_data": {"reason": "age_45"}
            })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["warnings"][0]["field"], "form_data.full_name", "{draft}");
    let id = s(&draft["id"]);
    let at = |action: &str| format!("/api/v1/applications/{id}/{action}");
    let path = format!("/api/v1/applications/{id}");

    // The schema blocks submission of an incomplete form.
    let blocked = app
        .send(Method::POST, &at("submit"), &token, Some(version(&draft)), None)
        .await;
    assert_eq!(
        problem(blocked, 422).await["errors"][0]["field"],
        "form_data.full_name"
    );
    let saved = json(
        app.send(
            Method::PATCH,
            &path,
            &token,
            Some(1),
            Some(json!({"form_data": {"reason": "age_45", "full_name": "Иванова Мария"}})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(saved["warnings"], json!([]));
    let submitted = json(
        app.send(Method::POST, &at("submit"), &token, Some(version(&saved)), None)
            .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    assert!(s(&submitted["number"]).starts_with("KB-"), "{submitted}");
}
db_test!(a_draft_submits_once_its_form_satisfies_the_schema);

/// Where the walk from submission to completion leaves an application.
struct Walked {
    app: TestApp,
    owner_id: String,
    token: String,
    officer: String,
    id: String,
    current: Value,
}

/// Submits an application and walks it through an edit, review, an information request,
/// a rejection, an appeal, approval and completion, checking each step's status and ETag.
async fn walk_to_completion(backend: Backend) -> Walked {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, owner_id, token) = app.confirmed_citizen().await;
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let draft = json(
        app.send(Method::POST, "/api/v1/applications", &token, None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}
        })))
        .await,
        201,
    )
    .await;
    let id = s(&draft["id"]);
    let submitted = act(&app, &token, &draft, "submit", None).await;
    let at = |action: &str| format!("/api/v1/applications/{id}/{action}");
    let path = format!("/api/v1/applications/{id}");
    let steps: Vec<(&str, &str, Option<Value>, &str)> = vec![
        (
            "edit",
            "applicant",
            Some(json!({"form_data": {"reason": "name_change", "full_name": "Петрова Мария"}})),
            "resubmitted",
        ),
        ("take", "officer", None, "in_review"),
        (
            "request-info",
            "officer",
            Some(
                json!({"question": "Приложите свидетельство о браке", "due_at": (app.state.clock.now() + chrono::TimeDelta::days(7)).to_rfc3339()}),
            ),
            "needs_info",
        ),
        (
            "respond",
            "applicant",
            Some(json!({"answer": "Приложено"})),
            "in_review",
        ),
        (
            "reject",
            "officer",
            Some(json!({"reason": "Неполный пакет"})),
            "rejected",
        ),
        (
            "appeal",
            "applicant",
            Some(json!({"reason": "Пакет полный"})),
            "appealed",
        ),
        (
            "approve",
            "officer",
            Some(json!({"comment": "Ошибка исправлена"})),
            "approved",
        ),
        (
            "complete",
            "officer",
            Some(json!({"result": "Паспорт готов к выдаче"})),
            "completed",
        ),
    ];
    let mut current = submitted;
    for (action, who, body, expected) in steps {
        let token = if who == "officer" { &officer } else { &token };
        let (method, target) = if action == "edit" {
            (Method::PATCH, path.clone())
        } else {
            (Method::POST, at(action))
        };
        let response = app
            .send(method, &target, token, Some(version(&current)), body)
            .await;
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        current = json(response, 200).await;
        assert_eq!(current["status"], expected, "after {action}");
        assert_eq!(etag, format!("\"{}\"", version(&current)));
    }
    Walked {
        app,
        owner_id,
        token,
        officer,
        id,
        current,
    }
}

async fn an_application_walks_to_completion_with_an_appeal(backend: Backend) {
    let walked = walk_to_completion(backend).await;
    assert_eq!(walked.current["status"], "completed");
    assert_eq!(walked.current["result_note"], "Паспорт готов к выдаче");
}
db_test!(an_application_walks_to_completion_with_an_appeal);

async fn the_history_keeps_every_step_with_who_and_why(backend: Backend) {
    let Walked {
        app,
        owner_id,
        token,
        id,
        ..
    } = walk_to_completion(backend).await;
    let at = |action: &str| format!("/api/v1/applications/{id}/{action}");
    let history = json(
        app.send(Method::GET, &at("history"), &token, None, None).await,
        200,
    )
    .await;
    let events: Vec<String> = history["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| s(&h["event"]))
        .collect();
    assert_eq!(
        events,
        [
            "create",
            "submit",
            "edit",
            "take",
            "request_info",
            "respond",
            "reject",
            "appeal",
            "approve",
            "complete"
        ]
    );
    let items = history["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items[1]["actor_id"], json!(owner_id));
    assert_ne!(items[3]["actor_id"], json!(owner_id), "the officer took it");
    assert_eq!(items[4]["comment"], "Приложите свидетельство о браке");
}
db_test!(the_history_keeps_every_step_with_who_and_why);

async fn a_completed_application_is_final(backend: Backend) {
    let Walked {
        app,
        officer,
        id,
        current,
        ..
    } = walk_to_completion(backend).await;
    let at = |action: &str| format!("/api/v1/applications/{id}/{action}");
    let again = app
        .send(
            Method::POST,
            &at("approve"),
            &officer,
            Some(version(&current)),
            None,
        )
        .await;
    let refused = problem(again, 409).await;
    assert_eq!(refused["code"], "invalid_transition");
    assert_eq!(refused["context"]["allowed"], json!([]));
    assert!(app.audit_actions().contains(&"application.complete".to_string()));
    assert!(app.count_notifications("application.reject").await >= 1);
}
db_test!(a_completed_application_is_final);

async fn an_appeal_after_its_window_is_refused(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, first) = submitted(&app).await;
    let rejected = rejected(&app, &officer, first).await;
    app.state.clock.advance(chrono::Duration::days(31));
    let late = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/appeal", s(&rejected["id"])),
            &token,
            Some(version(&rejected)),
            Some(json!({"reason": "Поздно"})),
        )
        .await;
    assert_eq!(problem(late, 409).await["code"], "appeal_window_closed");
}
db_test!(an_appeal_after_its_window_is_refused);

async fn a_cancelled_application_restores_only_within_its_window(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 30);
    let (token, second) = submitted(&app).await;
    // Cancel and restore within the window: back to where it was.
    let cancelled = act(
        &app,
        &token,
        &second,
        "cancel",
        Some(json!({"reason": "Передумал"})),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let restored = act(&app, &token, &cancelled, "restore", None).await;
    assert_eq!(restored["status"], "submitted");
    let cancelled = act(&app, &token, &restored, "cancel", None).await;
    app.state.clock.advance(chrono::Duration::days(31));
    let late = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/restore", s(&cancelled["id"])),
            &token,
            Some(version(&cancelled)),
            None,
        )
        .await;
    assert_eq!(problem(late, 409).await["code"], "restore_window_closed");
}
db_test!(a_cancelled_application_restores_only_within_its_window);

async fn in_review_this_service_does_not_allow_cancelling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, third) = submitted(&app).await;
    let taken = act(&app, &officer, &third, "take", None).await;
    let refused = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/cancel", s(&taken["id"])),
            &token,
            Some(version(&taken)),
            None,
        )
        .await;
    assert_eq!(problem(refused, 409).await["code"], "not_cancellable");
}
db_test!(in_review_this_service_does_not_allow_cancelling);

async fn stale_writes_and_repeated_creations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    let body = json!({"service_code": "test-passport", "form_data": {"reason": "age_20"}});
    let create = |key: &'static str, body: Value| {
        app.client
            .post(app.url("/api/v1/applications"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = json(
        create("key-1", body.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        201,
    )
    .await;
    let repeat = create("key-1", body.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        repeat
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let repeat = json(repeat, 201).await;
    assert_eq!(repeat["id"], first["id"]);
    let other = create("key-1", json!({"service_code": "test-passport"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        problem(other, 422).await["errors"][0]["code"],
        "idempotency_key_reused"
    );
    let listed = json(
        app.send(Method::GET, "/api/v1/applications", &token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "one application for one key"
    );

    let path = format!("/api/v1/applications/{}", s(&first["id"]));
    let form = |name: &str| Some(json!({"form_data": {"reason": "age_20", "full_name": name}}));
    let missing = app.send(Method::PATCH, &path, &token, None, form("Первый")).await;
    assert_eq!(problem(missing, 428).await["code"], "if_match_required");
    json(
        app.send(Method::PATCH, &path, &token, Some(1), form("Первый"))
            .await,
        200,
    )
    .await;
    let stale = app
        .send(Method::PATCH, &path, &token, Some(1), form("Второй"))
        .await;
    assert_eq!(
        stale.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some("\"2\"")
    );
    let body = problem(stale, 412).await;
    assert_eq!(body["context"]["current_version"], 2);
    let kept = json(app.send(Method::GET, &path, &token, None, None).await, 200).await;
    assert_eq!(kept["form_data"]["full_name"], "Первый");
}
db_test!(stale_writes_and_repeated_creations);

async fn strangers_and_other_agencies_see_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (owner_token, application) = submitted(&app).await;
    let id = s(&application["id"]);
    let path = format!("/api/v1/applications/{id}");
    let (_, stranger) = app.citizen_token(false).await;
    let other_officer = app.officer_token("officer-fns", "fns").await;
    let officer = app.officer_token("officer-mvd", "mvd").await;
    for token in [&stranger, &other_officer] {
        assert_eq!(
            problem(app.send(Method::GET, &path, token, None, None).await, 404).await["code"],
            "not_found"
        );
        let history = app
            .send(Method::GET, &format!("{path}/history"), token, None, None)
            .await;
        problem(history, 404).await;
        let take = app
            .send(
                Method::POST,
                &format!("{path}/take"),
                token,
                Some(version(&application)),
                None,
            )
            .await;
        problem(take, 404).await;
    }
    json(app.send(Method::GET, &path, &officer, None, None).await, 200).await;
    let not_theirs = app
        .send(
            Method::POST,
            &format!("{path}/cancel"),
            &officer,
            Some(version(&application)),
            None,
        )
        .await;
    assert_eq!(problem(not_theirs, 403).await["code"], "not_applicant");
    let not_an_officer = app
        .send(
            Method::POST,
            &format!("{path}/take"),
            &owner_token,
            Some(version(&application)),
            None,
        )
        .await;
    assert_eq!(problem(not_an_officer, 403).await["code"], "role_required");

    // A draft is nobody's business but the applicant's, officers included.
    let draft = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &owner_token,
            None,
            Some(json!({"service_code": "test-passport"})),
        )
        .await,
        201,
    )
    .await;
    problem(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{}", s(&draft["id"])),
            &officer,
            None,
            None,
        )
        .await,
        404,
    )
    .await;

    // A simplified account may keep drafts but not submit.
    let (_, simplified) = app.citizen_token(false).await;
    let draft = json(
        app.send(Method::POST, "/api/v1/applications", &simplified, None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_20", "full_name": "Сидоров Павел"}
        })))
        .await,
        201,
    )
    .await;
    let refused = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/submit", s(&draft["id"])),
            &simplified,
            Some(1),
            None,
        )
        .await;
    assert_eq!(problem(refused, 403).await["code"], "level_too_low");
}
db_test!(strangers_and_other_agencies_see_nothing);

/// A draft cancelled before it was ever submitted stays the applicant's business: the
/// agency never sees it, its history or its attachments; one cancelled after submission
/// the agency received remains visible to it.
async fn a_cancelled_draft_stays_private(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, sent) = submitted(&app).await;
    let draft = a_draft(&app, &token).await;
    let cancelled = act(&app, &token, &draft, "cancel", None).await;
    assert_eq!(cancelled["status"], "cancelled");
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    for hidden in [path.clone(), format!("{path}/history")] {
        let seen = app.send(Method::GET, &hidden, &officer, None, None).await;
        assert_eq!(problem(seen, 404).await["code"], "not_found", "{hidden}");
    }
    json(app.send(Method::GET, &path, &token, None, None).await, 200).await;

    let withdrawn = act(&app, &token, &sent, "cancel", None).await;
    let path = format!("/api/v1/applications/{}", s(&withdrawn["id"]));
    let seen = json(app.send(Method::GET, &path, &officer, None, None).await, 200).await;
    assert_eq!(seen["status"], "cancelled");
}
db_test!(a_cancelled_draft_stays_private);

/// The reason for cancelling may be left out, but a body that is sent must be JSON: bytes
/// that are not were taken for no body, and the draft was cancelled (found by schemathesis).
async fn a_broken_optional_body_is_refused_not_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, token) = app.citizen_token(true).await;
    let draft = a_draft(&app, &token).await;
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    let broken = app
        .client
        .post(app.url(&format!("{path}/cancel")))
        .bearer_auth(&token)
        .header("If-Match", format!("\"{}\"", version(&draft)))
        .header("content-type", "application/json")
        .body(vec![0xff_u8, 0xfe, 0x77, 0x06, 0x10, b'"', b'o'])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problem(broken, 400).await["code"], "malformed_json");
    let unchanged = json(app.send(Method::GET, &path, &token, None, None).await, 200).await;
    assert_eq!(unchanged["status"], "draft");
    // `null`, and no body at all, are still no reason.
    let cancelled = act(&app, &token, &draft, "cancel", Some(Value::Null)).await;
    assert_eq!(cancelled["status"], "cancelled");
}
db_test!(a_broken_optional_body_is_refused_not_ignored);

/// Reading one application, or firing an event on it, checks the session in the same query
/// as the load: an ended session reads nothing, whether or not the application exists, and
/// a stranger's read is a 404 like a missing one.
async fn one_application_is_read_only_by_a_live_session_that_may_see_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (body, old) = app.citizen_token(true).await;
    let (_, stranger) = app.citizen_token(true).await;
    let draft = a_draft(&app, &old).await;
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    let missing = format!("/api/v1/applications/{}", uuid::Uuid::now_v7());
    let read = json(app.send(Method::GET, &path, &old, None, None).await, 200).await;
    assert_eq!(read["id"], draft["id"]);
    for hidden in [&path, &missing] {
        let seen = app.send(Method::GET, hidden, &stranger, None, None).await;
        assert_eq!(problem(seen, 404).await["code"], "not_found", "{hidden}");
    }
    // A new login ends the previous session.
    let new = s(&app.login_ok(&s(&body["email"]), crate::support::PASSWORD).await["access_token"]);
    for path in [&path, &missing] {
        let ended = app.send(Method::GET, path, &old, None, None).await;
        assert_eq!(problem(ended, 401).await["code"], "session_revoked", "{path}");
    }
    json(app.send(Method::GET, &path, &new, None, None).await, 200).await;
    // An event is fired the same way: the session is checked in the query that loads it.
    let cancel = format!("{path}/cancel");
    let ended = app
        .send(Method::POST, &cancel, &old, Some(version(&draft)), None)
        .await;
    assert_eq!(problem(ended, 401).await["code"], "session_revoked");
    let hidden = app
        .send(Method::POST, &cancel, &stranger, Some(version(&draft)), None)
        .await;
    assert_eq!(problem(hidden, 404).await["code"], "not_found");
    let cancelled = act(&app, &new, &draft, "cancel", None).await;
    assert_eq!(cancelled["status"], "cancelled");
}
db_test!(one_application_is_read_only_by_a_live_session_that_may_see_it);

/// A form is a JSON object: an array or a string is refused on create and on change
/// (found by schemathesis: `[{}]` was saved as a draft's form).
async fn a_form_that_is_not_an_object_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, token) = app.citizen_token(true).await;
    for form in [json!([{}]), json!("text"), json!(7)] {
        let body = json!({"service_code": "test-passport", "form_data": form});
        let created = app
            .send(Method::POST, "/api/v1/applications", &token, None, Some(body))
            .await;
        assert_eq!(problem(created, 422).await["code"], "validation_failed", "{form}");
    }
    let draft = a_draft(&app, &token).await;
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    let changed = app
        .send(
            Method::PATCH,
            &path,
            &token,
            Some(version(&draft)),
            Some(json!({"form_data": [{}]})),
        )
        .await;
    assert_eq!(problem(changed, 422).await["code"], "validation_failed");
    let kept = json(app.send(Method::GET, &path, &token, None, None).await, 200).await;
    assert_eq!(kept["form_data"], json!({"full_name": "Иванова Мария"}));
    assert_eq!(version(&kept), version(&draft));
}
db_test!(a_form_that_is_not_an_object_is_refused);

/// Free text treats ё and е alike, whichever the applicant or the searcher typed.
async fn search_treats_yo_and_ye_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    for full_name in ["Фёдорова Анна", "Федотова Ольга"] {
        json(
            app.send(
                Method::POST,
                "/api/v1/applications",
                &token,
                None,
                Some(json!({"service_code": "test-passport", "form_data": {"full_name": full_name}})),
            )
            .await,
            201,
        )
        .await;
    }
    for typed in ["федорова", "ФЁДОРОВА", "Федорова"] {
        let found = json(
            app.send(
                Method::GET,
                &format!("/api/v1/applications?q={}", urlencode(typed)),
                &token,
                None,
                None,
            )
            .await,
            200,
        )
        .await;
        let names: Vec<Value> = found["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["id"].clone())
            .collect();
        assert_eq!(names.len(), 1, "{typed} finds Фёдорова alone: {found}");
    }
}
db_test!(search_treats_yo_and_ye_alike);

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Five drafts of one confirmed citizen, the fourth with a name that needs quoting in CSV.
async fn five_drafts(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (_, _, token) = app.confirmed_citizen().await;
    for i in 0..5 {
        let name = if i == 3 {
            "Особое, \"имя\"".to_string()
        } else {
            format!("Заявитель {i}")
        };
        json(
            app.send(
                Method::POST,
                "/api/v1/applications",
                &token,
                None,
                Some(json!({
                    "service_code": "test-passport", "form_data": {"reason": "age_20", "full_name": name}
                })),
            )
            .await,
            201,
        )
        .await;
    }
    (app, token)
}

async fn lists_page_by_cursor_newest_or_oldest_first(backend: Backend) {
    let (app, token) = five_drafts(backend).await;
    let page1 = json(
        app.send(Method::GET, "/api/v1/applications?limit=2", &token, None, None)
            .await,
        200,
    )
    .await;
    let page2 = json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications?limit=2&cursor={}", s(&page1["next_cursor"])),
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let page3 = json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications?limit=2&cursor={}", s(&page2["next_cursor"])),
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let ids: Vec<String> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .map(|a| s(&a["id"]))
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(page3["next_cursor"].is_null());
    let mut newest_first = ids.clone();
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(ids, newest_first, "newest first (ids are time-ordered)");
    let oldest = json(
        app.send(
            Method::GET,
            "/api/v1/applications?sort=created_at&limit=1",
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(oldest["items"][0]["id"], json!(ids[4]));
}
db_test!(lists_page_by_cursor_newest_or_oldest_first);

async fn lists_filter_by_text_status_and_date(backend: Backend) {
    let (app, token) = five_drafts(backend).await;
    let found = json(
        app.send(
            Method::GET,
            "/api/v1/applications?q=%D0%BE%D1%81%D0%BE%D0%B1%D0%BE%D0%B5",
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        found["items"].as_array().map(Vec::len),
        Some(1),
        "free text finds «особое»"
    );
    let none = json(
        app.send(
            Method::GET,
            "/api/v1/applications?status=submitted",
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none["items"], json!([]));
    let future = json(
        app.send(
            Method::GET,
            "/api/v1/applications?from=2999-01-01",
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(future["items"], json!([]));
    let bad = app
        .send(
            Method::GET,
            "/api/v1/applications?status=nonsense",
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(bad, 422).await["errors"][0]["field"], "status");
    problem(
        app.send(
            Method::GET,
            "/api/v1/applications?cursor=%21%21",
            &token,
            None,
            None,
        )
        .await,
        422,
    )
    .await;
}
db_test!(lists_filter_by_text_status_and_date);

async fn the_export_is_csv_with_a_bom_and_every_row(backend: Backend) {
    let (app, token) = five_drafts(backend).await;
    // The list's parameters are checked as the list checks them (schemathesis seed 845666186).
    let past_limit = app
        .get_as("/api/v1/applications/export.csv?limit=630", &token)
        .await;
    assert_eq!(past_limit.status(), 422);
    let csv = app
        .send(Method::GET, "/api/v1/applications/export.csv", &token, None, None)
        .await;
    assert_eq!(
        csv.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text().await.unwrap_or_default();
    assert!(
        text.starts_with("\u{feff}number,id,service_code,status"),
        "BOM and header"
    );
    assert_eq!(text.lines().count(), 6);
    assert!(text.contains("Черновик"));
}
db_test!(the_export_is_csv_with_a_bom_and_every_row);

async fn the_queue_is_oldest_first_flags_overdue_and_pages(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 1);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (_, old) = submitted(&app).await;
    // Three days on, past the service's one-day processing time for the first one.
    app.state.clock.advance(chrono::Duration::days(3));
    let (_, new) = submitted(&app).await;
    let queue = json(
        app.send(Method::GET, "/api/v1/agency/queue", &officer, None, None)
            .await,
        200,
    )
    .await;
    let items = queue["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0]["id"].clone(), items[0]["overdue"].clone()),
        (old["id"].clone(), json!(true)),
        "oldest first"
    );
    assert_eq!(
        (items[1]["id"].clone(), items[1]["overdue"].clone()),
        (new["id"].clone(), json!(false))
    );
    let page = json(
        app.send(Method::GET, "/api/v1/agency/queue?limit=1", &officer, None, None)
            .await,
        200,
    )
    .await;
    let rest = json(
        app.send(
            Method::GET,
            &format!("/api/v1/agency/queue?limit=1&cursor={}", s(&page["next_cursor"])),
            &officer,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["items"][0]["id"], new["id"]);

    let citizen_queue = app
        .send(
            Method::GET,
            "/api/v1/agency/queue",
            &app.citizen_token(false).await.1,
            None,
            None,
        )
        .await;
    problem(citizen_queue, 403).await;
}
db_test!(the_queue_is_oldest_first_flags_overdue_and_pages);

async fn forwarding_moves_an_application_to_the_other_agency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 1);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let fns = app.officer_token("officer-fns", "fns").await;
    let (_, new) = submitted(&app).await;
    let id = s(&new["id"]);
    let forwarded = json(
        app.send(
            Method::POST,
            &format!("/api/v1/applications/{id}/forward"),
            &officer,
            Some(version(&new)),
            Some(json!({"agency_code": "fns", "comment": "По подведомственности"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (forwarded["agency_code"].clone(), forwarded["status"].clone()),
        (json!("fns"), json!("submitted"))
    );
    let theirs = json(
        app.send(Method::GET, "/api/v1/agency/queue", &fns, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["items"][0]["id"], new["id"]);
    problem(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            &officer,
            None,
            None,
        )
        .await,
        404,
    )
    .await;
    let history = json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}/history"),
            &fns,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let last = history["items"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .unwrap_or_default();
    assert_eq!(last["comment"], "mvd → fns: По подведомственности");
    assert_eq!(forwarded["route"], json!(["mvd"]));
    // Back where it came from is a loop; the service names no other agency.
    let back = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{id}/forward"),
            &fns,
            Some(version(&forwarded)),
            Some(json!({"agency_code": "mvd"})),
        )
        .await;
    assert_eq!(problem(back, 409).await["code"], "forward_loop");
    let (_, other) = submitted(&app).await;
    let elsewhere = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/forward", s(&other["id"])),
            &officer,
            Some(version(&other)),
            Some(json!({"agency_code": "gibdd"})),
        )
        .await;
    let elsewhere = problem(elsewhere, 422).await;
    assert_eq!(
        (
            elsewhere["errors"][0]["field"].clone(),
            elsewhere["errors"][0]["code"].clone()
        ),
        (json!("agency_code"), json!("agency_cannot_handle"))
    );
    let unknown = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{id}/forward"),
            &fns,
            Some(version(&forwarded)),
            Some(json!({"agency_code": "nowhere"})),
        )
        .await;
    assert_eq!(problem(unknown, 422).await["errors"][0]["code"], "unknown_agency");
}
db_test!(forwarding_moves_an_application_to_the_other_agency);

async fn unanswered_information_requests_expire(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, application) = submitted(&app).await;
    let id = s(&application["id"]);
    let taken = json(
        app.send(
            Method::POST,
            &format!("/api/v1/applications/{id}/take"),
            &officer,
            Some(version(&application)),
            None,
        )
        .await,
        200,
    )
    .await;
    let due = (app.state.clock.now() + chrono::TimeDelta::days(3)).to_rfc3339();
    json(
        app.send(
            Method::POST,
            &format!("/api/v1/applications/{id}/request-info"),
            &officer,
            Some(version(&taken)),
            Some(json!({"question": "Фото?", "due_at": due})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        api::jobs::expire_information_requests(&app.state.db, app.state.clock.now()).ok(),
        Some(0),
        "not due yet"
    );
    app.state.clock.advance(chrono::Duration::days(4));
    assert_eq!(
        api::jobs::expire_information_requests(&app.state.db, app.state.clock.now()).ok(),
        Some(1)
    );
    let expired = json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (expired["status"].clone(), expired["status_label"].clone()),
        (json!("expired"), json!("Требует продления"))
    );
    let history = json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}/history"),
            &token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let last = history["items"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .unwrap_or_default();
    assert_eq!(
        (last["event"].clone(), last["actor_id"].clone()),
        (json!("expire"), Value::Null)
    );
    assert_eq!(app.count_notifications("application.expire").await, 1);
}
db_test!(unanswered_information_requests_expire);

async fn templates_fill_placeholders_from_the_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (body, _, token) = app.confirmed_citizen().await;
    let template = json(
        app.send(Method::POST, "/api/v1/templates", &token, None, Some(json!({
            "name": "Паспорт в 45", "service_code": "test-passport",
            "form_data": {"reason": "age_45", "full_name": "{{surname}} {{given_name}}", "note": "СНИЛС {{snils}}"}
        })))
        .await,
        201,
    )
    .await;
    let created = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &token,
            None,
            Some(json!({"template_id": template["id"]})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["service_code"], "test-passport");
    assert_eq!(created["form_data"]["full_name"], "Иванова Мария");
    assert_eq!(
        created["form_data"]["note"],
        json!(format!("СНИЛС {}", s(&body["snils"])))
    );

    let (_, stranger) = app.citizen_token(false).await;
    let path = format!("/api/v1/templates/{}", s(&template["id"]));
    problem(app.send(Method::GET, &path, &stranger, None, None).await, 404).await;
    let foreign = app
        .send(
            Method::POST,
            "/api/v1/applications",
            &stranger,
            None,
            Some(json!({"template_id": template["id"]})),
        )
        .await;
    assert_eq!(
        problem(foreign, 422).await["errors"][0]["code"],
        "unknown_template"
    );
    let renamed = json(
        app.send(
            Method::PUT,
            &path,
            &token,
            Some(1),
            Some(json!({"name": "Паспорт", "service_code": "test-passport", "form_data": {}})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["version"], 2);
    problem(
        app.send(
            Method::PUT,
            &path,
            &token,
            Some(1),
            Some(json!({"name": "x", "service_code": "test-passport", "form_data": {}})),
        )
        .await,
        412,
    )
    .await;
    assert_eq!(
        app.send(Method::DELETE, &path, &token, None, None).await.status(),
        204
    );
    problem(app.send(Method::GET, &path, &token, None, None).await, 404).await;
    let audited = app.audit_actions();
    for action in ["template.create", "template.replace", "template.delete"] {
        assert!(audited.contains(&action.to_string()), "{action} in {audited:?}");
    }
}
db_test!(templates_fill_placeholders_from_the_profile);

async fn the_catalog_is_public_and_admins_manage_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let listed = json(
        app.get("/api/v1/services?level=federal&q=%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82")
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["code"], "test-passport");
    problem(app.get("/api/v1/services?level=galactic").await, 422).await;
    let one = app.get("/api/v1/services/test-passport").await;
    assert_eq!(
        one.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some("\"1\"")
    );
    let mut service = json(one, 200).await;
    problem(app.get("/api/v1/services/nope").await, 404).await;

    let admin = app
        .staff_token("catalog-admin", domain::access::Role::Admin)
        .await;
    let (_, citizen) = app.citizen_token(false).await;
    service["code"] = json!("test-licence");
    problem(
        app.send(
            Method::POST,
            "/api/v1/services",
            &citizen,
            None,
            Some(service.clone()),
        )
        .await,
        403,
    )
    .await;
    let mut broken = service.clone();
    broken["form_schema"] = json!({"type": "no-such-type"});
    let refused = app
        .send(Method::POST, "/api/v1/services", &admin, None, Some(broken))
        .await;
    assert_eq!(problem(refused, 422).await["errors"][0]["code"], "invalid_schema");
    let created = json(
        app.send(
            Method::POST,
            "/api/v1/services",
            &admin,
            None,
            Some(service.clone()),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["version"], 1);
    problem(
        app.send(
            Method::POST,
            "/api/v1/services",
            &admin,
            None,
            Some(service.clone()),
        )
        .await,
        409,
    )
    .await;
    service["fee_kopecks"] = json!(330000);
    let replaced = json(
        app.send(
            Method::PUT,
            "/api/v1/services/test-licence",
            &admin,
            Some(1),
            Some(service.clone()),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (replaced["fee_kopecks"].clone(), replaced["version"].clone()),
        (json!(330000), json!(2))
    );
    problem(
        app.send(
            Method::PUT,
            "/api/v1/services/test-licence",
            &admin,
            Some(1),
            Some(service),
        )
        .await,
        412,
    )
    .await;
}
db_test!(the_catalog_is_public_and_admins_manage_it);

/// A window is what it was when it opened: an admin shortening the service's restore and
/// appeal windows does not shorten them for applications already cancelled or rejected;
/// windows opened afterwards are the short ones.
async fn shortened_windows_are_not_retroactive(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let admin = app
        .staff_token("catalog-admin", domain::access::Role::Admin)
        .await;
    let (owner, first) = submitted(&app).await;
    let cancelled = act(&app, &owner, &first, "cancel", None).await;
    let (appellant, second) = submitted(&app).await;
    let decided = rejected(&app, &officer, second).await;
    assert!(cancelled["restore_until"].is_string() && decided["appeal_until"].is_string());

    let mut service = json(app.get("/api/v1/services/test-passport").await, 200).await;
    service["restore_window_days"] = json!(1);
    service["appeal_window_days"] = json!(1);
    let put = app
        .send(
            Method::PUT,
            "/api/v1/services/test-passport",
            &admin,
            Some(version(&service)),
            Some(service),
        )
        .await;
    json(put, 200).await;
    let (late_owner, third) = submitted(&app).await;
    let briefly = act(&app, &late_owner, &third, "cancel", None).await;

    app.state.clock.advance(chrono::Duration::days(5));
    let restored = act(&app, &owner, &cancelled, "restore", None).await;
    assert_eq!(restored["status"], "submitted");
    let appealed = act(
        &app,
        &appellant,
        &decided,
        "appeal",
        Some(json!({"reason": "Не согласен"})),
    )
    .await;
    assert_eq!(appealed["status"], "appealed");
    let path = format!("/api/v1/applications/{}/restore", s(&briefly["id"]));
    let closed = app
        .send(Method::POST, &path, &late_owner, Some(version(&briefly)), None)
        .await;
    assert_eq!(problem(closed, 409).await["code"], "restore_window_closed");
}
db_test!(shortened_windows_are_not_retroactive);
