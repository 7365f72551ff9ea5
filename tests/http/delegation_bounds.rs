//! What no delegation reaches, and how far a limited one goes, on both backends: nothing
//! that guards the account itself is done on behalf (and what is, names both parties in
//! the audit log); powers limited to services limit the vault and the event stream; a
//! passed-on delegation never outlives or outgrows its parent; issuing a delegation
//! reveals no login to a caller who may not issue; templates on behalf are the principal's.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::{
    accept, delegate_and_accept, fetch, full_with_redelegation, lifecycle, on_behalf, person, s, term,
    term_of, Person,
};
use crate::support::{json, problem, service, Backend, TestApp};

fn full(days: i64) -> Value {
    let (valid_from, valid_until) = term(days);
    json!({"kind": "full", "valid_from": valid_from, "valid_until": valid_until})
}

/// Reads for `test-passport` only: applications and documents.
fn reads_of_passport(days: i64) -> Value {
    let (valid_from, valid_until) = term(days);
    json!({
        "kind": "specific", "actions": ["applications.read", "documents.read"],
        "services": ["test-passport"], "valid_from": valid_from, "valid_until": valid_until
    })
}

/// The principal's profile version (its ETag), read as `who` on the principal's behalf
/// (or as the principal when `who` is the principal).
async fn profile_version(app: &TestApp, who: &Person, principal: &Person) -> i64 {
    let response = on_behalf(app, who, principal, Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("ETag")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or_default()
}

async fn nothing_that_guards_the_account_is_done_on_behalf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
    let delegation = delegate_and_accept(&app, &principal, &representative, full(10)).await;
    let version = profile_version(&app, &representative, &principal).await;
    let passport =
        json!({"series": "4509", "number": "123456", "issued_on": "2015-03-01", "division_code": "770-002"});
    let guarded = [
        (
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"ip_allow_list": ["127.0.0.1"]})),
        ),
        (Method::PATCH, "/api/v1/me", Some(json!({"passport": passport}))),
        (Method::POST, "/api/v1/me/mfa/totp", None),
        (
            Method::DELETE,
            "/api/v1/me/mfa/totp",
            Some(json!({"code": "000000"})),
        ),
        (
            Method::POST,
            "/api/v1/me/contact-changes",
            Some(json!({"kind": "email", "value": "thief@example.ru", "password": "x"})),
        ),
        (Method::GET, "/api/v1/auth/sessions", None),
        (Method::GET, "/api/v1/delegations", None),
    ];
    for (method, path, body) in guarded {
        let refused = on_behalf(
            &app,
            &representative,
            &principal,
            method.clone(),
            path,
            Some(version),
            body,
        )
        .await;
        assert_eq!(
            problem(refused, 403).await["code"],
            "action_not_covered",
            "{method} {path}"
        );
    }
    // Nor can the representative revoke or re-issue the principal's delegations.
    let revoke = format!("/api/v1/delegations/{}/revoke", s(&delegation["id"]));
    let refused = on_behalf(
        &app,
        &representative,
        &principal,
        Method::POST,
        &revoke,
        Some(delegation["version"].as_i64().unwrap_or(0)),
        None,
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "action_not_covered");

    // The principal keeps the account: the profile unchanged, and they revoke at will.
    let me = json(
        app.send(Method::GET, "/api/v1/me", &principal.token, None, None)
            .await,
        200,
    )
    .await;
    assert_ne!(me["passport"]["number"], "123456", "{me}");
    assert_eq!(
        profile_version(&app, &principal, &principal).await,
        version,
        "nothing was changed"
    );
    let current = fetch(&app, &principal, &delegation).await;
    let revoked = json(lifecycle(&app, &principal, &current, "revoke").await, 200).await;
    assert_eq!(revoked["status"], "revoked");
}
db_test!(nothing_that_guards_the_account_is_done_on_behalf);

async fn an_edit_on_behalf_is_audited_as_the_representatives_for_the_principal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
    delegate_and_accept(&app, &principal, &representative, full(10)).await;
    // The INN guards nothing: it stays delegable.
    let version = profile_version(&app, &representative, &principal).await;
    let inn = crate::support::inn12();
    let edited = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::PATCH,
            "/api/v1/me",
            Some(version),
            Some(json!({"inn": inn})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["inn"], json!(inn));
    assert_eq!(
        app.audit_parties("account.update"),
        [(Some(representative.id.clone()), Some(principal.id.clone()))],
        "the representative acted, for the principal"
    );
}
db_test!(an_edit_on_behalf_is_audited_as_the_representatives_for_the_principal);

