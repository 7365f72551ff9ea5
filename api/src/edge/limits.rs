//! Abuse limits at the edge, in one table: which requests are limited, by what (the
//! client's address, the signed-in account, or the login, e-mail or phone a body names),
//! and how much (config). The state lives in the database, so every node counts the same
//! keys; a refused request is answered 429 with `Retry-After` and the IETF `RateLimit` and
//! `RateLimit-Policy` headers (draft-ietf-httpapi-ratelimit-headers), admitted ones carry
//! the headers too.
//!
//! What an attacker would try, and what stops it: guessing passwords or second factors
//! from many addresses (per-account keys), from one address against many accounts
//! (per-address keys), making us send e-mails or SMS to a victim (per-target and
//! per-sender keys), filling storage or tables (per-account uploads and creates), making
//! the database read a whole audit log again and again (per-account CSV exports).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use domain::rate::{Decision, Quota};
use domain::time::Instant;
use persistence::DbConnection;
use serde_json::Value;
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::Limits;
use crate::error::ApiError;
use crate::state::AppState;

/// What a limit counts by.
#[derive(Clone, Copy, Debug)]
enum By {
    /// The client's address.
    Ip,
    /// The account of the bearer token.
    Account,
    /// A field of the JSON body (a login, e-mail or phone), lower-cased.
    Field(&'static str),
    /// The path, for a resource named in it that the caller need not be signed in to
    /// address (an account proving its contacts).
    Path,
}

/// One limited kind of request.
struct Rule {
    /// The name in the `RateLimit` headers and in the key.
    name: &'static str,
    method: Method,
    /// The path, `{}` standing for one segment.
    path: &'static str,
    by: By,
    quota: fn(&Limits) -> Quota,
    /// Counted in the handler's own transaction (see [`Deferred`]): only a write that
    /// commits is counted, and the count costs no connection or commit of its own.
    with_write: bool,
}

/// The table, built once: it is read on every request.
static RULES: std::sync::LazyLock<Vec<Rule>> = std::sync::LazyLock::new(table);

fn rules() -> &'static [Rule] {
    &RULES
}

