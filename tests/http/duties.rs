//! Rules that hold when people try to bend them (issue 15, items 2, 3, 6 and 7): nobody
//! gets around a delegation by joining the matter, nobody decides their own case, an
//! ended delegation stays ended, and a replayed answer is no way past authorization.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::delegations::{delegate_and_accept, fetch, lifecycle, person, s, term, term_of, Person};
use crate::support::{json, problem, Backend, TestApp};

/// 15.6: a term change reaches only a delegation that is in force. One proposed while it
/// was active cannot be confirmed after it expired (even before the job marks it), and a
/// new proposal is refused: a new term is a new delegation.
async fn an_expired_delegation_takes_no_new_term(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let principal = person(&app).await;
    let representative = person(&app).await;
    let (from, until) = term_of(chrono::TimeDelta::minutes(5));
    let body = json!({"kind": "limited", "valid_from": from, "valid_until": until});
    let d = delegate_and_accept(&app, &principal, &representative, body).await;
    let path = format!("/api/v1/delegations/{}/term-changes", s(&d["id"]));
    let later = |days| (app.state.clock.now() + chrono::TimeDelta::days(days)).to_rfc3339();
    let proposal = json!({"valid_from": d["valid_from"], "valid_until": later(10)});
    let change = json(
        app.send(Method::POST, &path, &principal.token, None, Some(proposal))
            .await,
        201,
    )
    .await;
    app.state.clock.advance(chrono::TimeDelta::minutes(6));
    let confirm = format!("{path}/{}/confirm", s(&change["id"]));
    let late = app
        .send(Method::POST, &confirm, &representative.token, None, None)
        .await;
    assert_eq!(problem(late, 409).await["code"], "delegation_not_active");
    let fresh = json!({"valid_from": later(0), "valid_until": later(10)});
    let again = app
        .send(Method::POST, &path, &principal.token, None, Some(fresh))
        .await;
    assert_eq!(problem(again, 409).await["code"], "delegation_not_active");
    let after = fetch(&app, &principal, &d).await;
    assert_eq!(after["status"], "expired");
    assert_eq!(after["valid_until"], d["valid_until"]);
}
db_test!(an_expired_delegation_takes_no_new_term);

/// A request as `who` for `principal` carrying `key` as its `Idempotency-Key`.
async fn keyed_on_behalf(
    app: &TestApp,
    who: &Person,
    principal: &Person,
    path: &str,
    key: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&who.token)
        .header("X-On-Behalf-Of", &principal.id)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 15.7: after the principal revokes the delegation, repeating a create on behalf with the
/// old `Idempotency-Key` gets the refusal a fresh request gets, not the principal's
/// application (nor a comment on it).
async fn a_replay_after_revocation_is_refused_like_a_fresh_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let (valid_from, valid_until) = term(10);
    let body = json!({"kind": "full", "valid_from": valid_from, "valid_until": valid_until});
    let d = delegate_and_accept(&app, &principal, &representative, body).await;
    let form = json!({
        "service_code": "test-passport", "form_data": {"reason": "name_change", "full_name": "Иванова Мария"}
    });
    let first = keyed_on_behalf(
        &app,
        &representative,
        &principal,
        "/api/v1/applications",
        "k-1",
        form.clone(),
    )
    .await;
    let created = json(first, 201).await;
    let comments = format!("/api/v1/applications/{}/comments", s(&created["id"]));
    let note = json!({"body": "Прошу принять"});
    json(
        keyed_on_behalf(&app, &representative, &principal, &comments, "k-2", note.clone()).await,
        201,
    )
    .await;
    // While the delegation holds, a repeat is the first answer.
    let again = keyed_on_behalf(
        &app,
        &representative,
        &principal,
        "/api/v1/applications",
        "k-1",
        form.clone(),
    )
    .await;
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .map(|v| v.as_bytes().to_vec()),
        Some(b"true".to_vec())
    );
    json(lifecycle(&app, &principal, &d, "revoke").await, 200).await;
    let fresh = keyed_on_behalf(
        &app,
        &representative,
        &principal,
        "/api/v1/applications",
        "k-new",
        form.clone(),
    )
    .await;
    assert_eq!(problem(fresh, 403).await["code"], "delegation_revoked");
    let replay = keyed_on_behalf(
        &app,
        &representative,
        &principal,
        "/api/v1/applications",
        "k-1",
        form,
    )
    .await;
    assert_eq!(problem(replay, 403).await["code"], "delegation_revoked");
    let replay = keyed_on_behalf(&app, &representative, &principal, &comments, "k-2", note).await;
    assert_eq!(problem(replay, 403).await["code"], "delegation_revoked");
}
db_test!(a_replay_after_revocation_is_refused_like_a_fresh_request);

