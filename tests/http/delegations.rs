//! Delegation of powers over HTTP, on both backends: the principal delegates, the
//! representative accepts with the out-of-band code and acts on behalf; limits, daily
//! confirmations, revocation on the very next request, term changes, re-delegation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{days_ago, json, problem, Backend, TestApp};

pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub struct Person {
    pub id: String,
    pub token: String,
}

/// A confirmed citizen with a second factor on (set directly: enrolment has its own tests).
pub async fn person(app: &TestApp) -> Person {
    let (_, id, token) = app.confirmed_citizen().await;
    app.execute(&format!(
        "UPDATE accounts SET totp_enabled = TRUE WHERE id = '{id}'"
    ));
    Person { id, token }
}

pub fn term(days: i64) -> (String, String) {
    let from = api::clock::now();
    (
        from.to_rfc3339(),
        (from + chrono::TimeDelta::days(days)).to_rfc3339(),
    )
}

pub async fn delegate(app: &TestApp, from: &Person, to: &Person, body: Value) -> reqwest::Response {
    let mut body = body;
    body["representative_id"] = json!(to.id);
    app.send(Method::POST, "/api/v1/delegations", &from.token, None, Some(body))
        .await
}

fn specific(days: i64) -> Value {
    let (valid_from, valid_until) = term(days);
    json!({
        "kind": "specific",
        "actions": ["applications.read", "applications.create", "applications.submit"],
        "services": ["test-passport"],
        "valid_from": valid_from, "valid_until": valid_until
    })
}

pub async fn accept(app: &TestApp, who: &Person, d: &Value, code: &str) -> reqwest::Response {
    let path = format!("/api/v1/delegations/{}/accept", s(&d["id"]));
    app.send(
        Method::POST,
        &path,
        &who.token,
        Some(d["version"].as_i64().unwrap_or(1)),
        Some(json!({"code": code})),
    )
    .await
}

