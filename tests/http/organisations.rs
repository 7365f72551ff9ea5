//! Organisations over HTTP, on both backends: a registration is a claim, `pending` until an
//! officer or admin verifies it; a pending (or rejected) organisation cannot act, and a
//! claim on someone else's OGRN never blocks the real organisation.

use domain::access::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::{on_behalf, person, s, specific, Person};
use crate::support::{json, problem, Backend, TestApp};

const OGRN: &str = "1027700132195";
const INN: &str = "7707083893";

async fn register(app: &TestApp, head: &Person) -> reqwest::Response {
    let body = json!({"name": "ПАО Сбербанк", "ogrn": OGRN, "inn": INN});
    app.send(
        Method::POST,
        "/api/v1/organisations",
        &head.token,
        None,
        Some(body),
    )
    .await
}

/// `head`'s claim on the bank, registered: its id.
async fn claim(app: &TestApp, head: &Person) -> String {
    let org = json(register(app, head).await, 201).await;
    assert_eq!(org["status"], "pending");
    s(&org["id"])
}

async fn decide(
    app: &TestApp,
    staff: &str,
    id: &str,
    decision: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let path = format!("/api/v1/organisations/{id}/{decision}");
    app.send(Method::POST, &path, staff, None, body).await
}

async fn read(app: &TestApp, who: &Person, id: &str) -> Value {
    let path = format!("/api/v1/organisations/{id}");
    json(app.send(Method::GET, &path, &who.token, None, None).await, 200).await
}

/// Until verified, the head sees the record and nothing else works: no delegations in its
/// name, no applications on its behalf, no employees. An admin verifies (audited, the
/// head told); from then on the organisation acts.
async fn a_new_organisation_is_pending_and_acts_only_once_verified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let head = person(&app).await;
    let employee = person(&app).await;
    let id = claim(&app, &head).await;
    assert_eq!(read(&app, &head, &id).await["status"], "pending");
    let org = Person {
        id: id.clone(),
        token: String::new(),
    };

    let mut delegation = specific(10);
    delegation["principal_id"] = json!(id);
    delegation["representative_id"] = json!(employee.id);
    let refused = app
        .send(
            Method::POST,
            "/api/v1/delegations",
            &head.token,
            None,
            Some(delegation.clone()),
        )
        .await;
    // Nobody speaks for a claim: to the delegation rules it has no head yet.
    assert_eq!(problem(refused, 404).await["code"], "not_found");
    let new_application = json!({"service_code": "test-passport"});
    let apps = "/api/v1/applications";
    let refused = on_behalf(
        &app,
        &head,
        &org,
        Method::POST,
        apps,
        None,
        Some(new_application.clone()),
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "organisation_not_verified");
    let employees = format!("/api/v1/organisations/{id}/employees");
    let profile = json(
        app.send(Method::GET, "/api/v1/me", &employee.token, None, None)
            .await,
        200,
    )
    .await;
    let login = json!({"login": s(&profile["email"])});
    let refused = app
        .send(Method::POST, &employees, &head.token, None, Some(login.clone()))
        .await;
    assert_eq!(problem(refused, 403).await["code"], "organisation_not_verified");

    // Only staff verify: the head is refused, a stranger does not learn it exists.
    let refused = decide(&app, &head.token, &id, "verify", None).await;
    assert_eq!(problem(refused, 403).await["code"], "role_required");
    problem(decide(&app, &employee.token, &id, "verify", None).await, 404).await;
    let admin = app.staff_token("admin-orgs", Role::Admin).await;
    let verified = json(decide(&app, &admin, &id, "verify", None).await, 200).await;
    assert_eq!(verified["status"], "verified");
    assert_eq!(app.count_notifications("organisation.verified").await, 1);
    assert!(app.audit_actions().contains(&"organisation.verify".to_string()));
    let again = decide(&app, &admin, &id, "verify", None).await;
    assert_eq!(problem(again, 409).await["code"], "organisation_not_pending");

    json(
        app.send(Method::POST, &employees, &head.token, None, Some(login))
            .await,
        200,
    )
    .await;
    json(
        app.send(
            Method::POST,
            "/api/v1/delegations",
            &head.token,
            None,
            Some(delegation),
        )
        .await,
        201,
    )
    .await;
    let created = json(
        on_behalf(&app, &head, &org, Method::POST, apps, None, Some(new_application)).await,
        201,
    )
    .await;
    assert_eq!(created["owner_id"], json!(id));
}
db_test!(a_new_organisation_is_pending_and_acts_only_once_verified);

/// Someone claims the bank first; the bank's real head registers all the same, an officer
/// verifies the real one, and the earlier claim is rejected with its holder told. Once the
/// OGRN is verified, nobody registers it again.
async fn a_pending_claim_never_blocks_the_real_organisation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let impostor = person(&app).await;
    let real = person(&app).await;
    let fake = claim(&app, &impostor).await;
    let genuine = claim(&app, &real).await;
    assert_ne!(fake, genuine);

    let officer = app.officer_token("officer-orgs", "mvd").await;
    let verified = json(decide(&app, &officer, &genuine, "verify", None).await, 200).await;
    assert_eq!(verified["status"], "verified");
    let rejected = read(&app, &impostor, &fake).await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert!(!s(&rejected["rejection_reason"]).is_empty(), "{rejected}");
    assert_eq!(app.count_notifications("organisation.rejected").await, 1);
    let late = decide(&app, &officer, &fake, "verify", None).await;
    assert_eq!(problem(late, 409).await["code"], "organisation_not_pending");

    let third = person(&app).await;
    let taken = register(&app, &third).await;
    assert_eq!(problem(taken, 409).await["code"], "organisation_exists");
}
db_test!(a_pending_claim_never_blocks_the_real_organisation);

/// A registration an officer refuses says why, tells its head, is audited, and leaves an
/// organisation that never acts.
async fn an_officer_rejects_a_registration_with_a_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let head = person(&app).await;
    let id = claim(&app, &head).await;
    let officer = app.officer_token("officer-orgs", "mvd").await;
    let bare = decide(&app, &officer, &id, "reject", Some(json!({"reason": "  "}))).await;
    assert_eq!(problem(bare, 422).await["errors"][0]["field"], "reason");
    let reason = "Руководитель не совпадает с ЕГРЮЛ";
    let rejected = json(
        decide(&app, &officer, &id, "reject", Some(json!({ "reason": reason }))).await,
        200,
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection_reason"], reason);
    assert_eq!(app.count_notifications("organisation.rejected").await, 1);
    assert!(app.audit_actions().contains(&"organisation.reject".to_string()));
    let org = Person {
        id: id.clone(),
        token: String::new(),
    };
    let refused = on_behalf(
        &app,
        &head,
        &org,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(json!({"service_code": "test-passport"})),
    )
    .await;
    assert_eq!(problem(refused, 403).await["code"], "organisation_not_verified");
    let late = decide(&app, &officer, &id, "verify", None).await;
    assert_eq!(problem(late, 409).await["code"], "organisation_not_pending");
}
db_test!(an_officer_rejects_a_registration_with_a_reason);
