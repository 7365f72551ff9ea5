//! Delegations of powers: the principal gives, the representative accepts with the code the
//! principal passes on out of band, either side ends it, and term changes need both.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::delegation::{check_term, Delegation, Event, Kind, Powers, Side, Status};
use domain::ids::{AccountId, DelegationId};
use domain::notice::Notice;
use persistence::accounts;
use persistence::delegations::{self as store, ListFilter, NewDelegationEvent, TermChange};
use persistence::DbConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Cursor, Page};
use crate::auth::{logins, second_factor, Actor};
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::{from_field_error, ApiError};
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;

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
    fn of(d: &Delegation, at: DateTime<Utc>) -> DelegationView {
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
            status: d.effective_status(at).as_str().into(),
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
        .json(DelegationView::of(d, now()))
}

/// The delegation as the authorization core sees it; `head` heads the principal when the
/// principal is an organisation.
fn resource(d: &Delegation, head: Option<AccountId>) -> Resource {
    Resource::Delegation {
        principal: d.principal,
        representative: d.representative,
        head,
    }
}

fn notice(to: AccountId, d: &Delegation, kind: &str, title: &str, body: String) -> Notice {
    Notice {
        recipient: to,
        kind: format!("delegation.{kind}"),
        title: title.into(),
        body,
        data: json!({ "delegation_id": d.id, "number": d.number, "status": d.status.as_str() }),
        important: true,
    }
}

