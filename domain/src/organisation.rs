//! Organisations as principals: a legal entity identified by OGRN and INN, headed by a
//! citizen who acts for it without a power of attorney and issues delegations in its name.

use serde::{Deserialize, Serialize};

use crate::field_error::FieldError;
use crate::ids::AccountId;
use crate::person::Inn;
use crate::time::Instant;

/// A registered organisation: its own account id, registry numbers, head and employees.
#[derive(Clone, Debug, PartialEq)]
pub struct Organisation {
    pub id: AccountId,
    pub ogrn: String,
    pub inn: String,
    pub kpp: Option<String>,
    pub name: String,
    pub head: AccountId,
    pub created_at: Instant,
    pub employees: Vec<AccountId>,
}

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

/// What registering an organisation takes, checked: a name, an OGRN and an organisation's
/// (10-digit) INN, and optionally a KPP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub ogrn: Ogrn,
    pub inn: Inn,
    pub kpp: Option<String>,
}

impl Registration {
    pub fn parse(name: &str, ogrn: &str, inn: &str, kpp: Option<&str>) -> Result<Registration, FieldError> {
        let ogrn = Ogrn::parse(ogrn)?;
        let inn = Inn::parse(inn)?;
        if inn.is_personal() {
            return Err(FieldError::new(
                "inn",
                "not_organisation",
                "An organisation's INN has 10 digits.",
            ));
        }
        let kpp = kpp.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
        if kpp
            .as_ref()
            .is_some_and(|k| k.len() != 9 || !k.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(FieldError::new("kpp", "invalid_format", "A KPP has 9 digits."));
        }
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 300 {
            return Err(FieldError::new("name", "invalid_value", "1 to 300 characters."));
        }
        Ok(Registration { name, ogrn, inn, kpp })
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

    #[test]
    fn the_registration_table() {
        let (ogrn, inn) = ("1027700132195", "7707083893");
        let code = |name: &str, ogrn: &str, inn: &str, kpp: Option<&str>| {
            Registration::parse(name, ogrn, inn, kpp)
                .map(|_| ())
                .map_err(|e| (e.field, e.code))
        };
        assert_eq!(code(" ООО «Ромашка» ", ogrn, inn, Some("773601001")), Ok(()));
        assert_eq!(code("ООО", ogrn, inn, Some(" ")), Ok(()));
        assert_eq!(
            code("ООО", "1027700132196", inn, None),
            Err(("ogrn", "invalid_checksum"))
        );
        assert_eq!(
            code("ООО", ogrn, "500100732259", None),
            Err(("inn", "not_organisation"))
        );
        assert_eq!(
            code("ООО", ogrn, inn, Some("77360100")),
            Err(("kpp", "invalid_format"))
        );
        assert_eq!(code(" ", ogrn, inn, None), Err(("name", "invalid_value")));
        assert_eq!(
            code(&"я".repeat(301), ogrn, inn, None),
            Err(("name", "invalid_value"))
        );
    }
}
