//! Confirmation requests: what a representative could not do alone, held until the
//! principal approves (executed exactly once, if the delegation still stands) or rejects.

use domain::access::{authorize, Action, OnBehalf, Resource, Subject};
use domain::notice::Notice;
use domain::time::Instant;
use persistence::delegations::{self as store, Confirmation};
use persistence::DbConnection;
use serde_json::json;

use crate::error::ApiError;
use crate::usecases::applications::start_draft;
use crate::usecases::{Acting, Effects, Outcome};

/// The requests the caller is to decide, or raised as a representative, newest first.
pub fn list(tx: &mut DbConnection, acting: &Acting, now: Instant) -> Result<Vec<Confirmation>, ApiError> {
    let me = acting.account;
    let resource = Resource::Confirmation {
        principal: me,
        representative: me,
        head: None,
    };
    authorize(&acting.subject, Action::ConfirmationsRead, &resource, now)?;
    Ok(store::list_confirmations(tx, me)?)
}

/// A confirmation the subject may decide: only the principal's side; to anyone else,
/// the representative who raised it included, it is not found.
fn to_decide(
    tx: &mut DbConnection,
    subject: &Subject,
    id: &str,
    at: Instant,
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

fn already_decided() -> ApiError {
    ApiError::conflict("already_decided", "This request was decided already.")
}

/// The representative as they stand now, acting for the principal: approving never
/// revives lapsed powers.
fn representative_now(
    tx: &mut DbConnection,
    held: &Confirmation,
    principal: &Acting,
) -> Result<Acting, ApiError> {
    let grants = store::grants(tx, held.representative, held.principal)?;
    let representative =
        persistence::accounts::find(tx, held.representative)?.ok_or_else(ApiError::not_found)?;
    Ok(Acting {
        subject: Subject {
            account: held.representative,
            roles: representative.roles.clone(),
            level: representative.level,
            mfa: false,
            agency: None,
            on_behalf: Some(OnBehalf {
                principal: held.principal,
                principal_level: principal.subject.level,
                grants,
                head: false,
                unverified_organisation: persistence::organisations::unverified(tx, held.principal)?,
            }),
        },
        account: held.representative,
        on_behalf_of: Some(held.principal.as_uuid()),
        ip: principal.ip.clone(),
    })
}

/// Approve: the held action runs now, exactly once, if the delegation still covers it.
pub fn approve(
    tx: &mut DbConnection,
    acting: &Acting,
    id: &str,
    at: Instant,
) -> Result<Outcome<Confirmation>, ApiError> {
    let mut held = to_decide(tx, &acting.subject, id, at)?;
    if held.status != "pending" {
        return Err(already_decided());
    }
    let delegation = store::find(tx, held.delegation)?.ok_or_else(ApiError::not_found)?;
    let representative = representative_now(tx, &held, acting)?;
    let code = held.payload["service_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let service = persistence::catalog::find(tx, &code)?
        .ok_or_else(|| ApiError::conflict("service_gone", "The service no longer exists."))?;
    let form = held.payload["form_data"].clone();
    let (draft, created) = start_draft(tx, &representative, &service, form, at)?.into_parts();
    held.status = "approved".into();
    held.result = Some(json!({ "application_id": draft.id, "delegation": delegation.number }));
    if !store::decide(tx, &held.id, "approved", held.result.as_ref(), at)? {
        return Err(already_decided());
    }
    held.decided_at = Some(at);
    let entry = acting
        .audit("confirmation.approved", "confirmation")
        .target(&held.id)
        .details(json!({ "application_id": draft.id }));
    let effects = created.audit(entry).notice(tell_representative(&held, true));
    Ok(Outcome::new(held, effects))
}

/// Reject: the held action is discarded.
pub fn reject(
    tx: &mut DbConnection,
    acting: &Acting,
    id: &str,
    at: Instant,
) -> Result<Outcome<Confirmation>, ApiError> {
    let mut held = to_decide(tx, &acting.subject, id, at)?;
    if !store::decide(tx, &held.id, "rejected", None, at)? {
        return Err(already_decided());
    }
    held.status = "rejected".into();
    held.decided_at = Some(at);
    let entry = acting
        .audit("confirmation.rejected", "confirmation")
        .target(&held.id);
    let effects = Effects::none()
        .audit(entry)
        .notice(tell_representative(&held, false));
    Ok(Outcome::new(held, effects))
}

fn tell_representative(c: &Confirmation, approved: bool) -> Notice {
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
    Notice {
        recipient: c.representative,
        kind: format!("confirmation.{}", if approved { "approved" } else { "rejected" }),
        title: title.into(),
        body: body.into(),
        data: json!({ "confirmation_id": c.id, "result": c.result }),
        important: false,
    }
}