/// Both parties must have a second factor on to create, accept or change a delegation.
fn require_two_factor(tx: &mut DbConnection, parties: [AccountId; 2]) -> Result<(), ApiError> {
    for (party, who) in parties.into_iter().zip(["principal", "representative"]) {
        // An organisation has no second factor of its own: its head's counts.
        let person = persistence::organisations::head(tx, party)?.unwrap_or(party);
        let enabled = accounts::find(tx, person)?.is_some_and(|a| a.totp.enabled);
        if !enabled {
            return Err(ApiError::forbidden(
                "two_factor_required",
                format!("The {who} must have two-factor authentication enabled."),
            ));
        }
    }
    Ok(())
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

/// Give powers to a representative (or pass on part of yours, with `parent_id`).
#[utoipa::path(
    tag = "delegations",
    operation_id = "createDelegation",
    security(("bearer" = [])),
    request_body = NewDelegation,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Pending until the representative accepts; the code is shown once", body = DelegationView),
        (status = 404, response = crate::openapi::NotFound),
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
    let body = body.into_inner();
    let powers = parse_powers(&body.kind, &body.actions, body.services.clone())?;
    let at = now();
    check_term(
        body.valid_from,
        body.valid_until,
        at,
        state.config.delegation_max_days,
    )
    .map_err(from_field_error)?;
    let login_keys = body
        .representative_login
        .as_deref()
        .map(|l| logins::candidate_keys(&state.pii, l));
    let code = second_factor::new_numeric_code();
    let pii = state.pii.clone();
    let (subject, creator, ip) = (actor.subject.clone(), actor.account, actor.ip.clone());
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                let representative = match (body.representative_id, &login_keys) {
                    (Some(id), _) => accounts::find(tx, id)?,
                    (None, Some(keys)) => accounts::find_by_login(tx, keys)?,
                    (None, None) => {
                        return Err(ApiError::field(
                            "representative_id",
                            "required",
                            "Name the representative.",
                        ))
                    }
                }
                .ok_or_else(|| ApiError::field("representative_id", "unknown_account", "No such account."))?
                .id;
                let (principal, parent) = match body.parent_id {
                    None => {
                        // An organisation's delegations are issued by its head.
                        let principal = body.principal_id.unwrap_or(creator);
                        let head = persistence::organisations::head(tx, principal)?;
                        let target = Resource::Delegation {
                            principal,
                            representative,
                            head,
                        };
                        authorize(&subject, Action::DelegationsManage, &target, at)?;
                        (principal, None)
                    }
                    Some(parent_id) => {
                        let parent = store::find(tx, parent_id)?.ok_or_else(ApiError::not_found)?;
                        let head = persistence::organisations::head(tx, parent.principal)?;
                        authorize(&subject, Action::DelegationsRespond, &resource(&parent, head), at)?;
                        if !parent.redelegation_allowed {
                            return Err(ApiError::forbidden(
                                "redelegation_not_allowed",
                                "This delegation may not be passed on.",
                            ));
                        }
                        parent.grant().in_force(at).map_err(|_| {
                            ApiError::conflict(
                                "delegation_not_in_force",
                                "Only a delegation in force can be passed on.",
                            )
                        })?;
                        if !powers.is_subset_of(&parent.powers) {
                            return Err(ApiError::field(
                                "actions",
                                "exceeds_parent",
                                "Only a subset of your own powers can be passed on.",
                            ));
                        }
                        if body.valid_from < parent.valid_from || body.valid_until > parent.valid_until {
                            return Err(ApiError::field(
                                "valid_until",
                                "exceeds_parent",
                                "Stay within your own delegation's term.",
                            ));
                        }
                        (parent.principal, Some(parent.id))
                    }
                };
                if representative == principal || representative == creator {
                    return Err(ApiError::field(
                        "representative_id",
                        "self_delegation",
                        "You cannot delegate to yourself.",
                    ));
                }
                require_two_factor(tx, [creator, representative])?;
                let id = DelegationId::new();
                let number = format!(
                    "МЧД-{}-{:06}",
                    at.format("%Y"),
                    persistence::applications::next_counter(tx, "delegation_number")?
                );
                let delegation = Delegation {
                    id,
                    number,
                    principal,
                    representative,
                    parent,
                    powers,
                    valid_from: body.valid_from,
                    valid_until: body.valid_until,
                    status: Status::Pending,
                    redelegation_allowed: body.redelegation_allowed,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    accepted_at: None,
                    ended_at: None,
                };
                store::insert(
                    tx,
                    &delegation,
                    &pii.keyed_hash("delegation", &format!("{id}:{code}")),
                )?;
                store::append_history(
                    tx,
                    &NewDelegationEvent::of(&delegation, Some(creator), "create", None)
                        .details(json!({ "parent": parent })),
                    at,
                )?;
                let entry = AuditEntry::new("delegation.create", "delegation")
                    .by(Some(creator))
                    .on_behalf_of(Some(principal.as_uuid()))
                    .target(id)
                    .details(
                        json!({ "representative": representative, "kind": delegation.powers.kind.as_str() }),
                    )
                    .from_ip(ip);
                persistence::audit::record(tx, entry, at)?;
                let body = format!(
                    "Вам выдана доверенность {}. Примите её с кодом, который вам сообщит доверитель.",
                    delegation.number
                );
                persistence::notifications::notify(
                    tx,
                    &notice(representative, &delegation, "created", "Новая доверенность", body),
                    at,
                )?;
                let mut view = DelegationView::of(&delegation, at);
                view.verification_code = Some(code);
                Ok(Answer::created(&view)?.version(view.version))
            })
        })
        .await?;
    Ok(answer.respond())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `principal` (given, the default) or `representative` (received).
    #[serde(rename = "as")]
    pub side: Option<String>,
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Delegations you gave or received.
#[utoipa::path(
    tag = "delegations",
    operation_id = "listDelegations",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "Newest first", body = Page<DelegationView>))
)]
#[get("/delegations")]
pub async fn list(
    state: State,
    actor: Actor,
    query: Query<ListQuery>,
) -> Result<Json<Page<DelegationView>>, ApiError> {
    let me = actor.account;
    authorize(
        &actor.subject,
        Action::DelegationsRead,
        &Resource::Delegation {
            principal: me,
            representative: me,
            head: None,
        },
        now(),
    )?;
    let side = match query.side.as_deref() {
        None | Some("principal") => store::Side::Principal,
        Some("representative") => store::Side::Representative,
        Some(_) => {
            return Err(ApiError::field(
                "as",
                "invalid_value",
                "principal or representative",
            ))
        }
    };
    let status = query
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s)
                .ok_or_else(|| ApiError::field("status", "invalid_value", "Not a delegation status."))
        })
        .transpose()?;
    let limit = paging::limit(query.limit)?;
    let after = match query.cursor.as_deref().map(Cursor::decode).transpose()? {
        Some(Cursor { at: Some(at), id }) => Some((at, id)),
        Some(_) => {
            return Err(ApiError::field(
                "cursor",
                "invalid_value",
                "Not a cursor of this list.",
            ))
        }
        None => None,
    };
    let filter = ListFilter {
        side,
        status,
        after,
        limit: limit + 1,
    };
    let mut found = state.read(move |c| Ok(store::list(c, me, &filter)?)).await?;
    let more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| {
            found.last().map(|d| {
                Cursor {
                    at: Some(d.created_at),
                    id: d.id.to_string(),
                }
                .encode()
            })
        })
        .flatten();
    let at = now();
    Ok(Json(Page {
        items: found.iter().map(|d| DelegationView::of(d, at)).collect(),
        next_cursor,
    }))
}

