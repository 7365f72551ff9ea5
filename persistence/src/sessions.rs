//! Sessions and their refresh tokens. A session is one login; its refresh token rotates on
//! every use and every token it ever had is kept (hashed), so presenting a rotated one is
//! recognised as theft and ends the session.

use crate::native::natively;
use diesel::prelude::*;
use domain::ids::{AccountId, SessionId};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::{accounts, refresh_tokens, sessions};

#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub account: AccountId,
    pub expires_at: Instant,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub amr: Vec<String>,
    pub refresh_hash: String,
}

/// A session as listed to its owner.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub created_at: Instant,
    pub last_seen_at: Instant,
    pub expires_at: Instant,
    pub revoked_at: Option<Instant>,
    pub revoked_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What checking an access token against its session needs, in one indexed lookup.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionState {
    pub account: AccountId,
    pub roles: Vec<domain::access::Role>,
    pub level: domain::account::AccountLevel,
    pub agency: Option<String>,
    pub revoked: bool,
    pub expires_at: Instant,
    pub ip_allow_list: Option<String>,
}

pub fn create(conn: &mut DbConnection, session: &NewSession, now: Instant) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(session.id.to_string()),
            sessions::account_id.eq(session.account.to_string()),
            sessions::created_at.eq(to_db_time(now)),
            sessions::last_seen_at.eq(to_db_time(now)),
            sessions::expires_at.eq(to_db_time(session.expires_at)),
            sessions::ip.eq(&session.ip),
            sessions::user_agent.eq(&session.user_agent),
            sessions::amr.eq(session.amr.join(",")),
        ))
        .execute(conn)?;
    add_refresh(conn, session.id, &session.refresh_hash, now)
}

