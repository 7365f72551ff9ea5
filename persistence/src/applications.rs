//! Applications and their history. Writes are optimistic: an update names the version it
//! was based on, and loses (answers `false`) when someone else wrote first.

use diesel::prelude::*;
use domain::application::{Application, Status, Step};
use domain::catalog::{Service, ServicePolicy};
use domain::document::Sharing;
use domain::form::Form;
use domain::ids::{AccountId, ApplicationId, SessionId};
use domain::search::fold;
use domain::time::Instant;

use crate::catalog::{escape_like, PolicyRow, ServiceRow};
use crate::connection::DbConnection;
use crate::documents::{attachments_column, attachments_from_json, Attachment};
use crate::error::StoreError;
use crate::native::natively;
use crate::prepared;
use crate::rows::{after_key, from_db_time, parse_id, parse_optional_id, to_db_time, DbTime};
use crate::schema::{
    accounts, application_history, applications, counters, participants, services, sessions,
};
use crate::sessions::{state_columns, SessionState, StateRow};

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = applications, treat_none_as_null = true, treat_none_as_default_value = false)]
struct ApplicationRow {
    id: String,
    number: Option<String>,
    owner_id: String,
    service_code: String,
    agency_code: String,
    status: String,
    previous_status: Option<String>,
    in_queue: bool,
    form_data: String,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    submitted_at: Option<chrono::NaiveDateTime>,
    decided_at: Option<chrono::NaiveDateTime>,
    cancelled_at: Option<chrono::NaiveDateTime>,
    info_request: Option<String>,
    info_due_at: Option<chrono::NaiveDateTime>,
    appeal_used: bool,
    rejection_reason: Option<String>,
    result_note: Option<String>,
    signers: String,
    signed_hash: Option<String>,
    route: String,
    appeal_until: Option<chrono::NaiveDateTime>,
    restore_until: Option<chrono::NaiveDateTime>,
}

/// A row as lists read it: everything but the form and the search text, which can be
/// large and which no list shows. Applications read this way carry a null form.
#[derive(Queryable, Selectable)]
#[diesel(table_name = applications)]
struct ListedRow {
    id: String,
    number: Option<String>,
    owner_id: String,
    service_code: String,
    agency_code: String,
    status: String,
    previous_status: Option<String>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    submitted_at: Option<DbTime>,
    decided_at: Option<DbTime>,
    cancelled_at: Option<DbTime>,
    info_request: Option<String>,
    info_due_at: Option<DbTime>,
    appeal_used: bool,
    rejection_reason: Option<String>,
    result_note: Option<String>,
    signers: String,
    signed_hash: Option<String>,
    route: String,
    appeal_until: Option<DbTime>,
    restore_until: Option<DbTime>,
}

impl TryFrom<ListedRow> for Application {
    type Error = StoreError;

    fn try_from(r: ListedRow) -> Result<Self, StoreError> {
        let time = |t: Option<DbTime>| t.map(from_db_time);
        Ok(Application {
            id: parse_id("applications", &r.id)?,
            number: r.number,
            owner: parse_id("applications", &r.owner_id)?,
            service_code: r.service_code,
            agency_code: r.agency_code,
            status: status(&r.status)?,
            previous_status: r.previous_status.as_deref().map(status).transpose()?,
            form_data: Form::default(),
            version: r.version,
            created_at: from_db_time(r.created_at),
            updated_at: from_db_time(r.updated_at),
            submitted_at: time(r.submitted_at),
            decided_at: time(r.decided_at),
            cancelled_at: time(r.cancelled_at),
            info_request: r.info_request,
            info_due_at: time(r.info_due_at),
            appeal_used: r.appeal_used,
            rejection_reason: r.rejection_reason,
            result_note: r.result_note,
            signers: signers(&r.signers)?,
            signed_hash: r.signed_hash,
            route: serde_json::from_str(&r.route).map_err(|e| StoreError::corrupt("applications", e))?,
            appeal_until: time(r.appeal_until),
            restore_until: time(r.restore_until),
        })
    }
}

/// Statuses in which an application is in its agency's queue.
pub fn in_queue(status: Status) -> bool {
    matches!(
        status,
        Status::Submitted | Status::Resubmitted | Status::InReview | Status::NeedsInfo | Status::Appealed
    )
}

