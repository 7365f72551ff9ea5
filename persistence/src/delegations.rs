//! Delegations, their event history and term changes, and the confirmation requests.
//! Writes are optimistic on the delegation's version.

use diesel::prelude::*;
use domain::access::Action;
use domain::delegation::{
    Delegation, Grant, HistoryEntry, Kind, Powers, Status, TermChange, TermChangeStatus,
};
use domain::ids::{AccountId, DelegationId};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{accounts, confirmations, delegation_events, delegation_term_changes, delegations};

#[derive(Queryable, Selectable)]
#[diesel(table_name = delegations)]
struct Row {
    id: String,
    number: String,
    principal_id: String,
    representative_id: String,
    parent_id: Option<String>,
    kind: String,
    actions: String,
    services: Option<String>,
    valid_from: chrono::NaiveDateTime,
    valid_until: chrono::NaiveDateTime,
    status: String,
    redelegation_allowed: bool,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    accepted_at: Option<chrono::NaiveDateTime>,
    ended_at: Option<chrono::NaiveDateTime>,
}

fn corrupt(detail: impl ToString) -> StoreError {
    StoreError::corrupt("delegations", detail)
}

fn action(name: &str) -> Result<Action, StoreError> {
    Action::ALL
        .into_iter()
        .find(|a| a.as_str() == name)
        .ok_or_else(|| corrupt(format!("action {name:?}")))
}

impl TryFrom<Row> for Delegation {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let actions: Vec<String> = serde_json::from_str(&r.actions).map_err(corrupt)?;
        let services: Option<Vec<String>> = r
            .services
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?;
        Ok(Delegation {
            id: parse_id("delegations", &r.id)?,
            number: r.number,
            principal: parse_id("delegations", &r.principal_id)?,
            representative: parse_id("delegations", &r.representative_id)?,
            parent: parse_optional_id("delegations", r.parent_id.as_deref())?,
            powers: Powers {
                kind: Kind::parse(&r.kind).ok_or_else(|| corrupt(format!("kind {:?}", r.kind)))?,
                actions: actions.iter().map(|a| action(a)).collect::<Result<_, _>>()?,
                services,
            },
            valid_from: from_db_time(r.valid_from),
            valid_until: from_db_time(r.valid_until),
            status: Status::parse(&r.status).ok_or_else(|| corrupt(format!("status {:?}", r.status)))?,
            redelegation_allowed: r.redelegation_allowed,
            version: r.version,
            created_at: from_db_time(r.created_at),
            updated_at: from_db_time(r.updated_at),
            accepted_at: r.accepted_at.map(from_db_time),
            ended_at: r.ended_at.map(from_db_time),
        })
    }
}

fn json_actions(powers: &Powers) -> String {
    serde_json::Value::from(powers.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>()).to_string()
}

