//! How a typed login maps to the stored login keys: one key per kind of login, so the
//! same text can be tried as a user name, an e-mail or a phone number in one lookup.

/// Normalises free text the way stored keys are normalised: trimmed, lowercased.
fn normal(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The key a staff user name is stored under.
pub fn name_key(name: &str) -> String {
    format!("name:{}", normal(name))
}

pub fn email_key(email: &str) -> String {
    format!("email:{}", normal(email))
}

/// Every key `login` could be stored under.
pub fn candidate_keys(login: &str) -> Vec<String> {
    let mut keys = vec![name_key(login)];
    if login.contains('@') {
        keys.push(email_key(login));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_matched_case_insensitively() {
        assert_eq!(candidate_keys(" Admin "), vec!["name:admin".to_string()]);
        assert_eq!(
            candidate_keys("Ivan@Mail.RU"),
            vec!["name:ivan@mail.ru".to_string(), "email:ivan@mail.ru".to_string()]
        );
    }
}