/// The text `?q=` searches: the number, the service's name and every form value, folded
/// as searches compare text (so «федорова» finds «Фёдорова»).
fn search_text(app: &Application, service_name: &str) -> String {
    fn collect(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::String(s) => {
                out.push(' ');
                out.push_str(s);
            }
            serde_json::Value::Number(n) => {
                out.push(' ');
                out.push_str(&n.to_string());
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut text = format!("{} {}", app.number.as_deref().unwrap_or_default(), service_name);
    collect(&app.form_data, &mut text);
    fold(&text)
}

/// The row of `app` as a write stores it: its columns and the search text. No read selects
/// the search text (it is as large as the form, and only `?q=` filters on it), so
/// `ApplicationRow`, which reads select, leaves it out.
fn stored(
    app: &Application,
    service_name: &str,
) -> (ApplicationRow, diesel::dsl::Eq<applications::search_text, String>) {
    (
        ApplicationRow::of(app),
        applications::search_text.eq(search_text(app, service_name)),
    )
}

impl ApplicationRow {
    fn of(app: &Application) -> ApplicationRow {
        let time = |t: Option<Instant>| t.map(to_db_time);
        ApplicationRow {
            id: app.id.to_string(),
            number: app.number.clone(),
            owner_id: app.owner.to_string(),
            service_code: app.service_code.clone(),
            agency_code: app.agency_code.clone(),
            status: app.status.as_str().into(),
            previous_status: app.previous_status.map(|s| s.as_str().into()),
            in_queue: in_queue(app.status),
            form_data: app.form_data.to_text(),
            version: app.version,
            created_at: to_db_time(app.created_at),
            updated_at: to_db_time(app.updated_at),
            submitted_at: time(app.submitted_at),
            decided_at: time(app.decided_at),
            cancelled_at: time(app.cancelled_at),
            info_request: app.info_request.clone(),
            info_due_at: time(app.info_due_at),
            appeal_used: app.appeal_used,
            rejection_reason: app.rejection_reason.clone(),
            result_note: app.result_note.clone(),
            signers: serde_json::Value::from(app.signers.iter().map(ToString::to_string).collect::<Vec<_>>())
                .to_string(),
            signed_hash: app.signed_hash.clone(),
            route: serde_json::Value::from(app.route.clone()).to_string(),
            appeal_until: time(app.appeal_until),
            restore_until: time(app.restore_until),
        }
    }
}

/// The fixed signers, stored as a JSON list of account ids.
fn signers(text: &str) -> Result<Vec<AccountId>, StoreError> {
    let ids: Vec<String> = serde_json::from_str(text).map_err(|e| StoreError::corrupt("applications", e))?;
    ids.iter().map(|id| parse_id("applications", id)).collect()
}

fn status(text: &str) -> Result<Status, StoreError> {
    Status::parse(text).ok_or_else(|| StoreError::corrupt("applications", format!("status {text:?}")))
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;

    fn try_from(r: ApplicationRow) -> Result<Self, StoreError> {
        let time = |t: Option<chrono::NaiveDateTime>| t.map(from_db_time);
        Ok(Application {
            id: parse_id("applications", &r.id)?,
            number: r.number,
            owner: parse_id("applications", &r.owner_id)?,
            service_code: r.service_code,
            agency_code: r.agency_code,
            status: status(&r.status)?,
            previous_status: r.previous_status.as_deref().map(status).transpose()?,
            form_data: Form::stored(r.form_data).map_err(|e| StoreError::corrupt("applications", e))?,
            version: r.version,
            created_at: from_db_time(r.created_at),
            updated_at: from_db_time(r.updated_at),
            submitted_at: time(r.submitted_at),
            decided_at: time(r.decided_at),
            cancelled_at: time(r.cancelled_at),
            info_request: r.info_request,
            info_due_at: time(r.info_due_at),
            appeal_used: r.appeal_used,
            rejection_reason: r.rejection_reason,
            result_note: r.result_note,
            signers: signers(&r.signers)?,
            signed_hash: r.signed_hash,
            route: serde_json::from_str(&r.route).map_err(|e| StoreError::corrupt("applications", e))?,
            appeal_until: time(r.appeal_until),
            restore_until: time(r.restore_until),
        })
    }
}

pub fn insert(conn: &mut DbConnection, app: &Application, service_name: &str) -> Result<(), StoreError> {
    diesel::insert_into(applications::table)
        .values(stored(app, service_name))
        .execute(conn)?;
    Ok(())
}

/// Stores `app` if the stored row is still at `expected` version. With `freeze_at`, also
/// freezes the application's attachments not frozen yet, at that time and in the same
/// statement (on PostgreSQL): what the applicant sent, as it leaves the draft.
pub fn update(
    conn: &mut DbConnection,
    app: &Application,
    expected: i64,
    service_name: &str,
    freeze_at: Option<Instant>,
) -> Result<bool, StoreError> {
    let statement = diesel::update(
        applications::table
            .find(app.id.to_string())
            .filter(applications::version.eq(expected)),
    )
    .set(stored(app, service_name));
    let updated = match freeze_at {
        None => prepared::execute(conn, statement)?,
        Some(at) => prepared::execute_alongside(conn, crate::documents::freezing(app.id, at), statement)?,
    };
    Ok(updated == 1)
}

/// Moves the application to the next version without changing its fields (its
/// attachments changed); `Ok(false)` when it is no longer at `expected`.
pub fn bump_version(
    conn: &mut DbConnection,
    id: ApplicationId,
    expected: i64,
    at: Instant,
) -> Result<bool, StoreError> {
    let updated = prepared::execute(
        conn,
        diesel::update(
            applications::table
                .find(id.to_string())
                .filter(applications::version.eq(expected)),
        )
        .set((
            applications::version.eq(expected + 1),
            applications::updated_at.eq(to_db_time(at)),
        )),
    )?;
    Ok(updated == 1)
}

pub fn find(conn: &mut DbConnection, id: ApplicationId) -> Result<Option<Application>, StoreError> {
    let found: Option<ApplicationRow> = natively!(conn, |c| applications::table
        .find(id.to_string())
        .select(ApplicationRow::as_select())
        .first(c)
        .optional())?;
    found.map(Application::try_from).transpose()
}

/// What a change to an application loads with it, in the same query.
pub struct ForChange {
    /// Its whole service.
    pub service: Service,
    /// Whether anyone besides its owner takes part in it: a change to an application
    /// nobody joined (most of them) reads no participants.
    pub joined: bool,
    /// The value of its number, when the query was asked to take one (a submission), it
    /// has none yet, and the backend's counter is a sequence (see `find_with_session`).
    pub number: Option<i64>,
    /// Its attachments in force with their documents' consent, when the query read them
    /// (a submission on PostgreSQL): what `documents::attachments_with_sharing` reads.
    pub attachments: Option<Vec<(Attachment, Option<Sharing>)>>,
}

/// An application with what a change to it needs.
pub type WithService = (Application, ForChange);

/// An application with what showing it needs of its service: the policy, and the
/// service's version (whose compiled form schema a node caches).
pub type WithPolicy = (Application, (ServicePolicy, i64));

/// The caller's session (`sessions::state`) joined in one query to the application with
/// `$also` of its service: a request about one application starts with one round trip
/// (two when there is no such application). The application comes back whether or not
/// the caller may see it; the check is the caller's.
macro_rules! with_session {
    ($conn:expr, $session:expr, $id:expr, ($($also:expr),+) as ($($row:ty),+)) => {{
        let found = natively!($conn, |c| sessions::table
            .inner_join(accounts::table)
            .inner_join(applications::table.on(applications::id.eq($id.to_string())))
            .inner_join(services::table.on(services::code.eq(applications::service_code)))
            .filter(sessions::id.eq($session.to_string()))
            .select((state_columns!(), ApplicationRow::as_select(), $($also),+))
            .first::<(StateRow, ApplicationRow, $($row),+)>(c)
            .optional())?;
        match found {
            Some(found) => found,
            None => return Ok((crate::sessions::state($conn, $session)?, None)),
        }
    }};
}

/// The session and the application with its whole service (see `with_session!`): what
/// changing it needs. With `take_number` (a submission), on PostgreSQL the same query takes
/// the next number from the sequence for an application that has none, and reads its
/// attachments with their consent (which submission checks): two round trips of the
/// submission's saved. A refused submission leaves a gap, as a rolled-back one does
/// (numbers are unique, not dense). SQLite's statements cost no round trip: there
/// [`next_number`] takes the number, and the checks read the attachments.
pub fn find_with_session(
    conn: &mut DbConnection,
    session: SessionId,
    id: ApplicationId,
    take_number: bool,
) -> Result<(Option<SessionState>, Option<WithService>), StoreError> {
    let joined =
        || diesel::dsl::exists(participants::table.filter(participants::application_id.eq(id.to_string())));
    let (state, app, service, joined, number, attachments) =
        if take_number && matches!(conn, DbConnection::Postgresql(_)) {
            let sequence = sequence_of(Counter::ApplicationNumber);
            let taken = diesel::dsl::case_when(applications::number.is_null(), nextval(sequence));
            let (state, app, service, joined, number, attachments) = with_session!(
                conn,
                session,
                id,
                (ServiceRow::as_select(), joined(), taken, attachments_column())
                    as (ServiceRow, bool, Option<i64>, Option<String>)
            );
            let attachments = attachments_from_json(attachments.as_deref())?;
            (state, app, service, joined, number, Some(attachments))
        } else {
            let (state, app, service, joined) = with_session!(
                conn,
                session,
                id,
                (ServiceRow::as_select(), joined()) as (ServiceRow, bool)
            );
            (state, app, service, joined, None, None)
        };
    let for_change = ForChange {
        service: Service::try_from(service)?,
        joined,
        number,
        attachments,
    };
    Ok((
        Some(SessionState::try_from(state)?),
        Some((Application::try_from(app)?, for_change)),
    ))
}

diesel::define_sql_function! {
    /// PostgreSQL's `nextval(regclass)`, given the sequence's name.
    fn nextval(sequence: diesel::sql_types::Text) -> diesel::sql_types::BigInt;
}

/// The session and the application with its service's policy and version (see
/// `with_session!`): what showing it needs, without the form schema a node has compiled.
pub fn find_shown_with_session(
    conn: &mut DbConnection,
    session: SessionId,
    id: ApplicationId,
) -> Result<(Option<SessionState>, Option<WithPolicy>), StoreError> {
    let (state, app, policy, version) = with_session!(
        conn,
        session,
        id,
        (PolicyRow::as_select(), services::version) as (PolicyRow, i64)
    );
    Ok((
        Some(SessionState::try_from(state)?),
        Some((
            Application::try_from(app)?,
            (ServicePolicy::try_from(policy)?, version),
        )),
    ))
}

/// The application with its whole service (one query): what changing it needs.
pub fn find_with_service(
    conn: &mut DbConnection,
    id: ApplicationId,
) -> Result<Option<(Application, Service)>, StoreError> {
    let found = natively!(conn, |c| applications::table
        .inner_join(services::table)
        .filter(applications::id.eq(id.to_string()))
        .select((ApplicationRow::as_select(), ServiceRow::as_select()))
        .first::<(ApplicationRow, ServiceRow)>(c)
        .optional())?;
    found
        .map(|(row, service)| Ok((Application::try_from(row)?, Service::try_from(service)?)))
        .transpose()
}

/// The next human-readable number, e.g. `KB-2026-00000042`: unique, not dense.
pub fn next_number(conn: &mut DbConnection, now: Instant) -> Result<String, StoreError> {
    let value = next_counter(conn, Counter::ApplicationNumber)?;
    Ok(number_of(value, now))
}

/// The number an application submitted at `now` shows for the counter's `value`.
pub fn number_of(value: i64, now: Instant) -> String {
    format!("KB-{}-{value:08}", now.format("%Y"))
}

/// The PostgreSQL sequence behind `counter`.
fn sequence_of(counter: Counter) -> String {
    format!("{}_seq", counter.name())
}

/// The named counters.
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    ApplicationNumber,
    DelegationNumber,
    /// Live-event ids on SQLite (PostgreSQL numbers them by transaction, see `events`).
    EventId,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::ApplicationNumber => "application_number",
            Counter::DelegationNumber => "delegation_number",
            Counter::EventId => "event_id",
        }
    }
}

