//! A confirmation request as an answer: to the principal deciding it, and to the
//! representative whose new application was held for it.

use chrono::{DateTime, Utc};
use domain::ids::AccountId;
use persistence::delegations::Confirmation;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "status": "pending", "code": "needs_principal_confirmation",
    "action": "applications.create", "principal_id": "0193a8f0-0000-7000-8000-000000000001",
    "representative_id": "0193a8f0-0000-7000-8000-000000000002",
    "delegation_id": "0193a8f0-0000-7000-8000-000000000003",
    "payload": {"service_code": "passport-replacement", "form_data": {}}, "result": null,
    "created_at": "2026-11-23T10:00:00Z", "decided_at": null
}))]
pub struct ConfirmationView {
    pub id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Why the action was held.
    pub code: &'static str,
    pub action: String,
    #[schema(value_type = String, format = Uuid)]
    pub principal_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub representative_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub delegation_id: domain::ids::DelegationId,
    /// The held request.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// What approving produced (e.g. `{"application_id": …}`).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl ConfirmationView {
    pub fn of(c: &Confirmation) -> ConfirmationView {
        ConfirmationView {
            id: c.id.clone(),
            status: c.status.clone(),
            code: "needs_principal_confirmation",
            action: c.action.clone(),
            principal_id: c.principal,
            representative_id: c.representative,
            delegation_id: c.delegation,
            payload: c.payload.clone(),
            result: c.result.clone(),
            created_at: c.created_at,
            decided_at: c.decided_at,
        }
    }
}
