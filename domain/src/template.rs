//! Application templates: form data with `{{placeholders}}` that are filled from the
//! applicant's profile when an application is started from the template.

use serde_json::Value;

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
mod tests {
    use super::*;
    use serde_json::json;

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
