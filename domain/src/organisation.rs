//! Organisations as principals: a legal entity identified by OGRN and INN, headed by a
//! citizen who acts for it without a power of attorney and issues delegations in its name —
//! once an officer or admin has verified the registration, which until then is a claim.

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
    pub status: Status,
    /// Who verified or rejected the registration, and when.
    pub decided_by: Option<AccountId>,
    pub decided_at: Option<Instant>,
    pub rejection_reason: Option<String>,
}

/// Where a registration stands. Anyone can type a real company's OGRN and INN, so a
/// registration counts only once staff have checked it against the state register.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    /// Registered, not yet checked: the head sees the record, and nobody acts for it.
    Pending,
    Verified,
    /// Refused by staff, or a claim on an OGRN or INN another registration was verified for.
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why a decision on a registration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionRefused {
    /// Verified or rejected already: a decision is made once.
    NotPending,
}

/// The reason a rejection gives its head; the reason told to rival claims when the real
/// organisation is verified.
pub const RIVAL_VERIFIED: &str = "Эти ОГРН или ИНН подтверждены за другой зарегистрированной организацией.";

const MAX_REASON: usize = 1000;

impl Organisation {
    /// The registration verified by `by` (officer or admin).
    pub fn verify(&self, by: AccountId, now: Instant) -> Result<Organisation, DecisionRefused> {
        self.decide(Status::Verified, by, None, now)
    }

    /// The registration refused by `by`, with the reason its head is told.
    pub fn reject(&self, by: AccountId, reason: &str, now: Instant) -> Result<Organisation, DecisionRefused> {
        self.decide(Status::Rejected, by, Some(reason.to_string()), now)
    }

    fn decide(
        &self,
        status: Status,
        by: AccountId,
        reason: Option<String>,
        now: Instant,
    ) -> Result<Organisation, DecisionRefused> {
        if self.status != Status::Pending {
            return Err(DecisionRefused::NotPending);
        }
        Ok(Organisation {
            status,
            decided_by: Some(by),
            decided_at: Some(now),
            rejection_reason: reason,
            ..self.clone()
        })
    }

    /// Whether `other` claims the same legal entity (its OGRN or its INN).
    pub fn same_entity(&self, other: &Organisation) -> bool {
        self.id != other.id && (self.ogrn == other.ogrn || self.inn == other.inn)
    }
}

/// A rejection's reason, as its head will read it: 1 to 1000 characters.
pub fn rejection_reason(raw: &str) -> Result<String, FieldError> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(FieldError::required("reason"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(FieldError::too_long(
            "reason",
            format!("At most {MAX_REASON} characters."),
        ));
    }
    Ok(reason.to_string())
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

    fn claim(ogrn: &str, inn: &str) -> Organisation {
        Organisation {
            id: AccountId::new(),
            ogrn: ogrn.into(),
            inn: inn.into(),
            kpp: None,
            name: "ПАО".into(),
            head: AccountId::new(),
            created_at: chrono::Utc::now(),
            employees: vec![],
            status: Status::Pending,
            decided_by: None,
            decided_at: None,
            rejection_reason: None,
        }
    }

    #[test]
    fn a_registration_is_decided_once() {
        let (staff, now) = (AccountId::new(), chrono::Utc::now());
        let pending = claim("1027700132195", "7707083893");
        let Ok(verified) = pending.verify(staff, now) else {
            panic!("a pending registration is verified");
        };
        assert_eq!(
            (
                verified.status,
                verified.decided_by,
                verified.rejection_reason.clone()
            ),
            (Status::Verified, Some(staff), None)
        );
        let Ok(rejected) = pending.reject(staff, "Нет в ЕГРЮЛ", now) else {
            panic!("a pending registration is rejected");
        };
        assert_eq!(rejected.status, Status::Rejected);
        assert_eq!(rejected.rejection_reason.as_deref(), Some("Нет в ЕГРЮЛ"));
        for decided in [&verified, &rejected] {
            assert_eq!(decided.verify(staff, now), Err(DecisionRefused::NotPending));
            assert_eq!(decided.reject(staff, "x", now), Err(DecisionRefused::NotPending));
        }
        assert_eq!("pending".parse::<Status>(), Ok(Status::Pending));
        assert_eq!(Status::Rejected.as_str(), "rejected");
    }

    #[test]
    fn rival_claims_share_an_ogrn_or_an_inn() {
        let real = claim("1027700132195", "7707083893");
        assert!(real.same_entity(&claim("1027700132195", "7736050003")));
        assert!(real.same_entity(&claim("1027739609391", "7707083893")));
        assert!(!real.same_entity(&claim("1027739609391", "7736050003")));
        assert!(!real.same_entity(&real), "a claim is no rival of itself");
    }

    #[test]
    fn a_rejection_says_why() {
        assert_eq!(
            rejection_reason("  Нет  ").map_err(|e| e.code),
            Ok("Нет".to_string())
        );
        assert_eq!(rejection_reason(" ").map_err(|e| e.code), Err("required"));
        assert_eq!(
            rejection_reason(&"я".repeat(1001)).map_err(|e| e.code),
            Err("too_long")
        );
    }

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
