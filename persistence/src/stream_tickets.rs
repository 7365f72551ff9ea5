//! Stream tickets: what a browser's EventSource presents in `?ticket=` instead of a bearer
//! token. Only a ticket's hash is stored; using one is a single conditional UPDATE, so of
//! any number of concurrent uses on any number of nodes exactly one succeeds.

use diesel::prelude::*;
use domain::ids::{AccountId, SessionId};
use domain::stream::EventStream;
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::stream_tickets;

/// Whom a ticket speaks for and what it opens: what the access token that asked for it
/// claimed, bound to one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub session: SessionId,
    pub account: AccountId,
    pub on_behalf_of: Option<AccountId>,
    pub stream: EventStream,
    pub mfa: bool,
    /// The asking access token's expiry: a stream opened with the ticket ends then, as it
    /// would have with the token.
    pub token_expires_at: Instant,
}

pub fn create(
    conn: &mut DbConnection,
    hash: &str,
    ticket: &Ticket,
    expires_at: Instant,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::insert_into(stream_tickets::table)
        .values((
            stream_tickets::ticket_hash.eq(hash),
            stream_tickets::session_id.eq(ticket.session.to_string()),
            stream_tickets::account_id.eq(ticket.account.to_string()),
            stream_tickets::on_behalf_of.eq(ticket.on_behalf_of.map(|p| p.to_string())),
            stream_tickets::stream.eq(ticket.stream.key()),
            stream_tickets::mfa.eq(ticket.mfa),
            stream_tickets::token_expires_at.eq(to_db_time(ticket.token_expires_at)),
            stream_tickets::created_at.eq(to_db_time(now)),
            stream_tickets::expires_at.eq(to_db_time(expires_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Uses the ticket with this hash if it is unused and unexpired, and answers it; `None`
/// when there is no such ticket, it expired, or it was used before (by this call's
/// competitors too: the UPDATE decides, one row or none).
pub fn redeem(conn: &mut DbConnection, hash: &str, now: Instant) -> Result<Option<Ticket>, StoreError> {
    let at = to_db_time(now);
    let used = diesel::update(
        stream_tickets::table
            .filter(stream_tickets::ticket_hash.eq(hash))
            .filter(stream_tickets::used_at.is_null())
            .filter(stream_tickets::expires_at.gt(at)),
    )
    .set(stream_tickets::used_at.eq(at))
    .execute(conn)?;
    if used != 1 {
        return Ok(None);
    }
    type Row = (
        String,
        String,
        Option<String>,
        String,
        bool,
        chrono::NaiveDateTime,
    );
    let (session, account, on_behalf_of, stream, mfa, token_expires_at): Row = stream_tickets::table
        .find(hash)
        .select((
            stream_tickets::session_id,
            stream_tickets::account_id,
            stream_tickets::on_behalf_of,
            stream_tickets::stream,
            stream_tickets::mfa,
            stream_tickets::token_expires_at,
        ))
        .first(conn)?;
    Ok(Some(Ticket {
        session: parse_id("stream_tickets", &session)?,
        account: parse_id("stream_tickets", &account)?,
        on_behalf_of: on_behalf_of.map(|p| parse_id("stream_tickets", &p)).transpose()?,
        stream: EventStream::from_key(&stream)
            .ok_or_else(|| StoreError::corrupt("stream_tickets", format!("stream {stream:?}")))?,
        mfa,
        token_expires_at: from_db_time(token_expires_at),
    }))
}

/// Deletes tickets that expired before `before`, used or not; answers how many.
pub fn sweep(conn: &mut DbConnection, before: Instant) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(stream_tickets::table.filter(stream_tickets::expires_at.lt(to_db_time(before))))
            .execute(conn)?,
    )
}
