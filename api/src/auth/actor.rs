//! The `Actor` extractor: a handler that takes an `Actor` can only be reached with a valid
//! access token of a live session, so its signature says who may call it. The signature
//! check is cached; the session check is one indexed lookup on every request, so a revoked
//! session (or a changed role or level) counts from the very next request, on every node.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use domain::access::{OnBehalf, Subject};
use domain::account::AccountLevel;
use domain::ids::{AccountId, SessionId};
use domain::login::address_allowed;
use domain::time::Instant;
use futures_util::future::LocalBoxFuture;
use persistence::sessions::SessionState;
use persistence::DbConnection;

use super::network::client_ip;
use super::tokens::TokenError;
use crate::edge::limits::Deferred;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct Actor {
    pub account: AccountId,
    pub session: SessionId,
    pub subject: Subject,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    claimed: Claimed,
}

impl Actor {
    /// The account this request is about: the principal when acting on behalf.
    pub fn principal(&self) -> AccountId {
        self.subject
            .on_behalf
            .as_ref()
            .map(|o| o.principal)
            .unwrap_or(self.account)
    }

    /// The principal, only when acting for someone else.
    pub fn on_behalf_of(&self) -> Option<AccountId> {
        self.subject.on_behalf.as_ref().map(|o| o.principal)
    }

    /// When the access token this actor came with expires (Unix seconds).
    pub fn token_expires_at(&self) -> i64 {
        self.claimed.expires_at
    }

    /// The actor a used stream ticket speaks for, as the database has it now: the same
    /// checks as a bearer token's (session live, address allowed, delegation in force),
    /// with the ticket's claims in place of the token's.
    pub fn from_ticket(
        conn: &mut DbConnection,
        ticket: &persistence::stream_tickets::Ticket,
        ip: Option<String>,
        user_agent: Option<String>,
        now: Instant,
    ) -> Result<Actor, ApiError> {
        let claimed = Claimed {
            session: ticket.session,
            account: ticket.account,
            on_behalf: ticket.on_behalf_of,
            mfa: ticket.mfa,
            expires_at: ticket.token_expires_at.timestamp(),
            ip: ip.clone(),
        };
        Ok(Actor {
            account: claimed.account,
            session: claimed.session,
            subject: subject(conn, &claimed, now)?,
            ip,
            user_agent,
            claimed,
        })
    }
}

pub const ON_BEHALF_OF: &str = "X-On-Behalf-Of";

/// The principal named by `X-On-Behalf-Of`, if any; a value that is no id is refused.
fn on_behalf_of(req: &HttpRequest) -> Result<Option<AccountId>, ApiError> {
    let Some(value) = req.headers().get(ON_BEHALF_OF) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_on_behalf_of",
                "X-On-Behalf-Of must be the principal's account id.",
            )
        })
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
}

/// What a verified token and the request's headers claim; the database decides the rest.
#[derive(Clone, Debug)]
struct Claimed {
    session: SessionId,
    account: AccountId,
    on_behalf: Option<AccountId>,
    mfa: bool,
    /// The access token's expiry (Unix seconds).
    expires_at: i64,
    ip: Option<String>,
}

fn token_expired() -> ApiError {
    ApiError::unauthorized("token_expired", "The access token has expired; refresh it.")
}

/// The subject a claim speaks for, as the database has it now: the session must be live
/// and, when acting for someone, every delegation between the two and the principal's
/// level are read. Checked on every request, so a revoked session or delegation is
/// refused on the very next one, on any node.
fn subject(conn: &mut DbConnection, claimed: &Claimed, now: Instant) -> Result<Subject, ApiError> {
    let state = persistence::sessions::state(conn, claimed.session)?;
    subject_of(conn, claimed, state, now)
}

/// [`subject`] with the session's state already read (`None`: there is no such session).
fn subject_of(
    conn: &mut DbConnection,
    claimed: &Claimed,
    state: Option<SessionState>,
    now: Instant,
) -> Result<Subject, ApiError> {
    if claimed.expires_at <= now.timestamp() {
        return Err(token_expired());
    }
    let representative = claimed.account;
    let live = state
        .filter(|s| !s.revoked && s.expires_at > now && s.account == representative)
        .ok_or_else(|| ApiError::unauthorized("session_revoked", "This session has ended; log in again."))?;
    if !address_allowed(live.ip_allow_list.as_deref(), claimed.ip.as_deref()) {
        return Err(ApiError::forbidden(
            "ip_not_allowed",
            "Your account does not allow this address.",
        ));
    }
    let on_behalf = match claimed.on_behalf.filter(|p| *p != representative) {
        None => None,
        Some(principal) => {
            let grants = persistence::delegations::grants(conn, representative, principal)?;
            let head = persistence::organisations::head(conn, principal)?;
            let level = persistence::accounts::find(conn, principal)?
                .map(|a| a.level)
                .unwrap_or(AccountLevel::Simplified);
            Some(OnBehalf {
                principal,
                principal_level: level,
                grants,
                head: head == Some(representative),
                unverified_organisation: persistence::organisations::unverified(conn, principal)?,
            })
        }
    };
    Ok(Subject {
        account: representative,
        roles: live.roles,
        level: live.level,
        mfa: claimed.mfa,
        agency: live.agency,
        on_behalf,
    })
}

