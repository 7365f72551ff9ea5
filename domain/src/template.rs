//! Application templates: form data with `{{placeholders}}` that are filled from the
//! applicant's profile when an application is started from the template.

use serde_json::Value;

use crate::ids::{AccountId, TemplateId};
use crate::time::Instant;

/// A saved template: its saver's alone (see `access::template_owner`).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub id: TemplateId,
    pub owner: AccountId,
    pub name: String,
    pub service_code: String,
    pub form_data: Value,
    pub version: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
}

/// Why a template's content is refused, field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateProblem {
    /// The name is empty or longer than 200 characters.
    Name,
    /// The form is not a JSON object.
    Form,
}

impl Template {
    /// A new template of `owner`'s, at version 1 (the name trimmed).
    pub fn new(
        owner: AccountId,
        name: &str,
        service_code: String,
        form_data: Value,
        now: Instant,
    ) -> Result<Template, TemplateProblem> {
        check(name, &form_data)?;
        Ok(Template {
            id: TemplateId::new(),
            owner,
            name: name.trim().into(),
            service_code,
            form_data,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// The template with a new name and form, one version on.
    pub fn replaced(&self, name: &str, form_data: Value, now: Instant) -> Result<Template, TemplateProblem> {
        check(name, &form_data)?;
        Ok(Template {
            name: name.trim().into(),
            form_data,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }
}

fn check(name: &str, form_data: &Value) -> Result<(), TemplateProblem> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(TemplateProblem::Name);
    }
    if !form_data.is_object() {
        return Err(TemplateProblem::Form);
    }
    Ok(())
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 12] = [
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "email",
    "phone",
    "snils",
    "inn",
    "passport.series",
    "passport.number",
    "passport.issued_on",
    "passport.division_code",
];

/// Replaces every `{{name}}` in the strings of `value` with `lookup(name)`; unknown or
/// empty ones are left in place, so the form's schema check shows what is missing.
pub fn fill(value: &Value, lookup: &dyn Fn(&str) -> Option<String>) -> Value {
    match value {
        Value::String(text) => Value::String(fill_text(text, lookup)),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, lookup)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, lookup))).collect()),
        other => other.clone(),
    }
}

fn fill_text(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match lookup(name).filter(|v| !v.is_empty()) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_template_needs_a_name_and_an_object_form() {
        let (owner, now) = (AccountId::new(), chrono::Utc::now());
        let new = |name: &str, form: Value| Template::new(owner, name, "svc".into(), form, now);
        let saved = new("  Паспорт  ", json!({})).unwrap();
        assert_eq!((saved.name.as_str(), saved.version), ("Паспорт", 1));
        assert_eq!(new(" ", json!({})).unwrap_err(), TemplateProblem::Name);
        assert_eq!(
            new(&"я".repeat(201), json!({})).unwrap_err(),
            TemplateProblem::Name
        );
        assert!(new(&"я".repeat(200), json!({})).is_ok());
        assert_eq!(new("x", json!([])).unwrap_err(), TemplateProblem::Form);
        let replaced = saved.replaced("Новое", json!({"a": 1}), now).unwrap();
        assert_eq!((replaced.version, replaced.id), (2, saved.id));
    }

    #[test]
    fn placeholders_are_filled_wherever_they_stand() {
        let lookup = |name: &str| match name {
            "surname" => Some("Иванова".to_string()),
            "passport.number" => Some("123456".to_string()),
            "inn" => Some(String::new()),
            _ => None,
        };
        let template = json!({
            "applicant": {"surname": "{{surname}}", "doc": "паспорт № {{ passport.number }}"},
            "list": ["{{surname}}", 5],
            "inn": "{{inn}}",
            "odd": "{{unknown}} and {{unclosed"
        });
        let filled = fill(&template, &lookup);
        assert_eq!(filled["applicant"]["surname"], "Иванова");
        assert_eq!(filled["applicant"]["doc"], "паспорт № 123456");
        assert_eq!(filled["list"], json!(["Иванова", 5]));
        assert_eq!(filled["inn"], "{{inn}}");
        assert_eq!(filled["odd"], "{{unknown}} and {{unclosed");
    }
}