pub fn insert(conn: &mut DbConnection, d: &Delegation, code_hash: &str) -> Result<(), StoreError> {
    diesel::insert_into(delegations::table)
        .values((
            delegations::id.eq(d.id.to_string()),
            delegations::number.eq(&d.number),
            delegations::principal_id.eq(d.principal.to_string()),
            delegations::representative_id.eq(d.representative.to_string()),
            delegations::parent_id.eq(d.parent.map(|p| p.to_string())),
            delegations::kind.eq(d.powers.kind.as_str()),
            delegations::actions.eq(json_actions(&d.powers)),
            delegations::services.eq(d
                .powers
                .services
                .as_ref()
                .map(|s| serde_json::Value::from(s.clone()).to_string())),
            delegations::valid_from.eq(to_db_time(d.valid_from)),
            delegations::valid_until.eq(to_db_time(d.valid_until)),
            delegations::status.eq(d.status.as_str()),
            delegations::redelegation_allowed.eq(d.redelegation_allowed),
            delegations::code_hash.eq(code_hash),
            delegations::code_attempts.eq(0),
            delegations::version.eq(d.version),
            delegations::created_at.eq(to_db_time(d.created_at)),
            delegations::updated_at.eq(to_db_time(d.updated_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the changed status, term and timestamps if still at `expected` version.
pub fn update(conn: &mut DbConnection, d: &Delegation, expected: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        delegations::table
            .find(d.id.to_string())
            .filter(delegations::version.eq(expected)),
    )
    .set((
        delegations::status.eq(d.status.as_str()),
        delegations::valid_from.eq(to_db_time(d.valid_from)),
        delegations::valid_until.eq(to_db_time(d.valid_until)),
        delegations::version.eq(d.version),
        delegations::updated_at.eq(to_db_time(d.updated_at)),
        delegations::accepted_at.eq(d.accepted_at.map(to_db_time)),
        delegations::ended_at.eq(d.ended_at.map(to_db_time)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn find(conn: &mut DbConnection, id: DelegationId) -> Result<Option<Delegation>, StoreError> {
    delegations::table
        .find(id.to_string())
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Delegation::try_from)
        .transpose()
}

/// The acceptance code's hash and the tries used.
pub fn code(conn: &mut DbConnection, id: DelegationId) -> Result<Option<(String, i32)>, StoreError> {
    Ok(delegations::table
        .find(id.to_string())
        .select((delegations::code_hash, delegations::code_attempts))
        .first(conn)
        .optional()?)
}

/// Takes one try of the acceptance code if fewer than `max_attempts` were used; answers the
/// tries used with it, or `None` when none were left. One conditional update: on
/// PostgreSQL a concurrent try waits for the row and re-checks the condition.
pub fn take_code_attempt(
    conn: &mut DbConnection,
    id: DelegationId,
    max_attempts: i32,
) -> Result<Option<i32>, StoreError> {
    let row = || delegations::table.find(id.to_string());
    let taken = diesel::update(row().filter(delegations::code_attempts.lt(max_attempts)))
        .set(delegations::code_attempts.eq(delegations::code_attempts + 1))
        .execute(conn)?;
    if taken != 1 {
        return Ok(None);
    }
    Ok(Some(row().select(delegations::code_attempts).first(conn)?))
}

/// Every delegation from `principal` to `representative`, newest first, each as its chain
/// of parents allows it: the per-request check, one indexed lookup plus one per ancestor
/// of a delegation passed on.
pub fn grants(
    conn: &mut DbConnection,
    representative: AccountId,
    principal: AccountId,
) -> Result<Vec<Grant>, StoreError> {
    let rows: Vec<Row> = delegations::table
        .filter(delegations::representative_id.eq(representative.to_string()))
        .filter(delegations::principal_id.eq(principal.to_string()))
        .order(delegations::created_at.desc())
        .limit(20)
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| Delegation::try_from(r).and_then(|d| within_chain(conn, &d)))
        .collect()
}

/// Longest chain of passing on that is followed; deeper ones (which only a corrupted
/// table could hold, since each link needs its parent in force) count as revoked.
const MAX_CHAIN: usize = 16;

/// The grant of `d` clipped by every ancestor's status and term (`Grant::within`).
fn within_chain(conn: &mut DbConnection, d: &Delegation) -> Result<Grant, StoreError> {
    let mut grant = d.grant();
    let mut next = d.parent;
    for _ in 0..MAX_CHAIN {
        let Some(id) = next else {
            return Ok(grant);
        };
        let parent = find(conn, id)?.ok_or_else(|| corrupt(format!("parent {id} of {} missing", d.id)))?;
        grant = grant.within(&parent.grant());
        next = parent.parent;
    }
    grant.status = Status::Revoked;
    Ok(grant)
}

/// Whether `party` has a second factor on; an organisation has none of its own, so its
/// head's counts.
pub fn second_factor_on(conn: &mut DbConnection, party: AccountId) -> Result<bool, StoreError> {
    let person = crate::organisations::head(conn, party)?.unwrap_or(party);
    let enabled: Option<bool> = accounts::table
        .find(person.to_string())
        .select(accounts::totp_enabled)
        .first(conn)
        .optional()?;
    Ok(enabled.unwrap_or(false))
}

/// The delegations directly passed on from `parent`.
pub fn children(conn: &mut DbConnection, parent: DelegationId) -> Result<Vec<Delegation>, StoreError> {
    delegations::table
        .filter(delegations::parent_id.eq(parent.to_string()))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Delegation::try_from)
        .collect()
}

/// Every delegation from `principal` to `representative`, whatever its status: what ends
/// when the representative leaves an organisation.
pub fn between(
    conn: &mut DbConnection,
    principal: AccountId,
    representative: AccountId,
) -> Result<Vec<Delegation>, StoreError> {
    delegations::table
        .filter(delegations::principal_id.eq(principal.to_string()))
        .filter(delegations::representative_id.eq(representative.to_string()))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Delegation::try_from)
        .collect()
}

/// Which side of a delegation the list is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Principal,
    Representative,
}

pub struct ListFilter {
    pub side: Side,
    pub status: Option<Status>,
    pub after: Option<(Instant, String)>,
    pub limit: i64,
}

/// The delegations `account` gave or received, newest first.
pub fn list(
    conn: &mut DbConnection,
    account: AccountId,
    f: &ListFilter,
) -> Result<Vec<Delegation>, StoreError> {
    let mut query = delegations::table.select(Row::as_select()).into_boxed();
    query = match f.side {
        Side::Principal => query.filter(delegations::principal_id.eq(account.to_string())),
        Side::Representative => query.filter(delegations::representative_id.eq(account.to_string())),
    };
    if let Some(status) = f.status {
        query = query.filter(delegations::status.eq(status.as_str()));
    }
    if let Some((at, id)) = &f.after {
        let at = to_db_time(*at);
        query = query.filter(
            delegations::created_at
                .lt(at)
                .or(delegations::created_at.eq(at).and(delegations::id.lt(id.clone()))),
        );
    }
    query
        .order((delegations::created_at.desc(), delegations::id.desc()))
        .limit(f.limit)
        .load(conn)?
        .into_iter()
        .map(Delegation::try_from)
        .collect()
}

/// Active delegations whose end passed (for the expiry job).
pub fn ended_but_active(
    conn: &mut DbConnection,
    now: Instant,
    limit: i64,
) -> Result<Vec<Delegation>, StoreError> {
    delegations::table
        .filter(delegations::status.eq_any([Status::Active.as_str(), Status::Pending.as_str()]))
        .filter(delegations::valid_until.le(to_db_time(now)))
        .select(Row::as_select())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Delegation::try_from)
        .collect()
}

/// Active delegations ending before `until` that have had no reminder yet.
pub fn ending_unreminded(
    conn: &mut DbConnection,
    until: Instant,
    limit: i64,
) -> Result<Vec<Delegation>, StoreError> {
    delegations::table
        .filter(delegations::status.eq(Status::Active.as_str()))
        .filter(delegations::valid_until.le(to_db_time(until)))
        .filter(delegations::reminded_at.is_null())
        .select(Row::as_select())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Delegation::try_from)
        .collect()
}

pub fn mark_reminded(conn: &mut DbConnection, id: DelegationId, now: Instant) -> Result<bool, StoreError> {
    Ok(diesel::update(
        delegations::table
            .find(id.to_string())
            .filter(delegations::reminded_at.is_null()),
    )
    .set(delegations::reminded_at.eq(Some(to_db_time(now))))
    .execute(conn)?
        == 1)
}

/// One history row of a delegation to append.
#[derive(Clone, Debug)]
pub struct NewDelegationEvent {
    pub delegation: DelegationId,
    pub actor: Option<AccountId>,
    pub event: String,
    pub from: Option<Status>,
    /// The status after the event.
    pub to: Status,
    pub details: serde_json::Value,
}

impl NewDelegationEvent {
    /// `event` of `d` (as it is after the event), done by `actor`.
    pub fn of(
        d: &Delegation,
        actor: Option<AccountId>,
        event: &str,
        from: Option<Status>,
    ) -> NewDelegationEvent {
        NewDelegationEvent {
            delegation: d.id,
            actor,
            event: event.to_string(),
            from,
            to: d.status,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn details(mut self, details: serde_json::Value) -> NewDelegationEvent {
        self.details = details;
        self
    }
}

/// Appends `entry` to its delegation's history (the delegation's row is taken so two
/// appends never compute the same number).
pub fn append_history(
    conn: &mut DbConnection,
    entry: &NewDelegationEvent,
    now: Instant,
) -> Result<(), StoreError> {
    let id = entry.delegation.to_string();
    crate::locks::lock(conn, crate::locks::Parent::Delegation, &id)?;
    let last: Option<i32> = delegation_events::table
        .filter(delegation_events::delegation_id.eq(&id))
        .select(diesel::dsl::max(delegation_events::seq))
        .first(conn)?;
    diesel::insert_into(delegation_events::table)
        .values((
            delegation_events::id.eq(uuid::Uuid::now_v7().to_string()),
            delegation_events::delegation_id.eq(&id),
            delegation_events::seq.eq(last.unwrap_or(0) + 1),
            delegation_events::occurred_at.eq(to_db_time(now)),
            delegation_events::actor_id.eq(entry.actor.map(|a| a.to_string())),
            delegation_events::event.eq(&entry.event),
            delegation_events::from_status.eq(entry.from.map(|s| s.as_str())),
            delegation_events::to_status.eq(entry.to.as_str()),
            delegation_events::details.eq(entry.details.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A delegation's history, oldest first.
pub fn events(conn: &mut DbConnection, id: DelegationId) -> Result<Vec<HistoryEntry>, StoreError> {
    type R = (
        i32,
        chrono::NaiveDateTime,
        Option<String>,
        String,
        Option<String>,
        String,
        String,
    );
    let rows: Vec<R> = delegation_events::table
        .filter(delegation_events::delegation_id.eq(id.to_string()))
        .order(delegation_events::seq.asc())
        .select((
            delegation_events::seq,
            delegation_events::occurred_at,
            delegation_events::actor_id,
            delegation_events::event,
            delegation_events::from_status,
            delegation_events::to_status,
            delegation_events::details,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(seq, at, actor, event, from, to, details)| {
            let status = |s: &str| Status::parse(s).ok_or_else(|| corrupt(format!("status {s:?}")));
            Ok(HistoryEntry {
                seq,
                occurred_at: from_db_time(at),
                actor: parse_optional_id("delegation_events", actor.as_deref())?,
                event,
                from: from.as_deref().map(status).transpose()?,
                to: status(&to)?,
                details: serde_json::from_str(&details).map_err(corrupt)?,
            })
        })
        .collect()
}

pub fn insert_term_change(
    conn: &mut DbConnection,
    c: &TermChange,
    by: AccountId,
    now: Instant,
) -> Result<(), StoreError> {
    // A new proposal replaces any pending one.
    diesel::update(
        delegation_term_changes::table
            .filter(delegation_term_changes::delegation_id.eq(c.delegation.to_string()))
            .filter(delegation_term_changes::status.eq(TermChangeStatus::Pending.as_str())),
    )
    .set((
        delegation_term_changes::status.eq(TermChangeStatus::Superseded.as_str()),
        delegation_term_changes::decided_at.eq(Some(to_db_time(now))),
    ))
    .execute(conn)?;
    diesel::insert_into(delegation_term_changes::table)
        .values((
            delegation_term_changes::id.eq(&c.id),
            delegation_term_changes::delegation_id.eq(c.delegation.to_string()),
            delegation_term_changes::valid_from.eq(to_db_time(c.valid_from)),
            delegation_term_changes::valid_until.eq(to_db_time(c.valid_until)),
            delegation_term_changes::requested_by.eq(by.to_string()),
            delegation_term_changes::principal_confirmed.eq(c.principal_confirmed),
            delegation_term_changes::representative_confirmed.eq(c.representative_confirmed),
            delegation_term_changes::status.eq(c.status.as_str()),
            delegation_term_changes::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_term_change(
    conn: &mut DbConnection,
    delegation: DelegationId,
    id: &str,
) -> Result<Option<TermChange>, StoreError> {
    type R = (
        String,
        String,
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        bool,
        bool,
        String,
    );
    let row: Option<R> = delegation_term_changes::table
        .filter(delegation_term_changes::id.eq(id))
        .filter(delegation_term_changes::delegation_id.eq(delegation.to_string()))
        .select((
            delegation_term_changes::id,
            delegation_term_changes::delegation_id,
            delegation_term_changes::valid_from,
            delegation_term_changes::valid_until,
            delegation_term_changes::principal_confirmed,
            delegation_term_changes::representative_confirmed,
            delegation_term_changes::status,
        ))
        .first(conn)
        .optional()?;
    row.map(|(id, d, from, until, p, r, status)| {
        Ok(TermChange {
            id,
            delegation: parse_id("delegation_term_changes", &d)?,
            valid_from: from_db_time(from),
            valid_until: from_db_time(until),
            principal_confirmed: p,
            representative_confirmed: r,
            status: TermChangeStatus::parse(&status)
                .ok_or_else(|| corrupt(format!("term change status {status:?}")))?,
        })
    })
    .transpose()
}

pub fn update_term_change(conn: &mut DbConnection, c: &TermChange, now: Instant) -> Result<(), StoreError> {
    let decided = (c.status != TermChangeStatus::Pending).then(|| to_db_time(now));
    diesel::update(delegation_term_changes::table.find(&c.id))
        .set((
            delegation_term_changes::principal_confirmed.eq(c.principal_confirmed),
            delegation_term_changes::representative_confirmed.eq(c.representative_confirmed),
            delegation_term_changes::status.eq(c.status.as_str()),
            delegation_term_changes::decided_at.eq(decided),
        ))
        .execute(conn)?;
    Ok(())
}

/// A held action awaiting the principal.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    pub id: String,
    pub principal: AccountId,
    pub representative: AccountId,
    pub delegation: DelegationId,
    pub action: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub result: Option<serde_json::Value>,
    pub created_at: Instant,
    pub decided_at: Option<Instant>,
}

type ConfirmationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

fn confirmation(r: ConfirmationRow) -> Result<Confirmation, StoreError> {
    let (id, principal, representative, delegation, action, payload, status, result, created, decided) = r;
    Ok(Confirmation {
        id,
        principal: parse_id("confirmations", &principal)?,
        representative: parse_id("confirmations", &representative)?,
        delegation: parse_id("confirmations", &delegation)?,
        action,
        payload: serde_json::from_str(&payload).map_err(corrupt)?,
        status,
        result: result
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?,
        created_at: from_db_time(created),
        decided_at: decided.map(from_db_time),
    })
}

macro_rules! confirmation_columns {
    () => {
        (
            confirmations::id,
            confirmations::principal_id,
            confirmations::representative_id,
            confirmations::delegation_id,
            confirmations::action,
            confirmations::payload,
            confirmations::status,
            confirmations::result,
            confirmations::created_at,
            confirmations::decided_at,
        )
    };
}

pub fn insert_confirmation(conn: &mut DbConnection, c: &Confirmation) -> Result<(), StoreError> {
    diesel::insert_into(confirmations::table)
        .values((
            confirmations::id.eq(&c.id),
            confirmations::principal_id.eq(c.principal.to_string()),
            confirmations::representative_id.eq(c.representative.to_string()),
            confirmations::delegation_id.eq(c.delegation.to_string()),
            confirmations::action.eq(&c.action),
            confirmations::payload.eq(c.payload.to_string()),
            confirmations::status.eq(&c.status),
            confirmations::created_at.eq(to_db_time(c.created_at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_confirmation(conn: &mut DbConnection, id: &str) -> Result<Option<Confirmation>, StoreError> {
    let row: Option<ConfirmationRow> = confirmations::table
        .find(id)
        .select(confirmation_columns!())
        .first(conn)
        .optional()?;
    row.map(confirmation).transpose()
}

/// Confirmations where `account` is the principal or the representative, newest first.
pub fn list_confirmations(
    conn: &mut DbConnection,
    account: AccountId,
) -> Result<Vec<Confirmation>, StoreError> {
    let rows: Vec<ConfirmationRow> = confirmations::table
        .filter(
            confirmations::principal_id
                .eq(account.to_string())
                .or(confirmations::representative_id.eq(account.to_string())),
        )
        .order(confirmations::created_at.desc())
        .limit(100)
        .select(confirmation_columns!())
        .load(conn)?;
    rows.into_iter().map(confirmation).collect()
}

/// Decides a pending confirmation exactly once: `false` when it was decided already.
pub fn decide(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    result: Option<&serde_json::Value>,
    now: Instant,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        confirmations::table
            .find(id)
            .filter(confirmations::status.eq("pending")),
    )
    .set((
        confirmations::status.eq(status),
        confirmations::result.eq(result.map(|r| r.to_string())),
        confirmations::decided_at.eq(Some(to_db_time(now))),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}