async fn load(
    state: &State,
    actor: &Actor,
    id: DelegationId,
    action: Action,
) -> Result<Delegation, ApiError> {
    let (found, head) = state
        .read(move |c| {
            let found = store::find(c, id)?.ok_or_else(ApiError::not_found)?;
            let head = persistence::organisations::head(c, found.principal)?;
            Ok((found, head))
        })
        .await?;
    authorize(
        &actor.subject,
        Action::DelegationsRead,
        &resource(&found, head),
        now(),
    )?;
    authorize(&actor.subject, action, &resource(&found, head), now())?;
    Ok(found)
}

/// Authorizes a change either party may propose or confirm; answers whether the caller is
/// on the principal's side (the principal, or the principal organisation's head).
async fn authorize_side(state: &State, actor: &Actor, d: &Delegation) -> Result<bool, ApiError> {
    let principal = d.principal;
    let head = state
        .read(move |c| Ok(persistence::organisations::head(c, principal)?))
        .await?;
    let principal_side = actor.account == d.principal || head == Some(actor.account);
    let action = if principal_side {
        Action::DelegationsManage
    } else {
        Action::DelegationsRespond
    };
    authorize(&actor.subject, action, &resource(d, head), now())?;
    Ok(principal_side)
}

/// One delegation (its parties only).
#[utoipa::path(
    tag = "delegations",
    operation_id = "getDelegation",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The delegation", body = DelegationView, headers(("ETag" = String))))
)]
#[get("/delegations/{id}")]
pub async fn get_one(state: State, actor: Actor, id: Path<DelegationId>) -> Result<HttpResponse, ApiError> {
    Ok(respond(
        &load(&state, &actor, id.into_inner(), Action::DelegationsRead).await?,
    ))
}

/// Moves a delegation through its lifecycle and records it; revoking ends the delegations
/// passed on from it as well.
fn transition(
    tx: &mut DbConnection,
    actor: AccountId,
    ip: Option<String>,
    current: &Delegation,
    version: i64,
    event: Event,
    side: Side,
) -> Result<Delegation, ApiError> {
    let at = now();
    if current.version != version {
        return Err(stale(current.version));
    }
    let next = current.apply(event, side, at).ok_or_else(|| {
        ApiError::conflict(
            "invalid_transition",
            format!(
                "Cannot {} a delegation that is {}.",
                event.as_str(),
                current.status.as_str()
            ),
        )
        .with_context(json!({ "status": current.status.as_str() }))
    })?;
    if !store::update(tx, &next, version)? {
        return Err(stale(version + 1));
    }
    store::append_history(
        tx,
        &NewDelegationEvent::of(&next, Some(actor), event.as_str(), Some(current.status)),
        at,
    )?;
    let entry = AuditEntry::new(format!("delegation.{}", event.as_str()), "delegation")
        .by(Some(actor))
        .target(next.id)
        .details(json!({ "from": current.status.as_str(), "to": next.status.as_str() }))
        .from_ip(ip.clone());
    persistence::audit::record(tx, entry, at)?;
    // The representative hears from the principal's side and vice versa (an
    // organisation's head acts on the principal's side).
    let other = if actor == next.representative {
        next.principal
    } else {
        next.representative
    };
    let body = format!("Доверенность {}: {}.", next.number, next.status.as_str());
    persistence::notifications::notify(
        tx,
        &notice(other, &next, event.as_str(), "Доверенность изменена", body),
        at,
    )?;
    if event == Event::Revoke {
        end_children(tx, actor, ip, next.id)?;
    }
    Ok(next)
}