fn table() -> Vec<Rule> {
    use By::*;
    let rule = |name, method, path, by, quota| Rule {
        name,
        method,
        path,
        by,
        quota,
        with_write: false,
    };
    // A limit on what is stored, for a handler that writes through `AppState::run_as`.
    let stored = |name, method, path, quota| Rule {
        with_write: true,
        ..rule(name, method, path, Account, quota)
    };
    vec![
        rule(
            "login-ip",
            Method::POST,
            "/api/v1/auth/login",
            Ip,
            |l: &Limits| l.login_per_ip,
        ),
        rule(
            "login-account",
            Method::POST,
            "/api/v1/auth/login",
            Field("login"),
            |l: &Limits| l.login_per_account,
        ),
        rule(
            "mfa-ip",
            Method::POST,
            "/api/v1/auth/login/mfa",
            Ip,
            |l: &Limits| l.login_per_ip,
        ),
        rule(
            "second-factor",
            Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            Account,
            |l: &Limits| l.second_factor_per_account,
        ),
        rule(
            "second-factor",
            Method::DELETE,
            "/api/v1/me/mfa/totp",
            Account,
            |l: &Limits| l.second_factor_per_account,
        ),
        rule(
            "second-factor",
            Method::POST,
            "/api/v1/me/contact-changes/{}/confirm",
            Account,
            |l: &Limits| l.second_factor_per_account,
        ),
        rule(
            "second-factor",
            Method::POST,
            "/api/v1/applications/{}/signatures",
            Account,
            |l: &Limits| l.second_factor_per_account,
        ),
        rule(
            "register-ip",
            Method::POST,
            "/api/v1/accounts",
            Ip,
            |l: &Limits| l.register_per_ip,
        ),
        rule(
            "register-email",
            Method::POST,
            "/api/v1/accounts",
            Field("email"),
            |l: &Limits| l.register_per_target,
        ),
        rule(
            "register-phone",
            Method::POST,
            "/api/v1/accounts",
            Field("phone"),
            |l: &Limits| l.register_per_target,
        ),
        rule(
            "reset-ip",
            Method::POST,
            "/api/v1/auth/password-reset",
            Ip,
            |l: &Limits| l.reset_per_ip,
        ),
        rule(
            "reset-target",
            Method::POST,
            "/api/v1/auth/password-reset",
            Field("login"),
            |l: &Limits| l.reset_per_target,
        ),
        rule(
            "reset-ip",
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Ip,
            |l: &Limits| l.reset_per_ip,
        ),
        rule(
            "contact-proof-ip",
            Method::POST,
            "/api/v1/accounts/{}/contact-proofs",
            Ip,
            |l: &Limits| l.login_per_ip,
        ),
        rule(
            "contact-proof-account",
            Method::POST,
            "/api/v1/accounts/{}/contact-proofs",
            Path,
            |l: &Limits| l.second_factor_per_account,
        ),
        rule(
            "register-ip",
            Method::POST,
            "/api/v1/accounts/{}/contact-proofs/code",
            Ip,
            |l: &Limits| l.register_per_ip,
        ),
        rule(
            "contact-code-account",
            Method::POST,
            "/api/v1/accounts/{}/contact-proofs/code",
            Path,
            |l: &Limits| l.register_per_target,
        ),
        rule(
            "codes-sent",
            Method::POST,
            "/api/v1/applications/{}/signatures/code",
            Account,
            |l: &Limits| l.messages_per_sender,
        ),
        rule(
            "codes-sent",
            Method::POST,
            "/api/v1/me/contact-changes",
            Account,
            |l: &Limits| l.messages_per_sender,
        ),
        rule(
            "invitations",
            Method::POST,
            "/api/v1/applications/{}/participants",
            Account,
            |l: &Limits| l.messages_per_sender,
        ),
        rule(
            "uploads",
            Method::POST,
            "/api/v1/documents",
            Account,
            |l: &Limits| l.uploads_per_account,
        ),
        rule(
            "uploads",
            Method::POST,
            "/api/v1/applications/{}/attachments",
            Account,
            |l: &Limits| l.uploads_per_account,
        ),
        stored("creates", Method::POST, "/api/v1/applications", |l: &Limits| {
            l.creates_per_account
        }),
        rule(
            "creates",
            Method::POST,
            "/api/v1/delegations",
            Account,
            |l: &Limits| l.creates_per_account,
        ),
        rule(
            "creates",
            Method::POST,
            "/api/v1/templates",
            Account,
            |l: &Limits| l.creates_per_account,
        ),
        stored(
            "creates",
            Method::POST,
            "/api/v1/applications/{}/comments",
            |l: &Limits| l.creates_per_account,
        ),
        rule(
            "creates",
            Method::POST,
            "/api/v1/applications/{}/requests",
            Account,
            |l: &Limits| l.creates_per_account,
        ),
        rule(
            "creates",
            Method::POST,
            "/api/v1/organisations",
            Account,
            |l: &Limits| l.creates_per_account,
        ),
        rule(
            "stream-tickets",
            Method::POST,
            "/api/v1/events/tickets",
            Account,
            |l: &Limits| l.stream_tickets_per_account,
        ),
        rule(
            "audit-exports",
            Method::GET,
            "/api/v1/audit/export.csv",
            Account,
            |l: &Limits| l.audit_exports_per_account,
        ),
    ]
}

