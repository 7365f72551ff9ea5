//! The `Actor` extractor: a handler that takes an `Actor` can only be reached with a valid
//! access token, so its signature says who may call it.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use domain::access::Subject;

use super::tokens::{AccessClaims, TokenError};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct Actor {
    pub claims: AccessClaims,
    pub ip: Option<String>,
}

impl Actor {
    pub fn subject(&self) -> Subject {
        Subject {
            account: self.claims.sub,
            roles: self.claims.roles.clone(),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::internal("application state missing")));
        };
        let Some(token) = bearer(req) else {
            return ready(Err(ApiError::unauthorized(
                "missing_token",
                "Send Authorization: Bearer <access token>.",
            )));
        };
        let now = crate::clock::now().timestamp();
        let result = state.tokens.verify(token, now).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthorized("token_expired", "The access token has expired; refresh it.")
            }
            TokenError::Invalid | TokenError::UnknownKey => {
                ApiError::unauthorized("invalid_token", "The access token is not valid.")
            }
        });
        let ip = req.connection_info().realip_remote_addr().map(str::to_string);
        ready(result.map(|claims| Actor { claims, ip }))
    }
}
