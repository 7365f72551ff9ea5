//! Online guessing is bounded everywhere (issue 14, A): the login lockout is exact under
//! concurrency and across nodes, an unknown login locks like a known one, every second
//! factor check counts toward one lock whichever endpoint asks, one-time codes are spent
//! once, the MFA token is single-use, the allow-list comes before the password, and a
//! refresh from two tabs is not theft.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::s;
use crate::joint::{current, family_draft, family_service, member, signing_code, Member};
use crate::support::{body_json, citizen, problem, Backend, TestApp, PASSWORD};

/// Status and problem code of each answer, sorted, for comparing bursts.
async fn outcomes(responses: Vec<reqwest::Response>) -> Vec<(u16, String)> {
    let mut seen = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let body = body_json(response).await;
        seen.push((status, s(&body["code"])));
    }
    seen.sort();
    seen
}

fn count(seen: &[(u16, String)], status: u16, code: &str) -> usize {
    seen.iter().filter(|(s, c)| *s == status && c == code).count()
}

/// A TOTP code for `secret` at the app's clock, `steps` time steps from now.
fn totp_code(app: &TestApp, secret: &str, steps: i64) -> String {
    let at = app.state.clock.now().timestamp() + steps * 30;
    api::auth::totp::code_at(secret, u64::try_from(at).unwrap_or(0)).unwrap_or_default()
}

/// A code that is not `secret`'s around now (the window is a step either side).
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let near: Vec<String> = (-2..=2).map(|step| totp_code(app, secret, step)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap_or_default()
}

/// Turns TOTP on for the holder of `token`; answers the secret.
async fn enable_totp(app: &TestApp, token: &str) -> String {
    let started = app
        .send(Method::POST, "/api/v1/me/mfa/totp", token, None, None)
        .await;
    let secret = s(&crate::support::json(started, 201).await["secret"]);
    let code = totp_code(app, &secret, 0);
    let confirmed = app
        .send(
            Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            token,
            None,
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    secret
}

async fn parallel_wrong_passwords_lock_exactly_on_two_nodes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = citizen(false);
    app.register(&body).await;
    let email = s(&body["email"]);
    let other = app.second_node().await;
    let attempts = (0..20).map(|i| {
        let node = if i % 2 == 0 { &app } else { &other };
        node.login(&email, "Wrong-Password-1")
    });
    let seen = outcomes(join_all(attempts).await).await;
    // The limit is three: two failures answer 401, the third locks, the rest find it locked.
    assert_eq!(count(&seen, 401, "invalid_credentials"), 2, "{seen:?}");
    assert_eq!(count(&seen, 429, "account_locked"), 18, "{seen:?}");
    // No late failure cleared the lock: the right password is refused on both nodes.
    for node in [&app, &other] {
        assert_eq!(
            problem(node.login(&email, PASSWORD).await, 429).await["code"],
            "account_locked"
        );
    }
    assert_eq!(app.count_notifications("security.lockout").await, 1);
    app.state.clock.advance(chrono::Duration::minutes(16));
    other.state.clock.advance(chrono::Duration::minutes(16));
    app.login_ok(&email, PASSWORD).await;
}
db_test!(parallel_wrong_passwords_lock_exactly_on_two_nodes);

async fn an_unknown_login_locks_like_a_known_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = citizen(false);
    app.register(&body).await;
    let mut answers = Vec::new();
    for login in [s(&body["email"]), "nobody-here@example.ru".to_string()] {
        let mut sequence = Vec::new();
        for _ in 0..4 {
            let response = app.login(&login, "Wrong-Password-1").await;
            let retry = response.headers().contains_key("retry-after");
            let status = response.status().as_u16();
            sequence.push((status, s(&body_json(response).await["code"]), retry));
        }
        answers.push(sequence);
    }
    let expected: Vec<(u16, String, bool)> = vec![
        (401, "invalid_credentials".into(), false),
        (401, "invalid_credentials".into(), false),
        (429, "account_locked".into(), true),
        (429, "account_locked".into(), true),
    ];
    assert_eq!(answers[0], expected);
    assert_eq!(answers[1], expected, "an unknown login answers differently");
}
db_test!(an_unknown_login_locks_like_a_known_one);

