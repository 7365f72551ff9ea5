//! The append-only, hash-chained audit log. Use cases call [`record`] inside their own
//! transaction, so a change and its audit record commit or roll back together.

use diesel::prelude::*;
use domain::audit::{verify_page, AuditEntry, AuditRecord, ChainBreak, GENESIS_HASH};
use domain::ids::AuditRecordId;
use domain::time::{to_storage_precision, Instant};

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{audit_head, audit_log};

const VERIFY_PAGE: i64 = 1_000;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    seq: i64,
    id: String,
    occurred_at: chrono::NaiveDateTime,
    actor_id: Option<String>,
    on_behalf_of: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    details: String,
    ip: Option<String>,
    prev_hash: String,
    hash: String,
}

impl From<&AuditRecord> for AuditRow {
    fn from(r: &AuditRecord) -> Self {
        AuditRow {
            seq: r.seq,
            id: r.id.to_string(),
            occurred_at: to_db_time(r.occurred_at),
            actor_id: r.actor.map(|a| a.to_string()),
            on_behalf_of: r.on_behalf_of.map(|p| p.to_string()),
            action: r.action.clone(),
            target_type: r.target_type.clone(),
            target_id: r.target_id.clone(),
            details: r.details.clone(),
            ip: r.ip.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        }
    }
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            seq: row.seq,
            id: parse_id::<AuditRecordId>("audit_log", &row.id)?,
            occurred_at: from_db_time(row.occurred_at),
            actor: parse_optional_id("audit_log", row.actor_id.as_deref())?,
            on_behalf_of: parse_optional_id("audit_log", row.on_behalf_of.as_deref())?,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            details: row.details,
            ip: row.ip,
            prev_hash: row.prev_hash,
            hash: row.hash,
        })
    }
}

/// Appends `entry` to the chain. Call it last in a transaction: taking the head row lock
/// serialises appenders until commit, so the shorter the wait after it, the better.
pub fn record(conn: &mut DbConnection, entry: AuditEntry, now: Instant) -> Result<AuditRecord, StoreError> {
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq + 1))
        .execute(conn)?;
    let (seq, prev_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let sealed = AuditRecord::seal(
        entry,
        seq,
        AuditRecordId::new(),
        to_storage_precision(now),
        prev_hash,
    );
    diesel::insert_into(audit_log::table)
        .values(AuditRow::from(&sealed))
        .execute(conn)?;
    diesel::update(audit_head::table.find(1))
        .set(audit_head::hash.eq(&sealed.hash))
        .execute(conn)?;
    Ok(sealed)
}

/// The outcome of checking the whole chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    pub records_checked: i64,
    pub head_seq: i64,
    pub first_break: Option<ChainBreak>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Recomputes every record's hash and link, page by page, and checks that the chain ends
/// where the head says (a truncated tail is tampering too).
pub fn verify(conn: &mut DbConnection) -> Result<Verification, StoreError> {
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let mut tail = (0_i64, GENESIS_HASH.to_string());
    loop {
        let rows: Vec<AuditRow> = audit_log::table
            .filter(audit_log::seq.gt(tail.0))
            .order(audit_log::seq.asc())
            .limit(VERIFY_PAGE)
            .select(AuditRow::as_select())
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        let records = rows
            .into_iter()
            .map(AuditRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        match verify_page(tail.clone(), &records) {
            Ok(next) => tail = next,
            Err(chain_break) => {
                let records_checked = chain_break.seq() - 1;
                return Ok(Verification {
                    records_checked,
                    head_seq,
                    first_break: Some(chain_break),
                });
            }
        }
    }
    let first_break = if tail.0 != head_seq {
        Some(ChainBreak::Gap {
            expected: tail.0 + 1,
            found: head_seq,
        })
    } else if tail.1 != head_hash {
        Some(ChainBreak::Unlinked { seq: head_seq })
    } else {
        None
    };
    Ok(Verification {
        records_checked: tail.0,
        head_seq,
        first_break,
    })
}
