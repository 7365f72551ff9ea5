//! Organisations as principals: a legal entity identified by OGRN and INN, headed by a
//! citizen who acts for it without a power of attorney and issues delegations in its name.

use serde::{Deserialize, Serialize};

use crate::field_error::FieldError;

/// ОГРН: 13 digits; the last is the remainder of the first twelve (as a number) divided by
/// 11, taken modulo 10.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ogrn(String);

impl Ogrn {
    pub fn parse(input: &str) -> Result<Ogrn, FieldError> {
        let digits = input.trim();
        if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::invalid_format("ogrn", "An OGRN has 13 digits."));
        }
        let body: u64 = digits[..12]
            .parse()
            .map_err(|_| FieldError::invalid_format("ogrn", "An OGRN has 13 digits."))?;
        let check = u64::from(digits.as_bytes()[12] - b'0');
        if body % 11 % 10 != check {
            return Err(FieldError::invalid_checksum("ogrn"));
        }
        Ok(Ogrn(digits.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ogrn {
    type Error = FieldError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ogrn::parse(&s)
    }
}

impl From<Ogrn> for String {
    fn from(o: Ogrn) -> String {
        o.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ogrn_check_digit() {
        // Sberbank's OGRN.
        assert!(Ogrn::parse("1027700132195").is_ok());
        assert_eq!(
            Ogrn::parse("1027700132196").map_err(|e| e.code),
            Err("invalid_checksum")
        );
        assert_eq!(
            Ogrn::parse("102770013219").map_err(|e| e.code),
            Err("invalid_format")
        );
    }
}
