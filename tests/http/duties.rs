//! Rules that hold when people try to bend them (issue 15, items 2, 3, 6 and 7): nobody
//! gets around a delegation by joining the matter, nobody decides their own case, an
//! ended delegation stays ended, and a replayed answer is no way past authorization.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::delegations::{delegate_and_accept, fetch, person, s, term_of};
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
