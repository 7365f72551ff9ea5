//! Joint work over HTTP, on both backends: a family application with a co-applicant, a
//! contributor and a viewer — invitations (also to someone who registers later), rights
//! per role, concurrent edits, signatures that go stale with an edit, submission, the
//! comment thread, requests between participants, and removal. Each scenario checks one
//! behaviour, starting from the shared fixtures (`invited_family`, `joined_family`,
//! `signed_family`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::delegations::s;
use crate::support::{citizen, json, problem, service, Backend, Sse, SseEvent, TestApp};

/// Waits (at most 5 s) until `probe` finds what it looks for: the outbox is delivered
/// by the dispatcher after the commit, not within the request.
pub(crate) async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {what} within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or_default()
}

/// `test-family`, handled by `mvd`, which accepts co-applicants (and, if so asked, lets
/// applicants edit after submission).
pub(crate) fn family_service(app: &TestApp, editable_after_submit: bool) {
    app.seed_catalog(true, false, 30);
    let mut family = service("test-family", "mvd");
    family.form_schema = json!({"type": "object", "properties": {"members": {"type": "integer"}}});
    family.required_documents = vec!["income_certificate".into()];
    family.policy.co_applicants_allowed = true;
    family.policy.editable_after_submit = editable_after_submit;
    app.add_service(&family);
}

/// A `test-family` draft of `owner`'s: its id and path.
pub(crate) async fn family_draft(app: &TestApp, owner: &Member) -> (String, String) {
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

pub(crate) struct Member {
    pub id: String,
    pub token: String,
    pub email: String,
    pub phone: String,
}

pub(crate) async fn member(app: &TestApp, body: Value) -> Member {
    let (body, id, token) = app.confirmed_citizen_from(body).await;
    Member {
        id,
        token,
        email: s(&body["email"]),
        phone: s(&body["phone"]),
    }
}

pub(crate) async fn current(app: &TestApp, path: &str, token: &str) -> i64 {
    version(&json(app.send(Method::GET, path, token, None, None).await, 200).await)
}

/// Asks for a code to sign the application at `path` and waits for the one that arrives.
pub(crate) async fn signing_code(app: &TestApp, path: &str, who: &Member) -> String {
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
    eventually(&format!("a signing code for {}", who.email), || {
        let codes = app.codes_sent_to(&who.email);
        (codes.len() > before).then(|| codes.last().cloned()).flatten()
    })
    .await
}

/// Signs the application's current version with a code sent to the signer.
async fn sign(app: &TestApp, path: &str, who: &Member) -> reqwest::Response {
    let code = signing_code(app, path, who).await;
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

/// A family application of `owner`'s with three invitations out: the spouse (by e-mail,
/// before registering; registered since) as co-applicant, a relative by phone as
/// contributor, and the viewer by SNILS. Nobody has answered yet.
struct Family {
    app: TestApp,
    owner: Member,
    spouse: Member,
    relative: Member,
    viewer: Member,
    stranger: String,
    id: String,
    path: String,
    /// The answer to the spouse's invitation, sent before they had an account.
    spouse_invited: Value,
}

async fn invited_family(backend: Backend) -> Family {
    let app = TestApp::spawn(backend).await;
    family_service(&app, false);
    let owner = member(&app, citizen(true)).await;
    let relative = member(&app, citizen(true)).await;
    let viewer_body = citizen(true);
    let viewer_snils = s(&viewer_body["snils"]);
    let viewer = member(&app, viewer_body).await;
    let (_, _, stranger) = app.confirmed_citizen().await;
    let (id, path) = family_draft(&app, &owner).await;
    let spouse_body = citizen(true);
    let spouse_email = s(&spouse_body["email"]);
    let spouse_invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": spouse_email, "role": "co_applicant"}),
    )
    .await;
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
    let spouse = member(&app, spouse_body).await;
    Family {
        app,
        owner,
        spouse,
        relative,
        viewer,
        stranger,
        id,
        path,
        spouse_invited,
    }
}

/// Accepts `who`'s invitation to the family application.
async fn accept(family: &Family, who: &Member) -> reqwest::Response {
    let invitation = invitation_for(&family.app, who, &family.id).await;
    family
        .app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", s(&invitation["id"])),
            &who.token,
            None,
            None,
        )
        .await
}

