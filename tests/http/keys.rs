//! Nodes of one database agree on keys or refuse to start: generated keys are shared through
//! the database, configured signing keys rotate without ending sessions, and personal-data
//! keys that cannot read the database stop the node with one line naming the setting.

use api::app::StartError;
use api::auth::SigningKeys;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

use crate::db_test;
use crate::support::{captured_logs, problem, Backend, TestApp};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A new Ed25519 key as `KABINET_SIGNING_KEYS` names it: `kid:base64(PKCS#8 DER)`.
fn signing_key(kid: &str) -> String {
    let text = SigningKeys::generate()
        .to_setting()
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, der) = text.split_once(':').unwrap_or_default();
    format!("{kid}:{der}")
}

/// A new 32-byte key in base64, as the personal-data settings take it.
fn pii_key() -> String {
    let bytes: [u8; 32] = rand::random();
    STANDARD.encode(bytes)
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_default();
    s(&header["kid"])
}

async fn kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap_or_default();
    jwks["keys"]
        .as_array()
        .map(|keys| keys.iter().map(|k| s(&k["kid"])).collect())
        .unwrap_or_default()
}

async fn nodes_share_the_keys_the_first_one_generated(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let (body, _, token) = first.confirmed_citizen().await;
    let second = first.second_node().await;

    // A token issued by one node is taken by the other, which reads the personal data the
    // first one sealed, and finds the account by its SNILS (the keyed index).
    let me = second.get_as("/api/v1/me", &token).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap_or_default();
    assert_eq!(me["snils"], body["snils"]);
    assert_eq!(me["inn"], body["inn"]);
    assert_eq!(me["passport"]["number"], body["passport"]["number"]);
    let tokens = second
        .login_ok(&s(&body["snils"]), crate::support::PASSWORD)
        .await;
    let back = first.get_as("/api/v1/me", &s(&tokens["access_token"])).await;
    assert_eq!(back.status(), 200);

    let published = kids(&first).await;
    assert_eq!(published.len(), 1);
    assert_eq!(kids(&second).await, published);
    assert_eq!(kid_of(&token), published[0]);
    // Nothing is written to a node's data directory any more: the database holds the keys.
    assert!(!second.data_dir.0.join("keys").exists());
    let stored: Vec<String> = first
        .state
        .db
        .read(|c| {
            use diesel::prelude::*;
            use persistence::schema::node_keys;
            node_keys::table
                .filter(node_keys::name.ne("pii_sentinel"))
                .select(node_keys::value)
                .load::<String>(c)
                .map_err(persistence::StoreError::from)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 3, "signing, pii and pii_index");
    let logs = captured_logs();
    for value in stored {
        let secret = value.rsplit(':').next().unwrap_or_default();
        assert!(!logs.contains(secret), "a generated key reached the logs");
    }
}
db_test!(nodes_share_the_keys_the_first_one_generated);

async fn configured_signing_keys_win_and_rotate_without_ending_sessions(backend: Backend) {
    // The first node generates and stores a key; configured keys win over it.
    let first = TestApp::spawn(backend).await;
    let generated = kids(&first).await;
    let (old, new) = (signing_key("old"), signing_key("new"));
    let before = first
        .second_node_with(|s| s.set("signing_keys", old.clone()))
        .await;
    assert_eq!(kids(&before).await, ["old"]);
    let (body, old_token) = before.citizen_token(false).await;
    assert_eq!(kid_of(&old_token), "old");
    let stranger = first.get_as("/api/v1/me", &old_token).await;
    assert_eq!(problem(stranger, 401).await["code"], "invalid_token");

    // The rotation: the new key first, the old one still listed.
    let after = first
        .second_node_with(|s| s.set("signing_keys", format!("{new},{old}")))
        .await;
    assert_eq!(kids(&after).await, ["new", "old"]);
    assert_eq!(after.get_as("/api/v1/me", &old_token).await.status(), 200);
    let tokens = after.login_ok(&s(&body["email"]), crate::support::PASSWORD).await;
    let new_token = s(&tokens["access_token"]);
    assert_eq!(kid_of(&new_token), "new");
    assert_eq!(after.get_as("/api/v1/me", &new_token).await.status(), 200);
    // A node not yet told of the new key does not take its tokens.
    let unaware = before.get_as("/api/v1/me", &new_token).await;
    assert_eq!(problem(unaware, 401).await["code"], "invalid_token");
    assert!(!generated.contains(&"old".to_string()) && !generated.contains(&"new".to_string()));

    let logs = captured_logs();
    for secret in [&old, &new] {
        let (_, der) = secret.split_once(':').unwrap_or_default();
        assert!(!logs.contains(der), "a signing key reached the logs");
    }
}
db_test!(configured_signing_keys_win_and_rotate_without_ending_sessions);

/// The error a node with these settings stops with.
fn refusal(first: &TestApp, keys: &str, index: &str) -> StartError {
    match first.try_second_node_with(|s| s.set("pii_keys", keys).set("pii_index_key", index)) {
        Ok(_) => panic!("a node with personal-data keys {keys:?} started"),
        Err(error) => error,
    }
}

fn setting_of(error: &StartError) -> &'static str {
    match error {
        StartError::Keys { setting, .. } => setting,
        other => panic!("not a key refusal: {other}"),
    }
}

