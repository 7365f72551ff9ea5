//! Person names (surname, given name, patronymic): normalised to NFC before any check, so a
//! letter typed as base plus combining mark is the same name as its composed form, and
//! refused when they mix scripts (look-alikes) or carry no letter at all.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};

use crate::field_error::FieldError;

pub const MAX_NAME: usize = 100;

/// The name as stored: NFC, trimmed; or why it is refused.
pub fn person_name(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let name: String = raw.nfc().collect();
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::required(field));
    }
    if name.chars().count() > MAX_NAME {
        return Err(FieldError::too_long(
            field,
            format!("At most {MAX_NAME} characters."),
        ));
    }
    // A combining mark stays only where no composed letter exists; it belongs to the
    // letter before it.
    let mut after_letter = false;
    for c in name.chars() {
        let mark = c.script() == Script::Inherited && !c.is_alphabetic();
        let allowed = c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.') || (mark && after_letter);
        if !allowed {
            return Err(FieldError::invalid_format(
                field,
                "Only letters, spaces, hyphens and apostrophes.",
            ));
        }
        after_letter = c.is_alphabetic() || (mark && after_letter);
    }
    let scripts: HashSet<Script> = name
        .chars()
        .filter(|c| c.is_alphabetic())
        .map(|c| c.script())
        .filter(|s| !matches!(s, Script::Common | Script::Inherited))
        .collect();
    match scripts.len() {
        0 if !name.chars().any(char::is_alphabetic) => Err(FieldError::new(
            field,
            "no_letters",
            "A name has at least one letter.",
        )),
        0 | 1 => Ok(name.to_string()),
        _ => Err(FieldError::new(
            field,
            "mixed_scripts",
            "Write the name in one alphabet: Cyrillic and Latin letters are mixed.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<String, &'static str> {
        person_name("surname", raw).map_err(|e| e.code)
    }

    #[test]
    fn the_name_table() {
        let table: &[(&str, Result<&str, &str>)] = &[
            ("Иванова", Ok("Иванова")),
            ("  Салтыков-Щедрин ", Ok("Салтыков-Щедрин")),
            ("O'Neil", Ok("O'Neil")),
            ("Müller", Ok("Müller")),
            // Decomposed й and ё are the composed letters.
            ("\u{418}\u{306}орк", Ok("Йорк")),
            ("Е\u{308}лкина", Ok("Ёлкина")),
            // No composed form: the mark stays with its letter.
            ("Aq\u{303}a", Ok("Aq\u{303}a")),
            ("Ивaнoва", Err("mixed_scripts")),
            ("Maрия", Err("mixed_scripts")),
            ("Σмит", Err("mixed_scripts")),
            ("--", Err("no_letters")),
            ("' .", Err("no_letters")),
            ("\u{306}Иван", Err("invalid_format")),
            ("Иван4", Err("invalid_format")),
            ("Иван\u{202E}", Err("invalid_format")),
            (" ", Err("required")),
        ];
        for (raw, expected) in table {
            assert_eq!(check(raw).as_deref().map_err(|e| *e), *expected, "{raw:?}");
        }
        assert_eq!(check(&"я".repeat(MAX_NAME + 1)), Err("too_long"));
        assert_eq!(
            check(&"и\u{306}".repeat(MAX_NAME)).map(|n| n.chars().count()),
            Ok(MAX_NAME)
        );
    }
}
