//! Joint work on an application: participants, invitations, signatures, requests between
//! participants, and comments with their revisions — rows mapped to the domain's types.

use diesel::prelude::*;
use domain::ids::{AccountId, ApplicationId, CommentId, InvitationId, RequestId};
pub use domain::joint::{Comment, Invitation, Participant, Request, Revision, Signature};
use domain::joint::{InvitationStatus, ParticipantRole, RequestKind, RequestStatus, SignatureMethod};
use domain::time::Instant;

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, parse_optional_id, to_db_time};
use crate::schema::{
    account_logins, comment_revisions, comments, invitations, participant_requests, participants, signatures,
};

fn role(table: &'static str, text: &str) -> Result<ParticipantRole, StoreError> {
    ParticipantRole::parse(text).ok_or_else(|| StoreError::corrupt(table, format!("role {text:?}")))
}

pub fn add_participant(
    conn: &mut DbConnection,
    application: ApplicationId,
    p: &Participant,
) -> Result<(), StoreError> {
    diesel::insert_into(participants::table)
        .values((
            participants::application_id.eq(application.to_string()),
            participants::account_id.eq(p.account.to_string()),
            participants::role.eq(p.role.as_str()),
            participants::added_by.eq(p.added_by.to_string()),
            participants::added_at.eq(to_db_time(p.added_at)),
            participants::invited_on_behalf_of.eq(p.invited_on_behalf_of.map(|a| a.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

/// The account's role on the application, if it joined it.
pub fn role_of(
    conn: &mut DbConnection,
    application: ApplicationId,
    account: AccountId,
) -> Result<Option<ParticipantRole>, StoreError> {
    let found: Option<String> = participants::table
        .find((application.to_string(), account.to_string()))
        .select(participants::role)
        .first(conn)
        .optional()?;
    found.map(|r| role("participants", &r)).transpose()
}

/// Everyone who joined the application, in the order they joined.
pub fn participants_of(
    conn: &mut DbConnection,
    application: ApplicationId,
) -> Result<Vec<Participant>, StoreError> {
    let rows: Vec<(String, String, String, chrono::NaiveDateTime, Option<String>)> = participants::table
        .filter(participants::application_id.eq(application.to_string()))
        .order(participants::added_at.asc())
        .select((
            participants::account_id,
            participants::role,
            participants::added_by,
            participants::added_at,
            participants::invited_on_behalf_of,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(account, r, added_by, added_at, for_whom)| {
            Ok(Participant {
                account: parse_id("participants", &account)?,
                role: role("participants", &r)?,
                added_by: parse_id("participants", &added_by)?,
                added_at: from_db_time(added_at),
                invited_on_behalf_of: parse_optional_id("participants", for_whom.as_deref())?,
            })
        })
        .collect()
}

pub fn set_role(
    conn: &mut DbConnection,
    application: ApplicationId,
    account: AccountId,
    new_role: ParticipantRole,
) -> Result<bool, StoreError> {
    let updated = diesel::update(participants::table.find((application.to_string(), account.to_string())))
        .set(participants::role.eq(new_role.as_str()))
        .execute(conn)?;
    Ok(updated == 1)
}

pub fn remove_participant(
    conn: &mut DbConnection,
    application: ApplicationId,
    account: AccountId,
) -> Result<bool, StoreError> {
    let removed = diesel::delete(participants::table.find((application.to_string(), account.to_string())))
        .execute(conn)?;
    Ok(removed == 1)
}

type InvitationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    i64,
    Option<String>,
);

#[allow(clippy::type_complexity)]
fn invitation_columns() -> (
    invitations::id,
    invitations::application_id,
    invitations::role,
    invitations::login_key,
    invitations::contact_hint,
    invitations::invited_by,
    invitations::status,
    invitations::answered_by,
    invitations::expires_at,
    invitations::created_at,
    invitations::answered_at,
    invitations::version,
    invitations::invited_on_behalf_of,
) {
    (
        invitations::id,
        invitations::application_id,
        invitations::role,
        invitations::login_key,
        invitations::contact_hint,
        invitations::invited_by,
        invitations::status,
        invitations::answered_by,
        invitations::expires_at,
        invitations::created_at,
        invitations::answered_at,
        invitations::version,
        invitations::invited_on_behalf_of,
    )
}

fn invitation(row: InvitationRow) -> Result<Invitation, StoreError> {
    let (
        id,
        application,
        r,
        login_key,
        contact_hint,
        invited_by,
        status,
        answered_by,
        expires,
        created,
        answered,
        version,
        for_whom,
    ) = row;
    Ok(Invitation {
        id: parse_id("invitations", &id)?,
        application: parse_id("invitations", &application)?,
        role: role("invitations", &r)?,
        login_key,
        contact_hint,
        invited_by: parse_id("invitations", &invited_by)?,
        status: InvitationStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("invitations", format!("status {status:?}")))?,
        answered_by: parse_optional_id("invitations", answered_by.as_deref())?,
        expires_at: from_db_time(expires),
        created_at: from_db_time(created),
        answered_at: answered.map(from_db_time),
        version,
        invited_on_behalf_of: parse_optional_id("invitations", for_whom.as_deref())?,
    })
}

pub fn insert_invitation(conn: &mut DbConnection, i: &Invitation) -> Result<(), StoreError> {
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(i.id.to_string()),
            invitations::application_id.eq(i.application.to_string()),
            invitations::role.eq(i.role.as_str()),
            invitations::login_key.eq(&i.login_key),
            invitations::contact_hint.eq(&i.contact_hint),
            invitations::invited_by.eq(i.invited_by.to_string()),
            invitations::status.eq(i.status.as_str()),
            invitations::answered_by.eq(i.answered_by.map(|a| a.to_string())),
            invitations::expires_at.eq(to_db_time(i.expires_at)),
            invitations::created_at.eq(to_db_time(i.created_at)),
            invitations::answered_at.eq(i.answered_at.map(to_db_time)),
            invitations::version.eq(i.version),
            invitations::invited_on_behalf_of.eq(i.invited_on_behalf_of.map(|a| a.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_invitation(conn: &mut DbConnection, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
    let row: Option<InvitationRow> = invitations::table
        .find(id.to_string())
        .select(invitation_columns())
        .first(conn)
        .optional()?;
    row.map(invitation).transpose()
}

/// Pending invitations addressed to any of the account's logins (including ones made
/// before the account existed), newest first.
pub fn invitations_for(conn: &mut DbConnection, account: AccountId) -> Result<Vec<Invitation>, StoreError> {
    let keys = account_logins::table
        .filter(account_logins::account_id.eq(account.to_string()))
        .select(account_logins::login_key);
    let rows: Vec<InvitationRow> = invitations::table
        .filter(invitations::login_key.eq_any(keys))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .order(invitations::created_at.desc())
        .limit(100)
        .select(invitation_columns())
        .load(conn)?;
    rows.into_iter().map(invitation).collect()
}

/// Whether the account owns the login the invitation was sent to.
pub fn addressed_to(
    conn: &mut DbConnection,
    login_key: &str,
    account: AccountId,
) -> Result<bool, StoreError> {
    let owner: Option<String> = account_logins::table
        .find(login_key)
        .select(account_logins::account_id)
        .first(conn)
        .optional()?;
    Ok(owner.as_deref() == Some(account.to_string().as_str()))
}

/// Every login key of `account` (e-mail, phone, SNILS, name): one person, however an
/// invitation addressed them.
pub fn login_keys_of(conn: &mut DbConnection, account: AccountId) -> Result<Vec<String>, StoreError> {
    Ok(account_logins::table
        .filter(account_logins::account_id.eq(account.to_string()))
        .select(account_logins::login_key)
        .load(conn)?)
}

/// The application's pending invitations.
pub fn pending_invitations_of(
    conn: &mut DbConnection,
    application: ApplicationId,
) -> Result<Vec<Invitation>, StoreError> {
    let rows: Vec<InvitationRow> = invitations::table
        .filter(invitations::application_id.eq(application.to_string()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .order(invitations::created_at.asc())
        .select(invitation_columns())
        .load(conn)?;
    rows.into_iter().map(invitation).collect()
}

/// Records the answer if the invitation is still at `expected`.
pub fn answer_invitation(
    conn: &mut DbConnection,
    i: &Invitation,
    status: InvitationStatus,
    by: AccountId,
    at: Instant,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        invitations::table
            .find(i.id.to_string())
            .filter(invitations::version.eq(i.version)),
    )
    .set((
        invitations::status.eq(status.as_str()),
        invitations::answered_by.eq(Some(by.to_string())),
        invitations::answered_at.eq(Some(to_db_time(at))),
        invitations::version.eq(i.version + 1),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn insert_signature(conn: &mut DbConnection, s: &Signature) -> Result<(), StoreError> {
    diesel::insert_into(signatures::table)
        .values((
            signatures::id.eq(s.id.to_string()),
            signatures::application_id.eq(s.application.to_string()),
            signatures::account_id.eq(s.account.to_string()),
            signatures::role.eq(s.role.as_str()),
            signatures::content_hash.eq(&s.content_hash),
            signatures::application_version.eq(s.application_version),
            signatures::method.eq(s.method.as_str()),
            signatures::signed_at.eq(to_db_time(s.signed_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every signature of the application, oldest first.
pub fn signatures_of(
    conn: &mut DbConnection,
    application: ApplicationId,
) -> Result<Vec<Signature>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        i64,
        String,
        chrono::NaiveDateTime,
    );
    let rows: Vec<Row> = signatures::table
        .filter(signatures::application_id.eq(application.to_string()))
        .order(signatures::signed_at.asc())
        .select((
            signatures::id,
            signatures::application_id,
            signatures::account_id,
            signatures::role,
            signatures::content_hash,
            signatures::application_version,
            signatures::method,
            signatures::signed_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, application, account, r, content_hash, version, method, at)| {
                Ok(Signature {
                    id: parse_id("signatures", &id)?,
                    application: parse_id("signatures", &application)?,
                    account: parse_id("signatures", &account)?,
                    role: role("signatures", &r)?,
                    content_hash,
                    application_version: version,
                    method: method
                        .parse::<SignatureMethod>()
                        .map_err(|_| StoreError::corrupt("signatures", format!("method {method:?}")))?,
                    signed_at: from_db_time(at),
                })
            },
        )
        .collect()
}

type RequestRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

#[allow(clippy::type_complexity)]
fn request_columns() -> (
    participant_requests::id,
    participant_requests::application_id,
    participant_requests::kind,
    participant_requests::requested_by,
    participant_requests::assignee_id,
    participant_requests::doc_type,
    participant_requests::message,
    participant_requests::due_at,
    participant_requests::status,
    participant_requests::created_at,
    participant_requests::fulfilled_at,
) {
    (
        participant_requests::id,
        participant_requests::application_id,
        participant_requests::kind,
        participant_requests::requested_by,
        participant_requests::assignee_id,
        participant_requests::doc_type,
        participant_requests::message,
        participant_requests::due_at,
        participant_requests::status,
        participant_requests::created_at,
        participant_requests::fulfilled_at,
    )
}

fn request(row: RequestRow) -> Result<Request, StoreError> {
    let (id, application, kind, by, assignee, doc_type, message, due, status, created, fulfilled) = row;
    Ok(Request {
        id: parse_id("participant_requests", &id)?,
        application: parse_id("participant_requests", &application)?,
        kind: RequestKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt("participant_requests", format!("kind {kind:?}")))?,
        requested_by: parse_id("participant_requests", &by)?,
        assignee: parse_id("participant_requests", &assignee)?,
        doc_type,
        message,
        due_at: from_db_time(due),
        status: RequestStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("participant_requests", format!("status {status:?}")))?,
        created_at: from_db_time(created),
        fulfilled_at: fulfilled.map(from_db_time),
    })
}

pub fn insert_request(conn: &mut DbConnection, r: &Request) -> Result<(), StoreError> {
    diesel::insert_into(participant_requests::table)
        .values((
            participant_requests::id.eq(r.id.to_string()),
            participant_requests::application_id.eq(r.application.to_string()),
            participant_requests::kind.eq(r.kind.as_str()),
            participant_requests::requested_by.eq(r.requested_by.to_string()),
            participant_requests::assignee_id.eq(r.assignee.to_string()),
            participant_requests::doc_type.eq(&r.doc_type),
            participant_requests::message.eq(&r.message),
            participant_requests::due_at.eq(to_db_time(r.due_at)),
            participant_requests::status.eq(r.status.as_str()),
            participant_requests::reminded.eq(false),
            participant_requests::created_at.eq(to_db_time(r.created_at)),
            participant_requests::fulfilled_at.eq(r.fulfilled_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn requests_of(conn: &mut DbConnection, application: ApplicationId) -> Result<Vec<Request>, StoreError> {
    let rows: Vec<RequestRow> = participant_requests::table
        .filter(participant_requests::application_id.eq(application.to_string()))
        .order(participant_requests::created_at.asc())
        .select(request_columns())
        .load(conn)?;
    rows.into_iter().map(request).collect()
}

/// Marks the assignee's open requests of `kind` (and `doc_type`, for documents) fulfilled:
/// the act itself answers the request. Returns the requests fulfilled.
pub fn fulfil_requests(
    conn: &mut DbConnection,
    application: ApplicationId,
    assignee: AccountId,
    kind: RequestKind,
    doc_type: Option<&str>,
    at: Instant,
) -> Result<Vec<Request>, StoreError> {
    let mut query = participant_requests::table
        .filter(participant_requests::application_id.eq(application.to_string()))
        .filter(participant_requests::assignee_id.eq(assignee.to_string()))
        .filter(participant_requests::kind.eq(kind.as_str()))
        .filter(participant_requests::status.eq(RequestStatus::Open.as_str()))
        .select(request_columns())
        .into_boxed();
    if let Some(doc_type) = doc_type {
        query = query.filter(participant_requests::doc_type.eq(doc_type.to_string()));
    }
    let open: Vec<Request> = query
        .load::<RequestRow>(conn)?
        .into_iter()
        .map(request)
        .collect::<Result<_, _>>()?;
    for r in &open {
        diesel::update(participant_requests::table.find(r.id.to_string()))
            .set((
                participant_requests::status.eq(RequestStatus::Fulfilled.as_str()),
                participant_requests::fulfilled_at.eq(Some(to_db_time(at))),
            ))
            .execute(conn)?;
    }
    Ok(open)
}

/// Open requests due before `horizon` whose assignee has not been reminded.
pub fn requests_to_remind(
    conn: &mut DbConnection,
    horizon: Instant,
    limit: i64,
) -> Result<Vec<Request>, StoreError> {
    let rows: Vec<RequestRow> = participant_requests::table
        .filter(participant_requests::status.eq(RequestStatus::Open.as_str()))
        .filter(participant_requests::due_at.le(to_db_time(horizon)))
        .filter(participant_requests::reminded.eq(false))
        .limit(limit)
        .select(request_columns())
        .load(conn)?;
    rows.into_iter().map(request).collect()
}

pub fn mark_reminded(conn: &mut DbConnection, id: RequestId) -> Result<bool, StoreError> {
    let updated = diesel::update(
        participant_requests::table
            .find(id.to_string())
            .filter(participant_requests::reminded.eq(false)),
    )
    .set(participant_requests::reminded.eq(true))
    .execute(conn)?;
    Ok(updated == 1)
}

type CommentRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

#[allow(clippy::type_complexity)]
fn comment_columns() -> (
    comments::id,
    comments::application_id,
    comments::author_id,
    comments::on_behalf_of,
    comments::body,
    comments::version,
    comments::created_at,
    comments::edited_at,
) {
    (
        comments::id,
        comments::application_id,
        comments::author_id,
        comments::on_behalf_of,
        comments::body,
        comments::version,
        comments::created_at,
        comments::edited_at,
    )
}

fn comment(row: CommentRow) -> Result<Comment, StoreError> {
    let (id, application, author, on_behalf_of, body, version, created, edited) = row;
    Ok(Comment {
        id: parse_id("comments", &id)?,
        application: parse_id("comments", &application)?,
        author: parse_id("comments", &author)?,
        on_behalf_of: parse_optional_id("comments", on_behalf_of.as_deref())?,
        body,
        version,
        created_at: from_db_time(created),
        edited_at: edited.map(from_db_time),
    })
}

pub fn insert_comment(conn: &mut DbConnection, c: &Comment) -> Result<(), StoreError> {
    diesel::insert_into(comments::table)
        .values((
            comments::id.eq(c.id.to_string()),
            comments::application_id.eq(c.application.to_string()),
            comments::author_id.eq(c.author.to_string()),
            comments::on_behalf_of.eq(c.on_behalf_of.map(|a| a.to_string())),
            comments::body.eq(&c.body),
            comments::version.eq(c.version),
            comments::created_at.eq(to_db_time(c.created_at)),
            comments::edited_at.eq(c.edited_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_comment(
    conn: &mut DbConnection,
    application: ApplicationId,
    id: CommentId,
) -> Result<Option<Comment>, StoreError> {
    let row: Option<CommentRow> = comments::table
        .find(id.to_string())
        .filter(comments::application_id.eq(application.to_string()))
        .select(comment_columns())
        .first(conn)
        .optional()?;
    row.map(comment).transpose()
}

/// The thread, oldest first, after `(created_at, id)`.
pub fn comments_of(
    conn: &mut DbConnection,
    application: ApplicationId,
    after: Option<&(Instant, String)>,
    limit: i64,
) -> Result<Vec<Comment>, StoreError> {
    let mut query = comments::table
        .filter(comments::application_id.eq(application.to_string()))
        .select(comment_columns())
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(crate::rows::after_key("created_at", ">", *at, id));
    }
    let rows: Vec<CommentRow> = query
        .order((comments::created_at.asc(), comments::id.asc()))
        .limit(limit)
        .load(conn)?;
    rows.into_iter().map(comment).collect()
}

/// Replaces the text if the comment is still at `old.version`, keeping the old text as a
/// revision; `Ok(false)` when someone edited it first.
pub fn edit_comment(
    conn: &mut DbConnection,
    old: &Comment,
    body: &str,
    at: Instant,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        comments::table
            .find(old.id.to_string())
            .filter(comments::version.eq(old.version)),
    )
    .set((
        comments::body.eq(body),
        comments::version.eq(old.version + 1),
        comments::edited_at.eq(Some(to_db_time(at))),
    ))
    .execute(conn)?;
    if updated != 1 {
        return Ok(false);
    }
    diesel::insert_into(comment_revisions::table)
        .values((
            comment_revisions::comment_id.eq(old.id.to_string()),
            comment_revisions::version.eq(old.version),
            comment_revisions::body.eq(&old.body),
            comment_revisions::written_at.eq(to_db_time(old.edited_at.unwrap_or(old.created_at))),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Earlier texts of a comment, oldest first.
pub fn revisions_of(conn: &mut DbConnection, id: CommentId) -> Result<Vec<Revision>, StoreError> {
    let rows: Vec<(i64, String, chrono::NaiveDateTime)> = comment_revisions::table
        .filter(comment_revisions::comment_id.eq(id.to_string()))
        .order(comment_revisions::version.asc())
        .select((
            comment_revisions::version,
            comment_revisions::body,
            comment_revisions::written_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(version, body, t)| Revision {
            version,
            body,
            written_at: from_db_time(t),
        })
        .collect())
}
