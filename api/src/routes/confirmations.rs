//! Confirmation requests: what a representative could not do alone, held until the
//! principal approves (executed exactly once, if the delegation still stands) or rejects.

use actix_web::web::{Json, Path};
use actix_web::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::{confirmations as cases, Acting};
use crate::views::confirmations::ConfirmationView;

#[derive(Serialize, ToSchema)]
pub struct ConfirmationList {
    pub items: Vec<ConfirmationView>,
}

/// Confirmation requests you are to decide, or that you raised as a representative.
#[utoipa::path(
    tag = "delegations",
    operation_id = "listConfirmations",
    security(("bearer" = [])),
    responses((status = 200, description = "Newest first (at most 100)", body = ConfirmationList))
)]
#[get("/confirmations")]
pub async fn list(state: State, actor: Actor) -> Result<Json<ConfirmationList>, ApiError> {
    let acting = Acting::from(&actor);
    let found = state.query(move |c, now| cases::list(c, &acting, now)).await?;
    Ok(Json(ConfirmationList {
        items: found.iter().map(ConfirmationView::of).collect(),
    }))
}

/// Approve: the held action runs now, exactly once, if the delegation still covers it.
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
    actor: Actor,
    id: Path<String>,
) -> Result<Json<ConfirmationView>, ApiError> {
    let (acting, id) = (Acting::from(&actor), id.into_inner());
    let approved = state
        .run(move |tx, now| cases::approve(tx, &acting, &id, now))
        .await?;
    Ok(Json(ConfirmationView::of(&approved)))
}

/// Reject: the held action is discarded.
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
    actor: Actor,
    id: Path<String>,
) -> Result<Json<ConfirmationView>, ApiError> {
    let (acting, id) = (Acting::from(&actor), id.into_inner());
    let rejected = state
        .run(move |tx, now| cases::reject(tx, &acting, &id, now))
        .await?;
    Ok(Json(ConfirmationView::of(&rejected)))
}
