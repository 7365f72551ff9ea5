//! Applications as answers: the full view (with warnings and next steps) and the summary
//! lists show, shared by the applicant's and the officer's routes.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use domain::application::{may_copy, Application};
use domain::form::Form;
use domain::ids::ApplicationId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::concurrency::etag;
use crate::error::FieldProblem;
use crate::usecases::applications::Shown;

/// An application as its applicant (or the handling officer) sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "number": "KB-2026-00000042",
    "service_code": "passport-replacement", "agency_code": "mvd",
    "owner_id": "0193a8f0-0000-7000-8000-000000000001", "status": "needs_info",
    "status_label": "Требуется уточнение", "form_data": {"reason": "age_45"}, "version": 5,
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-22T12:00:00Z",
    "submitted_at": "2026-11-20T09:30:00Z", "decided_at": null,
    "info_request": "Приложите фото 35×45", "info_due_at": "2026-11-29T23:59:59Z",
    "rejection_reason": null, "result_note": null, "warnings": [], "next_steps": ["respond"],
    "signed_content_hash": null, "route": ["fns"], "appeal_until": null, "restore_until": null
}))]
pub struct ApplicationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApplicationId,
    /// Assigned at the first submission.
    pub number: Option<String>,
    pub service_code: String,
    pub agency_code: String,
    #[schema(value_type = String, format = Uuid)]
    pub owner_id: domain::ids::AccountId,
    /// `draft`, `submitted`, `resubmitted`, `in_review`, `needs_info`, `approved`,
    /// `rejected`, `appealed`, `completed`, `cancelled` or `expired`.
    pub status: String,
    pub status_label: String,
    #[schema(value_type = Object)]
    pub form_data: Form,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub info_request: Option<String>,
    pub info_due_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub result_note: Option<String>,
    /// Where the form does not (yet) satisfy the service's schema; submission needs none.
    pub warnings: Vec<FieldProblem>,
    /// What the applicant can do next (`submit`, `edit`, `cancel`, `appeal`…, and `copy`
    /// for an expired one): exactly what the state machine would accept now.
    pub next_steps: Vec<String>,
    /// A joint application: the content hash every co-applicant signed, which is what the
    /// agency handles (null for a draft or a one-person application).
    pub signed_content_hash: Option<String>,
    /// The agencies that held it before `agency_code`, oldest first: forwarding adds the
    /// one passing it on, and it never goes back to one of them.
    pub route: Vec<String>,
    /// Until when the applicant may appeal a decision, fixed when it was made.
    pub appeal_until: Option<DateTime<Utc>>,
    /// Until when a cancelled application may be restored, fixed when it was cancelled.
    pub restore_until: Option<DateTime<Utc>>,
}

impl ApplicationView {
    /// Takes the shown application apart: the view is serialized once, so nothing (the
    /// form above all) needs copying.
    pub fn of(shown: Shown) -> ApplicationView {
        let Shown {
            application: app,
            warnings,
            next_steps,
        } = shown;
        let mut next_steps: Vec<String> = next_steps.iter().map(|e| e.as_str().to_string()).collect();
        if may_copy(app.status) {
            next_steps.push("copy".into());
        }
        ApplicationView {
            id: app.id,
            number: app.number,
            service_code: app.service_code,
            agency_code: app.agency_code,
            owner_id: app.owner,
            status: app.status.as_str().into(),
            status_label: app.status.label().into(),
            form_data: app.form_data,
            version: app.version,
            created_at: app.created_at,
            updated_at: app.updated_at,
            submitted_at: app.submitted_at,
            decided_at: app.decided_at,
            info_request: app.info_request,
            info_due_at: app.info_due_at,
            rejection_reason: app.rejection_reason,
            result_note: app.result_note,
            warnings,
            next_steps,
            signed_content_hash: app.signed_hash,
            route: app.route,
            appeal_until: app.appeal_until,
            restore_until: app.restore_until,
        }
    }
}

/// An application in a list: what a list shows and links from, without the form (which
/// can be large, and is one `GET` away).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "number": "KB-2026-00000042",
    "service_code": "passport-replacement", "agency_code": "mvd",
    "owner_id": "0193a8f0-0000-7000-8000-000000000001", "status": "in_review", "status_label": "В работе",
    "version": 4, "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-22T12:00:00Z",
    "submitted_at": "2026-11-20T09:30:00Z", "decided_at": null, "info_due_at": null
}))]
pub struct ApplicationSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApplicationId,
    pub number: Option<String>,
    pub service_code: String,
    pub agency_code: String,
    #[schema(value_type = String, format = Uuid)]
    pub owner_id: domain::ids::AccountId,
    pub status: String,
    pub status_label: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub info_due_at: Option<DateTime<Utc>>,
}

impl ApplicationSummary {
    pub fn of(app: &Application) -> ApplicationSummary {
        ApplicationSummary {
            id: app.id,
            number: app.number.clone(),
            service_code: app.service_code.clone(),
            agency_code: app.agency_code.clone(),
            owner_id: app.owner,
            status: app.status.as_str().into(),
            status_label: app.status.label().into(),
            version: app.version,
            created_at: app.created_at,
            updated_at: app.updated_at,
            submitted_at: app.submitted_at,
            decided_at: app.decided_at,
            info_due_at: app.info_due_at,
        }
    }
}

/// The application after a change or read: its view, with its version as the `ETag`.
pub fn respond(shown: Shown) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("ETag", etag(shown.application.version)))
        .json(ApplicationView::of(shown))
}