/// The family with everyone joined.
async fn joined_family(backend: Backend) -> Family {
    let family = invited_family(backend).await;
    for who in [&family.spouse, &family.relative, &family.viewer] {
        assert_eq!(json(accept(&family, who).await, 200).await["status"], "accepted");
    }
    family
}

/// The joined family with the required paper attached by the contributor and both
/// signers' signatures on the current content: ready to submit.
async fn signed_family(backend: Backend) -> Family {
    let family = joined_family(backend).await;
    let f = &family;
    json(
        attach_paper(&f.app, &f.path, &f.id, &f.relative, b"%PDF-1.7\nsalary").await,
        201,
    )
    .await;
    for who in [&f.spouse, &f.owner] {
        assert_eq!(sign(&f.app, &f.path, who).await.status().as_u16(), 201);
    }
    family
}

async fn submit(f: &Family) -> Value {
    let v = current(&f.app, &f.path, &f.owner.token).await;
    json(
        f.app
            .send(
                Method::POST,
                &format!("{}/submit", f.path),
                &f.owner.token,
                Some(v),
                None,
            )
            .await,
        200,
    )
    .await
}

fn audited(app: &TestApp, actions: &[&str]) {
    let recorded = app.audit_actions();
    for action in actions {
        assert!(recorded.contains(&action.to_string()), "{action} not audited");
    }
}

/// The owner invites by e-mail (someone not registered yet), phone and SNILS; the
/// invitation shows the contact masked; a contact is invited once; strangers cannot invite.
async fn invitations_go_out_by_email_phone_and_snils(backend: Backend) {
    let f = invited_family(backend).await;
    assert_eq!(f.spouse_invited["status"], "pending");
    assert!(
        s(&f.spouse_invited["contact"]).contains("***"),
        "{}",
        f.spouse_invited
    );
    // The relative and the viewer had accounts: they got a notice (the spouse a letter).
    assert_eq!(f.app.count_notifications("application.invitation").await, 2);
    let twice = f
        .app
        .send(
            Method::POST,
            &format!("{}/participants", f.path),
            &f.owner.token,
            None,
            Some(json!({"phone": f.relative.phone, "role": "viewer"})),
        )
        .await;
    assert_eq!(problem(twice, 409).await["code"], "already_invited");
    let by_other = f
        .app
        .send(
            Method::POST,
            &format!("{}/participants", f.path),
            &f.stranger,
            None,
            Some(json!({"email": "x@example.ru", "role": "viewer"})),
        )
        .await;
    assert_eq!(problem(by_other, 404).await["code"], "not_found");
    audited(&f.app, &["application.invite"]);
}
db_test!(invitations_go_out_by_email_phone_and_snils);