impl Actor {
    /// This actor as the database has it now, or why it may no longer act (the token
    /// expired, the session ended, a delegation was revoked). Long-lived responses such
    /// as event streams call it again while they run.
    pub fn recheck(&self, conn: &mut DbConnection, now: Instant) -> Result<Actor, ApiError> {
        Ok(Actor {
            subject: subject(conn, &self.claimed, now)?,
            ..self.clone()
        })
    }
}

/// A caller whose access token is verified (signature, expiry, headers read) but whose
/// session is not checked yet. The check runs in the same blocking call, on the same
/// pooled connection, as the handler's own work (`AppState::query_as` and `run_as`), so an
/// authenticated request costs one hop to the blocking pool, not two; and a write checks
/// the session inside its own transaction.
#[derive(Clone, Debug)]
pub struct Caller {
    claimed: Claimed,
    user_agent: Option<String>,
    /// The request's rate-limit counts left to its transaction (see `edge::limits`).
    limits: Option<Deferred>,
}

impl Caller {
    /// Takes the request's deferred rate-limit counts in `tx` (a write's transaction).
    pub fn count(&self, tx: &mut DbConnection, now: Instant) -> Result<(), ApiError> {
        self.limits.as_ref().map_or(Ok(()), |limits| limits.take(tx, now))
    }

    /// [`check`](Self::check), then [`count`](Self::count), in `tx` (a write's
    /// transaction). The request's one deferred count, the usual case, is taken by the
    /// session check's own statement: one round trip, not two. A failed check rolls the
    /// count back with the transaction, and leaves the count pending.
    pub fn check_and_count(&self, tx: &mut DbConnection, now: Instant) -> Result<Actor, ApiError> {
        let single = self
            .limits
            .as_ref()
            .and_then(|limits| Some((limits, limits.single()?)));
        let Some((limits, (key, quota))) = single else {
            let actor = self.check(tx, now)?;
            self.count(tx, now)?;
            return Ok(actor);
        };
        let (state, decision) =
            persistence::rate_limits::session_state_counting(tx, self.claimed.session, &key, quota, now)?;
        let actor = self.check_read(tx, state, now)?;
        // A session was found, so the statement counted.
        let decision = decision.ok_or_else(|| ApiError::internal("a session found without its count"))?;
        limits.settle(decision)?;
        Ok(actor)
    }

    /// The actor this caller is, as the database has it now (see `subject`).
    pub fn check(&self, conn: &mut DbConnection, now: Instant) -> Result<Actor, ApiError> {
        let state = persistence::sessions::state(conn, self.claimed.session)?;
        self.check_read(conn, state, now)
    }

    /// [`check`](Self::check) with the session's state read by the caller's own first query
    /// (`None`: there is no such session), so the check costs no round trip of its own.
    pub fn check_read(
        &self,
        conn: &mut DbConnection,
        state: Option<SessionState>,
        now: Instant,
    ) -> Result<Actor, ApiError> {
        Ok(Actor {
            account: self.claimed.account,
            session: self.claimed.session,
            subject: subject_of(conn, &self.claimed, state, now)?,
            ip: self.claimed.ip.clone(),
            user_agent: self.user_agent.clone(),
            claimed: self.claimed.clone(),
        })
    }

    /// The account the token was issued to (not yet checked against its session).
    pub fn account(&self) -> AccountId {
        self.claimed.account
    }

    /// The session the token belongs to (not yet checked).
    pub fn session(&self) -> SessionId {
        self.claimed.session
    }

    /// The account the request is about, as claimed: the principal named by
    /// `X-On-Behalf-Of`, else the caller. The check decides whether the claim holds.
    pub fn principal(&self) -> AccountId {
        self.claimed
            .on_behalf
            .filter(|p| *p != self.claimed.account)
            .unwrap_or(self.claimed.account)
    }

    fn from_headers(req: &HttpRequest) -> Result<Caller, ApiError> {
        let on_behalf = on_behalf_of(req)?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("application state missing"))?;
        let token = bearer(req).ok_or_else(|| {
            ApiError::unauthorized("missing_token", "Send Authorization: Bearer <access token>.")
        })?;
        let claims = state
            .tokens
            .verify(&token, state.clock.now().timestamp())
            .map_err(|e| match e {
                TokenError::Expired => token_expired(),
                TokenError::Invalid | TokenError::UnknownKey => {
                    ApiError::unauthorized("invalid_token", "The access token is not valid.")
                }
            })?;
        Ok(Caller {
            claimed: Claimed {
                session: claims.sid,
                account: claims.sub,
                on_behalf,
                mfa: claims.amr.iter().any(|m| m == "mfa"),
                expires_at: claims.exp,
                ip: client_ip(req),
            },
            user_agent: user_agent(req),
            limits: req.extensions().get::<Deferred>().cloned(),
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Caller::from_headers(req))
    }
}

/// For handlers that need the checked actor before their own work (streams, uploads):
/// the session check is a blocking call of its own.
impl FromRequest for Actor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = Caller::from_headers(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let now = state.clock.now();
            state.read(move |conn| caller.check(conn, now)).await
        })
    }
}