async fn the_allow_list_is_checked_before_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (body, token) = app.citizen_token(false).await;
    let me = crate::support::json(app.get_as("/api/v1/me", &token).await, 200).await;
    let version = me["version"].as_i64();
    let limited = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            &token,
            version,
            Some(json!({"ip_allow_list": ["127.0.0.1"]})),
        )
        .await;
    assert_eq!(limited.status(), 200);
    let elsewhere = TestApp::client_from("127.0.0.3");
    for password in [
        "Wrong-Password-1",
        PASSWORD,
        "Wrong-Password-2",
        "Wrong-Password-3",
    ] {
        let login = elsewhere
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login": body["email"], "password": password}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The same answer whether the password was right: it was not checked.
        assert_eq!(problem(login, 403).await["code"], "ip_not_allowed");
    }
    // Refusals from elsewhere are no failed guesses: the holder is not locked out.
    app.login_ok(&s(&body["email"]), PASSWORD).await;
}
db_test!(the_allow_list_is_checked_before_the_password);

async fn wrong_codes_lock_the_second_factor_whichever_endpoint_asks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (body, token) = app.citizen_token(false).await;
    let secret = enable_totp(&app, &token).await;
    let wrong = wrong_code(&app, &secret);
    let turn_off = |code: String| {
        app.send(
            Method::DELETE,
            "/api/v1/me/mfa/totp",
            &token,
            None,
            Some(json!({ "code": code })),
        )
    };
    // Ten wrong codes at once on turning TOTP off: exactly four are refused as wrong, the
    // fifth locks the factor, the rest find it locked.
    let seen = outcomes(join_all((0..10).map(|_| turn_off(wrong.clone()))).await).await;
    assert_eq!(count(&seen, 401, "invalid_code"), 4, "{seen:?}");
    assert_eq!(count(&seen, 429, "factor_locked"), 6, "{seen:?}");
    // Locked for every endpoint that asks for it, even with the right code.
    let right = turn_off(totp_code(&app, &secret, 0)).await;
    assert_eq!(problem(right, 429).await["code"], "factor_locked");
    let change = app
        .send(
            Method::POST,
            "/api/v1/me/contact-changes",
            &token,
            None,
            Some(json!({"kind": "email", "value": "new.address@example.ru", "totp_code": totp_code(&app, &secret, 0)})),
        )
        .await;
    assert_eq!(problem(change, 429).await["code"], "factor_locked");
    let challenge = body_json(app.login(&s(&body["email"]), PASSWORD).await).await;
    let second_step = app
        .post_json(
            "/api/v1/auth/login/mfa",
            &json!({"mfa_token": challenge["mfa_token"], "code": totp_code(&app, &secret, 0)}),
        )
        .await;
    assert_eq!(problem(second_step, 429).await["code"], "factor_locked");
    assert_eq!(app.count_notifications("security.lockout").await, 1);

    // When the lock runs out, the right code works.
    app.state.clock.advance(chrono::Duration::minutes(16));
    let challenge = body_json(app.login(&s(&body["email"]), PASSWORD).await).await;
    let second_step = app
        .post_json(
            "/api/v1/auth/login/mfa",
            &json!({"mfa_token": challenge["mfa_token"], "code": totp_code(&app, &secret, 0)}),
        )
        .await;
    assert_eq!(body_json(second_step).await["status"], "authenticated");
}
db_test!(wrong_codes_lock_the_second_factor_whichever_endpoint_asks);