/// Invitations are answered by their addressee only (also one who registered after being
/// invited), and once.
async fn only_the_addressee_answers_an_invitation_once(backend: Backend) {
    let f = invited_family(backend).await;
    let for_spouse = invitation_for(&f.app, &f.spouse, &f.id).await;
    assert_eq!(for_spouse["role"], "co_applicant");
    let accept_path = format!("/api/v1/invitations/{}/accept", s(&for_spouse["id"]));
    let hijack = f
        .app
        .send(Method::POST, &accept_path, &f.stranger, None, None)
        .await;
    assert_eq!(problem(hijack, 404).await["code"], "not_found");
    for who in [&f.spouse, &f.relative, &f.viewer] {
        assert_eq!(json(accept(&f, who).await, 200).await["status"], "accepted");
    }
    let again = f
        .app
        .send(Method::POST, &accept_path, &f.spouse.token, None, None)
        .await;
    assert_eq!(problem(again, 409).await["code"], "invitation_answered");
    audited(&f.app, &["application.participant_joined"]);
    let history = json(
        f.app
            .send(
                Method::GET,
                &format!("{}/history", f.path),
                &f.owner.token,
                None,
                None,
            )
            .await,
        200,
    )
    .await;
    let steps: Vec<String> = history["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| s(&h["event"]))
        .collect();
    assert!(steps.contains(&"participant_joined".to_string()), "{steps:?}");
}
db_test!(only_the_addressee_answers_an_invitation_once);

/// Participants see who takes part (the owner first) and find the application among
/// those they take part in, not among their own.
async fn participants_see_each_other_and_the_shared_application(backend: Backend) {
    let f = joined_family(backend).await;
    let people = json(
        f.app
            .send(
                Method::GET,
                &format!("{}/participants", f.path),
                &f.viewer.token,
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
        f.app
            .get_as("/api/v1/applications?as=participant", &f.spouse.token)
            .await,
        200,
    )
    .await;
    assert_eq!(shared["items"][0]["id"], json!(f.id));
    let own = json(f.app.get_as("/api/v1/applications", &f.spouse.token).await, 200).await;
    assert_eq!(own["items"], json!([]));
}
db_test!(participants_see_each_other_and_the_shared_application);

/// Each role does what it allows: the contributor attaches, the viewer neither attaches
/// nor edits, and only signers get a signing code.
async fn participants_act_within_their_roles(backend: Backend) {
    let f = joined_family(backend).await;
    let attached = attach_paper(&f.app, &f.path, &f.id, &f.relative, b"%PDF-1.7\nsalary").await;
    let attached = json(attached, 201).await;
    let v = current(&f.app, &f.path, &f.viewer.token).await;
    let viewer_upload = f
        .app
        .send(
            Method::POST,
            &format!("{}/attachments", f.path),
            &f.viewer.token,
            Some(v),
            Some(json!({"document_id": attached["document_id"]})),
        )
        .await;
    assert_eq!(problem(viewer_upload, 403).await["code"], "participant_role");
    let v = current(&f.app, &f.path, &f.viewer.token).await;
    let viewer_edit = f
        .app
        .send(
            Method::PATCH,
            &f.path,
            &f.viewer.token,
            Some(v),
            Some(json!({"form_data": {"members": 9}})),
        )
        .await;
    assert_eq!(problem(viewer_edit, 403).await["code"], "participant_role");
    let contributor_sign = f
        .app
        .send(
            Method::POST,
            &format!("{}/signatures/code", f.path),
            &f.relative.token,
            None,
            None,
        )
        .await;
    assert_eq!(problem(contributor_sign, 403).await["code"], "participant_role");
}
db_test!(participants_act_within_their_roles);

/// The spouse and the owner edit from the same version at once: one wins, the other
/// gets 412 with the current version — nothing is overwritten silently.
async fn simultaneous_edits_never_overwrite_silently(backend: Backend) {
    let f = joined_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    let v = current(app, path, &f.owner.token).await;
    let (by_spouse, by_owner) = futures_util::join!(
        app.send(
            Method::PATCH,
            path,
            &f.spouse.token,
            Some(v),
            Some(json!({"form_data": {"members": 3}}))
        ),
        app.send(
            Method::PATCH,
            path,
            &f.owner.token,
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
            path,
            &f.owner.token,
            Some(v),
            Some(json!({"form_data": {"members": 5}})),
        )
        .await;
    let stale = problem(stale, 412).await;
    assert_eq!(stale["context"]["current_version"], v + 1);
}
db_test!(simultaneous_edits_never_overwrite_silently);

/// The owner asks the spouse for a signature (not the contributor, who does not sign);
/// the spouse's signature fulfils the request.
async fn a_signature_request_is_fulfilled_by_signing(backend: Backend) {
    let f = joined_family(backend).await;
    let due = (f.app.state.clock.now() + chrono::TimeDelta::days(3)).to_rfc3339();
    let requests_path = format!("{}/requests", f.path);
    let ask = |assignee: &str| {
        let body = json!({"kind": "signature", "assignee_id": assignee, "due_at": due});
        f.app
            .send(Method::POST, &requests_path, &f.owner.token, None, Some(body))
    };
    assert_eq!(json(ask(&f.spouse.id).await, 201).await["status"], "open");
    let not_signer = ask(&f.relative.id).await;
    assert_eq!(problem(not_signer, 422).await["errors"][0]["code"], "not_signer");
    assert_eq!(sign(&f.app, &f.path, &f.spouse).await.status().as_u16(), 201);
    let requests = json(
        f.app
            .get_as(&format!("{}/requests", f.path), &f.owner.token)
            .await,
        200,
    )
    .await;
    assert_eq!(requests["items"][0]["status"], "fulfilled");
}
db_test!(a_signature_request_is_fulfilled_by_signing);

/// Submission waits for both signatures and names who is missing; an edit after a
/// signature makes it stale; signed again by both, the application goes, and everyone
/// on it hears of the new status.
async fn submission_waits_for_current_signatures_of_everyone(backend: Backend) {
    let f = joined_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    json(
        attach_paper(app, path, &f.id, &f.relative, b"%PDF-1.7\nsalary").await,
        201,
    )
    .await;
    let v = current(app, path, &f.owner.token).await;
    let early = app
        .send(
            Method::POST,
            &format!("{path}/submit"),
            &f.owner.token,
            Some(v),
            None,
        )
        .await;
    let early = problem(early, 409).await;
    assert_eq!(early["code"], "signatures_missing");
    let mut missing: Vec<String> = early["context"]["missing_signers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| s(&m["role"]))
        .collect();
    missing.sort();
    assert_eq!(missing, ["co_applicant", "owner"]);
    assert_eq!(sign(app, path, &f.spouse).await.status().as_u16(), 201);

    // An edit after the spouse signed makes that signature stale.
    let v = current(app, path, &f.relative.token).await;
    let edited = app
        .send(
            Method::PATCH,
            path,
            &f.relative.token,
            Some(v),
            Some(json!({"form_data": {"members": 3, "note": 1}})),
        )
        .await;
    assert_eq!(edited.status().as_u16(), 200);
    let signatures = json(
        app.get_as(&format!("{path}/signatures"), &f.owner.token).await,
        200,
    )
    .await;
    assert_eq!(signatures["items"][0]["current"], false);
    assert_eq!(signatures["missing"].as_array().map(Vec::len), Some(2));
    assert_eq!(sign(app, path, &f.spouse).await.status().as_u16(), 201);
    assert_eq!(sign(app, path, &f.owner).await.status().as_u16(), 201);
    assert_eq!(submit(&f).await["status"], "submitted");
    // Participants hear of the new status as the owner does.
    assert!(app.count_notifications("application.submit").await >= 4);
    audited(app, &["application.sign"]);
    let history = json(app.get_as(&format!("{path}/history"), &f.owner.token).await, 200).await;
    let steps: Vec<String> = history["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| s(&h["event"]))
        .collect();
    assert!(steps.contains(&"sign".to_string()), "{steps:?}");
}
db_test!(submission_waits_for_current_signatures_of_everyone);

/// Everyone on the application hears of each step as it happens, on their own stream.
async fn everyone_on_the_application_hears_each_step_live(backend: Backend) {
    let f = joined_family(backend).await;
    let mut spouse_hears = f.app.events("/api/v1/me/events", &f.spouse.token, None).await;
    json(
        attach_paper(&f.app, &f.path, &f.id, &f.relative, b"%PDF-1.7\nsalary").await,
        201,
    )
    .await;
    assert_eq!(sign(&f.app, &f.path, &f.spouse).await.status().as_u16(), 201);
    let attached_event = until(&mut spouse_hears, "application.attach").await;
    assert_eq!(attached_event.data["application_id"], json!(f.id));
    let signed_event = until(&mut spouse_hears, "application.sign").await;
    assert_eq!(signed_event.data["data"]["actor"], json!(f.spouse.id));
}
db_test!(everyone_on_the_application_hears_each_step_live);

async fn write(app: &TestApp, thread_path: &str, token: &str, body: &str) -> reqwest::Response {
    let body = json!({ "body": body });
    app.send(Method::POST, thread_path, token, None, Some(body)).await
}

/// The thread: a mention tells the one named; nobody edits another's comment; the
/// author's edit keeps the earlier text; the handling officer writes too.
async fn the_comment_thread_keeps_authors_and_their_earlier_texts(backend: Backend) {
    let f = signed_family(backend).await;
    submit(&f).await;
    let (app, path) = (&f.app, &f.path);
    let thread_path = format!("{path}/comments");
    let first_text = format!("Проверьте, @{}", f.viewer.id);
    let note = json(write(app, &thread_path, &f.owner.token, &first_text).await, 201).await;
    assert_eq!(app.count_notifications("application.mention").await, 1);
    let seen = json(write(app, &thread_path, &f.viewer.token, "Вижу").await, 201).await;
    let comment_path = format!("{path}/comments/{}", s(&note["id"]));
    let edit = |token: String, body: &'static str| {
        let body = json!({ "body": body });
        let comment_path = comment_path.clone();
        async move {
            app.send(Method::PATCH, &comment_path, &token, Some(1), Some(body))
                .await
        }
    };
    let meddling = edit(f.viewer.token.clone(), "Чужой текст").await;
    assert_eq!(problem(meddling, 403).await["code"], "not_author");
    let fixed = json(edit(f.owner.token.clone(), "Проверено").await, 200).await;
    assert_eq!(fixed["history"][0]["body"], first_text);
    let thread = json(
        app.get_as(&format!("{path}/comments"), &f.spouse.token).await,
        200,
    )
    .await;
    assert_eq!(thread["items"][0]["body"], "Проверено");
    assert_eq!(thread["items"][1]["id"], seen["id"]);
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let from_agency = write(app, &thread_path, &officer, "Принято").await;
    assert_eq!(from_agency.status().as_u16(), 201);
    audited(app, &["application.comment"]);
}
db_test!(the_comment_thread_keeps_authors_and_their_earlier_texts);

/// A removed participant hears of it, their stream ends at once, and they lose access
/// with the very next request.
async fn a_removed_participant_loses_access_at_once(backend: Backend) {
    let f = joined_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    let mut relative_watches = app
        .events(&format!("{path}/events"), &f.relative.token, None)
        .await;
    let v = current(app, path, &f.owner.token).await;
    let removed = app
        .send(
            Method::DELETE,
            &format!("{path}/participants/{}", f.relative.id),
            &f.owner.token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(removed.status().as_u16(), 204);
    let farewell = until(&mut relative_watches, "application.participant_removed").await;
    assert_eq!(
        farewell.data["data"]["details"]["account_id"],
        json!(f.relative.id)
    );
    // The stream ends at once (a silent one would run into the 5 s wait).
    let started = std::time::Instant::now();
    let after = relative_watches
        .next_event(std::time::Duration::from_secs(5))
        .await;
    assert!(after.is_none() && started.elapsed() < std::time::Duration::from_secs(4));
    for gone in [path.clone(), format!("{path}/comments")] {
        let refused = app.get_as(&gone, &f.relative.token).await;
        assert_eq!(problem(refused, 404).await["code"], "not_found");
    }
    audited(app, &["application.participant_removed"]);
}
db_test!(a_removed_participant_loses_access_at_once);

/// A participant may leave on their own (the viewer too); the others hear of it.
async fn a_participant_leaves_on_their_own(backend: Backend) {
    let f = joined_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    let told_before = app.count_notifications("application.participant").await;
    let v = current(app, path, &f.viewer.token).await;
    let left = app
        .send(
            Method::DELETE,
            &format!("{path}/participants/{}", f.viewer.id),
            &f.viewer.token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(left.status().as_u16(), 204);
    let refused = app.get_as(path, &f.viewer.token).await;
    assert_eq!(problem(refused, 404).await["code"], "not_found");
    audited(app, &["application.participant_left"]);
    // The owner, the spouse and the relative are told; the one who left is not.
    let told = app.count_notifications("application.participant").await - told_before;
    assert_eq!(told, 3);
}
db_test!(a_participant_leaves_on_their_own);

/// Leaving is a change of its own: a read-only (limited) representative of a participant
/// reads the application for them but cannot make them leave it.
async fn a_read_only_representative_cannot_make_the_principal_leave(backend: Backend) {
    use crate::delegations::{accept as accept_delegation, delegate, on_behalf, person, term, Person};
    let f = joined_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    // Delegating needs a second factor on (set directly: enrolment has its own tests).
    app.execute(&format!(
        "UPDATE accounts SET totp_enabled = TRUE WHERE id = '{}'",
        f.viewer.id
    ));
    let principal = Person {
        id: f.viewer.id.clone(),
        token: f.viewer.token.clone(),
    };
    let reader = person(app).await;
    let (from, until) = term(5);
    let limited = json!({"kind": "limited", "valid_from": from, "valid_until": until});
    let limited = json(delegate(app, &principal, &reader, limited).await, 201).await;
    let code = s(&limited["verification_code"]);
    json(accept_delegation(app, &reader, &limited, &code).await, 200).await;
    let read = on_behalf(app, &reader, &principal, Method::GET, path, None, None).await;
    let v = version(&json(read, 200).await);
    let leave_path = format!("{path}/participants/{}", f.viewer.id);
    let leave = on_behalf(
        app,
        &reader,
        &principal,
        Method::DELETE,
        &leave_path,
        Some(v),
        None,
    )
    .await;
    assert_eq!(problem(leave, 403).await["code"], "action_not_covered");
    assert_eq!(app.get_as(path, &f.viewer.token).await.status().as_u16(), 200);
}
db_test!(a_read_only_representative_cannot_make_the_principal_leave);

/// A `test-passport` draft (no co-applicants) of a new owner's, and a guest with an
/// account; access tokens live long enough for the clock to move days ahead.
async fn single_application(backend: Backend) -> (TestApp, Member, Member, String) {
    let app = TestApp::spawn_with(backend, |s| s.set("access_token_ttl_secs", "2592000")).await;
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
    (app, owner, guest, path)
}

async fn answer_invitation(
    app: &TestApp,
    who: &Member,
    invitation: &Value,
    answer: &str,
) -> reqwest::Response {
    let path = format!("/api/v1/invitations/{}/{answer}", s(&invitation["id"]));
    app.send(Method::POST, &path, &who.token, None, None).await
}

/// Co-applicants only where the service allows them; an invitation names one contact.
async fn co_applicants_only_where_the_service_allows(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
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
}
db_test!(co_applicants_only_where_the_service_allows);

/// One person, one open invitation per application, whichever of their contacts the owner
/// types: a second one to the same account is refused; once they have declined, they may
/// be asked again.
async fn one_open_invitation_per_person_whatever_the_contact(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
    let participants = format!("{path}/participants");
    let first = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    let again = app
        .send(
            Method::POST,
            &participants,
            &owner.token,
            None,
            Some(json!({"phone": guest.phone, "role": "contributor"})),
        )
        .await;
    assert_eq!(problem(again, 409).await["code"], "already_invited");
    assert_eq!(
        app.count_notifications("application.invitation").await,
        1,
        "one notice, for the one invitation"
    );
    json(answer_invitation(&app, &guest, &first, "decline").await, 200).await;
    invite(
        &app,
        &path,
        &owner,
        json!({"phone": guest.phone, "role": "contributor"}),
    )
    .await;
}
db_test!(one_open_invitation_per_person_whatever_the_contact);

/// Seven days later an unanswered invitation is gone from the list and cannot be
/// accepted; it gave no access.
async fn an_invitation_expires_unanswered(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    app.state.clock.advance(chrono::Duration::days(8));
    let open = json(app.get_as("/api/v1/invitations", &guest.token).await, 200).await;
    assert_eq!(open["items"], json!([]));
    let late = answer_invitation(&app, &guest, &invited, "accept").await;
    assert_eq!(problem(late, 409).await["code"], "invitation_expired");
    let refused = app.get_as(&path, &guest.token).await;
    assert_eq!(problem(refused, 404).await["code"], "not_found");
}
db_test!(an_invitation_expires_unanswered);

/// A declined invitation gives no access either; a new one can then be sent.
async fn a_declined_invitation_gives_no_access(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    let declined = answer_invitation(&app, &guest, &invited, "decline").await;
    assert_eq!(json(declined, 200).await["status"], "declined");
    let refused = app.get_as(&path, &guest.token).await;
    assert_eq!(problem(refused, 404).await["code"], "not_found");
    audited(&app, &["application.invitation_declined"]);
    invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
}
db_test!(a_declined_invitation_gives_no_access);

/// Requests due soon are reminded once.
async fn requests_due_soon_are_reminded_once(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "contributor"}),
    )
    .await;
    let accepted = answer_invitation(&app, &guest, &invited, "accept").await;
    assert_eq!(accepted.status().as_u16(), 200);
    let due = (app.state.clock.now() + chrono::TimeDelta::hours(2)).to_rfc3339();
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
db_test!(requests_due_soon_are_reminded_once);

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
    let due = (app.state.clock.now() + chrono::TimeDelta::days(7)).to_rfc3339();
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

/// Who signs is fixed at submission (issue 15, item 1): afterwards nobody becomes or stops
/// being a co-applicant — not by a role change, a removal, leaving, a new invitation or
/// one accepted late — and the officer takes the content everyone signed.
async fn the_signers_are_fixed_at_submission(backend: Backend) {
    let f = signed_family(backend).await;
    let (app, path) = (&f.app, &f.path);
    // Sent before submission, answered after: still no way in as a signer.
    let late_joiner = member(app, citizen(true)).await;
    invite(
        app,
        path,
        &f.owner,
        json!({"email": late_joiner.email, "role": "co_applicant"}),
    )
    .await;
    let submitted = submit(&f).await;
    let signed_hash = submitted["signed_content_hash"].clone();
    assert!(signed_hash.is_string(), "{submitted}");
    let fixed = |response: reqwest::Response| async move { problem(response, 409).await["code"].clone() };
    // The seen case was on a service that lets applicants edit after submission: the
    // admin allows it now, and still nothing changes what the signers signed.
    app.state
        .db
        .write(|tx| -> Result<(), persistence::StoreError> {
            if let Some(mut family) = persistence::catalog::find(tx, "test-family")? {
                let version = family.version;
                family.policy.editable_after_submit = true;
                persistence::catalog::replace(tx, &family, version, app.state.clock.now())?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));

    let v = current(app, path, &f.owner.token).await;
    let demote = app
        .send(
            Method::PATCH,
            &format!("{path}/participants/{}", f.spouse.id),
            &f.owner.token,
            Some(v),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(fixed(demote).await, "participants_fixed");
    let seen = json(app.send(Method::GET, path, &f.owner.token, None, None).await, 200).await;
    assert!(
        !seen["next_steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s == "edit"),
        "{seen}"
    );
    let edit = app
        .send(
            Method::PATCH,
            path,
            &f.owner.token,
            Some(v),
            Some(json!({"form_data": {"members": 3}})),
        )
        .await;
    assert_eq!(fixed(edit).await, "signed_content_locked");
    let promote = app
        .send(
            Method::PATCH,
            &format!("{path}/participants/{}", f.viewer.id),
            &f.owner.token,
            Some(v),
            Some(json!({"role": "co_applicant"})),
        )
        .await;
    assert_eq!(fixed(promote).await, "participants_fixed");
    for (token, who) in [(&f.owner.token, &f.spouse.id), (&f.spouse.token, &f.spouse.id)] {
        let removal = app
            .send(
                Method::DELETE,
                &format!("{path}/participants/{who}"),
                token,
                Some(v),
                None,
            )
            .await;
        assert_eq!(fixed(removal).await, "participants_fixed");
    }
    let invitation = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &f.owner.token,
            None,
            Some(json!({"email": "late.co-applicant@example.ru", "role": "co_applicant"})),
        )
        .await;
    assert_eq!(fixed(invitation).await, "participants_fixed");
    assert_eq!(fixed(accept(&f, &late_joiner).await).await, "participants_fixed");
    // Those who do not sign may still come and go.
    let v = current(app, path, &f.owner.token).await;
    let gone = app
        .send(
            Method::DELETE,
            &format!("{path}/participants/{}", f.viewer.id),
            &f.owner.token,
            Some(v),
            None,
        )
        .await;
    assert_eq!(gone.status().as_u16(), 204);

    // The officer takes it and sees the version everyone signed.
    let officer = app.officer_token("officer-mvd", "mvd").await;
    let v = current(app, path, &officer).await;
    let taken = json(
        app.send(Method::POST, &format!("{path}/take"), &officer, Some(v), None)
            .await,
        200,
    )
    .await;
    assert_eq!(taken["signed_content_hash"], signed_hash);
    let sheet = json(
        app.send(Method::GET, &format!("{path}/signatures"), &officer, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(sheet["content_hash"], signed_hash);
}
db_test!(the_signers_are_fixed_at_submission);

/// Nobody is invited to, or joins, a cancelled application: an invitation sent before the
/// cancellation does not open it afterwards; a restore reopens it.
async fn nobody_joins_a_cancelled_application(backend: Backend) {
    let (app, owner, guest, path) = single_application(backend).await;
    let invited = invite(
        &app,
        &path,
        &owner,
        json!({"email": guest.email, "role": "viewer"}),
    )
    .await;
    let v = current(&app, &path, &owner.token).await;
    json(
        app.send(
            Method::POST,
            &format!("{path}/cancel"),
            &owner.token,
            Some(v),
            None,
        )
        .await,
        200,
    )
    .await;

    let late = answer_invitation(&app, &guest, &invited, "accept").await;
    assert_eq!(problem(late, 409).await["code"], "application_closed");
    let other = member(&app, citizen(true)).await;
    let body = json!({"email": other.email, "role": "viewer"});
    let refused = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(body),
        )
        .await;
    assert_eq!(problem(refused, 409).await["code"], "application_closed");
    problem(app.get_as(&path, &guest.token).await, 404).await;

    let v = current(&app, &path, &owner.token).await;
    json(
        app.send(
            Method::POST,
            &format!("{path}/restore"),
            &owner.token,
            Some(v),
            None,
        )
        .await,
        200,
    )
    .await;
    json(answer_invitation(&app, &guest, &invited, "accept").await, 200).await;
    json(app.get_as(&path, &guest.token).await, 200).await;
}
db_test!(nobody_joins_a_cancelled_application);
