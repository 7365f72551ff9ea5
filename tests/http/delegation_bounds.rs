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

