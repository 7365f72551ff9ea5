//! An application's comment thread: the HTTP side of `usecases::joint::comments`. Only
//! the author edits a comment, and an edit keeps the previous text in its history.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use domain::ids::{AccountId, ApplicationId, CommentId};
use domain::joint::Comment;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::paging::{self, Page};
use crate::auth::Caller;
use crate::concurrency::{etag, IfMatch, IfMatchHeader};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::state::State;
use crate::usecases::joint::comments;
use crate::usecases::replays;
use crate::usecases::Acting;
use crate::usecases::Outcome;
use crate::validation::Valid;
use domain::access::Action;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "019a4c60-0000-7000-8000-000000000004", "author_id": "019a4c3e-0000-7000-8000-000000000001",
    "on_behalf_of": null, "body": "Приложила справку о доходах.", "version": 2,
    "created_at": "2026-11-23T10:30:00Z", "edited_at": "2026-11-23T10:35:00Z",
    "history": [{"version": 1, "body": "Приложу справку завтра.", "written_at": "2026-11-23T10:30:00Z"}]
}))]
pub struct CommentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: CommentId,
    #[schema(value_type = String, format = Uuid)]
    pub author_id: AccountId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub on_behalf_of: Option<AccountId>,
    pub body: String,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub edited_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Earlier texts, oldest first (filled when a single comment is read or edited).
    pub history: Vec<Revision>,
}

#[derive(Serialize, ToSchema)]
pub struct Revision {
    pub version: i64,
    pub body: String,
    pub written_at: chrono::DateTime<chrono::Utc>,
}

fn view(c: &Comment, history: Vec<domain::joint::Revision>) -> CommentView {
    CommentView {
        id: c.id,
        author_id: c.author,
        on_behalf_of: c.on_behalf_of,
        body: c.body.clone(),
        version: c.version,
        created_at: c.created_at,
        edited_at: c.edited_at,
        history: history
            .into_iter()
            .map(|r| Revision {
                version: r.version,
                body: r.body,
                written_at: r.written_at,
            })
            .collect(),
    }
}

#[derive(Deserialize, Serialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Нужна ваша подпись, @019a4c3e-0000-7000-8000-000000000001"}))]
pub struct CommentBody {
    /// 1 to 4000 characters once trimmed, so not white space only; `@<account id>` mentions
    /// a participant.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    #[validate(length(min = 1, max = 4000))]
    pub body: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// An application's comment thread, oldest first.
///
/// Caller: whoever may read the application (owner, participant, representative with
/// `applications.read`, officer handling it). Changes nothing.
#[utoipa::path(
    tag = "joint",
    operation_id = "listComments",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ThreadQuery),
    responses((status = 200, description = "A page of comments", body = Page<CommentView>,
            example = json!({"items": [{"author_id": "019a4c3e-0000-7000-8000-000000000001", "body": "Приложила справку о доходах.", "created_at": "2026-11-23T10:30:00Z", "edited_at": "2026-11-23T10:35:00Z", "history": [{"body": "Приложу справку завтра.", "version": 1, "written_at": "2026-11-23T10:30:00Z"}], "id": "019a4c60-0000-7000-8000-000000000004", "on_behalf_of": null, "version": 2}], "next_cursor": null})))
)]
#[get("/applications/{id}/comments")]
pub async fn list(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    query: Query<ThreadQuery>,
) -> Result<Json<Page<CommentView>>, ApiError> {
    let id = id.into_inner();
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.cursor.as_deref())?;
    let found = state
        .query_as(caller, move |c, actor, now| {
            comments::page(c, &Acting::from(actor), id, after.as_ref(), limit + 1, now)
        })
        .await?;
    let (found, next_cursor) = paging::page_of(found, limit, |c| paging::at(c.created_at, c.id));
    Ok(Json(Page {
        items: found.iter().map(|c| view(c, vec![])).collect(),
        next_cursor,
    }))
}

/// Write a comment on an application.
///
/// Caller: the owner, a participant, a representative with `comments.write`, or an officer
/// of the agency handling it. Changes: a new comment; everyone on the application is told.
/// Send `Idempotency-Key` to make retries safe.
#[utoipa::path(
    tag = "joint",
    operation_id = "addComment",
    security(("bearer" = [])),
    request_body = CommentBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses((status = 201, description = "Written", body = CommentView, headers(("ETag" = String)),
            links(
            ("get" = (operation_id = "getComment", parameters(("id" = "$request.path.id"), ("comment_id" = "$response.body#/id")))),
            ("edit" = (operation_id = "editComment", parameters(("id" = "$request.path.id"), ("comment_id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag"))))
            )))
)]
#[post("/applications/{id}/comments")]
pub async fn add(
    state: State,
    caller: Caller,
    id: Path<ApplicationId>,
    body: Valid<CommentBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &caller, &*body)?;
    let (id, text) = (id.into_inner(), body.into_inner().body);
    let answer = state
        .run_as(caller, move |tx, actor, now| {
            let acting = Acting::from(actor);
            let recheck =
                |tx: &mut _, _: &Answer| replays::on_application(tx, &acting, id, Action::CommentsWrite, now);
            idempotency::once(tx, key.as_ref(), now, recheck, |tx| {
                let (comment, effects) = comments::add(tx, &acting, id, &text, now)?.into_parts();
                let answer = Answer::created(&view(&comment, vec![]))?.version(comment.version);
                Ok(Outcome::new(answer, effects))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Edit your comment.
///
/// Caller: the comment's author only — the account that wrote it (requires `If-Match`).
/// Changes: the text; the previous one stays in its history and everyone on the application
/// is told.
#[utoipa::path(
    tag = "joint",
    operation_id = "editComment",
    security(("bearer" = [])),
    request_body = CommentBody,
    params(("id" = String, Path, format = Uuid), ("comment_id" = String, Path, format = Uuid), IfMatchHeader),
    responses((status = 200, description = "Edited", body = CommentView, headers(("ETag" = String))))
)]
#[patch("/applications/{id}/comments/{comment_id}")]
pub async fn edit(
    state: State,
    caller: Caller,
    path: Path<(ApplicationId, CommentId)>,
    version: IfMatch,
    body: Valid<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let (path, text) = (path.into_inner(), body.into_inner().body);
    let (edited, history) = state
        .run_as(caller, move |tx, actor, now| {
            comments::edit(tx, &Acting::from(actor), path, (&text, version.0), now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(edited.version)))
        .json(view(&edited, history)))
}

/// One comment with its earlier texts.
///
/// Caller: whoever may read the application (owner, participant, representative with
/// `applications.read`, officer handling it). Changes nothing. Its `ETag` is what
/// `editComment` needs in `If-Match`.
#[utoipa::path(
    tag = "joint",
    operation_id = "getComment",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("comment_id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The comment", body = CommentView, headers(("ETag" = String))))
)]
#[get("/applications/{id}/comments/{comment_id}")]
pub async fn get_one(
    state: State,
    caller: Caller,
    path: Path<(ApplicationId, CommentId)>,
) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    let (comment, history) = state
        .query_as(caller, move |c, actor, now| {
            comments::one(c, &Acting::from(actor), path, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(comment.version)))
        .json(view(&comment, history)))
}