/// Ends every delegation passed on from `parent`, down the whole chain.
fn end_children(
    tx: &mut DbConnection,
    actor: AccountId,
    ip: Option<String>,
    parent: DelegationId,
) -> Result<(), ApiError> {
    let mut queue = vec![parent];
    while let Some(id) = queue.pop() {
        for child in store::children(tx, id)? {
            let event = if child.status == Status::Pending {
                Event::Cancel
            } else {
                Event::Revoke
            };
            if child.apply(event, Side::Principal, now()).is_some() {
                transition(
                    tx,
                    actor,
                    ip.clone(),
                    &child,
                    child.version,
                    event,
                    Side::Principal,
                )?;
            }
            queue.push(child.id);
        }
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "482913"}))]
pub struct AcceptBody {
    /// The code the principal received at creation and passed on.
    pub code: String,
}

/// Accept a delegation with the principal's code (representative; 2FA on both sides).
#[utoipa::path(
    tag = "delegations",
    operation_id = "acceptDelegation",
    security(("bearer" = [])),
    request_body = AcceptBody,
    params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses(
        (status = 200, description = "Active", body = DelegationView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/delegations/{id}/accept")]
pub async fn accept(
    state: State,
    actor: Actor,
    id: Path<DelegationId>,
    version: IfMatch,
    body: Json<AcceptBody>,
) -> Result<HttpResponse, ApiError> {
    let current = load(&state, &actor, id.into_inner(), Action::DelegationsRespond).await?;
    let (pii, max, code, me, ip) = (
        state.pii.clone(),
        state.config.delegation_code_attempts,
        body.into_inner().code,
        actor.account,
        actor.ip.clone(),
    );
    let outcome = state
        .write(move |tx| {
            require_two_factor(tx, [current.principal, current.representative])?;
            if current.status != Status::Pending {
                return Ok(Err(ApiError::conflict(
                    "invalid_transition",
                    "Only a pending delegation can be accepted.",
                )));
            }
            if current.valid_until <= now() {
                return Ok(Err(ApiError::conflict(
                    "delegation_expired",
                    "This delegation's term has passed.",
                )));
            }
            let (hash, attempts) = store::code(tx, current.id)?.ok_or_else(ApiError::not_found)?;
            if attempts >= max {
                return Ok(Err(ApiError::conflict(
                    "code_attempts_exceeded",
                    "The code was mistyped too often; ask for a new delegation.",
                )));
            }
            store::count_code_attempt(tx, current.id)?;
            if pii.keyed_hash("delegation", &format!("{}:{}", current.id, code.trim())) != hash {
                let left = max - attempts - 1;
                return Ok(Err(ApiError::field(
                    "code",
                    "invalid_code",
                    format!("The code does not match; {left} tries left."),
                )));
            }
            Ok(Ok(transition(
                tx,
                me,
                ip,
                &current,
                version.0,
                Event::Accept,
                Side::Representative,
            )?))
        })
        .await?;
    // A wrong code still counts its try, so the refusal is answered after the commit.
    Ok(respond(&outcome?))
}

async fn simple(
    state: State,
    actor: Actor,
    id: DelegationId,
    version: IfMatch,
    event: Event,
    side: Side,
) -> Result<HttpResponse, ApiError> {
    let action = if side == Side::Principal {
        Action::DelegationsManage
    } else {
        Action::DelegationsRespond
    };
    let current = load(&state, &actor, id, action).await?;
    let (me, ip) = (actor.account, actor.ip.clone());
    let next = state
        .write(move |tx| transition(tx, me, ip, &current, version.0, event, side))
        .await?;
    Ok(respond(&next))
}

macro_rules! lifecycle_route {
    ($name:ident, $path:literal, $op:literal, $summary:literal, $event:expr, $side:expr) => {
        #[doc = $summary]
        #[utoipa::path(
            tag = "delegations",
            operation_id = $op,
            security(("bearer" = [])),
            params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
            responses(
                (status = 200, description = "The delegation after the change", body = DelegationView),
                (status = 409, response = crate::openapi::Conflict),
            )
        )]
        #[post($path)]
        pub async fn $name(state: State, actor: Actor, id: Path<DelegationId>, version: IfMatch) -> Result<HttpResponse, ApiError> {
            simple(state, actor, id.into_inner(), version, $event, $side).await
        }
    };
}