fn matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut s) = (pattern.split('/'), path.trim_end_matches('/').split('/'));
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some("{}"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// One key to count: the rule and the value it counts by.
struct Counted {
    name: &'static str,
    quota: Quota,
    key: String,
    with_write: bool,
}

/// The keys `req` counts against; the body is read only when a rule needs a field of it.
fn keys(state: &AppState, req: &ServiceRequest, body: Option<&Value>) -> Vec<Counted> {
    let ip = crate::auth::network::client_ip(req.request());
    let now = state.clock.now().timestamp();
    let account = || {
        let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        state
            .tokens
            .verify(token.trim(), now)
            .ok()
            .map(|c| c.sub.to_string())
    };
    rules()
        .iter()
        .filter(|r| r.method == req.method() && matches(r.path, req.path()))
        .filter_map(|r| {
            let value = match r.by {
                By::Ip => ip.clone(),
                By::Account => account(),
                By::Field(field) => body?.get(field)?.as_str().map(|v| v.trim().to_lowercase()),
                By::Path => Some(req.path().to_string()),
            }?;
            Some(Counted {
                name: r.name,
                quota: (r.quota)(&state.config.limits),
                key: state.pii.keyed_hash("rate", &format!("{}:{value}", r.name)),
                with_write: r.with_write,
            })
        })
        .collect()
}

/// Whether requests of `method` on `path` (a spec path such as `/api/v1/x/{id}`) are
/// limited, for the spec's 429 answers.
pub fn limited(method: &Method, path: &str) -> bool {
    rules()
        .iter()
        .any(|r| r.method == method && matches(r.path, path))
}

fn needs_body(req: &ServiceRequest) -> bool {
    rules()
        .iter()
        .any(|r| matches!(r.by, By::Field(_)) && r.method == req.method() && matches(r.path, req.path()))
}

/// Decides the keys of one request in order, stopping at the first refusal (each key's
/// count is one atomic step of its own).
fn decide(state: &AppState, counted: Vec<Counted>) -> Result<Vec<(Counted, Decision)>, ApiError> {
    let now = state.clock.now();
    state.db.count(move |conn| take_all(conn, counted, now))
}

fn take_all(
    conn: &mut DbConnection,
    counted: Vec<Counted>,
    now: Instant,
) -> Result<Vec<(Counted, Decision)>, ApiError> {
    let mut decided = Vec::new();
    for c in counted {
        let decision = persistence::rate_limits::take(conn, &c.key, c.quota, now)?;
        let refused = !decision.allowed;
        decided.push((c, decision));
        if refused {
            break;
        }
    }
    Ok(decided)
}

/// The counts of a request whose limits are all on what it stores: the middleware leaves
/// them to the handler's transaction (`AppState::run_as` takes them after the session
/// check), which saves a connection, a hop to the blocking pool and a commit. A refusal
/// rolls back nothing, as a refused count writes nothing; an admitted count is rolled back
/// with a write that fails, so only what is stored is counted.
#[derive(Clone)]
pub struct Deferred(Arc<Mutex<Counts>>);

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deferred")
    }
}

#[derive(Default)]
enum Counts {
    #[default]
    None,
    Pending(Vec<Counted>),
    Decided(Vec<(Counted, Decision)>),
}

