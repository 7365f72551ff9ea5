//! Live events over Server-Sent Events: one application's stream and the caller's own
//! stream, both resumable with Last-Event-ID.

use std::sync::Arc;

use actix_web::web::{Path, Query};
use actix_web::{get, HttpRequest, HttpResponse};
use domain::ids::ApplicationId;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::events::{respond, Feed, Gate};
use crate::state::State;
use crate::usecases::joint::live;
use crate::usecases::Acting;

const LAST_EVENT_ID: &str = "Last-Event-ID";

const STREAM_EXAMPLE: &str = "retry: 2000\n\nid: 42\nevent: application.submit\ndata: {\"application_id\":\"0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d\",\"kind\":\"application.submit\",\"data\":{\"status\":\"submitted\",\"version\":3,\"actor\":\"0193a8f0-0000-7000-8000-000000000001\"},\"created_at\":\"2026-11-23T10:00:00Z\"}\n\n: keep-alive\n\n";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Resume {
    /// Where to resume when the client cannot send the `Last-Event-ID` header (a
    /// browser's first connection): every event after this id is replayed first.
    #[param(example = "42")]
    last_event_id: Option<String>,
}

/// The event id to resume after: the header (what EventSource sends on reconnecting)
/// wins over the query; neither means "live from now".
fn resume_after(req: &HttpRequest, query: &Resume) -> Result<Option<i64>, ApiError> {
    let invalid = || {
        ApiError::field(
            LAST_EVENT_ID,
            "invalid_value",
            "Last-Event-ID must be an event id (a non-negative integer).",
        )
    };
    let text = match req.headers().get(LAST_EVENT_ID) {
        Some(value) => Some(value.to_str().map_err(|_| invalid())?.to_string()),
        None => query.last_event_id.clone(),
    };
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .map(Some)
            .ok_or_else(invalid),
    }
}

/// Live events of one application: status changes and edits, as Server-Sent Events.
///
/// Caller: whoever may read the application (owner, participant, representative with
/// `applications.read`, officer handling it). Changes nothing: a read-only stream.
///
/// Send `Last-Event-ID` (or `?last_event_id=`) to receive first every event after that id,
/// then live ones; without it the stream starts from now. A comment line (`: keep-alive`)
/// comes every 15 s. A participant removed from the application gets that event and then
/// the stream ends; the stream also ends, within `stream_recheck_secs`, once the caller may
/// no longer see it (token expired, session ended, delegation revoked): reconnect with a
/// fresh token.
///
/// One account may hold at most `streams_per_account` streams (both kinds together) on a
/// node, and a node at most `streams_per_node`; past either, 429 `too_many_streams` with
/// `Retry-After`. Closing a stream frees its place.
#[utoipa::path(
    tag = "events",
    operation_id = "applicationEvents",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received; replay starts after it"),
        Resume,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`: each event has `id`, `event` (its kind) and `data` (JSON with `application_id`, `kind`, `data`, `created_at`)",
            content_type = "text/event-stream", body = String, example = json!(STREAM_EXAMPLE)),
        (status = 404, response = crate::openapi::NotFound),
        (status = 429, response = crate::openapi::TooManyStreams),
    )
)]
#[get("/applications/{id}/events")]
pub async fn application_events(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    query: Query<Resume>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let after = resume_after(&req, &query)?;
    let feed = Feed::Application {
        id,
        viewer: actor.principal(),
    };
    let gate: Gate =
        Arc::new(move |c, actor, now| live::may_watch_application(c, &Acting::from(actor), id, now));
    respond(&state, actor, feed, gate, after).await
}

/// Live events addressed to you, across all applications.
///
/// Caller: any signed-in account, or a representative with `applications.read` for the
/// principal. Changes nothing. Server-Sent Events, resumable like an application's stream
/// and counted against the same caps (429 `too_many_streams` past them). Acting under
/// powers limited to services, only the events of those services' applications are sent or
/// replayed.
#[utoipa::path(
    tag = "events",
    operation_id = "myEvents",
    security(("bearer" = [])),
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received; replay starts after it"),
        Resume,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of the events whose audience includes you",
            content_type = "text/event-stream", body = String, example = json!(STREAM_EXAMPLE)),
        (status = 429, response = crate::openapi::TooManyStreams),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
#[get("/me/events")]
pub async fn my_events(
    state: State,
    actor: Actor,
    query: Query<Resume>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let principal = actor.principal();
    let after = resume_after(&req, &query)?;
    let feed = Feed::Account {
        account: principal,
        services: live::services_watched(&Acting::from(&actor), state.clock.now()),
    };
    let gate: Gate = Arc::new(move |_, actor, now| live::may_watch_own(&Acting::from(actor), principal, now));
    respond(&state, actor, feed, gate, after).await
}
