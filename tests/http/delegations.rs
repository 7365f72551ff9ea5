//! Delegation of powers over HTTP, on both backends: the principal delegates, the
//! representative accepts with the out-of-band code and acts on behalf; limits, daily
//! confirmations, revocation on the very next request, term changes, re-delegation.
//! One behaviour per scenario; the fixtures below build the parties and delegations.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{json, problem, service, Backend, TestApp};

pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub struct Person {
    pub id: String,
    pub token: String,
}

/// A confirmed citizen who enrolled a second factor (TOTP) through the API.
pub async fn person(app: &TestApp) -> Person {
    let (_, id, token) = app.confirmed_citizen().await;
    let enrolment = json(
        app.send(Method::POST, "/api/v1/me/mfa/totp", &token, None, None)
            .await,
        201,
    )
    .await;
    let now = u64::try_from(app.state.clock.now().timestamp()).unwrap_or(0);
    let code = api::auth::totp::code_at(&s(&enrolment["secret"]), now).unwrap_or_default();
    json(
        app.send(
            Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            &token,
            None,
            Some(json!({ "code": code })),
        )
        .await,
        200,
    )
    .await;
    Person { id, token }
}

/// A term starting now and lasting `days`.
pub fn term(days: i64) -> (String, String) {
    term_of(chrono::TimeDelta::days(days))
}

/// A term starting now and lasting `length` (short ones end within an access token's life,
/// so a test can move the clock past them and keep its tokens).
pub fn term_of(length: chrono::TimeDelta) -> (String, String) {
    let from = api::clock::now();
    (from.to_rfc3339(), (from + length).to_rfc3339())
}

pub async fn delegate(app: &TestApp, from: &Person, to: &Person, body: Value) -> reqwest::Response {
    let mut body = body;
    body["representative_id"] = json!(to.id);
    app.send(Method::POST, "/api/v1/delegations", &from.token, None, Some(body))
        .await
}

pub fn specific(days: i64) -> Value {
    let (valid_from, valid_until) = term(days);
    json!({
        "kind": "specific",
        "actions": ["applications.read", "applications.create", "applications.submit"],
        "services": ["test-passport"],
        "valid_from": valid_from, "valid_until": valid_until
    })
}

/// `from` delegates `body` to `to`, who accepts it with the code: the active delegation.
pub async fn delegate_and_accept(app: &TestApp, from: &Person, to: &Person, body: Value) -> Value {
    let pending = json(delegate(app, from, to, body).await, 201).await;
    let code = s(&pending["verification_code"]);
    json(accept(app, to, &pending, &code).await, 200).await
}

fn limited(term: (String, String)) -> Value {
    json!({"kind": "limited", "valid_from": term.0, "valid_until": term.1})
}

/// The delegation `d` as `who` sees it now.
pub async fn fetch(app: &TestApp, who: &Person, d: &Value) -> Value {
    let path = format!("/api/v1/delegations/{}", s(&d["id"]));
    json(app.send(Method::GET, &path, &who.token, None, None).await, 200).await
}

/// `who` fires a lifecycle `step` (`revoke`, `cancel`, …) on `d` as last read.
pub async fn lifecycle(app: &TestApp, who: &Person, d: &Value, step: &str) -> reqwest::Response {
    let path = format!("/api/v1/delegations/{}/{step}", s(&d["id"]));
    let version = d["version"].as_i64().unwrap_or(0);
    app.send(Method::POST, &path, &who.token, Some(version), None)
        .await
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

/// A principal and a representative with an accepted `specific` delegation for
/// `test-passport` (ten days), and the catalog with a second service.
async fn represented(backend: Backend) -> (TestApp, Person, Person, Value) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    app.add_service(&service("test-tax", "fns"));
    let principal = person(&app).await;
    let representative = person(&app).await;
    let active = delegate_and_accept(&app, &principal, &representative, specific(10)).await;
    (app, principal, representative, active)
}

