//! Turning what a person types into the keys their account is stored under.

use domain::person::Snils;

use crate::crypto::PiiCipher;

pub fn snils_index(pii: &PiiCipher, snils: &Snils) -> String {
    pii.keyed_hash("snils", snils.as_str())
}

pub fn candidate_keys(pii: &PiiCipher, login: &str) -> Vec<String> {
    domain::login::candidate_keys(login, |snils| snils_index(pii, snils))
}