/// Takes the counter's next value.
///
/// On PostgreSQL a counter is a sequence: taking a value locks nothing until commit, so
/// creating transactions never queue on it, and a rolled-back one leaves a gap. SQLite runs
/// one writer at a time, so its counter row is never contended.
pub fn next_counter(conn: &mut DbConnection, counter: Counter) -> Result<i64, StoreError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Next {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                value: i64,
            }
            let statement = diesel::sql_query("SELECT nextval($1::regclass) AS value")
                .bind::<diesel::sql_types::Text, _>(sequence_of(counter));
            let next: Next = prepared::kept(pg, statement)?.get_result(pg)?;
            Ok(next.value)
        }
        DbConnection::Sqlite(_) => {
            diesel::update(counters::table.find(counter.name()))
                .set(counters::value.eq(counters::value + 1))
                .execute(conn)?;
            Ok(counters::table
                .find(counter.name())
                .select(counters::value)
                .first(conn)?)
        }
    }
}

/// One entry of an application's history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub seq: i32,
    pub occurred_at: Instant,
    pub actor: Option<AccountId>,
    pub on_behalf_of: Option<uuid::Uuid>,
    pub event: String,
    pub from: Option<Status>,
    pub to: Status,
    /// The agency handling the application after the event (forwarding changes it).
    pub agency_code: String,
    pub comment: Option<String>,
}

