//! Delegations of powers: the principal gives, the representative accepts with the code the
//! principal passes on out of band, either side ends it, and term changes need both.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::Action;
use domain::delegation::{Delegation, HistoryEntry, Kind, Powers, Status, TermChange};
use domain::ids::{AccountId, DelegationId};
use persistence::delegations::Side as ListSide;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Cursor, Page};
use crate::auth::{logins, Actor, Caller};
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::delegations as cases;
use crate::usecases::delegations::create::{Created, Draft, Issuing, Representative};
use crate::usecases::delegations::read::ListQuery as Listing;
use crate::usecases::delegations::respond::CodeCheck;
use crate::usecases::delegations::term::NewTerm;
use crate::usecases::Acting;
use crate::usecases::Outcome;

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({
    "representative_login": "112-233-445 95", "kind": "specific",
    "actions": ["applications.read", "applications.create", "applications.submit"],
    "services": ["passport-replacement"],
    "valid_from": "2026-11-24T00:00:00Z", "valid_until": "2026-12-04T00:00:00Z",
    "redelegation_allowed": false
}))]
pub struct NewDelegation {
    /// The representative's account id…
    #[schema(value_type = Option<String>, format = Uuid)]
    pub representative_id: Option<AccountId>,
    /// …or their login: SNILS, e-mail or phone.
    pub representative_login: Option<String>,
    /// `full`, `limited` or `specific`.
    pub kind: String,
    /// For `specific`: the actions granted (see the `Action` names).
    #[serde(default)]
    pub actions: Vec<String>,
    /// For `specific`: only these services (optional).
    pub services: Option<Vec<String>>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[serde(default)]
    pub redelegation_allowed: bool,
    /// Delegate for an organisation you head (its id); yourself when left out.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub principal_id: Option<AccountId>,
    /// Pass on (part of) a delegation you hold and that allows re-delegation.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<DelegationId>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "number": "МЧД-2026-000017",
    "principal_id": "0193a8f0-0000-7000-8000-000000000001", "representative_id": "0193a8f0-0000-7000-8000-000000000002",
    "parent_id": null, "kind": "specific", "actions": ["applications.read"], "services": null,
    "valid_from": "2026-11-24T00:00:00Z", "valid_until": "2026-12-04T00:00:00Z", "status": "active",
    "redelegation_allowed": false, "version": 2, "issued_at": "2026-11-23T10:00:00Z",
    "accepted_at": "2026-11-23T11:00:00Z", "ended_at": null, "verification_code": null
}))]
pub struct DelegationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: DelegationId,
    /// Registration number, as on a machine-readable power of attorney.
    pub number: String,
    #[schema(value_type = String, format = Uuid)]
    pub principal_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    pub representative_id: AccountId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<DelegationId>,
    pub kind: String,
    pub actions: Vec<String>,
    pub services: Option<Vec<String>>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// `pending`, `active`, `declined`, `cancelled`, `revoked`, `renounced` or `expired`
    /// (as of now: an active one past its end shows `expired`).
    pub status: String,
    pub redelegation_allowed: bool,
    pub version: i64,
    pub issued_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Shown once, to the principal, at creation: pass it on to the representative.
    pub verification_code: Option<String>,
}

impl DelegationView {
    /// `d` as its use case returned it, seen at the time of the request.
    fn of(d: &Delegation) -> DelegationView {
        DelegationView {
            id: d.id,
            number: d.number.clone(),
            principal_id: d.principal,
            representative_id: d.representative,
            parent_id: d.parent,
            kind: d.powers.kind.as_str().into(),
            actions: d.powers.actions.iter().map(|a| a.as_str().to_string()).collect(),
            services: d.powers.services.clone(),
            valid_from: d.valid_from,
            valid_until: d.valid_until,
            status: d.status.as_str().into(),
            redelegation_allowed: d.redelegation_allowed,
            version: d.version,
            issued_at: d.created_at,
            accepted_at: d.accepted_at,
            ended_at: d.ended_at,
            verification_code: None,
        }
    }
}