fn add_refresh(
    conn: &mut DbConnection,
    session: SessionId,
    hash: &str,
    now: Instant,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::session_id.eq(session.to_string()),
            refresh_tokens::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The columns of the per-request session check, as [`state`] selects them.
pub(crate) type StateRow = (
    String,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// [`StateRow`]'s columns: the session joined to its account.
macro_rules! state_columns {
    () => {
        (
            $crate::schema::sessions::account_id,
            $crate::schema::sessions::revoked_at,
            $crate::schema::sessions::expires_at,
            $crate::schema::accounts::ip_allow_list,
            $crate::schema::accounts::roles,
            $crate::schema::accounts::level,
            $crate::schema::accounts::agency_code,
        )
    };
}
pub(crate) use state_columns;

/// The session's state for the per-request check (primary-key lookup joined to its account).
pub fn state(conn: &mut DbConnection, id: SessionId) -> Result<Option<SessionState>, StoreError> {
    let row: Option<StateRow> = natively!(conn, |c| sessions::table
        .inner_join(accounts::table)
        .filter(sessions::id.eq(id.to_string()))
        .select(state_columns!())
        .first(c)
        .optional())?;
    row.map(SessionState::try_from).transpose()
}

impl TryFrom<StateRow> for SessionState {
    type Error = StoreError;

    fn try_from(
        (account, revoked_at, expires_at, ip_allow_list, roles, level, agency): StateRow,
    ) -> Result<SessionState, StoreError> {
        Ok(SessionState {
            account: parse_id("sessions", &account)?,
            roles: crate::accounts::decode_roles(&roles)?,
            level: domain::account::AccountLevel::parse(&level)
                .ok_or_else(|| StoreError::corrupt("accounts", format!("level {level:?}")))?,
            revoked: revoked_at.is_some(),
            expires_at: from_db_time(expires_at),
            ip_allow_list,
            agency,
        })
    }
}

/// What presenting a refresh token turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshLookup {
    Unknown,
    /// The current token of a live session.
    Current {
        session: SessionId,
        account: AccountId,
        amr: Vec<String>,
    },
    /// A token rotated at `rotated_at` of a session still live: a second tab refreshing at
    /// the same moment, or a copy in someone else's hands — the grace period decides.
    Rotated {
        session: SessionId,
        account: AccountId,
        amr: Vec<String>,
        rotated_at: Instant,
    },
    /// A token of a session that ended: reuse.
    Reused {
        session: SessionId,
        account: AccountId,
    },
    Expired,
}

pub fn lookup_refresh(
    conn: &mut DbConnection,
    hash: &str,
    now: Instant,
) -> Result<RefreshLookup, StoreError> {
    type Row = (
        String,
        Option<chrono::NaiveDateTime>,
        String,
        Option<chrono::NaiveDateTime>,
        chrono::NaiveDateTime,
        String,
    );
    let row: Option<Row> = refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((
            sessions::id,
            refresh_tokens::rotated_at,
            sessions::account_id,
            sessions::revoked_at,
            sessions::expires_at,
            sessions::amr,
        ))
        .first(conn)
        .optional()?;
    let Some((session, rotated_at, account, revoked_at, expires_at, amr)) = row else {
        return Ok(RefreshLookup::Unknown);
    };
    let session = parse_id("sessions", &session)?;
    let account = parse_id("sessions", &account)?;
    if revoked_at.is_some() {
        return Ok(RefreshLookup::Reused { session, account });
    }
    if from_db_time(expires_at) <= now {
        return Ok(RefreshLookup::Expired);
    }
    let amr = amr
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(match rotated_at {
        Some(at) => RefreshLookup::Rotated {
            session,
            account,
            amr,
            rotated_at: from_db_time(at),
        },
        None => RefreshLookup::Current {
            session,
            account,
            amr,
        },
    })
}

/// Retires `old` and makes `new` the session's current refresh token; `false` when `old`
/// was rotated concurrently (two refreshes raced: the loser must not get a token).
pub fn rotate_refresh(
    conn: &mut DbConnection,
    session: SessionId,
    old: &str,
    new: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let retired = diesel::update(
        refresh_tokens::table
            .find(old)
            .filter(refresh_tokens::rotated_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    if retired != 1 {
        return Ok(false);
    }
    add_refresh(conn, session, new, now)?;
    diesel::update(sessions::table.find(session.to_string()))
        .set(sessions::last_seen_at.eq(to_db_time(now)))
        .execute(conn)?;
    Ok(true)
}

/// Ends one session; `false` when it was not live.
pub fn revoke(
    conn: &mut DbConnection,
    id: SessionId,
    reason: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let ended = diesel::update(
        sessions::table
            .find(id.to_string())
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(Some(to_db_time(now))),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(ended == 1)
}

/// Ends every live session of `account` except `keep`; returns how many ended.
pub fn revoke_all(
    conn: &mut DbConnection,
    account: AccountId,
    keep: Option<SessionId>,
    reason: &str,
    now: Instant,
) -> Result<usize, StoreError> {
    let keep = keep.map(|k| k.to_string()).unwrap_or_default();
    Ok(diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account.to_string()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep)),
    )
    .set((
        sessions::revoked_at.eq(Some(to_db_time(now))),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?)
}

/// The account's sessions, newest first (the most recent 50).
pub fn list(conn: &mut DbConnection, account: AccountId) -> Result<Vec<Session>, StoreError> {
    type Row = (
        String,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sessions::table
        .filter(sessions::account_id.eq(account.to_string()))
        .order(sessions::created_at.desc())
        .limit(50)
        .select((
            sessions::id,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::expires_at,
            sessions::revoked_at,
            sessions::revoked_reason,
            sessions::ip,
            sessions::user_agent,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, created, seen, expires, revoked, reason, ip, user_agent)| {
            Ok(Session {
                id: parse_id("sessions", &id)?,
                created_at: from_db_time(created),
                last_seen_at: from_db_time(seen),
                expires_at: from_db_time(expires),
                revoked_at: revoked.map(from_db_time),
                revoked_reason: reason,
                ip,
                user_agent,
            })
        })
        .collect()
}

/// The owner of a session, for checking who may end it.
pub fn owner(conn: &mut DbConnection, id: SessionId) -> Result<Option<AccountId>, StoreError> {
    let owner: Option<String> = sessions::table
        .find(id.to_string())
        .select(sessions::account_id)
        .first(conn)
        .optional()?;
    owner.map(|o| parse_id("sessions", &o)).transpose()
}
