//! An application's comment thread, for its participants and the officers handling it.
//! Only the author edits a comment, and an edit keeps the previous text in its history;
//! `@<account id>` mentions tell the people named.

use actix_web::web::{Json, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use domain::access::Action;
use domain::ids::{AccountId, ApplicationId, CommentId};
use domain::joint as rules;
use persistence::joint::{self as store, Comment};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Page};
use crate::auth::Actor;
use crate::clock::now;
use crate::concurrency::{etag, stale, IfMatch};
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Idempotency, IdempotencyKey};
use crate::joint::{self, Tidings};
use crate::lifecycle::{self, Acting};
use crate::state::State;

const MAX_LENGTH: usize = 4000;

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

fn view(c: &Comment, history: Vec<(i64, String, chrono::DateTime<chrono::Utc>)>) -> CommentView {
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
            .map(|(version, body, written_at)| Revision {
                version,
                body,
                written_at,
            })
            .collect(),
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Нужна ваша подпись, @019a4c3e-0000-7000-8000-000000000001"}))]
pub struct CommentBody {
    /// 1 to 4000 characters; `@<account id>` mentions a participant.
    pub body: String,
}

fn text(body: &CommentBody) -> Result<String, ApiError> {
    let text = body.body.trim();
    if text.is_empty() || text.chars().count() > MAX_LENGTH {
        return Err(ApiError::field("body", "invalid_value", "1 to 4000 characters."));
    }
    Ok(text.to_string())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The thread, oldest first.
#[utoipa::path(
    tag = "joint",
    operation_id = "listComments",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ThreadQuery),
    responses((status = 200, description = "A page of comments", body = Page<CommentView>))
)]
#[get("/applications/{id}/comments")]
pub async fn list(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    query: Query<ThreadQuery>,
) -> Result<Json<Page<CommentView>>, ApiError> {
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.cursor.as_deref())?;
    let found = state
        .read(move |c| {
            lifecycle::visible(c, &acting, id, Action::ApplicationsRead)?;
            Ok(store::comments_of(c, id, after.as_ref(), limit)?)
        })
        .await?;
    let next_cursor = paging::next(&found, limit, |c| (c.created_at, c.id.to_string()));
    Ok(Json(Page {
        items: found.iter().map(|c| view(c, vec![])).collect(),
        next_cursor,
    }))
}

/// Tells the application's members of a new or edited comment; those mentioned get a
/// notice of their own.
fn announce(
    tx: &mut persistence::DbConnection,
    app: &domain::application::Application,
    comment: &Comment,
    edited: bool,
) -> Result<(), ApiError> {
    let at = now();
    let members = joint::members(tx, app)?;
    let mentioned: Vec<AccountId> = rules::mentions(&comment.body)
        .into_iter()
        .filter(|m| members.contains(m) && *m != comment.author)
        .collect();
    let verb = if edited {
        "изменён"
    } else {
        "добавлен"
    };
    let tidings = Tidings {
        kind: "application.comment",
        title: format!("Заявление {}: комментарий {verb}", joint::title(app)),
        body: comment.body.chars().take(200).collect(),
        data: json!({ "application_id": app.id, "comment_id": comment.id }),
    };
    for member in members
        .iter()
        .filter(|m| **m != comment.author && !mentioned.contains(m))
    {
        joint::tell(tx, *member, &tidings, at)?;
    }
    let mention = Tidings {
        kind: "application.mention",
        title: format!("Вас упомянули в заявлении {}", joint::title(app)),
        ..tidings
    };
    for member in mentioned {
        joint::tell(tx, member, &mention, at)?;
    }
    Ok(())
}

/// Write a comment (participants and the handling officers).
#[utoipa::path(
    tag = "joint",
    operation_id = "addComment",
    security(("bearer" = [])),
    request_body = CommentBody,
    params(("id" = String, Path, format = Uuid), IdempotencyKey),
    responses((status = 201, description = "Written", body = CommentView, headers(("ETag" = String))))
)]
#[post("/applications/{id}/comments")]
pub async fn add(
    state: State,
    actor: Actor,
    id: Path<ApplicationId>,
    body: Json<CommentBody>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = Idempotency::of(&req, &actor, &*body)?;
    let (id, acting) = (id.into_inner(), Acting::from(&actor));
    let body = text(&body)?;
    let answer = state
        .write(move |tx| {
            idempotency::once_unshaped(tx, key.as_ref(), |tx| {
                let app = lifecycle::visible(tx, &acting, id, Action::CommentsWrite)?;
                let at = now();
                let comment = Comment {
                    id: CommentId::new(),
                    application: id,
                    author: acting.account,
                    on_behalf_of: acting.on_behalf_of.map(AccountId::from_uuid),
                    body,
                    version: 1,
                    created_at: at,
                    edited_at: None,
                };
                store::insert_comment(tx, &comment)?;
                joint::record(
                    tx,
                    &acting,
                    &app,
                    "comment",
                    None,
                    json!({ "comment_id": comment.id }),
                    at,
                )?;
                announce(tx, &app, &comment, false)?;
                Ok(Answer::created(&view(&comment, vec![]))?.version(comment.version))
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Edit your comment (requires `If-Match`); the previous text stays in its history.
#[utoipa::path(
    tag = "joint",
    operation_id = "editComment",
    security(("bearer" = [])),
    request_body = CommentBody,
    params(("id" = String, Path, format = Uuid), ("comment_id" = String, Path, format = Uuid), ("If-Match" = String, Header)),
    responses((status = 200, description = "Edited", body = CommentView, headers(("ETag" = String))))
)]
#[patch("/applications/{id}/comments/{comment_id}")]
pub async fn edit(
    state: State,
    actor: Actor,
    path: Path<(ApplicationId, CommentId)>,
    version: IfMatch,
    body: Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let ((id, comment_id), acting) = (path.into_inner(), Acting::from(&actor));
    let body = text(&body)?;
    let (edited, history) = state
        .write(move |tx| {
            let app = lifecycle::visible(tx, &acting, id, Action::CommentsWrite)?;
            let old = store::find_comment(tx, id, comment_id)?.ok_or_else(ApiError::not_found)?;
            if !rules::may_edit_comment(old.author, acting.account) {
                return Err(ApiError::forbidden(
                    "not_author",
                    "Only the author edits a comment.",
                ));
            }
            if old.version != version.0 {
                return Err(stale(old.version));
            }
            let at = now();
            if !store::edit_comment(tx, &old, &body, at)? {
                return Err(stale(old.version + 1));
            }
            let edited = Comment {
                body,
                version: old.version + 1,
                edited_at: Some(at),
                ..old
            };
            joint::record(
                tx,
                &acting,
                &app,
                "comment_edit",
                None,
                json!({ "comment_id": edited.id }),
                at,
            )?;
            announce(tx, &app, &edited, true)?;
            Ok((edited.clone(), store::revisions_of(tx, edited.id)?))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(edited.version)))
        .json(view(&edited, history)))
}

/// One comment with its earlier texts.
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
    actor: Actor,
    path: Path<(ApplicationId, CommentId)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, comment_id), acting) = (path.into_inner(), Acting::from(&actor));
    let (comment, history) = state
        .read(move |c| {
            lifecycle::visible(c, &acting, id, Action::ApplicationsRead)?;
            let comment = store::find_comment(c, id, comment_id)?.ok_or_else(ApiError::not_found)?;
            let history = store::revisions_of(c, comment.id)?;
            Ok((comment, history))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(comment.version)))
        .json(view(&comment, history)))
}
