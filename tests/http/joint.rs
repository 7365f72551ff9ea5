//! Joint work over HTTP, on both backends: a family application with a co-applicant, a
//! contributor and a viewer — invitations (also to someone who registers later), rights
//! per role, concurrent edits, signatures that go stale with an edit, submission, the
//! comment thread, requests between participants, and removal.

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::s;
use crate::support::{citizen, json, problem, service, Backend, Sse, SseEvent, TestApp};

fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or_default()
}

/// `test-family`, handled by `mvd`, which accepts co-applicants (and, if so asked, lets
/// applicants edit after submission).
fn family_service(app: &TestApp, editable_after_submit: bool) {
    app.seed_catalog(true, false, 30);
    let mut family = service("test-family", "mvd");
    family.form_schema = json!({"type": "object", "properties": {"members": {"type": "integer"}}});
    family.required_documents = vec!["income_certificate".into()];
    family.policy.co_applicants_allowed = true;
    family.policy.editable_after_submit = editable_after_submit;
    app.add_service(&family);
}

/// A `test-family` draft of `owner`'s: its id and path.
async fn family_draft(app: &TestApp, owner: &Member) -> (String, String) {
    let body = json!({"service_code": "test-family", "form_data": {"members": 2}});
    let draft = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &owner.token,
            None,
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let id = s(&draft["id"]);
    let path = format!("/api/v1/applications/{id}");
    (id, path)
}

struct Member {
    id: String,
    token: String,
    email: String,
    phone: String,
}

async fn member(app: &TestApp, body: Value) -> Member {
    let (body, id, token) = app.confirmed_citizen_from(body).await;
    Member {
        id,
        token,
        email: s(&body["email"]),
        phone: s(&body["phone"]),
    }
}

async fn current(app: &TestApp, path: &str, token: &str) -> i64 {
    version(&json(app.send(Method::GET, path, token, None, None).await, 200).await)
}

