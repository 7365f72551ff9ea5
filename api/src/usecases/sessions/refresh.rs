//! Refreshing: the refresh token rotates on every use; a rotated one presented again
//! means someone holds a copy, and ends the whole session.

use domain::audit::AuditEntry;
use domain::ids::{AccountId, SessionId};
use domain::time::Instant;
use persistence::sessions::{self, RefreshLookup};
use persistence::{accounts, DbConnection};

use crate::auth::alerts::Alert;
use crate::auth::session::{self as tokens, SessionRules, TokenPair};
use crate::error::ApiError;
use crate::usecases::Answered;
use crate::usecases::{Effects, Outcome};

fn refused(code: &'static str) -> ApiError {
    ApiError::unauthorized(code, "The refresh token is not valid; log in again.")
}

/// Exchanges `presented` for new tokens. The same token twice within the grace period
/// (two tabs) gets the same pair twice; later, a rotated token coming back means someone
/// holds a copy, and ends the whole session.
pub fn refresh(
    tx: &mut DbConnection,
    rules: &SessionRules,
    token: &str,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Answered<TokenPair>>, ApiError> {
    let (next, next_hash) = tokens::successor(&rules.pii, token);
    let presented = tokens::refresh_hash(token);
    let (session, account) = match sessions::lookup_refresh(tx, &presented, now)? {
        RefreshLookup::Current {
            session,
            account,
            amr,
        } => {
            if !sessions::rotate_refresh(tx, session, &presented, &next_hash, now)? {
                // A concurrent refresh rotated it first: look again, as a second tab.
                return refresh(tx, rules, token, ip, now);
            }
            return Ok(Outcome::quiet(pair(
                tx,
                rules,
                (account, session, &amr),
                next,
                now,
            )?));
        }
        RefreshLookup::Rotated {
            session,
            account,
            amr,
            rotated_at,
        } if now - rotated_at <= rules.refresh_grace => {
            // Issued as at the rotation, the access token is the one the first refresh got.
            return Ok(Outcome::quiet(pair(
                tx,
                rules,
                (account, session, &amr),
                next,
                rotated_at,
            )?));
        }
        RefreshLookup::Rotated { session, account, .. } | RefreshLookup::Reused { session, account } => {
            (session, account)
        }
        RefreshLookup::Unknown => return Ok(Outcome::quiet(Err(refused("invalid_refresh_token")))),
        RefreshLookup::Expired => return Ok(Outcome::quiet(Err(refused("refresh_token_expired")))),
    };
    reused(tx, session, account, ip, now)
}

/// A rotated token came back: someone holds a copy. The whole session ends, and its
/// holder is told.
fn reused(
    tx: &mut DbConnection,
    session: SessionId,
    account: AccountId,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Answered<TokenPair>>, ApiError> {
    let mut effects = Effects::none();
    if sessions::revoke(tx, session, "refresh_reuse", now)? {
        let audit = AuditEntry::new("auth.refresh_reuse", "session")
            .by(Some(account))
            .target(session)
            .from_ip(ip);
        let body =
            "Повторно использован токен обновления; сеанс завершён. Если это были не вы, смените пароль.";
        let alert = Alert {
            account,
            kind: "token_reuse",
            title: "Сеанс завершён",
            body: body.into(),
            audit,
        };
        effects = alert.effects();
    }
    Ok(Outcome::new(Err(refused("refresh_token_reused")), effects))
}

/// The pair a refresh answers: an access token issued at `issued` and the refresh token.
fn pair(
    tx: &mut DbConnection,
    rules: &SessionRules,
    (account, session, amr): (AccountId, SessionId, &[String]),
    refresh_token: String,
    issued: Instant,
) -> Result<Answered<TokenPair>, ApiError> {
    let Some(account) = accounts::find(tx, account)? else {
        return Ok(Err(refused("invalid_refresh_token")));
    };
    let mut pair = rules.access_token(&account, session, amr, issued)?;
    pair.refresh_token = refresh_token;
    Ok(Ok(pair))
}
