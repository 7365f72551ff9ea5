//! The `Actor` extractor: a handler that takes an `Actor` can only be reached with a valid
//! access token of a live session, so its signature says who may call it. The signature
//! check is cached; the session check is one indexed lookup on every request, so a revoked
//! session (or a changed role or level) counts from the very next request, on every node.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use domain::access::Subject;
use domain::ids::{AccountId, SessionId};
use futures_util::future::LocalBoxFuture;

use super::network::{client_ip, ip_allowed};
use super::tokens::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct Actor {
    pub account: AccountId,
    pub session: SessionId,
    pub subject: Subject,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn subject(&self) -> Subject {
        self.subject.clone()
    }
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

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let ip = client_ip(req);
        let user_agent = user_agent(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token.ok_or_else(|| {
                ApiError::unauthorized("missing_token", "Send Authorization: Bearer <access token>.")
            })?;
            let now = crate::clock::now();
            let claims = state
                .tokens
                .verify(&token, now.timestamp())
                .map_err(|e| match e {
                    TokenError::Expired => {
                        ApiError::unauthorized("token_expired", "The access token has expired; refresh it.")
                    }
                    TokenError::Invalid | TokenError::UnknownKey => {
                        ApiError::unauthorized("invalid_token", "The access token is not valid.")
                    }
                })?;
            let session = claims.sid;
            let live = state
                .read(move |conn| Ok(persistence::sessions::state(conn, session)?))
                .await?;
            let live = live.filter(|s| !s.revoked && s.expires_at > now && s.account == claims.sub);
            let Some(live) = live else {
                return Err(ApiError::unauthorized(
                    "session_revoked",
                    "This session has ended; log in again.",
                ));
            };
            if let Some(list) = live.ip_allow_list.as_deref() {
                if !ip.as_deref().is_some_and(|ip| ip_allowed(list, ip)) {
                    return Err(ApiError::forbidden(
                        "ip_not_allowed",
                        "Your account does not allow this address.",
                    ));
                }
            }
            let subject = Subject {
                account: claims.sub,
                roles: live.roles,
                level: live.level,
                mfa: claims.amr.iter().any(|m| m == "mfa"),
                agency: live.agency,
                on_behalf: None,
            };
            Ok(Actor {
                account: claims.sub,
                session,
                subject,
                ip,
                user_agent,
            })
        })
    }
}
