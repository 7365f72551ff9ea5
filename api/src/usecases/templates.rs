//! Application templates: each belongs to an account (the core's `Resource::Template`) —
//! the caller's own or, acting on behalf, the principal's, whom a representative reaches
//! as far as the delegation covers — and is filled from that account's profile when an
//! application starts from one.

use domain::access::{authorize, Action, Resource};
use domain::audit::AuditEntry;
use domain::ids::{AccountId, TemplateId};
use domain::template::{Template, TemplateProblem};
use domain::time::Instant;
use persistence::{templates, DbConnection};
use serde_json::{json, Value};

use crate::concurrency::stale;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::{Acting, Effects, Outcome};

/// A template's content as the caller sends it.
pub struct TemplateInput {
    pub name: String,
    pub service_code: String,
    pub form_data: Value,
}

fn problem(p: TemplateProblem) -> ApiError {
    match p {
        TemplateProblem::Name => ApiError::field("name", "invalid_value", "1 to 200 characters."),
        TemplateProblem::Form => ApiError::field("form_data", "invalid_value", "An object."),
    }
}

fn audit(action: &str, acting: &Acting, t: &Template) -> AuditEntry {
    acting
        .audit(format!("template.{action}"), "template")
        .target(t.id)
        .details(json!({ "service": t.service_code, "version": t.version }))
}

/// Saves a new template of the principal's (the caller's own when not acting on behalf)
/// for a service the catalog knows.
pub fn create(
    tx: &mut DbConnection,
    acting: &Acting,
    input: TemplateInput,
    now: Instant,
) -> Result<Outcome<Template>, ApiError> {
    authorize(
        &acting.subject,
        Action::ProfileEdit,
        &Resource::Account(acting.principal()),
        now,
    )?;
    let template = Template::new(
        acting.principal(),
        &input.name,
        input.service_code,
        input.form_data,
        now,
    )
    .map_err(problem)?;
    if persistence::catalog::find(tx, &template.service_code)?.is_none() {
        return Err(ApiError::field(
            "service_code",
            "unknown_service",
            "No such service.",
        ));
    }
    templates::insert(tx, &template)?;
    let effects = Effects::none().audit(audit("create", acting, &template));
    Ok(Outcome::new(template, effects))
}

/// The principal's templates, newest first.
pub fn list(tx: &mut DbConnection, acting: &Acting, now: Instant) -> Result<Vec<Template>, ApiError> {
    authorize(
        &acting.subject,
        Action::ProfileRead,
        &Resource::Account(acting.principal()),
        now,
    )?;
    Ok(templates::list(tx, acting.principal())?)
}

/// A template the caller may take `action` on; anyone else's is not found.
fn own(
    tx: &mut DbConnection,
    acting: &Acting,
    id: TemplateId,
    action: Action,
    now: Instant,
) -> Result<Template, ApiError> {
    let found = templates::find(tx, id)?.ok_or_else(ApiError::not_found)?;
    authorize(
        &acting.subject,
        action,
        &Resource::Template { owner: found.owner },
        now,
    )?;
    Ok(found)
}

/// One of the caller's templates.
pub fn one(
    tx: &mut DbConnection,
    acting: &Acting,
    id: TemplateId,
    now: Instant,
) -> Result<Template, ApiError> {
    own(tx, acting, id, Action::ProfileEdit, now)
}

/// A replacement of template `id`, read at `version`.
pub struct Replacement {
    pub id: TemplateId,
    pub version: i64,
    pub content: TemplateInput,
}

/// Replaces a template's name and form; it keeps its service.
pub fn replace(
    tx: &mut DbConnection,
    acting: &Acting,
    input: Replacement,
    now: Instant,
) -> Result<Outcome<Template>, ApiError> {
    let Replacement { id, version, content } = input;
    let current = own(tx, acting, id, Action::ProfileEdit, now)?;
    if current.version != version {
        return Err(stale(current.version));
    }
    let updated = current
        .replaced(&content.name, content.form_data, now)
        .map_err(problem)?;
    if content.service_code != current.service_code {
        return Err(ApiError::field(
            "service_code",
            "immutable",
            "A template keeps its service.",
        ));
    }
    if !templates::replace(tx, &updated, version)? {
        return Err(stale(version + 1));
    }
    let effects = Effects::none().audit(audit("replace", acting, &updated));
    Ok(Outcome::new(updated, effects))
}

/// Deletes one of the caller's templates.
pub fn delete(
    tx: &mut DbConnection,
    acting: &Acting,
    id: TemplateId,
    now: Instant,
) -> Result<Outcome<()>, ApiError> {
    let found = own(tx, acting, id, Action::ProfileEdit, now)?;
    templates::delete(tx, found.id)?;
    Ok(Outcome::new(
        (),
        Effects::none().audit(audit("delete", acting, &found)),
    ))
}

/// A template the caller may start an application from: the principal's, when the core
/// lets the caller read it — starting from it fills the form from the principal's profile,
/// so it takes `profile.read`. A stranger's is an unknown template, not a hint that it
/// exists.
pub fn usable(
    tx: &mut DbConnection,
    acting: &Acting,
    id: TemplateId,
    now: Instant,
) -> Result<Template, ApiError> {
    let unknown = || ApiError::field("template_id", "unknown_template", "No such template of yours.");
    let found = templates::find(tx, id)?.ok_or_else(unknown)?;
    let resource = Resource::Template { owner: found.owner };
    match authorize(&acting.subject, Action::ProfileRead, &resource, now) {
        Err(denial) if !denial.reveals_resource() => return Err(unknown()),
        denied => denied?,
    }
    Ok(found)
}

/// The template's form with its placeholders filled from `account`'s profile (the
/// principal's, when acting on behalf: the template is theirs).
pub fn filled(
    tx: &mut DbConnection,
    pii: &PiiCipher,
    account: AccountId,
    template: &Template,
) -> Result<Value, ApiError> {
    let found = persistence::accounts::find(tx, account)?.ok_or_else(ApiError::not_found)?;
    // The profile's decrypted fields: its view is the one reader of the sealed columns.
    let profile = crate::views::profile::ProfileView::of(&found, pii)?;
    let lookup = |name: &str| -> Option<String> {
        let passport = profile.passport.as_ref();
        match name {
            "surname" => profile.surname.clone(),
            "given_name" => profile.given_name.clone(),
            "patronymic" => profile.patronymic.clone(),
            "birth_date" => profile.birth_date.map(|d| d.to_string()),
            "email" => profile.email.clone(),
            "phone" => profile.phone.clone(),
            "snils" => profile.snils.clone(),
            "inn" => profile.inn.clone(),
            "passport.series" => passport.map(|p| p.series.clone()),
            "passport.number" => passport.map(|p| p.number.clone()),
            "passport.issued_on" => passport.map(|p| p.issued_on.to_string()),
            "passport.division_code" => passport.map(|p| p.division_code.clone()),
            _ => None,
        }
    };
    Ok(domain::template::fill(&template.form_data, &lookup))
}