impl Deferred {
    /// Counts what is pending on `tx`; a refusal is the 429 the middleware would answer.
    pub fn take(&self, tx: &mut DbConnection, now: Instant) -> Result<(), ApiError> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Counts::Pending(pending) = std::mem::take(&mut *counts) else {
            return Ok(());
        };
        let decided = take_all(tx, pending, now)?;
        let refusal = refusal(&decided);
        *counts = Counts::Decided(decided);
        refusal.map_or(Ok(()), Err)
    }

    /// The key and quota of the one count pending, when there is exactly one (a limited
    /// write usually has one limit): it can be taken by another statement of the write.
    pub fn single(&self) -> Option<(String, Quota)> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Counts::Pending(pending) => match pending.as_slice() {
                [one] => Some((one.key.clone(), one.quota)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Settles the one pending count (see [`single`](Self::single)) with the decision a
    /// statement took for it; a refusal is the 429 [`take`](Self::take) would answer.
    pub fn settle(&self, decision: Decision) -> Result<(), ApiError> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Counts::Pending(mut pending) = std::mem::take(&mut *counts) else {
            return Ok(());
        };
        let decided: Vec<_> = pending.drain(..).map(|c| (c, decision)).collect();
        let refusal = refusal(&decided);
        *counts = Counts::Decided(decided);
        refusal.map_or(Ok(()), Err)
    }

    fn pending(counted: Vec<Counted>) -> Deferred {
        Deferred(Arc::new(Mutex::new(Counts::Pending(counted))))
    }

    /// What the handler decided; or, when it never counted (it failed before its
    /// transaction, or wrote without `run_as`), the counts still to make.
    fn outcome(&self) -> Counts {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn seconds(t: chrono::TimeDelta) -> i64 {
    (t.num_milliseconds() + 999).div_euclid(1000).max(0)
}

/// `RateLimit-Policy` and `RateLimit` for the key closest to its limit.
fn headers_of(decided: &[(Counted, Decision)]) -> Option<(String, String)> {
    let (c, d) = decided.iter().min_by_key(|(_, d)| (d.allowed, d.remaining))?;
    let policy = format!(
        "\"{}\";q={};w={}",
        c.name,
        c.quota.count,
        c.quota.period.num_seconds()
    );
    let current = format!("\"{}\";r={};t={}", c.name, d.remaining, seconds(d.reset));
    Some((policy, current))
}

pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let body = if needs_body(&req) {
        let body = super::body::peek(&mut req, state.config.body_limit_bytes).await?;
        body.complete
            .then(|| serde_json::from_slice(&body.bytes).ok())
            .flatten()
    } else {
        None
    };
    let counted = keys(&state, &req, body.as_ref());
    if counted.is_empty() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if counted.iter().all(|c| c.with_write) {
        let deferred = Deferred::pending(counted);
        req.extensions_mut().insert(deferred.clone());
        let mut response = next.call(req).await?;
        let decided = match deferred.outcome() {
            Counts::Decided(decided) => decided,
            // The handler stored nothing, or stored it without counting: counted now, so
            // that no write escapes its limit.
            Counts::Pending(counted) if response.status().is_success() => {
                let worker = state.clone();
                crate::blocking::blocking(move || decide(&worker, counted)).await?
            }
            _ => vec![],
        };
        with_headers(&mut response, &decided);
        return Ok(response.map_into_left_body());
    }
    let worker = state.clone();
    let decided = crate::blocking::blocking(move || decide(&worker, counted)).await?;
    if let Some(error) = refusal(&decided) {
        return Ok(req.error_response(error).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    with_headers(&mut response, &decided);
    Ok(response.map_into_left_body())
}

/// The 429 for a refused count, with `Retry-After` and the `RateLimit` headers.
fn refusal(decided: &[(Counted, Decision)]) -> Option<ApiError> {
    let (_, refused) = decided.iter().find(|(_, d)| !d.allowed)?;
    let wait = seconds(refused.retry_after).max(1);
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests of this kind; try again in {wait} s."),
    )
    .with_header(header::RETRY_AFTER, wait.to_string());
    if let Some((policy, current)) = headers_of(decided) {
        error = error
            .with_header(RATELIMIT_POLICY, policy)
            .with_header(RATELIMIT, current);
    }
    Some(error)
}

/// An admitted request's answer says how much is left.
fn with_headers<B>(response: &mut ServiceResponse<B>, decided: &[(Counted, Decision)]) {
    let Some((policy, current)) = headers_of(decided) else {
        return;
    };
    let headers = response.headers_mut();
    for (name, value) in [(RATELIMIT_POLICY, policy), (RATELIMIT, current)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

pub const RATELIMIT: header::HeaderName = header::HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: header::HeaderName = header::HeaderName::from_static("ratelimit-policy");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches(
            "/api/v1/applications/{}/comments",
            "/api/v1/applications/abc/comments"
        ));
        assert!(matches("/api/v1/accounts", "/api/v1/accounts/"));
        assert!(!matches(
            "/api/v1/applications/{}/comments",
            "/api/v1/applications//comments"
        ));
        assert!(!matches(
            "/api/v1/accounts",
            "/api/v1/accounts/x/confirm-identity"
        ));
        assert!(!matches("/api/v1/auth/login", "/api/v1/auth/login/mfa"));
    }
}
