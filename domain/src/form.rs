//! An application's form: the JSON object the applicant filled in.
//!
//! A form read from storage stays the stored text until something looks inside it. Showing
//! an application sends that text as it is; only what reads its fields (the schema check of
//! a draft, the signed-content hash, the search text) parses it, and then once. Parsing
//! the form to write it straight back out cost a read of one application about a twentieth
//! of its time.

use std::ops::Deref;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct Form {
    /// The JSON text as stored; `None` for a form made from a value.
    text: Option<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl Form {
    /// A form as stored. The text is checked to be JSON here (without building the
    /// value), so a corrupt row is refused when read, not when first looked into.
    pub fn stored(text: String) -> Result<Form, serde_json::Error> {
        Ok(Form {
            text: Some(RawValue::from_string(text)?),
            value: OnceLock::new(),
        })
    }

    /// The JSON text to store.
    pub fn to_text(&self) -> String {
        match &self.text {
            Some(text) => text.get().to_string(),
            None => self.value().to_string(),
        }
    }

    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match &self.text {
            // The text was checked to be JSON when the form was made, and parsing JSON
            // into a value has no other way to fail: `Null` is never reached.
            Some(text) => serde_json::from_str(text.get()).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    pub fn into_value(self) -> Value {
        self.value();
        self.value.into_inner().unwrap_or(Value::Null)
    }
}

impl From<Value> for Form {
    fn from(value: Value) -> Form {
        Form {
            text: None,
            value: OnceLock::from(value),
        }
    }
}

impl Deref for Form {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

/// Two forms are equal when their values are, however either is held.
impl PartialEq for Form {
    fn eq(&self, other: &Form) -> bool {
        self.value() == other.value()
    }
}

/// Written as `to_text` stores it: the stored text when there is one (the value is only
/// ever parsed from it), else the value.
impl Serialize for Form {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(text) => text.serialize(serializer),
            None => self.value().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Form {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Form, D::Error> {
        Value::deserialize(deserializer).map(Form::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_form_is_sent_as_stored_and_read_as_its_value() {
        let text = r#"{"a":[1,{"b":"в"}],"c":null}"#;
        let form = Form::stored(text.to_string()).unwrap_or_default();
        assert_eq!(serde_json::to_string(&form).ok().as_deref(), Some(text));
        assert_eq!(*form, json!({"a": [1, {"b": "в"}], "c": null}));
        assert_eq!(form.to_text(), text);
        assert_eq!(form, Form::from(json!({"c": null, "a": [1, {"b": "в"}]})));
        assert_eq!(serde_json::to_string(&form).ok().as_deref(), Some(text));
    }

    #[test]
    fn a_form_made_from_a_value_is_stored_as_its_json() {
        let form = Form::from(json!({"x": 1}));
        assert_eq!(form.to_text(), r#"{"x":1}"#);
        assert_eq!(serde_json::to_string(&form).ok().as_deref(), Some(r#"{"x":1}"#));
        assert_eq!(form.into_value(), json!({"x": 1}));
    }

    #[test]
    fn stored_text_that_is_not_json_is_refused() {
        assert!(Form::stored("{\"a\":".to_string()).is_err());
        assert!(Form::stored(String::new()).is_err());
    }
}