/// A principal with drafts of `test-passport` and `test-tax`, and a representative who
/// may read only `test-passport`'s applications and documents.
async fn reader_of_one_service(backend: Backend) -> (TestApp, Person, Person, Value, Value) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    app.add_service(&service("test-tax", "fns"));
    let principal = person(&app).await;
    let representative = person(&app).await;
    let mut drafts = vec![];
    for code in ["test-passport", "test-tax"] {
        let body =
            json!({"service_code": code, "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}});
        let created = app
            .send(
                Method::POST,
                "/api/v1/applications",
                &principal.token,
                None,
                Some(body),
            )
            .await;
        drafts.push(json(created, 201).await);
    }
    delegate_and_accept(&app, &principal, &representative, reads_of_passport(10)).await;
    let tax = drafts.pop().unwrap_or_default();
    let passport = drafts.pop().unwrap_or_default();
    (app, principal, representative, passport, tax)
}

fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.7\n{tag}\n").into_bytes()
}

async fn powers_limited_to_a_service_limit_the_vault(backend: Backend) {
    let (app, principal, representative, passport, _) = reader_of_one_service(backend).await;
    let upload = |query: String, tag: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let token = principal.token.clone();
        async move {
            json(
                app.upload(&token, &query, pdf(tag), "скан.pdf", &fields).await,
                201,
            )
            .await
        }
    };
    let private = upload(String::new(), "private", vec![]).await;
    let of_tax = upload(
        String::new(),
        "tax",
        vec![("access", "services"), ("services", "test-tax")],
    )
    .await;
    // Uploaded for the passport application: shared with its service.
    let for_passport = upload(
        format!("?application_id={}", s(&passport["id"])),
        "passport",
        vec![],
    )
    .await;
    // Shared with every agency and attached to the passport application.
    let attached = upload(String::new(), "attached", vec![("access", "agencies")]).await;
    let attach = format!("/api/v1/applications/{}/attachments", s(&passport["id"]));
    json(
        app.send(
            Method::POST,
            &attach,
            &principal.token,
            Some(passport["version"].as_i64().unwrap_or(1)),
            Some(json!({"document_id": attached["id"]})),
        )
        .await,
        201,
    )
    .await;

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
    let mut seen: Vec<String> = listed["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| s(&d["id"]))
        .collect();
    seen.sort();
    let mut expected = vec![s(&for_passport["id"]), s(&attached["id"])];
    expected.sort();
    assert_eq!(seen, expected, "only the passport service's documents");

    for hidden in [&private, &of_tax] {
        for tail in ["", "/content"] {
            let path = format!("/api/v1/documents/{}{tail}", s(&hidden["id"]));
            let refused = on_behalf(&app, &representative, &principal, Method::GET, &path, None, None).await;
            problem(refused, 404).await;
        }
    }
    for visible in [&for_passport, &attached] {
        let path = format!("/api/v1/documents/{}/content", s(&visible["id"]));
        let served = on_behalf(&app, &representative, &principal, Method::GET, &path, None, None).await;
        assert_eq!(served.status().as_u16(), 200, "{path}");
    }
    // The principal still sees everything.
    let own = json(
        app.send(Method::GET, "/api/v1/documents", &principal.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(own["items"].as_array().map(Vec::len), Some(4));
}
db_test!(powers_limited_to_a_service_limit_the_vault);

/// Saves `draft`'s form again as its owner (an `application.save_draft` event).
async fn save(app: &TestApp, owner: &Person, draft: &Value) -> Value {
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    let form = draft["form_data"].clone();
    json(
        app.send(
            Method::PATCH,
            &path,
            &owner.token,
            Some(draft["version"].as_i64().unwrap_or(1)),
            Some(json!({"form_data": form})),
        )
        .await,
        200,
    )
    .await
}

async fn powers_limited_to_a_service_limit_the_event_stream(backend: Backend) {
    let (app, principal, representative, passport, tax) = reader_of_one_service(backend).await;
    let tax = save(&app, &principal, &tax).await;
    let passport = save(&app, &principal, &passport).await;

    // Replayed from the start: only the passport application's events.
    let mut replayed = app
        .events_on_behalf("/api/v1/me/events", &representative.token, &principal.id, Some(0))
        .await;
    let mut applications = vec![];
    while let Some(event) = replayed.next_event(Duration::from_millis(700)).await {
        applications.push(event.data["application_id"].clone());
    }
    assert!(
        !applications.is_empty(),
        "the passport application's events are replayed"
    );
    assert!(
        applications.iter().all(|a| *a == passport["id"]),
        "{applications:?}"
    );

    // Live: a change of the tax application is not sent; the passport one's is.
    let mut live = app
        .events_on_behalf("/api/v1/me/events", &representative.token, &principal.id, None)
        .await;
    save(&app, &principal, &tax).await;
    save(&app, &principal, &passport).await;
    let event = live.expect_event().await;
    assert_eq!(event.data["application_id"], passport["id"]);
}
db_test!(powers_limited_to_a_service_limit_the_event_stream);

/// The principal, the representative holding a full delegation that may be passed on,
/// the deputy, and the active delegation of ten days passed on to the deputy.
async fn passed_on(backend: Backend) -> (TestApp, Person, Person, Person, Value, Value) {
    let (app, principal, representative, deputy, parent) = full_with_redelegation(backend).await;
    // Its term starts now, after the parent's.
    let child_term = term(10);
    let body = json!({
        "representative_id": deputy.id, "kind": "limited", "valid_from": child_term.0,
        "valid_until": child_term.1, "parent_id": parent["id"]
    });
    let child = json(
        app.send(
            Method::POST,
            "/api/v1/delegations",
            &representative.token,
            None,
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let child = json(
        accept(&app, &deputy, &child, &s(&child["verification_code"])).await,
        200,
    )
    .await;
    (app, principal, representative, deputy, parent, child)
}

async fn a_renounced_parent_ends_what_was_passed_on(backend: Backend) {
    let (app, principal, representative, deputy, parent, child) = passed_on(backend).await;
    for path in ["/api/v1/me", "/api/v1/documents"] {
        let read = on_behalf(&app, &deputy, &principal, Method::GET, path, None, None).await;
        assert_eq!(read.status().as_u16(), 200, "{path}");
    }
    json(lifecycle(&app, &representative, &parent, "renounce").await, 200).await;
    for path in ["/api/v1/me", "/api/v1/documents"] {
        let refused = on_behalf(&app, &deputy, &principal, Method::GET, path, None, None).await;
        assert_eq!(
            problem(refused, 403).await["code"],
            "delegation_revoked",
            "{path}"
        );
    }
    assert_eq!(fetch(&app, &deputy, &child).await["status"], "revoked");
}
db_test!(a_renounced_parent_ends_what_was_passed_on);

async fn a_shortened_parent_clips_what_was_passed_on_and_its_end_ends_it(backend: Backend) {
    let (app, principal, representative, deputy, parent, child) = passed_on(backend).await;
    // Both parties shorten the parent to five minutes from now.
    let (_, five_minutes) = term_of(chrono::TimeDelta::minutes(5));
    let path = format!("/api/v1/delegations/{}/term-changes", s(&parent["id"]));
    let proposal = json!({"valid_from": parent["valid_from"], "valid_until": five_minutes});
    let change = json(
        app.send(Method::POST, &path, &principal.token, None, Some(proposal))
            .await,
        201,
    )
    .await;
    let confirm = format!("{path}/{}/confirm", s(&change["id"]));
    json(
        app.send(Method::POST, &confirm, &representative.token, None, None)
            .await,
        200,
    )
    .await;
    let shortened = fetch(&app, &principal, &parent).await;
    let clipped = fetch(&app, &deputy, &child).await;
    assert_eq!(clipped["valid_until"], shortened["valid_until"]);
    assert_eq!(clipped["status"], "active");
    let list = "/api/v1/applications";
    json(
        on_behalf(&app, &deputy, &principal, Method::GET, list, None, None).await,
        200,
    )
    .await;

    // The parent's end, by the clock alone, is the child's.
    app.state.clock.advance(chrono::TimeDelta::minutes(6));
    let refused = on_behalf(&app, &deputy, &principal, Method::GET, list, None, None).await;
    assert_eq!(problem(refused, 403).await["code"], "delegation_expired");
}
db_test!(a_shortened_parent_clips_what_was_passed_on_and_its_end_ends_it);

/// `POST /delegations` as `token` (for `principal` when given) naming `login`.
async fn issue_naming(app: &TestApp, token: &str, principal: Option<&str>, login: &str) -> Value {
    let (valid_from, valid_until) = term(5);
    let body = json!({
        "representative_login": login, "kind": "limited",
        "valid_from": valid_from, "valid_until": valid_until
    });
    let mut request = app
        .client
        .post(app.url("/api/v1/delegations"))
        .bearer_auth(token)
        .json(&body);
    if let Some(principal) = principal {
        request = request.header("X-On-Behalf-Of", principal);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    json!({"status": status, "code": body["code"]})
}

async fn issuing_reveals_no_login_to_who_may_not_issue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
    delegate_and_accept(&app, &principal, &representative, full(10)).await;
    let (known, _, _) = app.confirmed_citizen().await;
    let known = s(&known["email"]);
    let unknown = "nobody.at.all@example.ru";
    let officer = app.officer_token("officer-mvd", "mvd").await;
    for (who, token, on_behalf_of, code) in [
        (
            "on behalf",
            representative.token.as_str(),
            Some(principal.id.as_str()),
            "action_not_covered",
        ),
        ("officer", officer.as_str(), None, "role_required"),
    ] {
        let existing = issue_naming(&app, token, on_behalf_of, &known).await;
        let missing = issue_naming(&app, token, on_behalf_of, unknown).await;
        assert_eq!(existing, missing, "{who}: the same answer either way");
        assert_eq!(existing, json!({"status": 403, "code": code}), "{who}");
    }
}
db_test!(issuing_reveals_no_login_to_who_may_not_issue);

async fn a_template_on_behalf_is_the_principals_and_filled_from_their_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let creator = person(&app).await;
    delegate_and_accept(&app, &principal, &representative, full(10)).await;
    let (valid_from, valid_until) = term(10);
    let create_only = json!({
        "kind": "specific", "actions": ["applications.create", "applications.read"],
        "services": ["test-passport"], "valid_from": valid_from, "valid_until": valid_until
    });
    delegate_and_accept(&app, &principal, &creator, create_only).await;

    let body = json!({
        "name": "Паспорт", "service_code": "test-passport",
        "form_data": {"reason": "age_45", "full_name": "{{email}}"}
    });
    let saved = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::POST,
            "/api/v1/templates",
            None,
            Some(body),
        )
        .await,
        201,
    )
    .await;
    // It is the principal's: in their list, not in the representative's own.
    let listed = |token: String| {
        let app = &app;
        async move {
            let list = json(
                app.send(Method::GET, "/api/v1/templates", &token, None, None)
                    .await,
                200,
            )
            .await;
            list["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|t| t["id"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(principal.token.clone()).await, [saved["id"].clone()]);
    assert!(listed(representative.token.clone()).await.is_empty());

    // Started on behalf, it fills from the principal's profile.
    let me = json(
        app.send(Method::GET, "/api/v1/me", &principal.token, None, None)
            .await,
        200,
    )
    .await;
    let from_template = json!({"template_id": saved["id"]});
    let started = json(
        on_behalf(
            &app,
            &representative,
            &principal,
            Method::POST,
            "/api/v1/applications",
            None,
            Some(from_template.clone()),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(started["form_data"]["full_name"], me["email"]);
    assert_eq!(started["owner_id"], json!(principal.id));
    // Not the representative's to use for themselves; not a delegation's that does not
    // cover reading the profile it fills from.
    let own = app
        .send(
            Method::POST,
            "/api/v1/applications",
            &representative.token,
            None,
            Some(from_template.clone()),
        )
        .await;
    assert_eq!(problem(own, 422).await["errors"][0]["code"], "unknown_template");
    let uncovered = on_behalf(
        &app,
        &creator,
        &principal,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(from_template),
    )
    .await;
    assert_eq!(problem(uncovered, 403).await["code"], "action_not_covered");
}
db_test!(a_template_on_behalf_is_the_principals_and_filled_from_their_profile);