/// 15.2: a representative with `participants.manage` cannot make themselves a party to the
/// principal's application by inviting their own contact; whom they invite on behalf is
/// marked as invited on behalf of the principal (invitation and participant), and the
/// principal hears of it.
async fn a_representative_cannot_join_the_principals_matter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::joint::family_service(&app, false);
    let principal = person(&app).await;
    let representative = person(&app).await;
    let (valid_from, valid_until) = term(10);
    let body = json!({"kind": "full", "valid_from": valid_from, "valid_until": valid_until});
    delegate_and_accept(&app, &principal, &representative, body).await;
    let draft = json!({"service_code": "test-family", "form_data": {"members": 2}});
    let created = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &principal.token,
            None,
            Some(draft),
        )
        .await,
        201,
    )
    .await;
    let participants = format!("/api/v1/applications/{}/participants", s(&created["id"]));
    let own = json(app.get_as("/api/v1/me", &representative.token).await, 200).await;
    for contact in [json!({"email": own["email"]}), json!({"phone": own["phone"]})] {
        let mut invite = contact;
        invite["role"] = json!("co_applicant");
        let refused = keyed_on_behalf(&app, &representative, &principal, &participants, "x", invite).await;
        assert_eq!(problem(refused, 403).await["code"], "self_invitation");
    }
    let (guest_body, guest_id, guest_token) = app.confirmed_citizen().await;
    let invite = json!({"email": guest_body["email"], "role": "contributor"});
    let invitation = json(
        keyed_on_behalf(&app, &representative, &principal, &participants, "y", invite).await,
        201,
    )
    .await;
    assert_eq!(invitation["invited_on_behalf_of"], json!(principal.id));
    assert_eq!(invitation["invited_by"], json!(representative.id));
    assert_eq!(app.count_notifications("application.invited_on_behalf").await, 1);
    let accept = format!("/api/v1/invitations/{}/accept", s(&invitation["id"]));
    json(
        app.send(Method::POST, &accept, &guest_token, None, None).await,
        200,
    )
    .await;
    let listed = json(app.get_as(&participants, &principal.token).await, 200).await;
    let guest = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["account_id"] == json!(guest_id))
        .cloned()
        .unwrap_or_default();
    assert_eq!(guest["invited_on_behalf_of"], json!(principal.id));
    // The owner's own invitation is no one's on behalf.
    let (other_body, _, _) = app.confirmed_citizen().await;
    let direct = json!({"email": other_body["email"], "role": "viewer"});
    let plain = json(
        app.send(Method::POST, &participants, &principal.token, None, Some(direct))
            .await,
        201,
    )
    .await;
    assert_eq!(plain["invited_on_behalf_of"], json!(null));
}
db_test!(a_representative_cannot_join_the_principals_matter);

/// A staff account of `agency` with `roles`, created as the CLI does (staff are created
/// `confirmed`), logged in: its id and token.
async fn staff(app: &TestApp, login: &str, roles: Vec<domain::access::Role>, agency: &str) -> Person {
    let password = "Staff-Passw0rd!";
    let id = domain::ids::AccountId::new();
    let account = persistence::accounts::NewStaff {
        id,
        login_key: domain::login::name_key(login),
        display_name: login.into(),
        roles,
        agency_code: Some(agency.into()),
        password_hash: api::auth::passwords::hash(password).unwrap_or_else(|e| panic!("{e}")),
        email: None,
    };
    app.state
        .db
        .write(|tx| persistence::accounts::create_staff(tx, &account, app.state.clock.now()))
        .unwrap_or_else(|e| panic!("{e}"));
    let tokens = app.login_ok(login, password).await;
    Person {
        id: id.to_string(),
        token: s(&tokens["access_token"]),
    }
}

/// Turns on TOTP for `who` (delegations need a second factor on both sides).
async fn second_factor(app: &TestApp, who: &Person) {
    let enrolment = json(
        app.send(Method::POST, "/api/v1/me/mfa/totp", &who.token, None, None)
            .await,
        201,
    )
    .await;
    let now = u64::try_from(app.state.clock.now().timestamp()).unwrap_or(0);
    let code = api::auth::totp::code_at(&s(&enrolment["secret"]), now).unwrap_or_default();
    let confirm = json!({ "code": code });
    json(
        app.send(
            Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            &who.token,
            None,
            Some(confirm),
        )
        .await,
        200,
    )
    .await;
}

fn passport_form() -> serde_json::Value {
    json!({"service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}})
}

/// `who`'s new `test-passport` application, submitted.
async fn submitted_by(app: &TestApp, who: &Person) -> serde_json::Value {
    let draft = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &who.token,
            None,
            Some(passport_form()),
        )
        .await,
        201,
    )
    .await;
    officer_step(app, who, &draft, "submit", None, 200).await
}