fn respond(d: &Delegation) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("ETag", etag(d.version)))
        .json(DelegationView::of(d))
}

fn parse_powers(kind: &str, actions: &[String], services: Option<Vec<String>>) -> Result<Powers, ApiError> {
    let kind = Kind::parse(kind)
        .ok_or_else(|| ApiError::field("kind", "invalid_value", "full, limited or specific"))?;
    let actions = actions
        .iter()
        .map(|name| {
            Action::ALL
                .into_iter()
                .find(|a| a.as_str() == name)
                .ok_or_else(|| {
                    ApiError::field("actions", "invalid_value", format!("{name:?} is not an action"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let powers = Powers {
        kind,
        actions,
        services: services.filter(|s| !s.is_empty()),
    };
    powers.check().map_err(from_field_error)?;
    Ok(powers)
}

/// Give powers to a representative.
///
/// Caller: a citizen with a `confirmed` account and 2FA, for themselves or an organisation
/// they head; or a representative passing on part of their powers (`parent_id`) where the
/// delegation allows it. Changes: a `pending` delegation, whose acceptance code is shown
/// this once to pass on out of band. Staff accounts issue none (403 `role_required`).
#[utoipa::path(
    tag = "delegations",
    operation_id = "createDelegation",
    security(("bearer" = [])),
    request_body = NewDelegation,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Pending until the representative accepts; the code is shown once", body = DelegationView),
        (status = 403, description = "Not allowed to issue (acting on behalf: `action_not_covered`; a staff account: `role_required`; no second factor: `two_factor_required`). Decided before the representative is looked up, so it says nothing about whether a login exists", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/delegations")]
pub async fn create(
    state: State,
    actor: Actor,
    body: Json<NewDelegation>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // The answer shows the verification code once: kept for repeats, but encrypted.
    let key = Idempotency::of(&req, &actor, &*body)?.map(|k| k.sealed(state.pii.clone()));
    let draft = body.into_inner().draft(&state)?;
    let (acting, pii, max_days) = (
        Acting::from(&actor),
        state.pii.clone(),
        state.config.delegation_max_days,
    );
    let answer = state
        .run(move |tx, now| {
            let recheck = |tx: &mut _, first: &Answer| match first.body_json()["id"].as_str().map(str::parse)
            {
                Some(Ok(id)) => cases::may_replay(tx, &acting.subject, id, now),
                _ => Err(ApiError::internal(
                    "a delegation's first answer names no delegation",
                )),
            };
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let issuing = Issuing { pii: &pii, max_days };
                let (created, effects) =
                    cases::create::create(tx, &acting, draft, &issuing, now)?.into_parts();
                Ok(Outcome::new(created_answer(&created)?, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// 201 with the delegation and, this once, its acceptance code.
fn created_answer(created: &Created) -> Result<Answer, ApiError> {
    let mut view = DelegationView::of(&created.delegation);
    view.verification_code = Some(created.code.clone());
    Ok(Answer::created(&view)?.version(view.version))
}

impl NewDelegation {
    /// The request as the use case takes it: powers checked for shape, the representative
    /// named by id or by the lookup keys of their login.
    fn draft(self, state: &State) -> Result<Draft, ApiError> {
        let powers = parse_powers(&self.kind, &self.actions, self.services)?;
        let representative = match (self.representative_id, self.representative_login) {
            (Some(id), _) => Representative::Id(id),
            (None, Some(login)) => Representative::Login(logins::candidate_keys(&state.pii, &login)),
            (None, None) => Representative::Unnamed,
        };
        Ok(Draft {
            representative,
            powers,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            redelegation_allowed: self.redelegation_allowed,
            principal: self.principal_id,
            parent: self.parent_id,
        })
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `principal` (given, the default) or `representative` (received).
    #[serde(rename = "as")]
    #[param(pattern = "^(principal|representative)$")]
    pub side: Option<String>,
    #[param(pattern = "^(pending|active|declined|cancelled|revoked|renounced|expired)$")]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Delegations you gave or received.
///
/// Caller: any signed-in account: the principal's side (or an organisation's head) and the
/// representative see theirs. Changes nothing. Newest first; filter with `as` and `status`.
#[utoipa::path(
    tag = "delegations",
    operation_id = "listDelegations",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "Newest first", body = Page<DelegationView>,
            example = json!({"items": [{"accepted_at": "2026-11-23T11:00:00Z", "actions": ["applications.read"], "ended_at": null, "id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "issued_at": "2026-11-23T10:00:00Z", "kind": "specific", "number": "МЧД-2026-000017", "parent_id": null, "principal_id": "0193a8f0-0000-7000-8000-000000000001", "redelegation_allowed": false, "representative_id": "0193a8f0-0000-7000-8000-000000000002", "services": null, "status": "active", "valid_from": "2026-11-24T00:00:00Z", "valid_until": "2026-12-04T00:00:00Z", "verification_code": null, "version": 2}], "next_cursor": null})))
)]
#[get("/delegations")]
pub async fn list(
    state: State,
    caller: Caller,
    query: Query<ListQuery>,
) -> Result<Json<Page<DelegationView>>, ApiError> {
    let listing = query.into_inner().listing()?;
    let listed = state
        .query_as(caller, move |tx, actor, now| {
            cases::read::list(tx, &Acting::from(actor), listing, now)
        })
        .await?;
    let next_cursor = listed.more.then(|| listed.items.last()).flatten().map(|d| {
        Cursor {
            at: Some(d.created_at),
            id: d.id.to_string(),
        }
        .encode()
    });
    Ok(Json(Page {
        items: listed.items.iter().map(DelegationView::of).collect(),
        next_cursor,
    }))
}

impl ListQuery {
    fn listing(self) -> Result<Listing, ApiError> {
        let side = match self.side.as_deref() {
            None | Some("principal") => ListSide::Principal,
            Some("representative") => ListSide::Representative,
            Some(_) => {
                return Err(ApiError::field(
                    "as",
                    "invalid_value",
                    "principal or representative",
                ))
            }
        };
        let status = self
            .status
            .as_deref()
            .map(|s| {
                Status::parse(s)
                    .ok_or_else(|| ApiError::field("status", "invalid_value", "Not a delegation status."))
            })
            .transpose()?;
        let limit = paging::limit(self.limit)?;
        let after = paging::after(self.cursor.as_deref())?;
        Ok(Listing {
            side,
            status,
            after,
            limit: usize::try_from(limit).unwrap_or(0),
        })
    }
}

/// One delegation.
///
/// Caller: its parties only: the principal (or its organisation's head) and the
/// representative; anyone else gets 404. Changes nothing.
#[utoipa::path(
    tag = "delegations",
    operation_id = "getDelegation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The delegation", body = DelegationView, headers(("ETag" = String))))
)]
#[get("/delegations/{id}")]
pub async fn get_one(state: State, caller: Caller, id: Path<DelegationId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state
        .query_as(caller, move |tx, actor, now| {
            cases::read::get(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(respond(&found))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "482913"}))]
pub struct AcceptBody {
    /// The code the principal received at creation and passed on.
    pub code: String,
}

/// Accept a delegation with the principal's code.
///
/// Caller: the representative it names, with a `confirmed` account and 2FA (as the
/// principal has). Changes: `pending` → `active`; acting on behalf works from the next
/// request, within the validity window. A wrong code counts its try.
#[utoipa::path(
    tag = "delegations",
    operation_id = "acceptDelegation",
    security(("bearer" = [])),
    request_body = AcceptBody,
    params(("id" = String, Path, format = Uuid), IfMatchHeader),
    responses(
        (status = 200, description = "Active", body = DelegationView),
        (status = 403, description = "`role_required`: a staff account holds no powers unless it also has a confirmed citizen identity; `level_too_low` below `confirmed`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/delegations/{id}/accept")]
pub async fn accept(
    state: State,
    caller: Caller,
    id: Path<DelegationId>,
    version: IfMatch,
    body: Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, code) = (id.into_inner(), body.into_inner().code);
    let (pii, max_attempts) = (state.pii.clone(), state.config.delegation_code_attempts);
    let accepted = state
        .run_as(caller, move |tx, actor, now| {
            let check = CodeCheck {
                pii: &pii,
                max_attempts,
            };
            cases::respond::accept(tx, &Acting::from(actor), id, version.0, &code, &check, now)
        })
        .await?;
    // A wrong code still counts its try, so the refusal is answered after the commit.
    Ok(respond(&accepted?))
}

macro_rules! lifecycle_route {
    ($name:ident, $path:literal, $op:literal, $summary:literal, $description:literal, $case:path) => {
        #[doc = $summary]
        #[utoipa::path(
            tag = "delegations",
            operation_id = $op,
            description = $description,
            security(("bearer" = [])),
            params(("id" = String, Path, format = Uuid), IfMatchHeader),
            responses(
                (status = 200, description = "The delegation after the change", body = DelegationView),
                (status = 409, response = crate::openapi::Conflict),
            )
        )]
        #[post($path)]
        pub async fn $name(state: State, actor: Actor, id: Path<DelegationId>, version: IfMatch) -> Result<HttpResponse, ApiError> {
            let (id, acting) = (id.into_inner(), Acting::from(&actor));
            let next = state.run(move |tx, now| $case(tx, &acting, id, version.0, now)).await?;
            Ok(respond(&next))
        }
    };
}

lifecycle_route!(
    decline,
    "/delegations/{id}/decline",
    "declineDelegation",
    "Decline a pending delegation.",
    "Caller: the representative it names (requires `If-Match`). Changes: `pending` → `declined`; the acceptance code stops working.",
    cases::respond::decline
);
lifecycle_route!(
    cancel,
    "/delegations/{id}/cancel",
    "cancelDelegation",
    "Cancel a delegation not yet accepted.",
    "Caller: the principal, or the head of the principal organisation (requires `If-Match`). Changes: `pending` → `cancelled`; the acceptance code stops working.",
    cases::manage::cancel
);
lifecycle_route!(
    revoke,
    "/delegations/{id}/revoke",
    "revokeDelegation",
    "Revoke an active delegation.",
    "Caller: the principal, or the head of the principal organisation (requires `If-Match`). Changes: `active` → `revoked`, with every delegation passed on from it; the representative is refused from the very next request.",
    cases::manage::revoke
);
lifecycle_route!(
    renounce,
    "/delegations/{id}/renounce",
    "renounceDelegation",
    "Give up an active delegation.",
    "Caller: the representative it names (requires `If-Match`). Changes: `active` → `renounced`, with every delegation passed on from it; acting on behalf stops with the very next request.",
    cases::respond::renounce
);

#[derive(Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"valid_from": "2026-11-24T00:00:00Z", "valid_until": "2026-12-20T00:00:00Z"}))]
pub struct TermChangeBody {
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d", "valid_from": "2026-11-24T00:00:00Z", "valid_until": "2026-12-20T00:00:00Z", "principal_confirmed": true, "representative_confirmed": false, "status": "pending"}))]
pub struct TermChangeView {
    pub id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub principal_confirmed: bool,
    pub representative_confirmed: bool,
    /// `pending` until both confirm, then `applied`; `superseded` by a newer proposal.
    pub status: String,
}

fn term_view(c: &TermChange) -> TermChangeView {
    TermChangeView {
        id: c.id.clone(),
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        principal_confirmed: c.principal_confirmed,
        representative_confirmed: c.representative_confirmed,
        status: c.status.as_str().into(),
    }
}

/// Propose a new term for an active delegation.
///
/// Caller: either party: the principal (or its organisation's head) or the representative.
/// Changes: a term-change request, confirmed by the proposer; the old term stands until the
/// other party confirms too. An inactive delegation is 409 `delegation_not_active`.
#[utoipa::path(
    tag = "delegations",
    operation_id = "proposeTermChange",
    security(("bearer" = [])),
    request_body = TermChangeBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses(
        (status = 201, description = "Proposed; confirmed by you, awaiting the other party", body = TermChangeView),
        (status = 409, description = "The delegation is not active now (pending, ended, or past its end): `delegation_not_active`; a new term is a new delegation", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/delegations/{id}/term-changes")]
pub async fn propose_term(
    state: State,
    actor: Actor,
    id: Path<DelegationId>,
    body: Json<TermChangeBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, acting, max_days) = (
        id.into_inner(),
        Acting::from(&actor),
        state.config.delegation_max_days,
    );
    let asked = NewTerm {
        valid_from: body.valid_from,
        valid_until: body.valid_until,
    };
    let answer = state
        .run(move |tx, now| {
            let recheck = |tx: &mut _, _: &Answer| cases::may_replay(tx, &acting.subject, id, now);
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (change, effects) =
                    cases::term::propose(tx, &acting, id, asked, max_days, now)?.into_parts();
                Ok(Outcome::new(Answer::created(&term_view(&change))?, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Confirm a proposed term.
///
/// Caller: either party of the delegation. Changes: records the caller's confirmation; with
/// both, the new term takes effect. A change no longer pending is 409 `term_change_closed`.
#[utoipa::path(
    tag = "delegations",
    operation_id = "confirmTermChange",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("change_id" = String, Path)),
    responses(
        (status = 200, description = "The change, applied once both confirmed", body = TermChangeView),
        (status = 409, description = "No longer pending (`term_change_closed`), or the delegation is not active now (`delegation_not_active`): an expired one never comes back", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/delegations/{id}/term-changes/{change_id}/confirm")]
pub async fn confirm_term(
    state: State,
    actor: Actor,
    path: Path<(DelegationId, String)>,
) -> Result<Json<TermChangeView>, ApiError> {
    let ((id, change_id), acting) = (path.into_inner(), Acting::from(&actor));
    let max_days = state.config.delegation_max_days;
    let change = state
        .run(move |tx, now| cases::term::confirm(tx, &acting, id, &change_id, max_days, now))
        .await?;
    Ok(Json(term_view(&change)))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"seq": 2, "occurred_at": "2026-11-23T11:00:00Z", "actor_id": "0193a8f0-0000-7000-8000-000000000002", "event": "accept", "from_status": "pending", "to_status": "active", "details": {}}))]
pub struct DelegationEventView {
    pub seq: i32,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub actor_id: Option<AccountId>,
    pub event: String,
    pub from_status: Option<String>,
    pub to_status: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"seq": 2, "occurred_at": "2026-11-23T11:00:00Z", "actor_id": "0193a8f0-0000-7000-8000-000000000002", "event": "accept", "from_status": "pending", "to_status": "active", "details": {}}]}))]
pub struct DelegationHistory {
    pub items: Vec<DelegationEventView>,
}

/// Everything that happened to a delegation.
///
/// Caller: its parties only (the principal or its organisation's head, and the
/// representative). Changes nothing. Oldest first.
#[utoipa::path(
    tag = "delegations",
    operation_id = "delegationHistory",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "Oldest first", body = DelegationHistory))
)]
#[get("/delegations/{id}/history")]
pub async fn history(
    state: State,
    caller: Caller,
    id: Path<DelegationId>,
) -> Result<Json<DelegationHistory>, ApiError> {
    let id = id.into_inner();
    let entries = state
        .query_as(caller, move |tx, actor, now| {
            cases::read::history(tx, &Acting::from(actor), id, now)
        })
        .await?;
    Ok(Json(DelegationHistory {
        items: entries.into_iter().map(DelegationEventView::from).collect(),
    }))
}

impl From<HistoryEntry> for DelegationEventView {
    fn from(e: HistoryEntry) -> DelegationEventView {
        DelegationEventView {
            seq: e.seq,
            occurred_at: e.occurred_at,
            actor_id: e.actor,
            event: e.event,
            from_status: e.from.map(|s| s.as_str().to_string()),
            to_status: e.to.as_str().to_string(),
            details: e.details,
        }
    }
}