async fn a_node_whose_personal_data_keys_cannot_read_the_database_refuses_to_start(backend: Backend) {
    let (k1, index) = (pii_key(), pii_key());
    let first = TestApp::spawn_with(backend, |s| {
        s.set("pii_keys", format!("k1:{k1}"))
            .set("pii_index_key", index.clone())
    })
    .await;
    let (body, token) = first.citizen_token(true).await;

    // Another key under the same id, an unknown id, and another index key.
    let wrong = refusal(&first, &format!("k1:{}", pii_key()), &index);
    assert_eq!(setting_of(&wrong), "KABINET_PII_KEYS");
    let line = wrong.to_string();
    assert!(
        line.starts_with("KABINET_PII_KEYS: cannot read this database's personal data"),
        "{line}"
    );
    assert!(line.contains("\"k1\"") && !line.contains('\n'), "{line}");
    let unknown = refusal(&first, &format!("k2:{}", pii_key()), &index);
    assert_eq!(setting_of(&unknown), "KABINET_PII_KEYS");
    assert!(
        unknown.to_string().contains("sealed with key id \"k1\""),
        "{unknown}"
    );
    let other_index = refusal(&first, &format!("k1:{k1}"), &pii_key());
    assert_eq!(setting_of(&other_index), "KABINET_PII_INDEX_KEY");

    // A rotation starts (the old key still listed) and reads what the first node wrote;
    // from then on the database's sentinel needs the new key, so a node without it stops.
    let k2 = pii_key();
    let rotated = first
        .second_node_with(|s| {
            s.set("pii_keys", format!("k2:{k2},k1:{k1}"))
                .set("pii_index_key", index.clone())
        })
        .await;
    let me: Value = rotated
        .get_as("/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(me["passport"]["number"], body["passport"]["number"]);
    let behind = refusal(&first, &format!("k1:{k1}"), &index);
    assert!(
        behind.to_string().contains("sealed with key id \"k2\""),
        "{behind}"
    );

    let logs = captured_logs();
    for secret in [&k1, &k2, &index] {
        assert!(
            !logs.contains(secret.as_str()),
            "a personal-data key reached the logs"
        );
    }
}
db_test!(a_node_whose_personal_data_keys_cannot_read_the_database_refuses_to_start);

async fn two_nodes_starting_at_once_on_a_new_database_agree(backend: Backend) {
    let dir = crate::support::TempDir::new();
    let (url, _pg) = match &backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.0.join("kabinet.db").display()), None),
        Backend::Postgres(server) => {
            let db = crate::support::fresh_postgres(server);
            (db.url(), Some(db))
        }
    };
    let config = |node: &str| {
        let source = api::Source::default()
            .set("database_url", url.clone())
            .set("data_dir", dir.0.join(node).to_string_lossy());
        api::Config::from_source(&source).unwrap_or_else(|e| panic!("{e}"))
    };
    let (one, two) = (config("one"), config("two"));
    api::app::open_database(&one).unwrap_or_else(|e| panic!("{e}"));
    // Both insert their own candidates at the same moment; each must end with the winner's.
    let start = std::sync::Barrier::new(2);
    let node = |config: &api::Config| {
        let db = api::app::open_database(config).unwrap_or_else(|e| panic!("{e}"));
        start.wait();
        api::node_keys::load(&db, config, api::clock::now()).unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| node(&one));
        let b = scope.spawn(|| node(&two));
        (a.join(), b.join())
    });
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        _ => panic!("a node failed to start"),
    };
    assert_eq!(a.tokens.jwk().kid, b.tokens.jwk().kid);
    let sealed = a.pii.encrypt("snils", "11223344595");
    assert_eq!(
        b.pii.decrypt("snils", &sealed).ok().as_deref(),
        Some("11223344595")
    );
    assert_eq!(a.pii.keyed_hash("snils", "1"), b.pii.keyed_hash("snils", "1"));
}
db_test!(two_nodes_starting_at_once_on_a_new_database_agree);
