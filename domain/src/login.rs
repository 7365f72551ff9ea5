//! How a typed login maps to the stored login keys: one key per kind of login, so the same
//! text can be tried as a user name, an e-mail, a phone number or a SNILS in one lookup.
//! SNILS keys are blind indexes computed by the caller (they need a secret key).

use crate::person::{Email, Phone, Snils};

/// Normalises free text the way stored keys are normalised: trimmed, lowercased.
fn normal(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The key a staff user name is stored under.
pub fn name_key(name: &str) -> String {
    format!("name:{}", normal(name))
}

/// E-mail logins compare case-insensitively, as people type them.
pub fn email_key(email: &str) -> String {
    format!("email:{}", normal(email))
}

pub fn phone_key(phone: &Phone) -> String {
    format!("phone:{}", phone.as_str())
}

/// `index` is the keyed hash of the canonical SNILS.
pub fn snils_key(index: &str) -> String {
    format!("snils:{index}")
}

/// Every key `login` could be stored under; `snils_index` turns a SNILS into its blind index.
pub fn candidate_keys(login: &str, snils_index: impl Fn(&Snils) -> String) -> Vec<String> {
    let mut keys = vec![name_key(login)];
    if let Ok(email) = Email::parse(login) {
        keys.push(email_key(email.as_str()));
    }
    if let Ok(phone) = Phone::parse(login) {
        keys.push(phone_key(&phone));
    }
    if let Ok(snils) = Snils::parse(login) {
        keys.push(snils_key(&snils_index(&snils)));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_login_yields_its_key() {
        let index = |s: &Snils| format!("idx({})", s.as_str());
        assert_eq!(candidate_keys(" Admin ", index), vec!["name:admin".to_string()]);
        assert_eq!(
            candidate_keys("Ivan@Mail.RU", index),
            vec!["name:ivan@mail.ru".to_string(), "email:ivan@mail.ru".to_string()]
        );
        assert!(candidate_keys("+7 916 123-45-67", index).contains(&"phone:+79161234567".to_string()));
        assert!(candidate_keys("112-233-445 95", index).contains(&"snils:idx(11223344595)".to_string()));
    }
}
