//! Confirmation requests: what a representative could not do alone, held until the
//! principal approves (executed exactly once, if the delegation still stands) or rejects.

use actix_web::web::{Json, Path};
use actix_web::{get, post};
use chrono::{DateTime, Utc};
use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::ids::AccountId;
use domain::notice::Notice;
use persistence::delegations::{self as store, Confirmation};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::clock::now;
use crate::error::ApiError;
use crate::lifecycle::{self, Acting};
use crate::state::State;

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
    let me = actor.account;
    let resource = Resource::Confirmation {
        principal: me,
        representative: me,
        head: None,
    };
    authorize(&actor.subject, Action::ConfirmationsRead, &resource, now())?;
    let found = state.read(move |c| Ok(store::list_confirmations(c, me)?)).await?;
    Ok(Json(ConfirmationList {
        items: found.iter().map(ConfirmationView::of).collect(),
    }))
}

fn tell_representative(
    tx: &mut persistence::DbConnection,
    c: &Confirmation,
    approved: bool,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (title, body) = if approved {
        (
            "Доверитель подтвердил действие",
            "Доверитель одобрил ваш запрос; действие выполнено.",
        )
    } else {
        (
            "Доверитель отклонил действие",
            "Доверитель отклонил ваш запрос; действие не выполнено.",
        )
    };
    let notice = Notice {
        recipient: c.representative,
        kind: format!("confirmation.{}", if approved { "approved" } else { "rejected" }),
        title: title.into(),
        body: body.into(),
        data: json!({ "confirmation_id": c.id, "result": c.result }),
        important: false,
    };
    persistence::notifications::notify(tx, &notice, at)?;
    Ok(())
}

/// A confirmation the subject may decide: only the principal's side; to anyone else,
/// the representative who raised it included, it is not found.
fn to_decide(
    tx: &mut persistence::DbConnection,
    subject: &domain::access::Subject,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Confirmation, ApiError> {
    let held = store::find_confirmation(tx, id)?.ok_or_else(ApiError::not_found)?;
    let head = persistence::organisations::head(tx, held.principal)?;
    let resource = Resource::Confirmation {
        principal: held.principal,
        representative: held.representative,
        head,
    };
    authorize(subject, Action::ConfirmationsRead, &resource, at)?;
    authorize(subject, Action::ConfirmationsDecide, &resource, at)?;
    Ok(held)
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
    let (id, subject, me, ip) = (
        id.into_inner(),
        actor.subject.clone(),
        actor.account,
        actor.ip.clone(),
    );
    state
        .write(move |tx| {
            let at = now();
            let mut held = to_decide(tx, &subject, &id, at)?;
            if held.status != "pending" {
                return Err(ApiError::conflict(
                    "already_decided",
                    "This request was decided already.",
                ));
            }
            // Re-check the delegation as it stands now: approving never revives lapsed powers.
            let delegation = store::find(tx, held.delegation)?.ok_or_else(ApiError::not_found)?;
            let grants = store::grants(tx, held.representative, held.principal)?;
            let representative =
                persistence::accounts::find(tx, held.representative)?.ok_or_else(ApiError::not_found)?;
            let acting = Acting {
                subject: domain::access::Subject {
                    account: held.representative,
                    roles: representative.roles.clone(),
                    level: representative.level,
                    mfa: false,
                    agency: None,
                    on_behalf: Some(domain::access::OnBehalf {
                        principal: held.principal,
                        principal_level: subject.level,
                        grants,
                        head: false,
                    }),
                },
                account: held.representative,
                on_behalf_of: Some(held.principal.as_uuid()),
                ip: ip.clone(),
            };
            let code = held.payload["service_code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let service = persistence::catalog::find(tx, &code)?
                .ok_or_else(|| ApiError::conflict("service_gone", "The service no longer exists."))?;
            let form = held.payload["form_data"].clone();
            let draft = lifecycle::start_draft(tx, &acting, &service, form, at)?;
            held.status = "approved".into();
            held.result = Some(json!({ "application_id": draft.id, "delegation": delegation.number }));
            if !store::decide(tx, &held.id, "approved", held.result.as_ref(), at)? {
                return Err(ApiError::conflict(
                    "already_decided",
                    "This request was decided already.",
                ));
            }
            held.decided_at = Some(at);
            let entry = AuditEntry::new("confirmation.approved", "confirmation")
                .by(Some(me))
                .target(&held.id)
                .details(json!({ "application_id": draft.id }))
                .from_ip(ip);
            persistence::audit::record(tx, entry, at)?;
            tell_representative(tx, &held, true, at)?;
            Ok(ConfirmationView::of(&held))
        })
        .await
        .map(Json)
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
    let (id, subject, me, ip) = (
        id.into_inner(),
        actor.subject.clone(),
        actor.account,
        actor.ip.clone(),
    );
    state
        .write(move |tx| {
            let at = now();
            let mut held = to_decide(tx, &subject, &id, at)?;
            if !store::decide(tx, &held.id, "rejected", None, at)? {
                return Err(ApiError::conflict(
                    "already_decided",
                    "This request was decided already.",
                ));
            }
            held.status = "rejected".into();
            held.decided_at = Some(at);
            persistence::audit::record(
                tx,
                AuditEntry::new("confirmation.rejected", "confirmation")
                    .by(Some(me))
                    .target(&held.id)
                    .from_ip(ip),
                at,
            )?;
            tell_representative(tx, &held, false, at)?;
            Ok(ConfirmationView::of(&held))
        })
        .await
        .map(Json)
}