/// One history row to append: what happened to an application and who did it.
#[derive(Clone, Debug)]
pub struct NewHistory {
    pub application: ApplicationId,
    pub event: String,
    pub from: Option<Status>,
    /// The status after the event (the current one for events that are not transitions).
    pub to: Status,
    pub agency_code: String,
    pub comment: Option<String>,
    pub actor: Option<AccountId>,
    pub on_behalf_of: Option<uuid::Uuid>,
    numbering: Numbering,
}

/// What appending an entry must do to number it without a gap or a clash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Numbering {
    /// The application's first entry, written in the transaction that inserts the row no
    /// other transaction can see yet: number 1, nothing to wait for.
    First,
    /// A transition's entry: the transaction has just updated the row, so it holds the
    /// row's lock that every other appender waits for.
    RowLocked,
    /// Anything else: lock the row first, then count on from the last entry.
    Lock,
}

impl NewHistory {
    /// Whether appending must first wait for the application's row (see [`Numbering`]).
    pub(crate) fn locks_first(&self) -> bool {
        self.numbering == Numbering::Lock
    }

    /// The creation of `app`.
    pub fn created(app: &Application) -> NewHistory {
        NewHistory {
            numbering: Numbering::First,
            ..NewHistory::of(app, "create", None)
        }
    }