async fn wrong_passwords_in_a_reauthentication_count_toward_the_login_lock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (body, token) = app.citizen_token(false).await;
    let change = |password: &str| {
        app.send(
            Method::POST,
            "/api/v1/me/contact-changes",
            &token,
            None,
            Some(json!({"kind": "email", "value": "new.address@example.ru", "password": password})),
        )
    };
    for _ in 0..2 {
        assert_eq!(
            problem(change("Wrong-Password-1").await, 403).await["code"],
            "reauthentication_failed"
        );
    }
    assert_eq!(
        problem(change("Wrong-Password-1").await, 429).await["code"],
        "account_locked"
    );
    assert_eq!(
        problem(change(PASSWORD).await, 429).await["code"],
        "account_locked"
    );
    assert_eq!(
        problem(app.login(&s(&body["email"]), PASSWORD).await, 429).await["code"],
        "account_locked"
    );
}
db_test!(wrong_passwords_in_a_reauthentication_count_toward_the_login_lock);

async fn an_mfa_token_completes_one_login_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (body, token) = app.citizen_token(false).await;
    let secret = enable_totp(&app, &token).await;
    let challenge = body_json(app.login(&s(&body["email"]), PASSWORD).await).await;
    let complete = |code: String| {
        app.post_json(
            "/api/v1/auth/login/mfa",
            &json!({"mfa_token": challenge["mfa_token"], "code": code}),
        )
    };
    let first = body_json(complete(totp_code(&app, &secret, 1)).await).await;
    assert_eq!(first["status"], "authenticated", "{first}");
    // A fresh, valid code with the same token: the token is spent.
    app.state.clock.advance(chrono::Duration::seconds(60));
    let again = complete(totp_code(&app, &secret, 0)).await;
    assert_eq!(problem(again, 401).await["code"], "invalid_mfa_token");
}
db_test!(an_mfa_token_completes_one_login_only);

async fn a_signing_code_has_limited_tries_that_stay_counted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner: Member = member(&app, citizen(true)).await;
    let (_, path) = family_draft(&app, &owner).await;
    let code = signing_code(&app, &path, &owner).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (app, path, owner) = (&app, &path, &owner);
    let sign = |code: String| async move {
        let version = current(app, path, &owner.token).await;
        app.send(
            Method::POST,
            &format!("{path}/signatures"),
            &owner.token,
            Some(version),
            Some(json!({ "code": code })),
        )
        .await
    };
    for _ in 0..5 {
        assert_eq!(
            problem(sign(wrong.into()).await, 422).await["errors"][0]["code"],
            "invalid_code"
        );
    }
    // Five tries are used up: the right code no longer signs.
    assert_eq!(
        problem(sign(code).await, 422).await["errors"][0]["code"],
        "invalid_code"
    );
}
db_test!(a_signing_code_has_limited_tries_that_stay_counted);

/// The code is checked in the signing's own transaction: a right code sent with a stale
/// `If-Match` signs nothing, so it is not spent, and the retry with the current version
/// signs with it; then it is spent.
async fn a_right_code_is_spent_only_by_the_signature_it_proves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner: Member = member(&app, citizen(true)).await;
    let (_, path) = family_draft(&app, &owner).await;
    let code = signing_code(&app, &path, &owner).await;
    let version = current(&app, &path, &owner.token).await;
    let signatures = format!("{path}/signatures");
    let sign = |version: i64| {
        app.send(
            Method::POST,
            &signatures,
            &owner.token,
            Some(version),
            Some(json!({ "code": code })),
        )
    };
    let stale = sign(version + 1).await;
    assert_eq!(stale.status(), 412, "{:?}", body_json(stale).await);
    let signed = sign(version).await;
    assert_eq!(signed.status(), 201, "{:?}", body_json(signed).await);
    assert_eq!(
        problem(sign(version).await, 422).await["errors"][0]["code"],
        "invalid_code"
    );
}
db_test!(a_right_code_is_spent_only_by_the_signature_it_proves);

/// A code is sent for one application: presented to sign another it fails without being
/// counted or spent there, and still signs the application it was sent for.
async fn a_code_for_one_application_is_not_spent_on_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner: Member = member(&app, citizen(true)).await;
    let (_, first) = family_draft(&app, &owner).await;
    let (_, second) = family_draft(&app, &owner).await;
    let code = signing_code(&app, &second, &owner).await;
    let sign = |path: String| {
        let code = code.clone();
        let app = &app;
        let token = owner.token.clone();
        async move {
            let version = current(app, &path, &token).await;
            let body = Some(json!({ "code": code }));
            app.send(
                Method::POST,
                &format!("{path}/signatures"),
                &token,
                Some(version),
                body,
            )
            .await
        }
    };
    for _ in 0..6 {
        assert_eq!(
            problem(sign(first.clone()).await, 422).await["errors"][0]["code"],
            "invalid_code"
        );
    }
    let signed = sign(second.clone()).await;
    assert_eq!(signed.status(), 201, "{:?}", body_json(signed).await);
}
db_test!(a_code_for_one_application_is_not_spent_on_another);

