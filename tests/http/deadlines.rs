//! Deadlines that are not traps (issue 15, item 5) and hints that tell the truth (item 10):
//! a due date has a minimum, time decides expiry (not the job), an expired request has a
//! way out (the agency extends, the applicant starts again from a copy), and `next_steps`
//! and 409 contexts offer only what the state machine accepts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::applications::{act, s, spawn_for_time_travel, submitted, version};
use crate::db_test;
use crate::support::{json, problem, Backend, TestApp};

fn in_days(app: &TestApp, days: i64, seconds: i64) -> String {
    (app.state.clock.now() + chrono::TimeDelta::days(days) + chrono::TimeDelta::seconds(seconds)).to_rfc3339()
}

async fn get(app: &TestApp, id: &str, token: &str) -> Value {
    json(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            token,
            None,
            None,
        )
        .await,
        200,
    )
    .await
}

async fn an_expired_request_is_decided_by_time_and_has_a_way_out(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(true, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, application) = submitted(&app).await;
    let id = s(&application["id"]);
    let taken = act(&app, &officer, &application, "take", None).await;
    let ask_path = format!("/api/v1/applications/{id}/request-info");
    let ask = |due: String| {
        app.send(
            Method::POST,
            &ask_path,
            &officer,
            Some(version(&taken)),
            Some(json!({"question": "Фото?", "due_at": due})),
        )
    };
    // Two seconds to answer is no time at all: at least 3 days (KABINET_MIN_RESPONSE_DAYS).
    let hasty = problem(ask(in_days(&app, 0, 2)).await, 422).await;
    assert_eq!(
        (
            hasty["errors"][0]["field"].clone(),
            hasty["errors"][0]["code"].clone()
        ),
        (json!("due_at"), json!("due_date_too_soon"))
    );
    let asked = json(ask(in_days(&app, 3, 0)).await, 200).await;
    assert_eq!(asked["status"], "needs_info");

    // Two seconds past the due date, with no expiry job run: expired, and the answer is late.
    app.state
        .clock
        .advance(chrono::Duration::days(3) + chrono::Duration::seconds(2));
    let seen = get(&app, &id, &token).await;
    assert_eq!(seen["status"], "expired");
    assert_eq!(seen["next_steps"], json!(["copy"]));
    // The lists filter by the same status time gives.
    let listed = |status: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let page = json(
                app.get_as(&format!("/api/v1/applications?status={status}"), token)
                    .await,
                200,
            )
            .await;
            page["items"].as_array().cloned().unwrap_or_default()
        }
    };
    assert_eq!(listed("expired").await.len(), 1);
    assert_eq!(listed("expired").await[0]["id"], application["id"]);
    assert!(listed("needs_info").await.is_empty());
    let late = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{id}/respond"),
            &token,
            Some(version(&seen)),
            Some(json!({"answer": "Вот фото"})),
        )
        .await;
    let late = problem(late, 409).await;
    assert_eq!(late["code"], "invalid_transition");
    assert_eq!(late["context"]["status"], "expired");

    // The applicant may start again from a copy; the old application stays as it was.
    let copy = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{id}/copy"),
            &token,
            None,
            None,
        )
        .await;
    let copy = json(copy, 201).await;
    assert_eq!(
        (
            copy["status"].clone(),
            copy["service_code"].clone(),
            copy["form_data"].clone()
        ),
        (
            json!("draft"),
            application["service_code"].clone(),
            application["form_data"].clone()
        )
    );
    assert_ne!(copy["id"], application["id"]);
    let again = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/copy", s(&copy["id"])),
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(again, 409).await["code"], "not_copyable");

    // The agency may extend instead (again with the minimum), and the answer is taken.
    let extend_path = format!("/api/v1/applications/{id}/extend");
    let extend = |due: String| {
        app.send(
            Method::POST,
            &extend_path,
            &officer,
            Some(version(&seen)),
            Some(json!({"due_at": due, "comment": "Заявитель в отъезде"})),
        )
    };
    let short = problem(extend(in_days(&app, 1, 0)).await, 422).await;
    assert_eq!(short["errors"][0]["code"], "due_date_too_soon");
    let by_citizen = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{id}/extend"),
            &token,
            Some(version(&seen)),
            Some(json!({"due_at": in_days(&app, 5, 0)})),
        )
        .await;
    assert_eq!(by_citizen.status().as_u16(), 403);
    let extended = json(extend(in_days(&app, 5, 0)).await, 200).await;
    assert_eq!(extended["status"], "needs_info");
    assert_eq!(extended["next_steps"], json!(["respond"]));
    let answered = act(
        &app,
        &token,
        &extended,
        "respond",
        Some(json!({"answer": "Вот фото"})),
    )
    .await;
    assert_eq!(answered["status"], "in_review");
    // The job finds nothing left to expire.
    assert_eq!(
        api::jobs::expire_information_requests(&app.state.db, app.state.clock.now()).ok(),
        Some(0)
    );
}
db_test!(an_expired_request_is_decided_by_time_and_has_a_way_out);

/// The seen lies: `edit` for a service that forbids edits, `restore` in the context of
/// `restore_window_closed`, `appeal` after the final decision on an appeal.
async fn hints_offer_only_what_is_accepted(backend: Backend) {
    let app = spawn_for_time_travel(backend).await;
    app.seed_catalog(false, false, 30);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (token, first) = submitted(&app).await;
    assert_eq!(first["next_steps"], json!(["cancel"]));
    let refused = app
        .send(
            Method::PATCH,
            &format!("/api/v1/applications/{}", s(&first["id"])),
            &token,
            Some(version(&first)),
            Some(json!({"form_data": {"reason": "age_45", "full_name": "Иванова Анна"}})),
        )
        .await;
    let refused = problem(refused, 409).await;
    assert_eq!(refused["code"], "not_editable");
    assert_eq!(refused["context"]["allowed"], json!(["cancel"]));

    let cancelled = act(&app, &token, &first, "cancel", None).await;
    assert_eq!(cancelled["next_steps"], json!(["restore"]));
    app.state.clock.advance(chrono::Duration::days(31));
    assert_eq!(get(&app, &s(&first["id"]), &token).await["next_steps"], json!([]));
    let late = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/restore", s(&first["id"])),
            &token,
            Some(version(&cancelled)),
            None,
        )
        .await;
    let late = problem(late, 409).await;
    assert_eq!(late["code"], "restore_window_closed");
    assert_eq!(late["context"]["allowed"], json!([]));

    let (token, second) = submitted(&app).await;
    let taken = act(&app, &officer, &second, "take", None).await;
    let rejected = act(&app, &officer, &taken, "reject", Some(json!({"reason": "Нет"}))).await;
    assert_eq!(rejected["next_steps"], json!(["appeal"]));
    let appealed = act(&app, &token, &rejected, "appeal", Some(json!({"reason": "Есть"}))).await;
    let last = act(
        &app,
        &officer,
        &appealed,
        "reject",
        Some(json!({"reason": "Всё равно нет"})),
    )
    .await;
    assert_eq!(
        get(&app, &s(&second["id"]), &token).await["next_steps"],
        json!([])
    );
    let again = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/appeal", s(&second["id"])),
            &token,
            Some(version(&last)),
            Some(json!({"reason": "Ещё раз"})),
        )
        .await;
    let again = problem(again, 409).await;
    assert_eq!(again["code"], "appeal_used");
    assert_eq!(again["context"]["allowed"], json!([]));
}
db_test!(hints_offer_only_what_is_accepted);