/// POSTs `step` on application `v` at its version as `who`; the body on `status`.
async fn officer_step(
    app: &TestApp,
    who: &Person,
    v: &serde_json::Value,
    step: &str,
    body: Option<serde_json::Value>,
    status: u16,
) -> serde_json::Value {
    let path = format!("/api/v1/applications/{}/{step}", s(&v["id"]));
    let version = v["version"].as_i64();
    let response = app.send(Method::POST, &path, &who.token, version, body).await;
    if status < 300 {
        json(response, status).await
    } else {
        problem(response, status).await
    }
}

/// 15.3: staff are no applicants without a confirmed citizen identity of their own; an
/// officer who has one may apply as a citizen, but does not take (or decide) an
/// application they own or hold the owner's powers for.
async fn nobody_decides_their_own_case(backend: Backend) {
    use domain::access::Role;
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let admin = Person {
        id: String::new(),
        token: app.staff_token("admin-1", Role::Admin).await,
    };
    let officer = staff(&app, "officer-plain", vec![Role::Officer], "mvd").await;
    for who in [&admin, &officer] {
        let own = app
            .send(
                Method::POST,
                "/api/v1/applications",
                &who.token,
                None,
                Some(passport_form()),
            )
            .await;
        assert_eq!(problem(own, 403).await["code"], "role_required");
    }
    let citizen_officer = staff(&app, "officer-citizen", vec![Role::Officer, Role::Citizen], "mvd").await;
    let own = submitted_by(&app, &citizen_officer).await;
    let refused = officer_step(&app, &citizen_officer, &own, "take", None, 403).await;
    assert_eq!(refused["code"], "conflict_of_interest");
    // Holding the owner's powers is as good as owning it.
    let principal = person(&app).await;
    second_factor(&app, &citizen_officer).await;
    let (valid_from, valid_until) = term(10);
    let body = json!({"kind": "limited", "valid_from": valid_from, "valid_until": valid_until});
    delegate_and_accept(&app, &principal, &citizen_officer, body).await;
    let theirs = submitted_by(&app, &principal).await;
    let refused = officer_step(&app, &citizen_officer, &theirs, "take", None, 403).await;
    assert_eq!(refused["code"], "conflict_of_interest");
    // Anyone else of the agency takes them.
    officer_step(&app, &officer, &theirs, "take", None, 200).await;
    officer_step(&app, &officer, &own, "take", None, 200).await;
}
db_test!(nobody_decides_their_own_case);

/// 15.3: taking assigns; only the assignee, or a supervisor of the agency, decides.
async fn only_the_assignee_or_a_supervisor_decides(backend: Backend) {
    use domain::access::Role;
    let app = TestApp::spawn(backend).await;
    app.seed_catalog(true, false, 30);
    let assignee = staff(&app, "officer-a", vec![Role::Officer], "mvd").await;
    let colleague = staff(&app, "officer-b", vec![Role::Officer], "mvd").await;
    let supervisor = staff(
        &app,
        "supervisor-mvd",
        vec![Role::Officer, Role::Supervisor],
        "mvd",
    )
    .await;
    let applicant = person(&app).await;
    let first = submitted_by(&app, &applicant).await;
    let taken = officer_step(&app, &assignee, &first, "take", None, 200).await;
    let reason = || Some(json!({"reason": "Неполный пакет"}));
    let due = (app.state.clock.now() + chrono::TimeDelta::days(7)).to_rfc3339();
    let question = json!({"question": "Приложите фото", "due_at": due});
    for (step, body) in [
        ("reject", reason()),
        ("approve", Some(json!({"comment": "Всё верно"}))),
        ("request-info", Some(question)),
        ("forward", Some(json!({"agency_code": "fns"}))),
    ] {
        let refused = officer_step(&app, &colleague, &taken, step, body, 403).await;
        assert_eq!(refused["code"], "not_assignee", "{step}");
    }
    let rejected = officer_step(&app, &supervisor, &taken, "reject", reason(), 200).await;
    assert_eq!(rejected["status"], "rejected");
    let second = submitted_by(&app, &applicant).await;
    let taken = officer_step(&app, &assignee, &second, "take", None, 200).await;
    let approve = Some(json!({"comment": "Всё верно"}));
    let approved = officer_step(&app, &assignee, &taken, "approve", approve, 200).await;
    let result = Some(json!({"result": "Паспорт готов к выдаче"}));
    let refused = officer_step(&app, &colleague, &approved, "complete", result.clone(), 403).await;
    assert_eq!(refused["code"], "not_assignee");
    officer_step(&app, &assignee, &approved, "complete", result, 200).await;
}
db_test!(only_the_assignee_or_a_supervisor_decides);