/// `representative` creates an application of `test-passport` for `principal`.
async fn create_on_behalf(
    app: &TestApp,
    representative: &Person,
    principal: &Person,
    reason: &str,
) -> reqwest::Response {
    let body = json!({
        "service_code": "test-passport", "form_data": {"reason": reason, "full_name": "Иванова Мария"}
    });
    on_behalf(
        app,
        representative,
        principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(body),
    )
    .await
}

async fn bounds_and_self_delegation_are_field_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
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
}
db_test!(bounds_and_self_delegation_are_field_errors);

async fn a_code_mistyped_until_the_tries_run_out_cannot_accept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
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
}
db_test!(a_code_mistyped_until_the_tries_run_out_cannot_accept);

async fn the_right_code_accepts_and_only_the_principal_sees_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
    let second = json(
        delegate(&app, &principal, &representative, specific(10)).await,
        201,
    )
    .await;
    let viewed = fetch(&app, &representative, &second).await;
    assert!(viewed["verification_code"].is_null());
    assert!(s(&second["number"]).starts_with("МЧД-"));
    let active = json(
        accept(&app, &representative, &second, &s(&second["verification_code"])).await,
        200,
    )
    .await;
    assert_eq!(active["status"], "active");
}
db_test!(the_right_code_accepts_and_only_the_principal_sees_it);