    /// The transition `step` produced (`app` is the application after it), appended in
    /// the transaction that updated the application's row.
    pub fn step(app: &Application, step: &Step) -> NewHistory {
        NewHistory {
            comment: step.comment.clone(),
            numbering: Numbering::RowLocked,
            ..NewHistory::of(app, step.event.as_str(), Some(step.from))
        }
    }

    /// An event of `app` that may not be a transition (attachments, joint actions…).
    pub fn of(app: &Application, event: &str, from: Option<Status>) -> NewHistory {
        NewHistory {
            application: app.id,
            event: event.to_string(),
            from,
            to: app.status,
            agency_code: app.agency_code.clone(),
            comment: None,
            actor: None,
            on_behalf_of: None,
            numbering: Numbering::Lock,
        }
    }

    pub fn by(mut self, actor: Option<AccountId>, on_behalf_of: Option<uuid::Uuid>) -> NewHistory {
        self.actor = actor;
        self.on_behalf_of = on_behalf_of;
        self
    }

    pub fn comment(mut self, comment: Option<String>) -> NewHistory {
        self.comment = comment;
        self
    }
}

/// Appends `entry` to its application's history, numbered after the last entry (the
/// application's row is taken so two appends never compute the same number).
pub fn append_history(conn: &mut DbConnection, entry: &NewHistory, now: Instant) -> Result<(), StoreError> {
    let application = entry.application.to_string();
    let last_seq = |conn: &mut DbConnection| -> Result<Option<i32>, StoreError> {
        Ok(application_history::table
            .filter(application_history::application_id.eq(&application))
            .select(diesel::dsl::max(application_history::seq))
            .first(conn)?)
    };
    let last = match entry.numbering {
        Numbering::First => None,
        Numbering::RowLocked => last_seq(conn)?,
        Numbering::Lock => {
            crate::locks::lock(conn, crate::locks::Parent::Application, &application)?;
            last_seq(conn)?
        }
    };
    diesel::insert_into(application_history::table)
        .values((
            application_history::id.eq(uuid::Uuid::now_v7().to_string()),
            application_history::application_id.eq(&application),
            application_history::seq.eq(last.unwrap_or(0) + 1),
            application_history::occurred_at.eq(to_db_time(now)),
            application_history::actor_id.eq(entry.actor.map(|a| a.to_string())),
            application_history::on_behalf_of.eq(entry.on_behalf_of.map(|p| p.to_string())),
            application_history::event.eq(&entry.event),
            application_history::from_status.eq(entry.from.map(|s| s.as_str())),
            application_history::to_status.eq(entry.to.as_str()),
            application_history::agency_code.eq(&entry.agency_code),
            application_history::comment.eq(&entry.comment),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn history(conn: &mut DbConnection, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
    type Row = (
        i32,
        chrono::NaiveDateTime,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = application_history::table
        .filter(application_history::application_id.eq(id.to_string()))
        .order(application_history::seq.asc())
        .select((
            application_history::seq,
            application_history::occurred_at,
            application_history::actor_id,
            application_history::on_behalf_of,
            application_history::event,
            application_history::from_status,
            application_history::to_status,
            application_history::agency_code,
            application_history::comment,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(seq, at, actor, principal, event, from, to, agency_code, comment)| {
                Ok(HistoryEntry {
                    seq,
                    occurred_at: from_db_time(at),
                    actor: parse_optional_id("application_history", actor.as_deref())?,
                    on_behalf_of: parse_optional_id("application_history", principal.as_deref())?,
                    event,
                    from: from.as_deref().map(status).transpose()?,
                    to: status(&to)?,
                    agency_code,
                    comment,
                })
            },
        )
        .collect()
}

type Condition = Box<
    dyn BoxableExpression<
        applications::table,
        crate::connection::MultiBackend,
        SqlType = diesel::sql_types::Bool,
    >,
>;

/// Applications whose status, as time gives it at `now`, is `status`: an unanswered
/// request past its due date is `expired` whether or not the expiry job wrote it.
fn in_status(status: Status, now: Instant) -> Condition {
    let due = to_db_time(now);
    let asking = applications::status.eq(Status::NeedsInfo.as_str());
    match status {
        Status::Expired => Box::new(
            applications::status
                .eq(Status::Expired.as_str())
                .or(asking.and(applications::info_due_at.le(due)).assume_not_null()),
        ),
        Status::NeedsInfo => Box::new(
            asking.and(
                applications::info_due_at
                    .is_null()
                    .or(applications::info_due_at.gt(due))
                    .assume_not_null(),
            ),
        ),
        status => Box::new(applications::status.eq(status.as_str())),
    }
}

/// Filters and keyset position for "my applications".
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub service: Option<String>,
    /// Only these services (a delegation restricted to them).
    pub services: Option<Vec<String>>,
    pub from: Option<Instant>,
    pub to: Option<Instant>,
    pub q: Option<String>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// The last row of the previous page: (created_at, id).
    pub after: Option<(Instant, String)>,
    pub limit: i64,
    /// Applications the account takes part in as a participant instead of its own.
    pub shared: bool,
}

impl ListFilter {
    /// The first page of the account's own applications, newest first, nothing filtered.
    fn newest_own_only(&self) -> bool {
        let ListFilter {
            status,
            service,
            services,
            from,
            to,
            q,
            ascending,
            after,
            limit: _,
            shared,
        } = self;
        status.is_none()
            && service.is_none()
            && services.is_none()
            && from.is_none()
            && to.is_none()
            && q.is_none()
            && after.is_none()
            && !ascending
            && !shared
    }
}

/// The owner's applications (without their forms), newest (or oldest) first; served by the
/// `(owner_id, created_at, id)` index in both directions. A status filter selects by the
/// status time gives at `now` (an unanswered request past its due date is `expired`
/// whether or not the expiry job has written it).
pub fn list_for_owner(
    conn: &mut DbConnection,
    owner: AccountId,
    f: &ListFilter,
    now: Instant,
) -> Result<Vec<Application>, StoreError> {
    if f.newest_own_only() {
        // The page most lists are: a statement of fixed type, which the backend's connection
        // keeps prepared under that type. The boxed query below has no such type: diesel
        // writes out its SQL on every run to find the prepared statement by its text (9% of
        // the server's CPU serving this page on SQLite, perf).
        let rows: Vec<ListedRow> = natively!(conn, |c| applications::table
            .filter(applications::owner_id.eq(owner.to_string()))
            .order((applications::created_at.desc(), applications::id.desc()))
            .select(ListedRow::as_select())
            .limit(f.limit)
            .load(c))?;
        return rows.into_iter().map(Application::try_from).collect();
    }
    let mut query = applications::table.select(ListedRow::as_select()).into_boxed();
    query = if f.shared {
        // Served by the `participants_account` index.
        let joined = diesel::dsl::sql::<diesel::sql_types::Bool>(
            "applications.id IN (SELECT application_id FROM participants WHERE account_id = ",
        )
        .bind::<diesel::sql_types::Text, _>(owner.to_string())
        .sql(")");
        query.filter(joined)
    } else {
        query.filter(applications::owner_id.eq(owner.to_string()))
    };
    if let Some(status) = f.status {
        query = query.filter(in_status(status, now));
    }
    if let Some(service) = &f.service {
        query = query.filter(applications::service_code.eq(service.clone()));
    }
    if let Some(services) = &f.services {
        query = query.filter(applications::service_code.eq_any(services.clone()));
    }
    if let Some(from) = f.from {
        query = query.filter(applications::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = f.to {
        query = query.filter(applications::created_at.lt(to_db_time(to)));
    }
    if let Some(q) = &f.q {
        query = query.filter(
            applications::search_text
                .like(format!("%{}%", escape_like(&fold(q))))
                .escape('\\'),
        );
    }
    if let Some((at, id)) = &f.after {
        let op = if f.ascending { ">" } else { "<" };
        query = query.filter(after_key("created_at", op, *at, id));
    }
    query = if f.ascending {
        query.order((applications::created_at.asc(), applications::id.asc()))
    } else {
        query.order((applications::created_at.desc(), applications::id.desc()))
    };
    query
        .limit(f.limit)
        .load(conn)?
        .into_iter()
        .map(Application::try_from)
        .collect()
}

/// The agency's open applications (without their forms), oldest submission first, after `(submitted_at, id)`;
/// served by the `(agency_code, in_queue, submitted_at, id)` index.
pub fn queue(
    conn: &mut DbConnection,
    agency: &str,
    after: Option<&(Instant, String)>,
    limit: i64,
) -> Result<Vec<Application>, StoreError> {
    let mut query = applications::table
        .filter(applications::agency_code.eq(agency.to_string()))
        .filter(applications::in_queue.eq(true))
        .select(ListedRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(after_key("submitted_at", ">", *at, id));
    }
    query
        .order((applications::submitted_at.asc(), applications::id.asc()))
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Application::try_from)
        .collect()
}

/// Information requests whose due date passed (for the expiry job).
pub fn overdue_info_requests(
    conn: &mut DbConnection,
    now: Instant,
    limit: i64,
) -> Result<Vec<Application>, StoreError> {
    applications::table
        .filter(applications::status.eq(Status::NeedsInfo.as_str()))
        .filter(applications::info_due_at.lt(to_db_time(now)))
        .select(ApplicationRow::as_select())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(Application::try_from)
        .collect()
}

/// How many applications `actor` started for `principal` since `since` (the daily limit).
pub fn created_on_behalf_since(
    conn: &mut DbConnection,
    actor: AccountId,
    principal: uuid::Uuid,
    since: Instant,
) -> Result<i64, StoreError> {
    Ok(application_history::table
        .filter(application_history::actor_id.eq(actor.to_string()))
        .filter(application_history::on_behalf_of.eq(principal.to_string()))
        .filter(application_history::event.eq("create"))
        .filter(application_history::occurred_at.ge(to_db_time(since)))
        .count()
        .get_result(conn)?)
}
