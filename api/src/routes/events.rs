//! Live events over Server-Sent Events: one application's stream and the caller's own
//! stream, both resumable with Last-Event-ID, opened with a bearer token or (a browser's
//! EventSource) with a single-use stream ticket.

use std::sync::Arc;

use actix_web::web::{Json, Path, Query};
use actix_web::{get, post, HttpRequest, HttpResponse};
use domain::ids::ApplicationId;
use domain::stream::EventStream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::tickets::StreamCaller;
use crate::auth::Actor;
use crate::error::ApiError;
use crate::events::{respond, Feed, Gate};
use crate::state::State;
use crate::usecases::joint::live;
use crate::usecases::stream_tickets::{self, Holder};
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
///
/// A browser's EventSource, which cannot send `Authorization`, passes `?ticket=` from
/// `POST /api/v1/events/tickets` instead (401 `invalid_ticket` if it is used, expired or
/// for another stream).
#[utoipa::path(
    tag = "events",
    operation_id = "applicationEvents",
    security(("bearer" = []), ("stream_ticket" = [])),
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
    caller: StreamCaller,
    id: Path<ApplicationId>,
    query: Query<Resume>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let after = resume_after(&req, &query)?;
    let actor = caller.admit(&state, EventStream::Application(id)).await?;
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
/// replayed. A browser's EventSource passes `?ticket=` (from `POST /api/v1/events/tickets`)
/// instead of `Authorization`.
#[utoipa::path(
    tag = "events",
    operation_id = "myEvents",
    security(("bearer" = []), ("stream_ticket" = [])),
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
    caller: StreamCaller,
    query: Query<Resume>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let after = resume_after(&req, &query)?;
    let actor = caller.admit(&state, EventStream::Mine).await?;
    let principal = actor.principal();
    let feed = Feed::Account {
        account: principal,
        services: live::services_watched(&Acting::from(&actor), state.clock.now()),
    };
    let gate: Gate = Arc::new(move |_, actor, now| live::may_watch_own(&Acting::from(actor), principal, now));
    respond(&state, actor, feed, gate, after).await
}

/// Which stream a ticket opens.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamName {
    /// `GET /api/v1/me/events`.
    Me,
    /// `GET /api/v1/applications/{application_id}/events`.
    Application,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stream": "application", "application_id": "0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d"}))]
pub struct StreamTicketRequest {
    pub stream: StreamName,
    /// The application, for `stream: application` (and only then).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub application_id: Option<ApplicationId>,
}

impl TryFrom<StreamTicketRequest> for EventStream {
    type Error = ApiError;

    fn try_from(body: StreamTicketRequest) -> Result<EventStream, ApiError> {
        match (body.stream, body.application_id) {
            (StreamName::Me, None) => Ok(EventStream::Mine),
            (StreamName::Application, Some(id)) => Ok(EventStream::Application(id)),
            (StreamName::Me, Some(_)) => Err(ApiError::field(
                "application_id",
                "not_allowed",
                "Only an application's stream names an application.",
            )),
            (StreamName::Application, None) => Err(ApiError::field(
                "application_id",
                "required",
                "Name the application whose stream the ticket opens.",
            )),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "ticket": "mZq3v8V0Xw1r5J9kQ2bT7yN4cH6fL0aP3sD8gK1eR5u",
    "expires_at": "2026-12-03T10:00:30Z",
    "stream_url": "/api/v1/applications/0193a8f0-5c1e-7a2b-9c3d-4e5f6a7b8c9d/events?ticket=mZq3v8V0Xw1r5J9kQ2bT7yN4cH6fL0aP3sD8gK1eR5u"
}))]
pub struct StreamTicket {
    /// Good once, for this stream only, until `expires_at`.
    pub ticket: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The stream's path with the ticket, relative to the API's origin: what to give
    /// `new EventSource(...)`. Add `&last_event_id=` to resume.
    pub stream_url: String,
}

/// A single-use ticket that opens one event stream without `Authorization`.
///
/// Caller: any signed-in account, or a representative acting on behalf (the ticket is then
/// bound to that principal). Changes: stores the ticket's hash; nothing else.
///
/// A browser's `EventSource` cannot send headers, so a web page asks for a ticket with its
/// access token and opens the stream at `stream_url` (`?ticket=`). The ticket is good
/// once, for the named stream only, for `stream_ticket_ttl_secs` (30 s by default), and
/// only while the session that asked for it lives; acting on behalf (`X-On-Behalf-Of`)
/// binds it to that principal too. The stream it opens ends when the asking access token
/// would have expired: ask for a new ticket with a fresh token then (EventSource does not
/// reconnect after a 401). An application the caller may not see is 404, as its stream
/// would answer. Limited per account (`rate_stream_tickets_per_account`).
#[utoipa::path(
    tag = "events",
    operation_id = "createStreamTicket",
    security(("bearer" = [])),
    request_body = StreamTicketRequest,
    responses(
        (status = 201, description = "The ticket, shown once", body = StreamTicket),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[post("/events/tickets")]
pub async fn create_ticket(
    state: State,
    actor: Actor,
    body: Json<StreamTicketRequest>,
) -> Result<HttpResponse, ApiError> {
    let stream = EventStream::try_from(body.into_inner())?;
    let acting = Acting::from(&actor);
    let holder = Holder {
        session: actor.session,
        token_expires_at: actor.token_expires_at(),
    };
    let ttl = chrono::TimeDelta::seconds(state.config.stream_ticket_ttl_secs);
    let issued = state
        .run(move |tx, now| stream_tickets::issue(tx, &acting, holder, stream, ttl, now))
        .await?;
    let path = match issued.stream {
        EventStream::Mine => "/api/v1/me/events".to_string(),
        EventStream::Application(id) => format!("/api/v1/applications/{id}/events"),
    };
    Ok(HttpResponse::Created().json(StreamTicket {
        stream_url: format!("{path}?ticket={}", issued.ticket),
        ticket: issued.ticket,
        expires_at: issued.expires_at,
    }))
}
