//! Confirmation requests: what a representative could not do alone, held until the
//! principal approves (executed exactly once, if the delegation still stands) or rejects.

use actix_web::web::{Json, Path};
use actix_web::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::{confirmations as cases, Acting};
use crate::views::confirmations::ConfirmationView;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"action": "applications.create", "code": "needs_principal_confirmation", "created_at": "2026-11-23T10:00:00Z", "decided_at": null, "delegation_id": "0193a8f0-0000-7000-8000-000000000003", "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "payload": {"form_data": {}, "service_code": "passport-replacement"}, "principal_id": "0193a8f0-0000-7000-8000-000000000001", "representative_id": "0193a8f0-0000-7000-8000-000000000002", "result": null, "status": "pending"}]}))]
pub struct ConfirmationList {
    pub items: Vec<ConfirmationView>,
}

/// Confirmation requests to decide or raised.
///
/// Caller: a principal (or an organisation's head) sees what they are to decide; a
/// representative sees what they raised. Changes nothing. Newest first, at most 100.
#[utoipa::path(
    tag = "delegations",
    operation_id = "listConfirmations",
    security(("bearer" = [])),
    responses((status = 200, description = "Newest first (at most 100)", body = ConfirmationList))
)]
#[get("/confirmations")]
pub async fn list(state: State, caller: Caller) -> Result<Json<ConfirmationList>, ApiError> {
    let found = state
        .query_as(caller, move |c, actor, now| {
            cases::list(c, &Acting::from(actor), now)
        })
        .await?;
    Ok(Json(ConfirmationList {
        items: found.iter().map(ConfirmationView::of).collect(),
    }))
}

/// Approve a held action.
///
/// Caller: the principal, or the head of the principal organisation; the representative who
/// raised it gets 404. Changes: the held action runs now, exactly once, if the delegation
/// still covers it (409 otherwise).
#[utoipa::path(
    tag = "delegations",
    operation_id = "approveConfirmation",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Approved and executed", body = ConfirmationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/confirmations/{id}/approve")]
pub async fn approve(
    state: State,
    caller: Caller,
    id: Path<String>,
) -> Result<Json<ConfirmationView>, ApiError> {
    let id = id.into_inner();
    let approved = state
        .run_as(caller, move |tx, actor, now| {
            cases::approve(tx, &Acting::from(actor), &id, now)
        })
        .await?;
    Ok(Json(ConfirmationView::of(&approved)))
}

/// Reject a held action.
///
/// Caller: the principal, or the head of the principal organisation. Changes: the held
/// action is discarded and the representative is told; a request decided already is 409.
#[utoipa::path(
    tag = "delegations",
    operation_id = "rejectConfirmation",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Rejected", body = ConfirmationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/confirmations/{id}/reject")]
pub async fn reject(
    state: State,
    caller: Caller,
    id: Path<String>,
) -> Result<Json<ConfirmationView>, ApiError> {
    let id = id.into_inner();
    let rejected = state
        .run_as(caller, move |tx, actor, now| {
            cases::reject(tx, &Acting::from(actor), &id, now)
        })
        .await?;
    Ok(Json(ConfirmationView::of(&rejected)))
}
