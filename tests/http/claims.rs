//! Contacts are proven before they count (issue 14, C.9): an e-mail or phone typed into a
//! registration is a login — and matches invitations — only once the code sent to it comes
//! back, and a SNILS typed into an unconfirmed account never blocks its real owner.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::s;
use crate::joint::{family_draft, family_service, member};
use crate::support::{body_json, citizen, json, problem, Backend, TestApp, PASSWORD};

async fn profile(app: &TestApp, token: &str) -> Value {
    json(app.get_as("/api/v1/me", token).await, 200).await
}

async fn token_of(app: &TestApp, login: &str) -> String {
    s(&app.login_ok(login, PASSWORD).await["access_token"])
}

async fn an_unproven_email_is_no_login_and_meets_no_invitation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner = member(&app, citizen(true)).await;
    let (_, path) = family_draft(&app, &owner).await;
    let spouse = citizen(true);
    let spouse_email = s(&spouse["email"]);
    let invited = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(json!({"email": spouse_email, "role": "co_applicant"})),
        )
        .await;
    assert_eq!(invited.status(), 201);

    // Someone registers the spouse's address without being able to read its mail.
    let mut squatter = citizen(false);
    squatter["email"] = json!(spouse_email);
    let claimed = app.register_unproven(&squatter).await;
    assert_eq!(claimed["email_verified"], false);
    // Its code went to the spouse's mailbox, where it stays unused.
    app.wait_for_code(&spouse_email).await;
    let wrong = app.login(&spouse_email, PASSWORD).await;
    assert_eq!(problem(wrong, 401).await["code"], "invalid_credentials");
    app.prove_contact(&claimed, "phone").await;
    let squatter_token = token_of(&app, &s(&squatter["phone"])).await;
    let seen = json(app.get_as("/api/v1/invitations", &squatter_token).await, 200).await;
    assert_eq!(seen["items"].as_array().map(Vec::len), Some(0), "{seen}");
    let me = profile(&app, &squatter_token).await;
    assert_eq!(
        (me["email_verified"].clone(), me["phone_verified"].clone()),
        (json!(false), json!(true))
    );

    // The real owner is not blocked: they register, prove the address, and get the invitation.
    let registered = app.register(&spouse).await;
    let spouse_token = token_of(&app, &spouse_email).await;
    let invitations = json(app.get_as("/api/v1/invitations", &spouse_token).await, 200).await;
    assert_eq!(
        invitations["items"].as_array().map(Vec::len),
        Some(1),
        "{invitations}"
    );
    assert_eq!(profile(&app, &spouse_token).await["id"], registered["id"]);
    // The squatter's claim is gone, and they were told.
    assert_eq!(profile(&app, &squatter_token).await["email"], Value::Null);
    assert_eq!(app.count_notifications("account.claim_released").await, 1);
}
db_test!(an_unproven_email_is_no_login_and_meets_no_invitation);

async fn a_contact_proof_takes_a_limited_number_of_tries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = citizen(false);
    let claimed = app.register_unproven(&body).await;
    let email = s(&body["email"]);
    let code = app.wait_for_code(&email).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let prove = |code: &str| {
        app.post_json(
            &format!("/api/v1/accounts/{}/contact-proofs", s(&claimed["id"])),
            &json!({"kind": "email", "code": code}),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            problem(prove(wrong).await, 422).await["errors"][0]["code"],
            "invalid_code"
        );
    }
    assert_eq!(
        problem(prove(&code).await, 422).await["errors"][0]["code"],
        "invalid_code"
    );
    // A new code (the answer is the same for any id) proves it.
    let resend = |id: String| {
        app.post_json(
            &format!("/api/v1/accounts/{id}/contact-proofs/code"),
            &json!({"kind": "email"}),
        )
    };
    let unknown = body_json(resend(uuid::Uuid::now_v7().to_string()).await).await;
    let known = resend(s(&claimed["id"])).await;
    assert_eq!(known.status(), 202);
    assert_eq!(body_json(known).await, unknown);
    app.prove_contact(&claimed, "email").await;
    app.login_ok(&email, PASSWORD).await;
}
db_test!(a_contact_proof_takes_a_limited_number_of_tries);

async fn a_claimed_snils_never_blocks_its_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = citizen(true);
    let mut squatter = citizen(true);
    squatter["snils"] = owner["snils"].clone();
    let squatted = app.register(&squatter).await;
    let squatter_token = token_of(&app, &s(&squatter["email"])).await;
    // Typed first by someone else, the SNILS still lets its owner register …
    let registered = app.register(&owner).await;
    assert_eq!(
        problem(app.login(&s(&owner["snils"]), PASSWORD).await, 401).await["code"],
        "invalid_credentials"
    );
    // … and an officer who sees the owner confirms it: the squatter's claim is released.
    let officer = app.officer_token("officer.mvd", "mvd").await;
    let confirmed = app
        .send(
            Method::POST,
            &format!("/api/v1/accounts/{}/confirm-identity", s(&registered["id"])),
            &officer,
            None,
            None,
        )
        .await;
    assert_eq!(json(confirmed, 200).await["level"], "confirmed");
    app.login_ok(&s(&owner["snils"]), PASSWORD).await;
    let left = profile(&app, &squatter_token).await;
    assert_eq!(left["id"], squatted["id"]);
    assert_eq!(
        (left["snils"].clone(), left["level"].clone()),
        (Value::Null, json!("simplified"))
    );
    assert_eq!(app.count_notifications("account.claim_released").await, 1);
    // Now it is taken: a new registration with it is a conflict.
    let mut third = citizen(false);
    third["snils"] = owner["snils"].clone();
    let refused = app.post_json("/api/v1/accounts", &third).await;
    assert_eq!(problem(refused, 409).await["code"], "registration_conflict");
}
db_test!(a_claimed_snils_never_blocks_its_owner);
