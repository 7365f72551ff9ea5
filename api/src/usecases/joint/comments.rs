//! An application's comment thread, for its participants and the officers handling it.
//! Only the author edits a comment (the authorization core decides), and an edit keeps
//! the previous text in its history; `@<account id>` mentions tell the people named.

use domain::access::{authorize_comment_edit, Action};
use domain::application::Application;
use domain::ids::{AccountId, ApplicationId, CommentId};
use domain::joint::{self as rules, Comment, CommentText, Revision};
use domain::notice::Notice;
use domain::time::Instant;
use persistence::joint as store;
use persistence::DbConnection;
use serde_json::json;

use super::{members, recorded, refused, title, Tidings};
use crate::concurrency::stale;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::Outcome;

/// A page of the thread, oldest first, after the `(created_at, id)` cursor.
pub fn page(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    after: Option<&(Instant, String)>,
    limit: i64,
    now: Instant,
) -> Result<Vec<Comment>, ApiError> {
    crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    Ok(store::comments_of(tx, id, after, limit)?)
}

/// One comment with its earlier texts.
pub fn one(
    tx: &mut DbConnection,
    acting: &Acting,
    (id, comment_id): (ApplicationId, CommentId),
    now: Instant,
) -> Result<(Comment, Vec<Revision>), ApiError> {
    crate::usecases::applications::visible(tx, acting, id, Action::ApplicationsRead, now)?;
    let comment = store::find_comment(tx, id, comment_id)?.ok_or_else(ApiError::not_found)?;
    let history = store::revisions_of(tx, comment.id)?;
    Ok((comment, history))
}

/// Writes a comment (participants and the handling officers).
pub fn add(
    tx: &mut DbConnection,
    acting: &Acting,
    id: ApplicationId,
    text: &str,
    now: Instant,
) -> Result<Outcome<Comment>, ApiError> {
    let text = CommentText::parse(text).map_err(refused)?;
    let app = crate::usecases::applications::visible(tx, acting, id, Action::CommentsWrite, now)?;
    let comment = Comment {
        id: CommentId::new(),
        application: id,
        author: acting.account,
        on_behalf_of: acting.on_behalf_of.map(AccountId::from_uuid),
        body: text.as_str().to_string(),
        version: 1,
        created_at: now,
        edited_at: None,
    };
    store::insert_comment(tx, &comment)?;
    let everyone = members(tx, &app)?;
    let details = json!({ "comment_id": comment.id });
    let notices = announce(&app, &comment, &everyone, false);
    let effects = recorded(acting, &app, "comment", None, details, everyone).notices(notices);
    Ok(Outcome::new(comment, effects))
}

/// The author edits their comment at `version`; the previous text stays in its history.
pub fn edit(
    tx: &mut DbConnection,
    acting: &Acting,
    (id, comment_id): (ApplicationId, CommentId),
    (text, version): (&str, i64),
    now: Instant,
) -> Result<Outcome<(Comment, Vec<Revision>)>, ApiError> {
    let text = CommentText::parse(text).map_err(refused)?;
    let app = crate::usecases::applications::visible(tx, acting, id, Action::CommentsWrite, now)?;
    let old = store::find_comment(tx, id, comment_id)?.ok_or_else(ApiError::not_found)?;
    authorize_comment_edit(&acting.subject, old.author)?;
    if old.version != version {
        return Err(stale(old.version));
    }
    let edited = old.clone().edited(text, now);
    if !store::edit_comment(tx, &old, &edited.body, now)? {
        return Err(stale(old.version + 1));
    }
    let everyone = members(tx, &app)?;
    let details = json!({ "comment_id": edited.id });
    let notices = announce(&app, &edited, &everyone, true);
    let effects = recorded(acting, &app, "comment_edit", None, details, everyone).notices(notices);
    let history = store::revisions_of(tx, edited.id)?;
    Ok(Outcome::new((edited, history), effects))
}

/// The notices of a new or edited comment: the members it mentions get a mention, the
/// others a plain notice; the author neither.
fn announce(app: &Application, comment: &Comment, members: &[AccountId], edited: bool) -> Vec<Notice> {
    let (mentioned, told) = rules::comment_audience(&comment.body, members, comment.author);
    let verb = if edited {
        "изменён"
    } else {
        "добавлен"
    };
    let tidings = Tidings {
        kind: "application.comment",
        title: format!("Заявление {}: комментарий {verb}", title(app)),
        body: comment.body.chars().take(200).collect(),
        data: json!({ "application_id": app.id, "comment_id": comment.id }),
    };
    let mention = Tidings {
        kind: "application.mention",
        title: format!("Вас упомянули в заявлении {}", title(app)),
        ..tidings.clone()
    };
    let mut notices = tidings.to_each(&told);
    notices.extend(mention.to_each(&mentioned));
    notices
}
