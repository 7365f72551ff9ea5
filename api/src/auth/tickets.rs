//! Stream tickets: a browser's `EventSource` cannot send `Authorization`, so a page asks
//! `POST /api/v1/events/tickets` (with its token) for a ticket and opens the stream with
//! `?ticket=`. A ticket is 256 random bits, stored only as its SHA-256, good for one
//! stream, once, within `stream_ticket_ttl_secs`, and only while its session lives.
//!
//! What an attacker would try, and what stops it: replaying a ticket seen in a URL (a
//! proxy log, the browser history) — it was used when the stream opened, and it expires
//! in seconds anyway; racing the rightful page with a copy — one conditional UPDATE lets
//! exactly one use through, on any node; taking a ticket for one stream to another
//! stream — refused, and the attempt uses the ticket up, so it cannot be tried twice;
//! using one after logging out — the session check refuses it; guessing — 2^256 values;
//! reading them from our logs — requests are logged by route pattern, never by URL.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::stream::EventStream;
use domain::time::Instant;
use futures_util::future::LocalBoxFuture;
use persistence::{stream_tickets, DbConnection};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::actor::{user_agent, Actor};
use super::network::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

/// A fresh ticket and the hash that is stored in its place.
pub fn new_ticket() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    let hash = ticket_hash(&ticket);
    (ticket, hash)
}

fn ticket_hash(ticket: &str) -> String {
    hex::encode(Sha256::digest(ticket.as_bytes()))
}

fn invalid_ticket() -> ApiError {
    ApiError::unauthorized(
        "invalid_ticket",
        "This stream ticket is unknown, expired, already used or for another stream; ask for a new one.",
    )
}

/// Uses `ticket` to open `stream`: the actor it speaks for, or why not. The ticket is
/// used up by the attempt whatever the answer, so the caller commits even a refusal.
pub fn redeem(
    tx: &mut DbConnection,
    ticket: &str,
    stream: EventStream,
    (ip, user_agent): (Option<String>, Option<String>),
    now: Instant,
) -> Result<Actor, ApiError> {
    let used = stream_tickets::redeem(tx, &ticket_hash(ticket), now)?.ok_or_else(invalid_ticket)?;
    if used.stream != stream {
        return Err(invalid_ticket());
    }
    Actor::from_ticket(tx, &used, ip, user_agent, now)
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// Who opens an event stream: a bearer token's actor, or a ticket still to be checked
/// against the stream the handler names ([`StreamCaller::admit`]). A request with
/// `?ticket=` is judged by the ticket alone.
pub enum StreamCaller {
    Bearer(Box<Actor>),
    Ticket {
        ticket: String,
        ip: Option<String>,
        user_agent: Option<String>,
    },
}

impl StreamCaller {
    /// The actor that may open `stream`.
    pub async fn admit(self, state: &AppState, stream: EventStream) -> Result<Actor, ApiError> {
        let (ticket, origin) = match self {
            StreamCaller::Bearer(actor) => return Ok(*actor),
            StreamCaller::Ticket {
                ticket,
                ip,
                user_agent,
            } => (ticket, (ip, user_agent)),
        };
        let clock = state.clock.clone();
        // `Ok(refusal)`: the transaction commits, so a refused attempt still used the ticket.
        state
            .write(move |tx| Ok(redeem(tx, &ticket, stream, origin, clock.now())))
            .await?
    }
}

impl FromRequest for StreamCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<StreamCaller, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ticket = web::Query::<TicketQuery>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.into_inner().ticket);
        match ticket {
            Some(ticket) => {
                let caller = StreamCaller::Ticket {
                    ticket,
                    ip: client_ip(req),
                    user_agent: user_agent(req),
                };
                Box::pin(async move { Ok(caller) })
            }
            None => {
                let actor = Actor::from_request(req, payload);
                Box::pin(async move { Ok(StreamCaller::Bearer(Box::new(actor.await?))) })
            }
        }
    }
}
