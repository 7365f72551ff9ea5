//! Refreshing: the refresh token rotates on every use; a rotated one presented again
//! means someone holds a copy, and ends the whole session.

use domain::audit::AuditEntry;
use domain::time::Instant;
use persistence::sessions::{self, RefreshLookup};
use persistence::{accounts, DbConnection};

use super::Answered;
use crate::auth::alerts::Alert;
use crate::auth::session::{self as tokens, SessionRules, TokenPair};
use crate::error::ApiError;
use crate::usecases::{Effects, Outcome};

fn refused(code: &'static str) -> ApiError {
    ApiError::unauthorized(code, "The refresh token is not valid; log in again.")
}

/// Exchanges `presented` for new tokens.
pub fn refresh(
    tx: &mut DbConnection,
    rules: &SessionRules,
    presented: &str,
    ip: Option<String>,
    now: Instant,
) -> Result<Outcome<Answered<TokenPair>>, ApiError> {
    let presented = tokens::refresh_hash(presented);
    let (session, account) = match sessions::lookup_refresh(tx, &presented, now)? {
        RefreshLookup::Current {
            session,
            account,
            amr,
        } => {
            let (new_token, new_hash) = tokens::new_refresh_token();
            if sessions::rotate_refresh(tx, session, &presented, &new_hash, now)? {
                let Some(account) = accounts::find(tx, account)? else {
                    let gone =
                        ApiError::unauthorized("invalid_refresh_token", "The refresh token is not valid.");
                    return Ok(Outcome::quiet(Err(gone)));
                };
                let mut pair = rules.access_token(&account, session, &amr, now)?;
                pair.refresh_token = new_token;
                return Ok(Outcome::quiet(Ok(pair)));
            }
            (session, account)
        }
        RefreshLookup::Reused { session, account } => (session, account),
        RefreshLookup::Unknown => return Ok(Outcome::quiet(Err(refused("invalid_refresh_token")))),
        RefreshLookup::Expired => return Ok(Outcome::quiet(Err(refused("refresh_token_expired")))),
    };
    // A rotated token came back: someone holds a copy. End the whole session.
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