/// Signs the application's current version with a code sent to the signer.
async fn sign(app: &TestApp, path: &str, who: &Member) -> reqwest::Response {
    let before = app.codes_sent_to(&who.email).len();
    let sent = app
        .send(
            Method::POST,
            &format!("{path}/signatures/code"),
            &who.token,
            None,
            None,
        )
        .await;
    assert_eq!(sent.status().as_u16(), 202);
    let mut code = None;
    for _ in 0..100 {
        let codes = app.codes_sent_to(&who.email);
        if codes.len() > before {
            code = codes.last().cloned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code = code.unwrap_or_else(|| panic!("no signing code for {}", who.email));
    let v = current(app, path, &who.token).await;
    app.send(
        Method::POST,
        &format!("{path}/signatures"),
        &who.token,
        Some(v),
        Some(json!({"code": code})),
    )
    .await
}

/// Uploads `content` as an income certificate for application `id` (at `path`) as `who`,
/// and attaches it.
async fn attach_paper(
    app: &TestApp,
    path: &str,
    id: &str,
    who: &Member,
    content: &[u8],
) -> reqwest::Response {
    let upload = app
        .upload(
            &who.token,
            &format!("?application_id={id}"),
            content.to_vec(),
            "справка.pdf",
            &[("doc_type", "income_certificate")],
        )
        .await;
    let doc = json(upload, 201).await;
    let v = current(app, path, &who.token).await;
    app.send(
        Method::POST,
        &format!("{path}/attachments"),
        &who.token,
        Some(v),
        Some(json!({"document_id": doc["id"]})),
    )
    .await
}

/// Reads events until one of `kind` arrives (others pass by).
async fn until(stream: &mut Sse, kind: &str) -> SseEvent {
    for _ in 0..100 {
        let event = stream.expect_event().await;
        if event.event == kind {
            return event;
        }
    }
    panic!("no {kind} event");
}

async fn invite(app: &TestApp, path: &str, owner: &Member, body: Value) -> Value {
    json(
        app.send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(body),
        )
        .await,
        201,
    )
    .await
}

/// The invitation to `application` among `who`'s open invitations.
async fn invitation_for(app: &TestApp, who: &Member, application: &str) -> Value {
    let open = json(
        app.send(Method::GET, "/api/v1/invitations", &who.token, None, None)
            .await,
        200,
    )
    .await;
    open["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["application_id"] == application)
        .cloned()
        .unwrap_or_else(|| panic!("no invitation for {application}: {open}"))
}

async fn a_family_application_from_invitation_to_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner = member(&app, citizen(true)).await;
    let relative = member(&app, citizen(true)).await;
    let viewer_body = citizen(true);
    let viewer_snils = s(&viewer_body["snils"]);
    let viewer = member(&app, viewer_body).await;
    let (_, _, stranger) = app.confirmed_citizen().await;
    let (id, path) = family_draft(&app, &owner).await;

    // The spouse has no account yet: the invitation waits for whoever registers with the
    // address. The relative and the viewer are invited by phone and by SNILS.
    let spouse_body = citizen(true);
    let spouse_email = s(&spouse_body["email"]);
    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": spouse_email, "role": "co_applicant"}),
    )
    .await;
    assert_eq!(invited["status"], "pending");
    assert!(s(&invited["contact"]).contains("***"), "{invited}");
    invite(
        &app,
        &path,
        &owner,
        json!({"phone": relative.phone, "role": "contributor"}),
    )
    .await;
    invite(
        &app,
        &path,
        &owner,
        json!({"snils": viewer_snils, "role": "viewer"}),
    )
    .await;
    assert_eq!(app.count_notifications("application.invitation").await, 2);
    let twice = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(json!({"phone": relative.phone, "role": "viewer"})),
        )
        .await;
    assert_eq!(problem(twice, 409).await["code"], "already_invited");
    let by_other = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &stranger,
            None,
            Some(json!({"email": "x@example.ru", "role": "viewer"})),
        )
        .await;
    assert_eq!(problem(by_other, 404).await["code"], "not_found");

    // Invitations are answered by their addressee only.
    let spouse = member(&app, spouse_body).await;
    let for_spouse = invitation_for(&app, &spouse, &id).await;
    assert_eq!(for_spouse["role"], "co_applicant");
    let hijack = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", s(&for_spouse["id"])),
            &stranger,
            None,
            None,
        )
        .await;
    assert_eq!(problem(hijack, 404).await["code"], "not_found");
    for who in [&spouse, &relative, &viewer] {
        let invitation = invitation_for(&app, who, &id).await;
        let accepted = app
            .send(
                Method::POST,
                &format!("/api/v1/invitations/{}/accept", s(&invitation["id"])),
                &who.token,
                None,
                None,
            )
            .await;
        assert_eq!(json(accepted, 200).await["status"], "accepted");
    }
    let again = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", s(&for_spouse["id"])),
            &spouse.token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(again, 409).await["code"], "invitation_answered");
    let people = json(
        app.send(
            Method::GET,
            &format!("{path}/participants"),
            &viewer.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    let roles: Vec<String> = people["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| s(&p["role"]))
        .collect();
    assert_eq!(roles, ["owner", "co_applicant", "contributor", "viewer"]);
    let shared = json(
        app.send(
            Method::GET,
            "/api/v1/applications?as=participant",
            &spouse.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shared["items"][0]["id"], json!(id));
    let own = json(
        app.send(Method::GET, "/api/v1/applications", &spouse.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(own["items"], json!([]));

    // Everyone on the application hears of each step as it happens.
    let mut spouse_hears = app.events("/api/v1/me/events", &spouse.token, None).await;
    let mut relative_watches = app.events(&format!("{path}/events"), &relative.token, None).await;

    // The owner asks the spouse for a signature.
    let due = (api::clock::now() + chrono::TimeDelta::days(3)).to_rfc3339();
    let asked = json(
        app.send(
            Method::POST,
            &format!("{path}/requests"),
            &owner.token,
            None,
            Some(json!({"kind": "signature", "assignee_id": spouse.id, "due_at": due})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(asked["status"], "open");
    let not_signer = app
        .send(
            Method::POST,
            &format!("{path}/requests"),
            &owner.token,
            None,
            Some(json!({"kind": "signature", "assignee_id": relative.id, "due_at": due})),
        )
        .await;
    assert_eq!(problem(not_signer, 422).await["errors"][0]["code"], "not_signer");

    // The contributor attaches a document of their own.
    let attached = attach_paper(&app, &path, &id, &relative, b"%PDF-1.7\nsalary").await;
    let attached = json(attached, 201).await;
    let v = current(&app, &path, &viewer.token).await;
    let viewer_upload = app
        .send(
            Method::POST,
            &format!("{path}/attachments"),
            &viewer.token,
            Some(v),
            Some(json!({"document_id": attached["document_id"]})),
        )
        .await;
    assert_eq!(problem(viewer_upload, 403).await["code"], "participant_role");

    // The spouse and the owner edit from the same version at once: one wins, the other
    // gets 412 with the current version — nothing is overwritten silently.
    let v = current(&app, &path, &owner.token).await;
    let (by_spouse, by_owner) = futures_util::join!(
        app.send(
            Method::PATCH,
            &path,
            &spouse.token,
            Some(v),
            Some(json!({"form_data": {"members": 3}}))
        ),
        app.send(
            Method::PATCH,
            &path,
            &owner.token,
            Some(v),
            Some(json!({"form_data": {"members": 4}}))
        ),
    );
    let mut statuses = [by_spouse.status().as_u16(), by_owner.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let stale = app
        .send(
            Method::PATCH,
            &path,
            &owner.token,
            Some(v),
            Some(json!({"form_data": {"members": 5}})),
        )
        .await;
    let stale = problem(stale, 412).await;
    assert_eq!(stale["context"]["current_version"], v + 1);
    let viewer_edit = app
        .send(
            Method::PATCH,
            &path,
            &viewer.token,
            Some(v + 1),
            Some(json!({"form_data": {"members": 9}})),
        )
        .await;
    assert_eq!(problem(viewer_edit, 403).await["code"], "participant_role");

    // Submission waits for both signatures and names who is missing.
    let v = current(&app, &path, &owner.token).await;
    let early = problem(
        app.send(
            Method::POST,
            &format!("{path}/submit"),
            &owner.token,
            Some(v),
            None,
        )
        .await,
        409,
    )
    .await;
    assert_eq!(early["code"], "signatures_missing");
    let mut missing: Vec<String> = early["context"]["missing_signers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| s(&m["role"]))
        .collect();
    missing.sort();
    assert_eq!(missing, ["co_applicant", "owner"]);
    assert_eq!(sign(&app, &path, &spouse).await.status().as_u16(), 201);
    let attached_event = until(&mut spouse_hears, "application.attach").await;
    assert_eq!(attached_event.data["application_id"], json!(id));
    let signed_event = until(&mut spouse_hears, "application.sign").await;
    assert_eq!(signed_event.data["data"]["actor"], json!(spouse.id));
    let requests = json(
        app.send(Method::GET, &format!("{path}/requests"), &owner.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(requests["items"][0]["status"], "fulfilled");
    let contributor_sign = app
        .send(
            Method::POST,
            &format!("{path}/signatures/code"),
            &relative.token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(contributor_sign, 403).await["code"], "participant_role");

    // An edit after the spouse signed makes that signature stale.
    let v = current(&app, &path, &relative.token).await;
    let edited = app
        .send(
            Method::PATCH,
            &path,
            &relative.token,
            Some(v),
            Some(json!({"form_data": {"members": 3, "note": 1}})),
        )
        .await;
    assert_eq!(edited.status().as_u16(), 200);
    let signatures = json(
        app.send(
            Method::GET,
            &format!("{path}/signatures"),
            &owner.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(signatures["items"][0]["current"], false);
    assert_eq!(signatures["missing"].as_array().map(Vec::len), Some(2));
    assert_eq!(sign(&app, &path, &spouse).await.status().as_u16(), 201);
    assert_eq!(sign(&app, &path, &owner).await.status().as_u16(), 201);
    let v = current(&app, &path, &owner.token).await;
    let submitted = json(
        app.send(
            Method::POST,
            &format!("{path}/submit"),
            &owner.token,
            Some(v),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    // Participants hear of the new status as the owner does.
    assert!(app.count_notifications("application.submit").await >= 4);

    // The thread: the viewer comments; nobody edits another's comment; the author's edit
    // keeps the earlier text.
    let note = json(
        app.send(
            Method::POST,
            &format!("{path}/comments"),
            &owner.token,
            None,
            Some(json!({"body": format!("Проверьте, @{}", viewer.id)})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(app.count_notifications("application.mention").await, 1);
    let seen = json(
        app.send(
            Method::POST,
            &format!("{path}/comments"),
            &viewer.token,
            None,
            Some(json!({"body": "Вижу"})),
        )
        .await,
        201,
    )
    .await;
    let comment_path = format!("{path}/comments/{}", s(&note["id"]));
    let meddling = app
        .send(
            Method::PATCH,
            &comment_path,
            &viewer.token,
            Some(1),
            Some(json!({"body": "Чужой текст"})),
        )
        .await;
    assert_eq!(problem(meddling, 403).await["code"], "not_author");
    let fixed = json(
        app.send(
            Method::PATCH,
            &comment_path,
            &owner.token,
            Some(1),
            Some(json!({"body": "Проверено"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(fixed["history"][0]["body"], format!("Проверьте, @{}", viewer.id));
    let thread = json(
        app.send(
            Method::GET,
            &format!("{path}/comments"),
            &spouse.token,
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(thread["items"][0]["body"], "Проверено");
    assert_eq!(thread["items"][1]["id"], seen["id"]);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let from_agency = app
        .send(
            Method::POST,
            &format!("{path}/comments"),
            &officer,
            None,
            Some(json!({"body": "Принято"})),
        )
        .await;
    assert_eq!(from_agency.status().as_u16(), 201);

    // A removed participant loses access with the very next request.
    let v = current(&app, &path, &owner.token).await;
    let removed = app
        .send(
            Method::DELETE,
            &format!("{path}/participants/{}", relative.id),
            &owner.token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(removed.status().as_u16(), 204);
    let farewell = until(&mut relative_watches, "application.participant_removed").await;
    assert_eq!(farewell.data["data"]["details"]["account_id"], json!(relative.id));
    // The stream ends at once (a silent one would run into the 5 s wait).
    let started = std::time::Instant::now();
    let after = relative_watches
        .next_event(std::time::Duration::from_secs(5))
        .await;
    assert!(after.is_none() && started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(
        problem(
            app.send(Method::GET, &path, &relative.token, None, None).await,
            404
        )
        .await["code"],
        "not_found"
    );
    assert_eq!(
        problem(
            app.send(
                Method::GET,
                &format!("{path}/comments"),
                &relative.token,
                None,
                None
            )
            .await,
            404
        )
        .await["code"],
        "not_found"
    );

    let actions = app.audit_actions();
    for action in [
        "application.invite",
        "application.participant_joined",
        "application.sign",
        "application.comment",
        "application.participant_removed",
    ] {
        assert!(actions.contains(&action.to_string()), "{action} not audited");
    }
    let history = json(
        app.send(Method::GET, &format!("{path}/history"), &owner.token, None, None)
            .await,
        200,
    )
    .await;
    let events: Vec<String> = history["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| s(&h["event"]))
        .collect();
    assert!(
        events.contains(&"sign".to_string()) && events.contains(&"participant_joined".to_string()),
        "{events:?}"
    );
}
db_test!(a_family_application_from_invitation_to_submission);

async fn co_applicants_only_where_the_service_allows_and_invitations_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner = member(&app, citizen(true)).await;
    let guest = member(&app, citizen(true)).await;
    let draft = json(
        app.send(
            Method::POST,
            "/api/v1/applications",
            &owner.token,
            None,
            Some(json!({"service_code": "test-passport", "form_data": {"reason": "age_45", "full_name": "Иванова Мария"}})),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/applications/{}", s(&draft["id"]));
    let refused = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(json!({"email": guest.email, "role": "co_applicant"})),
        )
        .await;
    assert_eq!(
        problem(refused, 422).await["errors"][0]["code"],
        "co_applicants_not_allowed"
    );
    let two = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(json!({"email": guest.email, "phone": "+79160000000", "role": "viewer"})),
        )
        .await;
    assert_eq!(problem(two, 422).await["errors"][0]["code"], "one_contact");

    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    // Seven days pass (moved directly: the clock is real).
    app.execute(&format!(
        "UPDATE invitations SET expires_at = '{}' WHERE id = '{}'",
        crate::support::days_ago(1),
        s(&invited["id"])
    ));
    let open = json(
        app.send(Method::GET, "/api/v1/invitations", &guest.token, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(open["items"], json!([]));
    let late = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", s(&invited["id"])),
            &guest.token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(late, 409).await["code"], "invitation_expired");
    assert_eq!(
        problem(app.send(Method::GET, &path, &guest.token, None, None).await, 404).await["code"],
        "not_found"
    );

    // A declined invitation gives no access either; a new one can then be sent.
    let second = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    let declined = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/decline", s(&second["id"])),
            &guest.token,
            None,
            None,
        )
        .await;
    assert_eq!(json(declined, 200).await["status"], "declined");
    assert_eq!(
        problem(app.send(Method::GET, &path, &guest.token, None, None).await, 404).await["code"],
        "not_found"
    );
    assert!(app
        .audit_actions()
        .contains(&"application.invitation_declined".to_string()));

    // Requests due soon are reminded once.
    let third = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "contributor"}),
    )
    .await;
    let accepted = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", s(&third["id"])),
            &guest.token,
            None,
            None,
        )
        .await;
    assert_eq!(accepted.status().as_u16(), 200);
    let due = (api::clock::now() + chrono::TimeDelta::hours(2)).to_rfc3339();
    let asked = app
        .send(
            Method::POST,
            &format!("{path}/requests"),
            &owner.token,
            None,
            Some(json!({"kind": "document", "assignee_id": guest.id, "doc_type": "photo", "due_at": due})),
        )
        .await;
    assert_eq!(asked.status().as_u16(), 201);
    assert_eq!(
        api::jobs::remind_requests(&app.state.db, app.state.clock.now(), 24).ok(),
        Some(1)
    );
    assert_eq!(
        api::jobs::remind_requests(&app.state.db, app.state.clock.now(), 24).ok(),
        Some(0)
    );
    assert_eq!(app.count_notifications("application.request_reminder").await, 1);
}
db_test!(co_applicants_only_where_the_service_allows_and_invitations_expire);

/// Participants writing at the same moment all get their comment in, each with its own
/// place in the history: on PostgreSQL the appends take turns on the application's row
/// instead of one of them failing on a duplicate history number.
async fn simultaneous_comments_all_land(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("db_pool_size", "8")).await;
    family_service(&app, false);
    let owner = member(&app, citizen(true)).await;
    let (_, path) = family_draft(&app, &owner).await;
    let thread_path = format!("{path}/comments");
    let writes = (0..8).map(|n| {
        app.send(
            Method::POST,
            &thread_path,
            &owner.token,
            None,
            Some(json!({ "body": format!("Комментарий {n}") })),
        )
    });
    for answer in futures_util::future::join_all(writes).await {
        let status = answer.status().as_u16();
        assert_eq!(status, 201, "{:?}", crate::support::internal_errors());
    }
    let thread = json(app.get_as(&format!("{path}/comments"), &owner.token).await, 200).await;
    assert_eq!(thread["items"].as_array().map(Vec::len), Some(8));
    let history = json(app.get_as(&format!("{path}/history"), &owner.token).await, 200).await;
    let comments = history["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["event"] == "comment")
        .count();
    assert_eq!(comments, 8, "{history}");
}
db_test!(simultaneous_comments_all_land);

/// Co-applicants sign what the agency receives: once submitted, a joint application does
/// not change unasked (even where the service lets single applicants edit), and when the
/// agency asks for information, the answer goes back only after everyone signed again.
async fn a_joint_application_changes_after_submission_only_when_asked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    family_service(&app, true);
    let owner = member(&app, citizen(true)).await;
    let spouse = member(&app, citizen(true)).await;
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let (id, path) = family_draft(&app, &owner).await;
    invite(
        &app,
        &path,
        &owner,
        json!({"email": spouse.email, "role": "co_applicant"}),
    )
    .await;
    let invitation = invitation_for(&app, &spouse, &id).await;
    let accept = format!("/api/v1/invitations/{}/accept", s(&invitation["id"]));
    json(
        app.send(Method::POST, &accept, &spouse.token, None, None).await,
        200,
    )
    .await;
    json(
        attach_paper(&app, &path, &id, &owner, b"%PDF-1.7\nfirst").await,
        201,
    )
    .await;
    for who in [&owner, &spouse] {
        json(sign(&app, &path, who).await, 201).await;
    }
    let v = current(&app, &path, &owner.token).await;
    let submitted = app
        .send(
            Method::POST,
            &format!("{path}/submit"),
            &owner.token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(json(submitted, 200).await["status"], "submitted");

    // Unasked, neither the form nor the papers change, and nobody signs.
    let v = current(&app, &path, &owner.token).await;
    let edit = app
        .send(
            Method::PATCH,
            &path,
            &owner.token,
            Some(v),
            Some(json!({"form_data": {"members": 3}})),
        )
        .await;
    assert_eq!(problem(edit, 409).await["code"], "signed_content_locked");
    let paper = attach_paper(&app, &path, &id, &owner, b"%PDF-1.7\nsecond").await;
    assert_eq!(problem(paper, 409).await["code"], "signed_content_locked");
    assert_eq!(
        problem(sign(&app, &path, &spouse).await, 409).await["code"],
        "not_signable"
    );

    // The agency asks; a new paper makes the signatures stale, so the answer waits for both.
    let v = current(&app, &path, &officer).await;
    let taken = app
        .send(Method::POST, &format!("{path}/take"), &officer, Some(v), None)
        .await;
    json(taken, 200).await;
    let due = (api::clock::now() + chrono::TimeDelta::days(7)).to_rfc3339();
    let v = current(&app, &path, &officer).await;
    let asked = app
        .send(
            Method::POST,
            &format!("{path}/request-info"),
            &officer,
            Some(v),
            Some(json!({"question": "Приложите справку за этот год", "due_at": due})),
        )
        .await;
    assert_eq!(json(asked, 200).await["status"], "needs_info");
    json(
        attach_paper(&app, &path, &id, &owner, b"%PDF-1.7\nthis year").await,
        201,
    )
    .await;
    let respond_path = format!("{path}/respond");
    let respond = |v: i64| {
        app.send(
            Method::POST,
            &respond_path,
            &owner.token,
            Some(v),
            Some(json!({"answer": "Приложили справку"})),
        )
    };
    let early = respond(current(&app, &path, &owner.token).await).await;
    let early = problem(early, 409).await;
    assert_eq!(early["code"], "signatures_missing");
    assert_eq!(
        early["context"]["missing_signers"].as_array().map(Vec::len),
        Some(2),
        "{early}"
    );
    for who in [&owner, &spouse] {
        json(sign(&app, &path, who).await, 201).await;
    }
    let answered = respond(current(&app, &path, &owner.token).await).await;
    assert_eq!(json(answered, 200).await["status"], "in_review");
}
db_test!(a_joint_application_changes_after_submission_only_when_asked);
