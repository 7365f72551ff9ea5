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
