//! Application forms checked against their service's JSON Schema: problems are warnings
//! while a draft is saved and errors at submission. Compiled schemas are cached per service
//! version, so a request never recompiles one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::catalog::Service;
use serde_json::Value;

use crate::error::FieldProblem;

#[derive(Default)]
pub struct FormValidators {
    compiled: Mutex<HashMap<(String, i64), Arc<jsonschema::Validator>>>,
}

/// Checks that `schema` is a JSON Schema a form can be validated with; answers why not.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("the form schema must be a JSON object".into());
    }
    jsonschema::meta::validate(schema).map_err(|e| e.to_string())?;
    compile(schema).map(|_| ())
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    // No remote references are ever fetched: the crate is built without resolvers.
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// `/a/b/0` → `form_data.a.b.0`: the same dotted form the other field errors use.
fn field_name(pointer: &str) -> String {
    let path: Vec<&str> = pointer.split('/').filter(|s| !s.is_empty()).collect();
    if path.is_empty() {
        "form_data".into()
    } else {
        format!("form_data.{}", path.join("."))
    }
}

impl FormValidators {
    fn validator(&self, service: &Service) -> Result<Arc<jsonschema::Validator>, String> {
        let key = (service.code.clone(), service.version);
        if let Some(found) = self.compiled.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(found);
        }
        let validator = Arc::new(compile(&service.form_schema)?);
        if let Ok(mut cache) = self.compiled.lock() {
            cache.retain(|(code, _), _| code != &service.code);
            cache.insert(key, validator.clone());
        }
        Ok(validator)
    }

    /// Every way `form` breaks the service's schema (empty when it conforms).
    pub fn problems(&self, service: &Service, form: &Value) -> Vec<FieldProblem> {
        let validator = match self.validator(service) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(service = %service.code, error = %e, "a stored form schema does not compile");
                return vec![FieldProblem {
                    field: "form_data".into(),
                    code: "schema_unavailable".into(),
                    message: "The service's form cannot be checked right now.".into(),
                }];
            }
        };
        report(&validator, form)
    }

    /// [`problems`](Self::problems) of `form` under service `code`'s schema at `version`,
    /// when this node has compiled that schema already; `None` when it has not (load the
    /// service and ask `problems`). Showing a draft needs no copy of its schema then.
    pub fn problems_if_compiled(&self, code: &str, version: i64, form: &Value) -> Option<Vec<FieldProblem>> {
        let key = (code.to_string(), version);
        let validator = self.compiled.lock().ok()?.get(&key).cloned()?;
        Some(report(&validator, form))
    }
}

/// Every way `form` breaks the schema `validator` checks.
fn report(validator: &jsonschema::Validator, form: &Value) -> Vec<FieldProblem> {
    validator
        .iter_errors(form)
        .map(|e| match e.kind() {
            // A missing property is reported at its parent; name the property itself.
            jsonschema::error::ValidationErrorKind::Required { property } => FieldProblem {
                field: format!(
                    "{}.{}",
                    field_name(e.instance_path().as_str()),
                    property.as_str().unwrap_or_default()
                ),
                code: "required".into(),
                message: e.to_string(),
            },
            _ => FieldProblem {
                field: field_name(e.instance_path().as_str()),
                code: "schema_violation".into(),
                message: e.to_string(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(schema: Value) -> Service {
        Service {
            code: "svc".into(),
            name_ru: "Услуга".into(),
            name_en: "Service".into(),
            description: String::new(),
            level: domain::catalog::ServiceLevel::Federal,
            region: None,
            agency_code: "mvd".into(),
            form_schema: schema,
            required_documents: vec![],
            allowed_file_types: vec![],
            max_file_bytes: 1,
            policy: Default::default(),
            version: 1,
        }
    }

    #[test]
    fn a_schema_not_compiled_here_is_not_guessed() {
        let forms = FormValidators::default();
        let svc = service(json!({"type": "object", "required": ["kpp"]}));
        let form = json!({});
        assert_eq!(forms.problems_if_compiled("svc", 1, &form), None);
        let problems = forms.problems(&svc, &form);
        assert_eq!(problems.len(), 1);
        assert_eq!(forms.problems_if_compiled("svc", 1, &form), Some(problems));
        // Another version of the service is another schema.
        assert_eq!(forms.problems_if_compiled("svc", 2, &form), None);
    }

    #[test]
    fn problems_name_the_field() {
        let schema = json!({
            "type": "object",
            "properties": {"kpp": {"type": "string", "pattern": "^[0-9]{9}$"}, "born": {"type": "string", "format": "date"}},
            "required": ["kpp"]
        });
        let forms = FormValidators::default();
        let svc = service(schema);
        assert!(forms
            .problems(&svc, &json!({"kpp": "123456789", "born": "2001-02-03"}))
            .is_empty());
        let problems = forms.problems(&svc, &json!({"kpp": "12", "born": "yesterday"}));
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"form_data.kpp"), "{problems:?}");
        assert!(fields.contains(&"form_data.born"), "{problems:?}");
        let missing = &forms.problems(&svc, &json!({}))[0];
        assert_eq!(
            (missing.field.as_str(), missing.code.as_str()),
            ("form_data.kpp", "required")
        );
    }

    #[test]
    fn bad_schemas_are_refused() {
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        assert!(check_schema(&json!({"type": "no-such-type"})).is_err());
        assert!(check_schema(&json!([1, 2])).is_err());
    }
}