/// A request as `who` for `principal`.
pub async fn on_behalf(
    app: &TestApp,
    who: &Person,
    principal: &Person,
    method: Method,
    path: &str,
    version: Option<i64>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&who.token)
        .header("X-On-Behalf-Of", &principal.id);
    if let Some(v) = version {
        request = request.header("If-Match", format!("\"{v}\""));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn second_service(app: &TestApp) {
    use domain::catalog::{Service, ServiceLevel, ServicePolicy};
    let service = Service {
        code: "test-tax".into(),
        name_ru: "Налоговый вычет".into(),
        name_en: "Tax deduction".into(),
        description: String::new(),
        level: ServiceLevel::Federal,
        region: None,
        agency_code: "fns".into(),
        form_schema: json!({"type": "object"}),
        required_documents: vec![],
        allowed_file_types: vec![],
        max_file_bytes: 1024,
        policy: ServicePolicy::default(),
        version: 1,
    };
    app.state
        .db
        .write(|tx| persistence::catalog::insert(tx, &service, api::clock::now()))
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn the_representative_story(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    second_service(&app);
    let principal = person(&app).await;
    let representative = person(&app).await;

    // Bounds and self-delegation are field errors.
    let too_long = problem(
        delegate(&app, &principal, &representative, specific(31)).await,
        422,
    )
    .await;
    assert_eq!(
        (
            too_long["errors"][0]["field"].clone(),
            too_long["errors"][0]["code"].clone()
        ),
        (json!("valid_until"), json!("too_long"))
    );
    let own = problem(delegate(&app, &principal, &principal, specific(10)).await, 422).await;
    assert_eq!(own["errors"][0]["code"], "self_delegation");

    // A delegation whose code is mistyped until the tries run out cannot be accepted.
    let first = json(
        delegate(&app, &principal, &representative, specific(10)).await,
        201,
    )
    .await;
    let code = s(&first["verification_code"]);
    assert_eq!(code.len(), 6);
    for _ in 0..5 {
        assert_eq!(
            problem(accept(&app, &representative, &first, "000000").await, 422).await["errors"][0]["code"],
            "invalid_code"
        );
    }
    assert_eq!(
        problem(accept(&app, &representative, &first, &code).await, 409).await["code"],
        "code_attempts_exceeded"
    );

    // The right code accepts; the principal alone sees it at creation.
    let second = json(
        delegate(&app, &principal, &representative, specific(10)).await,
        201,
    )
    .await;
    let viewed = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&second["id"])),
            &representative.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(viewed["verification_code"].is_null());
    assert!(s(&second["number"]).starts_with("МЧД-"));
    let active = json(
        accept(&app, &representative, &second, &s(&second["verification_code"])).await,
        200,
    )
    .await;
    assert_eq!(active["status"], "active");

    // Acting on behalf: create, submit, read; the history names both.
    let created = json(
        on_behalf(&app, &representative, &principal, Method::POST, "/api/v1/applications", None, Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}
        }))).await,
        201,
    )
    .await;
    assert_eq!(created["owner_id"], json!(principal.id));
    let id = s(&created["id"]);
    let submitted = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::POST,
            &format!("/api/v1/applications/{id}/submit"),
            Some(1),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    let history = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::GET,
            &format!("/api/v1/applications/{id}/history"),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let submit = &history["items"][1];
    assert_eq!(
        (submit["actor_id"].clone(), submit["on_behalf_of"].clone()),
        (json!(representative.id), json!(principal.id))
    );
    // Without the header the representative is a stranger to it.
    problem(
        app.send(
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            &representative.token,
            None,
            None,
        )
        .await,
        404,
    )
    .await;

    // Another service is not covered.
    let other = on_behalf(
        &app,
        &representative,
        &principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(json!({"service_code": "test-tax"})),
    )
    .await;
    assert_eq!(problem(other, 403).await["code"], "service_not_covered");

    // A second new application the same day needs the principal's confirmation.
    let held = on_behalf(
        &app,
        &representative,
        &principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(json!({
            "service_code": "test-passport", "form_data": {"reason": "age_20", "full_name": "Иванова Мария"}
        })),
    )
    .await;
    let held = json(held, 202).await;
    assert_eq!(
        (held["status"].clone(), held["code"].clone()),
        (json!("pending"), json!("needs_principal_confirmation"))
    );
    let pending = json(
        app.send(Method::GET, "/api/v1/confirmations", &principal.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(pending["items"][0]["id"], held["id"]);
    let not_theirs = app
        .send(
            Method::POST,
            &format!("/api/v1/confirmations/{}/approve", s(&held["id"])),
            &representative.token,
            None,
            None,
        )
        .await;
    problem(not_theirs, 404).await;
    let approved = json(
        app.send(
            Method::POST,
            &format!("/api/v1/confirmations/{}/approve", s(&held["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved");
    let twice = app
        .send(
            Method::POST,
            &format!("/api/v1/confirmations/{}/approve", s(&held["id"])),
            &principal.token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(twice, 409).await["code"], "already_decided");
    let mine = json(
        app.send(Method::GET, "/api/v1/applications", &principal.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        mine["items"].as_array().map(Vec::len),
        Some(2),
        "exactly one application from the confirmation"
    );
    assert_eq!(app.count_notifications("confirmation.approved").await, 1);

    // A limited representative reads but does not create.
    let reader = person(&app).await;
    let (from, until) = term(5);
    let limited = json(
        delegate(
            &app,
            &principal,
            &reader,
            json!({"kind": "limited", "valid_from": from, "valid_until": until}),
        )
        .await,
        201,
    )
    .await;
    json(
        accept(&app, &reader, &limited, &s(&limited["verification_code"])).await,
        200,
    )
    .await;
    let listed = json(
        on_behalf(
            &app,
            &reader,
            &principal,
            Method::GET,
            "/api/v1/applications",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    let write = on_behalf(
        &app,
        &reader,
        &principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(json!({"service_code": "test-passport"})),
    )
    .await;
    assert_eq!(problem(write, 403).await["code"], "action_not_covered");
    let credentials = on_behalf(
        &app,
        &reader,
        &principal,
        Method::POST,
        "/api/v1/me/mfa/totp",
        None,
        None,
    )
    .await;
    assert_eq!(problem(credentials, 403).await["code"], "action_not_covered");

    // Revoked: refused on the very next request.
    let revoked = json(
        app.send(
            Method::POST,
            &format!("/api/v1/delegations/{}/revoke", s(&active["id"])),
            &principal.token,
            Some(active["version"].as_i64().unwrap_or(0)),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    let refused = on_behalf(
        &app,
        &representative,
        &principal,
        Method::GET,
        &format!("/api/v1/applications/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "delegation_revoked");

    // Nobody else's name works.
    let stranger = person(&app).await;
    let refused = on_behalf(
        &app,
        &stranger,
        &principal,
        Method::GET,
        "/api/v1/applications",
        None,
        None,
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "not_delegated");

    // An active delegation past its end is refused at once, before any job runs.
    app.execute(&format!(
        "UPDATE delegations SET valid_until = '{}' WHERE id = '{}'",
        days_ago(1),
        s(&limited["id"])
    ));
    let lapsed = on_behalf(
        &app,
        &reader,
        &principal,
        Method::GET,
        "/api/v1/applications",
        None,
        None,
    )
    .await;
    assert_eq!(problem(lapsed, 403).await["code"], "delegation_expired");
    let history = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}/history", s(&active["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let events: Vec<String> = history["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| s(&e["event"]))
        .collect();
    assert_eq!(events, ["create", "accept", "revoke"]);
    assert!(app.count_notifications("delegation.revoke").await >= 1);
}
db_test!(the_representative_story);

async fn term_changes_need_both_and_revoking_ends_children(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let deputy = person(&app).await;
    let (from, until) = term(20);
    let parent = json(
        delegate(
            &app,
            &principal,
            &representative,
            json!({"kind": "full", "valid_from": from, "valid_until": until, "redelegation_allowed": true}),
        )
        .await,
        201,
    )
    .await;
    let parent = json(
        accept(&app, &representative, &parent, &s(&parent["verification_code"])).await,
        200,
    )
    .await;

    // Term change: proposed by the principal, in force only once the representative agrees.
    let new_until = (api::clock::now() + chrono::TimeDelta::days(25)).to_rfc3339();
    let path = format!("/api/v1/delegations/{}/term-changes", s(&parent["id"]));
    let change = json(
        app.send(
            Method::POST,
            &path,
            &principal.token,
            None,
            Some(json!({"valid_from": parent["valid_from"], "valid_until": new_until})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            change["principal_confirmed"].clone(),
            change["representative_confirmed"].clone()
        ),
        (json!(true), json!(false))
    );
    let unchanged = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&parent["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(unchanged["valid_until"], parent["valid_until"]);
    let confirm = format!("{path}/{}/confirm", s(&change["id"]));
    let applied = json(
        app.send(Method::POST, &confirm, &representative.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(applied["status"], "applied");
    let changed = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&parent["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_ne!(changed["valid_until"], parent["valid_until"]);
    let too_long = app.send(Method::POST, &path, &principal.token, None, Some(json!({"valid_from": parent["valid_from"], "valid_until": (api::clock::now() + chrono::TimeDelta::days(40)).to_rfc3339()}))).await;
    assert_eq!(problem(too_long, 422).await["errors"][0]["code"], "too_long");

    // Re-delegation: a subset, within the parent's term; revoking the parent ends it.
    let (from, until) = term(10);
    let wider = app
        .send(Method::POST, "/api/v1/delegations", &representative.token, None, Some(json!({
            "representative_id": deputy.id, "kind": "full", "valid_from": from,
            "valid_until": (api::clock::now() + chrono::TimeDelta::days(29)).to_rfc3339(), "parent_id": parent["id"]
        })))
        .await;
    assert_eq!(problem(wider, 422).await["errors"][0]["code"], "exceeds_parent");
    let child = json(
        app.send(Method::POST, "/api/v1/delegations", &representative.token, None, Some(json!({
            "representative_id": deputy.id, "kind": "limited", "valid_from": from, "valid_until": until, "parent_id": parent["id"]
        })))
        .await,
        201,
    )
    .await;
    assert_eq!(child["principal_id"], json!(principal.id));
    let child = json(
        accept(&app, &deputy, &child, &s(&child["verification_code"])).await,
        200,
    )
    .await;
    json(
        on_behalf(
            &app,
            &deputy,
            &principal,
            Method::GET,
            "/api/v1/applications",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let current = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&parent["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    json(
        app.send(
            Method::POST,
            &format!("/api/v1/delegations/{}/revoke", s(&parent["id"])),
            &principal.token,
            Some(current["version"].as_i64().unwrap_or(0)),
            None,
        )
        .await,
        200,
    )
    .await;
    let ended = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&child["id"])),
            &deputy.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ended["status"], "revoked");
    let refused = on_behalf(
        &app,
        &deputy,
        &principal,
        Method::GET,
        "/api/v1/applications",
        None,
        None,
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "delegation_revoked");

    // A representative never manages the principal's delegations.
    let managed = on_behalf(
        &app,
        &representative,
        &principal,
        Method::GET,
        "/api/v1/delegations",
        None,
        None,
    )
    .await;
    problem(managed, 403).await;
    // Without a second factor on both sides, no delegation.
    let (_, _, plain) = app.confirmed_citizen().await;
    let refused = app
        .send(
            Method::POST,
            "/api/v1/delegations",
            &plain,
            None,
            Some({
                let mut body = specific(5);
                body["representative_id"] = json!(representative.id);
                body
            }),
        )
        .await;
    assert_eq!(problem(refused, 403).await["code"], "two_factor_required");
}
db_test!(term_changes_need_both_and_revoking_ends_children);

async fn the_job_expires_delegations_and_reminds_before_the_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let (from, until) = term(1);
    let d = json(
        delegate(
            &app,
            &principal,
            &representative,
            json!({"kind": "limited", "valid_from": from, "valid_until": until}),
        )
        .await,
        201,
    )
    .await;
    json(
        accept(&app, &representative, &d, &s(&d["verification_code"])).await,
        200,
    )
    .await;

    // Ending within the reminder window: both parties hear once.
    let remind = chrono::TimeDelta::hours(24);
    assert_eq!(
        api::jobs::expire_and_remind_delegations(&app.state.db, app.state.clock.now(), remind).ok(),
        Some(0)
    );
    api::jobs::expire_and_remind_delegations(&app.state.db, app.state.clock.now(), remind).ok();
    assert_eq!(
        app.count_notifications("delegation.ending").await,
        2,
        "one reminder each, once"
    );

    app.execute(&format!(
        "UPDATE delegations SET valid_until = '{}' WHERE id = '{}'",
        days_ago(1),
        s(&d["id"])
    ));
    assert_eq!(
        api::jobs::expire_and_remind_delegations(&app.state.db, app.state.clock.now(), remind).ok(),
        Some(1)
    );
    let expired = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&d["id"])),
            &principal.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(app.count_notifications("delegation.expired").await, 2);
    let listed = json(
        app.send(
            Method::GET,
            "/api/v1/delegations?as=representative&status=expired",
            &representative.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], d["id"]);
}
db_test!(the_job_expires_delegations_and_reminds_before_the_end);

async fn an_organisation_delegates_through_its_head(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let head = person(&app).await;
    let employee = person(&app).await;
    let outsider = person(&app).await;
    let bad = app
        .send(
            Method::POST,
            "/api/v1/organisations",
            &head.token,
            None,
            Some(json!({"name": "ООО «Ромашка»", "ogrn": "1027700132196", "inn": "7707083893"})),
        )
        .await;
    assert_eq!(problem(bad, 422).await["errors"][0]["code"], "invalid_checksum");
    let org = json(
        app.send(Method::POST, "/api/v1/organisations", &head.token, None, Some(json!({"name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001"}))).await,
        201,
    )
    .await;
    assert_eq!(org["head_id"], json!(head.id));
    let org_id = s(&org["id"]);
    let path = format!("/api/v1/organisations/{org_id}");
    problem(
        app.send(Method::GET, &path, &outsider.token, None, None).await,
        404,
    )
    .await;
    let employee_login = {
        let profile = json(
            app.send(Method::GET, "/api/v1/me", &employee.token, None, None)
                .await,
            200,
        )
        .await;
        s(&profile["email"])
    };
    let added = json(
        app.send(
            Method::POST,
            &format!("{path}/employees"),
            &head.token,
            None,
            Some(json!({"login": employee_login})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(added["employees"], json!([employee.id]));
    json(
        app.send(Method::GET, &path, &employee.token, None, None).await,
        200,
    )
    .await;
    problem(
        app.send(
            Method::POST,
            &format!("{path}/employees"),
            &employee.token,
            None,
            Some(json!({"login": employee_login})),
        )
        .await,
        403,
    )
    .await;

    // Only the head issues the organisation's delegations.
    let mut body = specific(10);
    body["principal_id"] = json!(org_id);
    body["representative_id"] = json!(employee.id);
    problem(
        app.send(
            Method::POST,
            "/api/v1/delegations",
            &outsider.token,
            None,
            Some(body.clone()),
        )
        .await,
        404,
    )
    .await;
    let d = json(
        app.send(Method::POST, "/api/v1/delegations", &head.token, None, Some(body))
            .await,
        201,
    )
    .await;
    assert_eq!(d["principal_id"], json!(org_id));
    json(
        accept(&app, &employee, &d, &s(&d["verification_code"])).await,
        200,
    )
    .await;

    // The employee acts for the organisation; the head does so without any delegation.
    let org_principal = Person {
        id: org_id.clone(),
        token: String::new(),
    };
    let created = json(
        on_behalf(
            &app,
            &employee,
            &org_principal,
            Method::POST,
            "/api/v1/applications",
            None,
            Some(json!({"service_code": "test-passport"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["owner_id"], json!(org_id));
    let listed = json(
        on_behalf(
            &app,
            &head,
            &org_principal,
            Method::GET,
            "/api/v1/applications",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], created["id"]);
    let refused = on_behalf(
        &app,
        &outsider,
        &org_principal,
        Method::GET,
        "/api/v1/applications",
        None,
        None,
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "not_delegated");
    // The organisation's account cannot log in.
    assert_eq!(
        problem(app.login(&org_id, "!").await, 401).await["code"],
        "invalid_credentials"
    );
}
db_test!(an_organisation_delegates_through_its_head);
