//! Issuing a stream ticket: a short-lived, single-use stand-in for the caller's bearer
//! token that a browser's EventSource can put in a URL (see `auth::tickets`).

use chrono::TimeDelta;
use domain::ids::{AccountId, SessionId};
use domain::stream::EventStream;
use domain::time::Instant;
use persistence::stream_tickets::{self, Ticket};
use persistence::DbConnection;

use crate::auth::tickets::new_ticket;
use crate::error::ApiError;
use crate::usecases::joint::live;
use crate::usecases::{Acting, Outcome};

/// What a ticket is bound to besides the caller: the session and access token it was
/// asked for with.
#[derive(Clone, Copy, Debug)]
pub struct Holder {
    pub session: SessionId,
    /// The access token's expiry (Unix seconds); a stream opened with the ticket ends then.
    pub token_expires_at: i64,
}

/// A ticket, shown once.
#[derive(Clone, Debug)]
pub struct Issued {
    pub ticket: String,
    pub expires_at: Instant,
    pub stream: EventStream,
}

/// Issues a ticket for `stream` to a caller who may watch it now (the stream asks again
/// when the ticket is used): 404 for an application the caller may not see, as its
/// stream would answer.
pub fn issue(
    tx: &mut DbConnection,
    who: &Acting,
    holder: Holder,
    stream: EventStream,
    ttl: TimeDelta,
    now: Instant,
) -> Result<Outcome<Issued>, ApiError> {
    match stream {
        EventStream::Mine => live::may_watch_own(who, who.principal(), now)?,
        EventStream::Application(id) => live::may_watch_application(tx, who, id, now)?,
    }
    let token_expires_at = chrono::DateTime::from_timestamp(holder.token_expires_at, 0)
        .ok_or_else(|| ApiError::internal("access token expiry out of range"))?;
    let ticket = Ticket {
        session: holder.session,
        account: who.account,
        on_behalf_of: who.on_behalf_of.map(AccountId::from_uuid),
        stream,
        mfa: who.subject.mfa,
        token_expires_at,
    };
    let (secret, hash) = new_ticket();
    let expires_at = now + ttl;
    stream_tickets::create(tx, &hash, &ticket, expires_at, now)?;
    // Not audited: a page asks for one at every (re)connection, and it grants nothing the
    // token did not; the stream it opens is what matters, and that is checked like a request.
    Ok(Outcome::quiet(Issued {
        ticket: secret,
        expires_at,
        stream,
    }))
}
