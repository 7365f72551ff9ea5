//! Reading delegations: one, the caller's list (given or received), and one's history.

use domain::access::{authorize, Action, Resource};
use domain::delegation::{Delegation, HistoryEntry, Status};
use domain::ids::DelegationId;
use domain::time::Instant;
use persistence::delegations::{self as store, ListFilter, Side};
use persistence::DbConnection;

use super::load;
use crate::error::ApiError;
use crate::usecases::Acting;

/// One delegation, as of `now` (its parties only).
pub fn get(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    now: Instant,
) -> Result<Delegation, ApiError> {
    let (found, _) = load(tx, &who.subject, id, now)?;
    Ok(found.seen_at(now))
}

/// Everything that happened to a delegation, oldest first.
pub fn history(
    tx: &mut DbConnection,
    who: &Acting,
    id: DelegationId,
    now: Instant,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let (found, _) = load(tx, &who.subject, id, now)?;
    Ok(store::events(tx, found.id)?)
}

/// Which of the caller's delegations to list, from where, how many.
pub struct ListQuery {
    pub side: Side,
    pub status: Option<Status>,
    /// The last item of the previous page: its issue time and id.
    pub after: Option<(Instant, String)>,
    pub limit: usize,
}

/// One page of the caller's delegations, newest first; `more` when another page follows.
pub struct Listed {
    pub items: Vec<Delegation>,
    pub more: bool,
}

pub fn list(tx: &mut DbConnection, who: &Acting, query: ListQuery, now: Instant) -> Result<Listed, ApiError> {
    let me = who.account;
    let own = Resource::Delegation {
        principal: me,
        representative: me,
        head: None,
    };
    authorize(&who.subject, Action::DelegationsRead, &own, now)?;
    let filter = ListFilter {
        side: query.side,
        status: query.status,
        after: query.after,
        limit: i64::try_from(query.limit).unwrap_or(i64::MAX).saturating_add(1),
    };
    let mut items = store::list(tx, me, &filter)?;
    let more = items.len() > query.limit;
    items.truncate(query.limit);
    Ok(Listed {
        items: items.iter().map(|d| d.seen_at(now)).collect(),
        more,
    })
}