lifecycle_route!(
    decline,
    "/delegations/{id}/decline",
    "declineDelegation",
    "Decline a pending delegation (representative).",
    Event::Decline,
    Side::Representative
);
lifecycle_route!(
    cancel,
    "/delegations/{id}/cancel",
    "cancelDelegation",
    "Cancel a delegation not yet accepted (principal).",
    Event::Cancel,
    Side::Principal
);
lifecycle_route!(
    revoke,
    "/delegations/{id}/revoke",
    "revokeDelegation",
    "Revoke an active delegation, and everything passed on from it (principal).",
    Event::Revoke,
    Side::Principal
);
lifecycle_route!(
    renounce,
    "/delegations/{id}/renounce",
    "renounceDelegation",
    "Give up an active delegation (representative).",
    Event::Renounce,
    Side::Representative
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
        status: c.status.clone(),
    }
}

/// Propose a new term; the old one stands until both parties confirm.
#[utoipa::path(
    tag = "delegations",
    operation_id = "proposeTermChange",
    security(("bearer" = [])),
    request_body = TermChangeBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses(
        (status = 201, description = "Proposed; confirmed by you, awaiting the other party", body = TermChangeView),
        (status = 409, response = crate::openapi::Conflict),
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
    let current = load(&state, &actor, id.into_inner(), Action::DelegationsRead).await?;
    let principal_side = authorize_side(&state, &actor, &current).await?;
    let body = body.into_inner();
    let at = now();
    // A term that started already may keep its start; a new start must not be in the past.
    let from_check = if body.valid_from == current.valid_from {
        at.min(body.valid_from)
    } else {
        at
    };
    check_term(
        body.valid_from,
        body.valid_until,
        from_check,
        state.config.delegation_max_days,
    )
    .map_err(from_field_error)?;
    if current.status.is_final() {
        return Err(ApiError::conflict(
            "invalid_transition",
            "This delegation has ended.",
        ));
    }
    let me = actor.account;
    let change = TermChange {
        id: uuid::Uuid::now_v7().to_string(),
        delegation: current.id,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        principal_confirmed: principal_side,
        representative_confirmed: !principal_side,
        status: "pending".into(),
    };
    let stored = change;
    let ip = actor.ip.clone();
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                require_two_factor(tx, [current.principal, current.representative])?;
                store::insert_term_change(tx, &stored, me, at)?;
                store::append_history(
                    tx,
                    &NewDelegationEvent::of(&current, Some(me), "term_change_proposed", Some(current.status))
                        .details(
                            json!({ "valid_from": stored.valid_from, "valid_until": stored.valid_until }),
                        ),
                    at,
                )?;
                persistence::audit::record(
                    tx,
                    AuditEntry::new("delegation.term_change_proposed", "delegation")
                        .by(Some(me))
                        .target(current.id)
                        .from_ip(ip),
                    at,
                )?;
                let other = if principal_side {
                    current.representative
                } else {
                    current.principal
                };
                let body = format!(
                    "Предложено изменить срок доверенности {}; подтвердите изменение.",
                    current.number
                );
                persistence::notifications::notify(
                    tx,
                    &notice(
                        other,
                        &current,
                        "term_change",
                        "Изменение срока доверенности",
                        body,
                    ),
                    at,
                )?;
                Answer::created(&term_view(&stored))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Confirm a proposed term; with both confirmations the new term takes effect.
#[utoipa::path(
    tag = "delegations",
    operation_id = "confirmTermChange",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("change_id" = String, Path)),
    responses(
        (status = 200, description = "The change, applied once both confirmed", body = TermChangeView),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
#[post("/delegations/{id}/term-changes/{change_id}/confirm")]
pub async fn confirm_term(
    state: State,
    actor: Actor,
    path: Path<(DelegationId, String)>,
) -> Result<Json<TermChangeView>, ApiError> {
    let (id, change_id) = path.into_inner();
    let current = load(&state, &actor, id, Action::DelegationsRead).await?;
    let principal_side = authorize_side(&state, &actor, &current).await?;
    let (me, ip, max_days) = (actor.account, actor.ip.clone(), state.config.delegation_max_days);
    let change = state
        .write(move |tx| {
            require_two_factor(tx, [current.principal, current.representative])?;
            let mut change =
                store::find_term_change(tx, current.id, &change_id)?.ok_or_else(ApiError::not_found)?;
            if change.status != "pending" {
                return Err(ApiError::conflict(
                    "term_change_closed",
                    "This proposal is no longer pending.",
                ));
            }
            if principal_side {
                change.principal_confirmed = true;
            } else {
                change.representative_confirmed = true;
            }
            let at = now();
            if change.principal_confirmed && change.representative_confirmed {
                let fresh = store::find(tx, current.id)?.ok_or_else(ApiError::not_found)?;
                if fresh.status.is_final() {
                    return Err(ApiError::conflict(
                        "invalid_transition",
                        "This delegation has ended.",
                    ));
                }
                check_term(
                    change.valid_from,
                    change.valid_until,
                    at.min(change.valid_from),
                    max_days,
                )
                .map_err(from_field_error)?;
                let mut next = fresh.clone();
                next.valid_from = change.valid_from;
                next.valid_until = change.valid_until;
                next.version += 1;
                next.updated_at = at;
                if !store::update(tx, &next, fresh.version)? {
                    return Err(stale(fresh.version + 1));
                }
                change.status = "applied".into();
                store::append_history(
                    tx,
                    &NewDelegationEvent::of(&next, Some(me), "term_changed", Some(fresh.status))
                        .details(json!({ "valid_from": next.valid_from, "valid_until": next.valid_until })),
                    at,
                )?;
                persistence::audit::record(
                    tx,
                    AuditEntry::new("delegation.term_changed", "delegation")
                        .by(Some(me))
                        .target(next.id)
                        .from_ip(ip),
                    at,
                )?;
                for party in [next.principal, next.representative] {
                    let body = format!(
                        "Срок доверенности {} изменён: до {}.",
                        next.number,
                        next.valid_until.format("%d.%m.%Y")
                    );
                    persistence::notifications::notify(
                        tx,
                        &notice(party, &next, "term_changed", "Срок доверенности изменён", body),
                        at,
                    )?;
                }
            }
            store::update_term_change(tx, &change, at)?;
            Ok(change)
        })
        .await?;
    Ok(Json(term_view(&change)))
}

#[derive(Serialize, ToSchema)]
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
pub struct DelegationHistory {
    pub items: Vec<DelegationEventView>,
}

/// Everything that happened to a delegation.
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
    actor: Actor,
    id: Path<DelegationId>,
) -> Result<Json<DelegationHistory>, ApiError> {
    let found = load(&state, &actor, id.into_inner(), Action::DelegationsRead).await?;
    let events = state.read(move |c| Ok(store::events(c, found.id)?)).await?;
    let items = events
        .into_iter()
        .map(|e| DelegationEventView {
            seq: e.seq,
            occurred_at: e.occurred_at,
            actor_id: e.actor,
            event: e.event,
            from_status: e.from,
            to_status: e.to,
            details: e.details,
        })
        .collect();
    Ok(Json(DelegationHistory { items }))
}
