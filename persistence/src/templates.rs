//! A user's saved application templates.

use diesel::prelude::*;
use domain::ids::{AccountId, TemplateId};

use crate::connection::DbConnection;
use crate::error::StoreError;
use crate::rows::{from_db_time, parse_id, to_db_time};
use crate::schema::templates;

pub use domain::template::Template;

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn columns() -> (
    templates::id,
    templates::owner_id,
    templates::name,
    templates::service_code,
    templates::form_data,
    templates::version,
    templates::created_at,
    templates::updated_at,
) {
    (
        templates::id,
        templates::owner_id,
        templates::name,
        templates::service_code,
        templates::form_data,
        templates::version,
        templates::created_at,
        templates::updated_at,
    )
}

fn decode(
    (id, owner, name, service_code, form_data, version, created, updated): Row,
) -> Result<Template, StoreError> {
    Ok(Template {
        id: parse_id("templates", &id)?,
        owner: parse_id("templates", &owner)?,
        name,
        service_code,
        form_data: serde_json::from_str(&form_data).map_err(|e| StoreError::corrupt("templates", e))?,
        version,
        created_at: from_db_time(created),
        updated_at: from_db_time(updated),
    })
}

pub fn insert(conn: &mut DbConnection, t: &Template) -> Result<(), StoreError> {
    diesel::insert_into(templates::table)
        .values((
            templates::id.eq(t.id.to_string()),
            templates::owner_id.eq(t.owner.to_string()),
            templates::name.eq(&t.name),
            templates::service_code.eq(&t.service_code),
            templates::form_data.eq(t.form_data.to_string()),
            templates::version.eq(t.version),
            templates::created_at.eq(to_db_time(t.created_at)),
            templates::updated_at.eq(to_db_time(t.updated_at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: TemplateId) -> Result<Option<Template>, StoreError> {
    let row: Option<Row> = templates::table
        .find(id.to_string())
        .select(columns())
        .first(conn)
        .optional()?;
    row.map(decode).transpose()
}

/// The owner's templates, newest first (at most 100: templates are few by nature).
pub fn list(conn: &mut DbConnection, owner: AccountId) -> Result<Vec<Template>, StoreError> {
    let rows: Vec<Row> = templates::table
        .filter(templates::owner_id.eq(owner.to_string()))
        .order(templates::created_at.desc())
        .limit(100)
        .select(columns())
        .load(conn)?;
    rows.into_iter().map(decode).collect()
}

/// Replaces name and form if still at `expected`; `Ok(false)` when someone wrote first.
pub fn replace(conn: &mut DbConnection, t: &Template, expected: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        templates::table
            .find(t.id.to_string())
            .filter(templates::version.eq(expected)),
    )
    .set((
        templates::name.eq(&t.name),
        templates::form_data.eq(t.form_data.to_string()),
        templates::version.eq(expected + 1),
        templates::updated_at.eq(to_db_time(t.updated_at)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete(conn: &mut DbConnection, id: TemplateId) -> Result<bool, StoreError> {
    Ok(diesel::delete(templates::table.find(id.to_string())).execute(conn)? == 1)
}