async fn a_representative_acts_on_behalf_within_the_services(backend: Backend) {
    let (app, principal, representative, _) = represented(backend).await;
    let created = json(
        create_on_behalf(&app, &representative, &principal, "age_45").await,
        201,
    )
    .await;
    assert_eq!(created["owner_id"], json!(principal.id));
    let id = s(&created["id"]);
    let submit = format!("/api/v1/applications/{id}/submit");
    let submitted = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::POST,
            &submit,
            Some(1),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    let read = format!("/api/v1/applications/{id}/history");
    let history = json(
        on_behalf(&app, &representative, &principal, Method::GET, &read, None, None).await,
        200,
    )
    .await;
    let submit = &history["items"][1];
    assert_eq!(
        (submit["actor_id"].clone(), submit["on_behalf_of"].clone()),
        (json!(representative.id), json!(principal.id))
    );
    // Without the header the representative is a stranger to it.
    let path = format!("/api/v1/applications/{id}");
    problem(
        app.send(Method::GET, &path, &representative.token, None, None)
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
}
db_test!(a_representative_acts_on_behalf_within_the_services);

async fn a_second_application_the_same_day_waits_for_the_principal(backend: Backend) {
    let (app, principal, representative, _) = represented(backend).await;
    json(
        create_on_behalf(&app, &representative, &principal, "age_45").await,
        201,
    )
    .await;
    let held = json(
        create_on_behalf(&app, &representative, &principal, "age_20").await,
        202,
    )
    .await;
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
    let approve = format!("/api/v1/confirmations/{}/approve", s(&held["id"]));
    let not_theirs = app
        .send(Method::POST, &approve, &representative.token, None, None)
        .await;
    problem(not_theirs, 404).await;
    let approved = json(
        app.send(Method::POST, &approve, &principal.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved");
    let twice = app
        .send(Method::POST, &approve, &principal.token, None, None)
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
}
db_test!(a_second_application_the_same_day_waits_for_the_principal);

async fn a_limited_representative_reads_but_does_not_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let reader = person(&app).await;
    for _ in 0..2 {
        let own = json!({"service_code": "test-passport"});
        let path = "/api/v1/applications";
        json(
            app.send(Method::POST, path, &principal.token, None, Some(own))
                .await,
            201,
        )
        .await;
    }
    delegate_and_accept(&app, &principal, &reader, limited(term(5))).await;
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
}
db_test!(a_limited_representative_reads_but_does_not_write);

async fn a_revoked_delegation_is_refused_on_the_very_next_request(backend: Backend) {
    let (app, principal, representative, active) = represented(backend).await;
    let created = json(
        create_on_behalf(&app, &representative, &principal, "age_45").await,
        201,
    )
    .await;
    let revoked = json(lifecycle(&app, &principal, &active, "revoke").await, 200).await;
    assert_eq!(revoked["status"], "revoked");
    let path = format!("/api/v1/applications/{}", s(&created["id"]));
    let refused = on_behalf(&app, &representative, &principal, Method::GET, &path, None, None).await;
    assert_eq!(problem(refused, 403).await["code"], "delegation_revoked");
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
db_test!(a_revoked_delegation_is_refused_on_the_very_next_request);

async fn nobody_elses_name_works(backend: Backend) {
    let (app, principal, _, _) = represented(backend).await;
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
}
db_test!(nobody_elses_name_works);

async fn an_active_delegation_past_its_end_is_refused_before_any_job_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let reader = person(&app).await;
    // Five minutes, so the clock can pass its end while the access tokens still live.
    delegate_and_accept(
        &app,
        &principal,
        &reader,
        limited(term_of(chrono::TimeDelta::minutes(5))),
    )
    .await;
    app.state.clock.advance(chrono::TimeDelta::minutes(6));
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
}
db_test!(an_active_delegation_past_its_end_is_refused_before_any_job_runs);

/// A principal, a representative holding a full delegation of twenty days that may be
/// passed on, and a deputy to pass it on to.
pub async fn full_with_redelegation(backend: Backend) -> (TestApp, Person, Person, Person, Value) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let deputy = person(&app).await;
    let (from, until) = term(20);
    let body =
        json!({"kind": "full", "valid_from": from, "valid_until": until, "redelegation_allowed": true});
    let parent = delegate_and_accept(&app, &principal, &representative, body).await;
    (app, principal, representative, deputy, parent)
}

fn in_days(days: i64) -> String {
    (api::clock::now() + chrono::TimeDelta::days(days)).to_rfc3339()
}

async fn a_term_change_takes_effect_once_both_parties_confirm(backend: Backend) {
    let (app, principal, representative, _, parent) = full_with_redelegation(backend).await;
    let path = format!("/api/v1/delegations/{}/term-changes", s(&parent["id"]));
    let proposal = json!({"valid_from": parent["valid_from"], "valid_until": in_days(25)});
    let change = json(
        app.send(Method::POST, &path, &principal.token, None, Some(proposal))
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
    let unchanged = fetch(&app, &principal, &parent).await;
    assert_eq!(unchanged["valid_until"], parent["valid_until"]);
    let confirm = format!("{path}/{}/confirm", s(&change["id"]));
    let applied = json(
        app.send(Method::POST, &confirm, &representative.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(applied["status"], "applied");
    let changed = fetch(&app, &principal, &parent).await;
    assert_ne!(changed["valid_until"], parent["valid_until"]);
    let too_long = json!({"valid_from": parent["valid_from"], "valid_until": in_days(40)});
    let too_long = app
        .send(Method::POST, &path, &principal.token, None, Some(too_long))
        .await;
    assert_eq!(problem(too_long, 422).await["errors"][0]["code"], "too_long");
}
db_test!(a_term_change_takes_effect_once_both_parties_confirm);

async fn a_passed_on_delegation_stays_within_its_parent_and_ends_with_it(backend: Backend) {
    let (app, principal, representative, deputy, parent) = full_with_redelegation(backend).await;
    let (from, until) = term(10);
    let pass_on = |body: Value| {
        app.send(
            Method::POST,
            "/api/v1/delegations",
            &representative.token,
            None,
            Some(body),
        )
    };
    let wider = pass_on(json!({
        "representative_id": deputy.id, "kind": "full", "valid_from": from,
        "valid_until": in_days(29), "parent_id": parent["id"]
    }))
    .await;
    assert_eq!(problem(wider, 422).await["errors"][0]["code"], "exceeds_parent");
    let child = json(
        pass_on(json!({
            "representative_id": deputy.id, "kind": "limited", "valid_from": from,
            "valid_until": until, "parent_id": parent["id"]
        }))
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
    let list = "/api/v1/applications";
    json(
        on_behalf(&app, &deputy, &principal, Method::GET, list, None, None).await,
        200,
    )
    .await;
    let current = fetch(&app, &principal, &parent).await;
    json(lifecycle(&app, &principal, &current, "revoke").await, 200).await;
    let ended = fetch(&app, &deputy, &child).await;
    assert_eq!(ended["status"], "revoked");
    let refused = on_behalf(&app, &deputy, &principal, Method::GET, list, None, None).await;
    assert_eq!(problem(refused, 403).await["code"], "delegation_revoked");
}
db_test!(a_passed_on_delegation_stays_within_its_parent_and_ends_with_it);

async fn a_representative_never_manages_the_principals_delegations(backend: Backend) {
    let (app, principal, representative, _, _) = full_with_redelegation(backend).await;
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
}
db_test!(a_representative_never_manages_the_principals_delegations);

async fn without_a_second_factor_on_both_sides_no_delegation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let representative = person(&app).await;
    let (_, _, plain) = app.confirmed_citizen().await;
    let mut body = specific(5);
    body["representative_id"] = json!(representative.id);
    let refused = app
        .send(Method::POST, "/api/v1/delegations", &plain, None, Some(body))
        .await;
    assert_eq!(problem(refused, 403).await["code"], "two_factor_required");
}
db_test!(without_a_second_factor_on_both_sides_no_delegation);

async fn the_job_expires_delegations_and_reminds_before_the_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let short = term_of(chrono::TimeDelta::minutes(5));
    let d = delegate_and_accept(&app, &principal, &representative, limited(short)).await;

    // Ending within the reminder window: both parties hear once.
    let remind = chrono::TimeDelta::hours(24);
    let run = || {
        api::jobs::expire_and_remind_delegations(
            &app.state.db,
            app.state.clock.now(),
            (remind, app.state.config.time_zone),
        )
        .ok()
    };
    assert_eq!(run(), Some(0));
    run();
    assert_eq!(
        app.count_notifications("delegation.ending").await,
        2,
        "one reminder each, once"
    );

    app.state.clock.advance(chrono::TimeDelta::minutes(6));
    assert_eq!(run(), Some(1));
    let expired = fetch(&app, &principal, &d).await;
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

/// A head with a registered and verified organisation (`ООО «Ромашка»`); its id.
async fn organisation(app: &TestApp, head: &Person) -> String {
    let body =
        json!({"name": "ООО «Ромашка»", "ogrn": "1027700132195", "inn": "7707083893", "kpp": "773601001"});
    let org = json(
        app.send(
            Method::POST,
            "/api/v1/organisations",
            &head.token,
            None,
            Some(body),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(org["head_id"], json!(head.id));
    // A registration is a claim until staff verify it; these scenarios need a real one.
    let admin = app
        .staff_token(&format!("admin-{}", s(&org["id"])), domain::access::Role::Admin)
        .await;
    let verify = format!("/api/v1/organisations/{}/verify", s(&org["id"]));
    json(app.send(Method::POST, &verify, &admin, None, None).await, 200).await;
    s(&org["id"])
}

async fn an_organisation_is_registered_by_its_head_with_employees(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let head = person(&app).await;
    let employee = person(&app).await;
    let outsider = person(&app).await;
    let bad = json!({"name": "ООО «Ромашка»", "ogrn": "1027700132196", "inn": "7707083893"});
    let bad = app
        .send(
            Method::POST,
            "/api/v1/organisations",
            &head.token,
            None,
            Some(bad),
        )
        .await;
    assert_eq!(problem(bad, 422).await["errors"][0]["code"], "invalid_checksum");
    let org_id = organisation(&app, &head).await;
    let path = format!("/api/v1/organisations/{org_id}");
    problem(
        app.send(Method::GET, &path, &outsider.token, None, None).await,
        404,
    )
    .await;
    let profile = json(
        app.send(Method::GET, "/api/v1/me", &employee.token, None, None)
            .await,
        200,
    )
    .await;
    let login = json!({"login": s(&profile["email"])});
    let employees = format!("{path}/employees");
    let added = json(
        app.send(Method::POST, &employees, &head.token, None, Some(login.clone()))
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
        app.send(Method::POST, &employees, &employee.token, None, Some(login))
            .await,
        403,
    )
    .await;
    // The organisation's account cannot log in.
    assert_eq!(
        problem(app.login(&org_id, "!").await, 401).await["code"],
        "invalid_credentials"
    );
}
db_test!(an_organisation_is_registered_by_its_head_with_employees);

async fn an_organisation_delegates_through_its_head(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let head = person(&app).await;
    let employee = person(&app).await;
    let outsider = person(&app).await;
    let org_id = organisation(&app, &head).await;
    employ(&app, &head, &org_id, &employee).await;

    // Only the head issues the organisation's delegations.
    let mut body = specific(10);
    body["principal_id"] = json!(org_id);
    body["representative_id"] = json!(employee.id);
    let path = "/api/v1/delegations";
    problem(
        app.send(Method::POST, path, &outsider.token, None, Some(body.clone()))
            .await,
        404,
    )
    .await;
    let d = json(
        app.send(Method::POST, path, &head.token, None, Some(body)).await,
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
    let org = Person {
        id: org_id.clone(),
        token: String::new(),
    };
    let apps = "/api/v1/applications";
    let created = json(
        on_behalf(
            &app,
            &employee,
            &org,
            Method::POST,
            apps,
            None,
            Some(json!({"service_code": "test-passport"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["owner_id"], json!(org_id));
    let listed = json(
        on_behalf(&app, &head, &org, Method::GET, apps, None, None).await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], created["id"]);
    let refused = on_behalf(&app, &outsider, &org, Method::GET, apps, None, None).await;
    assert_eq!(problem(refused, 403).await["code"], "not_delegated");
}
db_test!(an_organisation_delegates_through_its_head);

/// `head` adds `who` to organisation `org_id`'s employees.
async fn employ(app: &TestApp, head: &Person, org_id: &str, who: &Person) {
    let profile = json(
        app.send(Method::GET, "/api/v1/me", &who.token, None, None).await,
        200,
    )
    .await;
    let employees = format!("/api/v1/organisations/{org_id}/employees");
    let login = json!({"login": s(&profile["email"])});
    json(
        app.send(Method::POST, &employees, &head.token, None, Some(login))
            .await,
        200,
    )
    .await;
}

/// An organisation's powers go to its employees only, and leave with them (issue 15, 14).
async fn an_organisation_delegates_to_employees_only_and_a_leaver_loses_its_powers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let (head, employee, outsider) = (person(&app).await, person(&app).await, person(&app).await);
    let org_id = organisation(&app, &head).await;
    let to = |who: &Person| {
        let mut body = specific(10);
        body["principal_id"] = json!(org_id);
        body["representative_id"] = json!(who.id);
        app.send(Method::POST, "/api/v1/delegations", &head.token, None, Some(body))
    };
    let refused = problem(to(&outsider).await, 422).await;
    assert_eq!(refused["errors"][0]["code"], "not_an_employee");
    employ(&app, &head, &org_id, &employee).await;
    let d = json(to(&employee).await, 201).await;
    json(
        accept(&app, &employee, &d, &s(&d["verification_code"])).await,
        200,
    )
    .await;
    let org = Person {
        id: org_id.clone(),
        token: String::new(),
    };
    let apps = "/api/v1/applications";
    let before = on_behalf(&app, &employee, &org, Method::GET, apps, None, None).await;
    assert_eq!(before.status(), 200);

    let leaver = format!("/api/v1/organisations/{org_id}/employees/{}", employee.id);
    let left = json(
        app.send(Method::DELETE, &leaver, &head.token, None, None).await,
        200,
    )
    .await;
    assert_eq!(left["employees"], json!([]));
    let after = on_behalf(&app, &employee, &org, Method::GET, apps, None, None).await;
    assert_eq!(after.status(), 403);
    let theirs = json(
        app.send(
            Method::GET,
            &format!("/api/v1/delegations/{}", s(&d["id"])),
            &employee.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs["status"], "revoked");
    // Only the head removes; removing someone who is not there is 404.
    let again = app.send(Method::DELETE, &leaver, &head.token, None, None).await;
    assert_eq!(again.status(), 404);
}
db_test!(an_organisation_delegates_to_employees_only_and_a_leaver_loses_its_powers);