async fn a_reset_code_is_spent_once_under_concurrency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = citizen(false);
    app.register(&body).await;
    let email = s(&body["email"]);
    app.post_json("/api/v1/auth/password-reset", &json!({ "login": email }))
        .await;
    let code = app.wait_for_code(&email).await;
    let confirm = |password: String| {
        app.post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "login": email, "code": code, "new_password": password }),
        )
    };
    let passwords: Vec<String> = (0..12).map(|i| format!("Glacier-Sonnet-{i:02}x")).collect();
    let answers = join_all(passwords.iter().cloned().map(confirm)).await;
    let changed: Vec<&String> = passwords
        .iter()
        .zip(answers.iter())
        .filter(|(_, a)| a.status() == 200)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(changed.len(), 1, "one code set several passwords");
    app.login_ok(&email, changed[0]).await;
}
db_test!(a_reset_code_is_spent_once_under_concurrency);

async fn two_tabs_refreshing_at_once_get_the_same_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = citizen(false);
    app.register(&body).await;
    let first = app.login_ok(&s(&body["email"]), PASSWORD).await;
    let refresh = |token: Value| app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": token }));
    let (a, b) = futures_util::join!(
        refresh(first["refresh_token"].clone()),
        refresh(first["refresh_token"].clone())
    );
    let (a, b) = (
        crate::support::json(a, 200).await,
        crate::support::json(b, 200).await,
    );
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(a["access_token"], b["access_token"]);
    assert_ne!(a["refresh_token"], first["refresh_token"]);
    // A little later, still within the grace period: the same pair again.
    app.state.clock.advance(chrono::Duration::seconds(3));
    let late = crate::support::json(refresh(first["refresh_token"].clone()).await, 200).await;
    assert_eq!(late["refresh_token"], a["refresh_token"]);
    assert_eq!(
        app.get_as("/api/v1/me", &s(&a["access_token"])).await.status(),
        200
    );
    // After it, the old token is reuse, and the session ends.
    app.state.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(
        problem(refresh(first["refresh_token"].clone()).await, 401).await["code"],
        "refresh_token_reused"
    );
    assert_eq!(
        problem(app.get_as("/api/v1/me", &s(&a["access_token"])).await, 401).await["code"],
        "session_revoked"
    );
}
db_test!(two_tabs_refreshing_at_once_get_the_same_pair);

async fn a_delegation_code_takes_no_more_tries_than_allowed_under_concurrency(backend: Backend) {
    use crate::delegations::{accept, delegate, person, specific};
    let app = TestApp::spawn(backend).await;
    let (principal, representative) = (person(&app).await, person(&app).await);
    let offered = crate::support::json(
        delegate(&app, &principal, &representative, specific(10)).await,
        201,
    )
    .await;
    let code = s(&offered["verification_code"]);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let tries = (0..12).map(|_| accept(&app, &representative, &offered, wrong));
    let seen = outcomes(join_all(tries).await).await;
    // Five tries (the limit): each a wrong code; every other one finds them used up.
    let wrong_codes = seen.iter().filter(|(status, _)| *status == 422).count();
    assert_eq!(wrong_codes, 5, "{seen:?}");
    assert_eq!(count(&seen, 409, "code_attempts_exceeded"), 7, "{seen:?}");
    let late = accept(&app, &representative, &offered, &code).await;
    assert_eq!(problem(late, 409).await["code"], "code_attempts_exceeded");
}
db_test!(a_delegation_code_takes_no_more_tries_than_allowed_under_concurrency);
