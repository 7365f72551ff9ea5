//! The audit log's integrity check.

use actix_web::{get, web::Json};
use domain::audit::ChainBreak;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::audit;
use crate::usecases::Acting;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"intact": false, "records_checked": 41, "head_seq": 57, "first_broken_seq": 42, "problem": "altered"}))]
pub struct AuditVerification {
    /// True when every record's hash and link check out and the chain ends at the head.
    pub intact: bool,
    /// Records verified before the first break (all of them when intact).
    pub records_checked: i64,
    /// The sequence number of the newest record.
    pub head_seq: i64,
    /// The first record that fails, if any.
    pub first_broken_seq: Option<i64>,
    /// `altered`, `unlinked` or `gap`.
    pub problem: Option<&'static str>,
}

/// Verify the audit log's hash chain.
///
/// Caller: an admin (403 `role_required` otherwise). Changes nothing. Recomputes the whole
/// hash chain and reports the first broken record, if any.
#[utoipa::path(
    tag = "audit",
    operation_id = "verifyAudit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verification result", body = AuditVerification),
    )
)]
#[get("/audit/verify")]
pub async fn verify(state: State, actor: Actor) -> Result<Json<AuditVerification>, ApiError> {
    let acting = Acting::from(&actor);
    let result = state.query(move |c, now| audit::verify(c, &acting, now)).await?;
    let first_broken_seq = result.first_break.as_ref().map(ChainBreak::seq);
    let problem = result.first_break.as_ref().map(|b| match b {
        ChainBreak::Altered { .. } => "altered",
        ChainBreak::Unlinked { .. } => "unlinked",
        ChainBreak::Gap { .. } => "gap",
    });
    Ok(Json(AuditVerification {
        intact: first_broken_seq.is_none(),
        records_checked: result.records_checked,
        head_seq: result.head_seq,
        first_broken_seq,
        problem,
    }))
}
