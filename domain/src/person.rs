//! Validated personal identifiers of a citizen: SNILS, INN, phone, e-mail and
//! the Russian internal passport, plus `age_on` for full years of age.

// Every type can only be obtained through validation, so holding one is
// proof the value is well-formed. `Display`, `as_str()` and serde expose the
// full canonical value (it has to reach the database and the citizen), while
// `Debug` and `masked()` hide most of it: these values are personal data
// (152-FZ) and `Debug` is what ends up in logs and panic messages.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::field_error::FieldError;

/// Boilerplate shared by the single-string value objects. Each type supplies
/// `parse` and `masked`; the macro wires them into the std and serde traits so
/// that no path (serde included) can build a value without `parse`.
macro_rules! string_value_object {
    ($ty:ident) => {
        impl $ty {
            /// The canonical form (the full value, not masked).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.masked())
            }
        }

        impl FromStr for $ty {
            type Err = FieldError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = FieldError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = FieldError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
    };
}

fn digit(c: u8) -> u32 {
    u32::from(c - b'0')
}

// ---------------------------------------------------------------------------
// SNILS
// ---------------------------------------------------------------------------

const SNILS_FIELD: &str = "snils";

/// Bodies up to 001-001-998 were issued before check digits existed, so
/// their last two digits carry no checksum.
const SNILS_UNCHECKED_MAX: u32 = 1_001_998;

/// SNILS (insurance number of the individual personal account).
///
/// Canonical form: 11 digits, no separators (`"11223344595"`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Snils(String);

impl Snils {
    /// Accepts digits with any number of spaces and hyphens between them
    /// (`"112-233-445 95"`, `"11223344595"`).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::required(SNILS_FIELD));
        }
        let mut digits = String::with_capacity(11);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => {
                    return Err(FieldError::invalid_format(
                        SNILS_FIELD,
                        "only digits, spaces and hyphens are allowed",
                    ))
                }
            }
        }
        let bytes = digits.as_bytes();
        let Ok(d) = <[u8; 11]>::try_from(bytes) else {
            return Err(FieldError::invalid_format(
                SNILS_FIELD,
                "must contain exactly 11 digits",
            ));
        };
        let body = d[..9].iter().fold(0u32, |acc, &c| acc * 10 + digit(c));
        if body > SNILS_UNCHECKED_MAX {
            let expected = snils_checksum(&d);
            let actual = digit(d[9]) * 10 + digit(d[10]);
            if expected != actual {
                return Err(FieldError::invalid_checksum(SNILS_FIELD));
            }
        }
        Ok(Self(digits))
    }

    /// Human-readable form `"112-233-445 95"`.
    pub fn formatted(&self) -> String {
        let s = &self.0;
        format!("{}-{}-{} {}", &s[0..3], &s[3..6], &s[6..9], &s[9..11])
    }

    /// `"***-***-445 95"`: the printed layout with the first six digits
    /// hidden, so only the last five digits are visible.
    pub fn masked(&self) -> String {
        let s = &self.0;
        format!("***-***-{} {}", &s[6..9], &s[9..11])
    }
}

string_value_object!(Snils);

/// Check number of the first nine digits of `d`, per the Pension Fund rules.
fn snils_checksum(d: &[u8; 11]) -> u32 {
    let sum: u32 = d[..9]
        .iter()
        .zip((1..=9u32).rev())
        .map(|(&c, w)| digit(c) * w)
        .sum();
    match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => match sum % 101 {
            100 => 0,
            r => r,
        },
    }
}

// ---------------------------------------------------------------------------
// INN
// ---------------------------------------------------------------------------

const INN_FIELD: &str = "inn";
const INN10_WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_N11_WEIGHTS: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_N12_WEIGHTS: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// INN (taxpayer identification number): 10 digits for an organisation,
/// 12 digits for an individual.
///
/// Canonical form: the digits only.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Inn(String);

impl Inn {
    /// Accepts exactly 10 or 12 digits; surrounding whitespace is ignored,
    /// separators are not (INNs are never written with them).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::required(INN_FIELD));
        }
        if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::invalid_format(INN_FIELD, "only digits are allowed"));
        }
        let d = trimmed.as_bytes();
        let valid = match d.len() {
            10 => inn_control(&d[..9], &INN10_WEIGHTS) == digit(d[9]),
            12 => {
                inn_control(&d[..10], &INN12_N11_WEIGHTS) == digit(d[10])
                    && inn_control(&d[..11], &INN12_N12_WEIGHTS) == digit(d[11])
            }
            _ => {
                return Err(FieldError::invalid_format(
                    INN_FIELD,
                    "must contain 10 or 12 digits",
                ))
            }
        };
        if !valid {
            return Err(FieldError::invalid_checksum(INN_FIELD));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// True for a 12-digit INN (an individual), false for an organisation.
    pub fn is_personal(&self) -> bool {
        self.0.len() == 12
    }

    /// `"**********59"`: only the last two digits are visible. They are
    /// check digits (fully for a 12-digit INN), so they reveal the least.
    pub fn masked(&self) -> String {
        mask_all_but_last(&self.0, 2)
    }
}

string_value_object!(Inn);

fn inn_control(digits: &[u8], weights: &[u32]) -> u32 {
    let sum: u32 = digits.iter().zip(weights).map(|(&c, &w)| digit(c) * w).sum();
    sum % 11 % 10
}

/// Replaces every character except the last `keep` ones with `*`.
fn mask_all_but_last(s: &str, keep: usize) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i + keep < n { '*' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------

const PHONE_FIELD: &str = "phone";
const PHONE_MIN_DIGITS: usize = 8;
const PHONE_MAX_DIGITS: usize = 15;

/// Phone number in E.164.
///
/// Canonical form: `'+'` followed by 8..=15 digits, e.g. `"+79161234567"`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Requires the leading `'+'` with a country code: a domestic `8 916 ...`
    /// is rejected rather than guessed, since `8` is not a country code.
    /// Spaces, hyphens and parentheses after the `'+'` are dropped.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::required(PHONE_FIELD));
        }
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(FieldError::invalid_format(
                PHONE_FIELD,
                "must start with '+' and the country code",
            ));
        };
        let mut canonical = String::with_capacity(PHONE_MAX_DIGITS + 1);
        canonical.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => canonical.push(c),
                ' ' | '-' | '(' | ')' => {}
                _ => {
                    return Err(FieldError::invalid_format(
                        PHONE_FIELD,
                        "only digits, spaces, hyphens and parentheses are allowed",
                    ))
                }
            }
        }
        let digits = &canonical[1..];
        if digits.starts_with('0') {
            return Err(FieldError::invalid_format(
                PHONE_FIELD,
                "country code must not start with 0",
            ));
        }
        if digits.len() < PHONE_MIN_DIGITS {
            return Err(FieldError::invalid_format(
                PHONE_FIELD,
                "must contain at least 8 digits",
            ));
        }
        if digits.len() > PHONE_MAX_DIGITS {
            return Err(FieldError::too_long(
                PHONE_FIELD,
                "must contain at most 15 digits",
            ));
        }
        Ok(Self(canonical))
    }

    /// `"+*******4567"`: the `'+'` and the last four digits are kept.
    pub fn masked(&self) -> String {
        format!("+{}", mask_all_but_last(&self.0[1..], 4))
    }
}

string_value_object!(Phone);

// ---------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------

const EMAIL_FIELD: &str = "email";
const EMAIL_MAX_LEN: usize = 254;
const EMAIL_LOCAL_MAX_LEN: usize = 64;
const EMAIL_LABEL_MAX_LEN: usize = 63;

/// E-mail address, syntactically checked (deliverability is not).
///
/// Canonical form: the local part as typed (RFC 5321 makes it
/// case-sensitive) and the domain lowercased. Lengths are counted in bytes
/// of the canonical form, as SMTP limits are in octets.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Accepts dot-atom local parts (no quoted strings, no comments) and
    /// domain names (no IP literals). Non-ASCII letters are allowed in both
    /// parts so that Cyrillic `.рф` addresses pass.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::required(EMAIL_FIELD));
        }
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(FieldError::invalid_format(EMAIL_FIELD, "must contain '@'"));
        };
        // Lowercase before validating, so the stored form is itself what
        // was validated and re-parses to the same value.
        let domain = domain.to_lowercase();
        let canonical = format!("{local}@{domain}");
        if canonical.len() > EMAIL_MAX_LEN {
            return Err(FieldError::too_long(
                EMAIL_FIELD,
                "must be at most 254 characters",
            ));
        }
        validate_email_local(local)?;
        validate_email_domain(&domain)?;
        Ok(Self(canonical))
    }

    /// `"i***@example.com"`: the first character of the local part and the
    /// domain stay visible, enough to tell addresses apart when debugging
    /// delivery.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

string_value_object!(Email);

fn validate_email_local(local: &str) -> Result<(), FieldError> {
    if local.is_empty() {
        return Err(FieldError::invalid_format(
            EMAIL_FIELD,
            "the part before '@' is empty",
        ));
    }
    if local.len() > EMAIL_LOCAL_MAX_LEN {
        return Err(FieldError::too_long(
            EMAIL_FIELD,
            "the part before '@' must be at most 64 characters",
        ));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+/=?^_`{|}~-".contains(c)
            || (!c.is_ascii() && c.is_alphanumeric())
    };
    let atoms_ok = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(allowed));
    if !atoms_ok {
        return Err(FieldError::invalid_format(
            EMAIL_FIELD,
            "the part before '@' contains invalid characters or misplaced dots",
        ));
    }
    Ok(())
}

fn validate_email_domain(domain: &str) -> Result<(), FieldError> {
    let bad = |msg: &str| FieldError::invalid_format(EMAIL_FIELD, msg);
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain must contain a dot"));
    }
    for label in &labels {
        if label.is_empty() || label.len() > EMAIL_LABEL_MAX_LEN {
            return Err(bad("each domain label must be 1 to 63 characters"));
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(bad(
                "the domain may contain only letters, digits, hyphens and dots",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a domain label must not start or end with a hyphen"));
        }
    }
    // An all-digit top-level label means an IP address, not a domain name.
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad("the top-level domain must not be numeric"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Russian internal passport
// ---------------------------------------------------------------------------

const PASSPORT_SERIES_FIELD: &str = "passport.series";
const PASSPORT_NUMBER_FIELD: &str = "passport.number";
const PASSPORT_ISSUED_ON_FIELD: &str = "passport.issued_on";
const PASSPORT_DIVISION_CODE_FIELD: &str = "passport.division_code";

/// Russian internal passport.
///
/// Serialises as `{"series":"4508","number":"123456","issued_on":"2010-05-20",
/// "division_code":"770-001"}`. It deliberately has no `Deserialize`: the
/// "not issued in the future" rule needs today's date, which deserialisation
/// cannot be given, and a `Deserialize` that skipped the rule would be a
/// silent bypass. Rebuild it with [`PassportRf::new`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PassportRf {
    series: String,
    number: String,
    issued_on: NaiveDate,
    division_code: String,
}

impl PassportRf {
    /// `series`: 4 digits, spaces allowed (`"45 08"` as printed in the
    /// passport). `number`: 6 digits. `division_code`: `"NNN-NNN"` or
    /// `"NNNNNN"`. `today` is passed in to keep the domain free of clocks.
    /// Fields are checked in argument order; the first failure is returned.
    pub fn new(
        series: &str,
        number: &str,
        issued_on: NaiveDate,
        division_code: &str,
        today: NaiveDate,
    ) -> Result<Self, FieldError> {
        let series = exact_digits(
            &series.replace(' ', ""),
            4,
            PASSPORT_SERIES_FIELD,
            "must contain exactly 4 digits",
        )?;
        let number = exact_digits(number, 6, PASSPORT_NUMBER_FIELD, "must contain exactly 6 digits")?;
        if issued_on > today {
            return Err(FieldError::in_future(PASSPORT_ISSUED_ON_FIELD));
        }
        let division_code = parse_division_code(division_code)?;
        Ok(Self {
            series,
            number,
            issued_on,
            division_code,
        })
    }

    /// Four digits, no space (`"4508"`).
    pub fn series(&self) -> &str {
        &self.series
    }

    /// Six digits (`"123456"`).
    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn issued_on(&self) -> NaiveDate {
        self.issued_on
    }

    /// `"NNN-NNN"`.
    pub fn division_code(&self) -> &str {
        &self.division_code
    }

    /// `"**** ***456"`: only the last three digits of the number are
    /// visible; series, date and division code are omitted entirely.
    pub fn masked(&self) -> String {
        format!("**** {}", mask_all_but_last(&self.number, 3))
    }
}

/// Series and number, `"4508 123456"`.
impl fmt::Display for PassportRf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.series, self.number)
    }
}

impl fmt::Debug for PassportRf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PassportRf({})", self.masked())
    }
}

fn exact_digits(input: &str, len: usize, field: &'static str, message: &str) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(FieldError::required(field));
    }
    if trimmed.len() != len || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::invalid_format(field, message));
    }
    Ok(trimmed.to_owned())
}

fn parse_division_code(input: &str) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(FieldError::required(PASSPORT_DIVISION_CODE_FIELD));
    }
    let digits: String = match trimmed.split_once('-') {
        Some((a, b)) if a.len() == 3 && b.len() == 3 => format!("{a}{b}"),
        Some(_) => String::new(),
        None => trimmed.to_owned(),
    };
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::invalid_format(
            PASSPORT_DIVISION_CODE_FIELD,
            "must be in the form NNN-NNN",
        ));
    }
    Ok(format!("{}-{}", &digits[..3], &digits[3..]))
}

// ---------------------------------------------------------------------------
// Age
// ---------------------------------------------------------------------------

/// Full years between `birth` and `today`; 0 if `birth` is after `today`.
///
/// Someone born on 29 February turns a year older on 28 February in common
/// years, following Civil Code art. 192 p. 3 (a term ending on a missing
/// day of a month ends on the last day of that month). This differs from
/// `NaiveDate::years_since`, which waits until 1 March.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    if birth > today {
        return 0;
    }
    let leap_day = (birth.month(), birth.day()) == (2, 29);
    let anniversary = if leap_day && NaiveDate::from_ymd_opt(today.year(), 2, 29).is_none() {
        (2, 28)
    } else {
        (birth.month(), birth.day())
    };
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < anniversary {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn code<T: fmt::Debug>(r: Result<T, FieldError>) -> (&'static str, &'static str) {
        let e = r.unwrap_err();
        (e.field, e.code)
    }

    // Written independently of `snils_checksum`: straight from the rule text,
    // weights taken from the position counted from the right.
    fn reference_snils_checksum(body: &str) -> u32 {
        let sum: u32 = body
            .chars()
            .rev()
            .enumerate()
            .map(|(i, c)| (i as u32 + 1) * c.to_digit(10).unwrap())
            .sum();
        if sum < 100 {
            sum
        } else if sum == 100 || sum == 101 || sum % 101 == 100 {
            0
        } else {
            sum % 101
        }
    }

    fn reference_inn_digit(digits: &str, weights: &[u32]) -> u32 {
        let mut sum = 0;
        for (i, w) in weights.iter().enumerate() {
            sum += w * digits[i..=i].parse::<u32>().unwrap();
        }
        (sum % 11) % 10
    }

    // ---- SNILS ----

    #[test]
    fn snils_known_valid_in_any_layout() {
        for input in [
            "112-233-445 95",
            "11223344595",
            " 112 233 445 95 ",
            "112-233-445-95",
        ] {
            let s = Snils::parse(input).unwrap();
            assert_eq!(s.as_str(), "11223344595");
            assert_eq!(s.formatted(), "112-233-445 95");
            assert_eq!(s.to_string(), "11223344595");
        }
    }

    #[test]
    fn snils_one_digit_changed_is_rejected() {
        // Last check digit changed.
        assert_eq!(
            code(Snils::parse("112-233-445 96")),
            ("snils", "invalid_checksum")
        );
        // First body digit changed: sum 95 -> 104 -> 104 % 101 = 3.
        assert_eq!(
            code(Snils::parse("212-233-445 95")),
            ("snils", "invalid_checksum")
        );
        assert!(Snils::parse("212-233-445 03").is_ok());
    }

    #[test]
    fn snils_checksum_edge_cases() {
        // Bodies and sums worked out by hand from the weights 9..1.
        // 9*9 + 2*8 + 3*1 = 100 -> 00
        assert!(Snils::parse("920000003 00").is_ok());
        assert!(Snils::parse("920000003 01").is_err());
        // 9*9 + 2*8 + 4*1 = 101 -> 00
        assert!(Snils::parse("920000004 00").is_ok());
        assert!(Snils::parse("920000004 01").is_err());
        // 9*9 + 1*8 + 1*7 + 1*6 + 1*5 = 107 -> 107 % 101 = 06
        assert!(Snils::parse("911110000 06").is_ok());
        assert!(Snils::parse("911110000 07").is_err());
        // 9*9 + 9*8 + 6*7 + 6*1 = 201 -> 201 % 101 = 100 -> 00
        assert!(Snils::parse("996000006 00").is_ok());
        assert!(Snils::parse("996000006 99").is_err());
    }

    #[test]
    fn snils_historical_numbers_skip_the_checksum() {
        // 001-001-998 and below carry no checksum.
        assert!(Snils::parse("001-001-998 00").is_ok());
        assert!(Snils::parse("001-001-998 57").is_ok());
        assert!(Snils::parse("000-000-000 00").is_ok());
        // 001-001-999 is checked: 1*7 + 1*4 + 9*3 + 9*2 + 9*1 = 65.
        assert!(Snils::parse("001-001-999 65").is_ok());
        assert_eq!(
            code(Snils::parse("001-001-999 00")),
            ("snils", "invalid_checksum")
        );
        // Still exactly 11 digits.
        assert_eq!(code(Snils::parse("001-001-998 0")), ("snils", "invalid_format"));
    }

    #[test]
    fn snils_format_errors() {
        assert_eq!(code(Snils::parse("")), ("snils", "required"));
        assert_eq!(code(Snils::parse("   ")), ("snils", "required"));
        assert_eq!(code(Snils::parse("112-233-445 9")), ("snils", "invalid_format"));
        assert_eq!(code(Snils::parse("112-233-445 955")), ("snils", "invalid_format"));
        assert_eq!(code(Snils::parse("112.233.445 95")), ("snils", "invalid_format"));
        assert_eq!(code(Snils::parse("112-233-445 9a")), ("snils", "invalid_format"));
        // Non-ASCII digits (fullwidth) are not digits here.
        assert_eq!(code(Snils::parse("１12-233-445 95")), ("snils", "invalid_format"));
    }

    #[test]
    fn snils_debug_is_masked() {
        let s = Snils::parse("112-233-445 95").unwrap();
        assert_eq!(s.masked(), "***-***-445 95");
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "Snils(***-***-445 95)");
        assert!(!dbg.contains("112"));
        assert!(!format!("{:?}", Some(&s)).contains("11223344595"));
    }

    #[test]
    fn snils_serde_uses_canonical_string_and_validates() {
        let s = Snils::parse("112-233-445 95").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"11223344595\"");
        let back: Snils = serde_json::from_str("\"112-233-445 95\"").unwrap();
        assert_eq!(back, s);
        let err = serde_json::from_str::<Snils>("\"112-233-445 96\"").unwrap_err();
        assert!(err.to_string().contains("snils"));
    }

    // ---- INN ----

    #[test]
    fn inn_known_valid() {
        let org = Inn::parse("7707083893").unwrap();
        assert!(!org.is_personal());
        assert_eq!(org.as_str(), "7707083893");
        let person = Inn::parse(" 500100732259 ").unwrap();
        assert!(person.is_personal());
        assert_eq!(person.as_str(), "500100732259");
    }

    #[test]
    fn inn_one_digit_changed_is_rejected() {
        // 10-digit: check digit changed, and first digit changed
        // (sum 267 -> 269, 269 % 11 = 5 != 3).
        assert_eq!(code(Inn::parse("7707083894")), ("inn", "invalid_checksum"));
        assert_eq!(code(Inn::parse("8707083893")), ("inn", "invalid_checksum"));
        // 12-digit: either check digit changed, and first digit changed
        // (n11 sum 148 -> 155, 155 % 11 = 1 != 5).
        assert_eq!(code(Inn::parse("500100732258")), ("inn", "invalid_checksum"));
        assert_eq!(code(Inn::parse("500100732249")), ("inn", "invalid_checksum"));
        assert_eq!(code(Inn::parse("600100732259")), ("inn", "invalid_checksum"));
    }

    #[test]
    fn inn_format_errors() {
        assert_eq!(code(Inn::parse("")), ("inn", "required"));
        assert_eq!(code(Inn::parse("77070838")), ("inn", "invalid_format"));
        assert_eq!(code(Inn::parse("77070838931")), ("inn", "invalid_format"));
        assert_eq!(code(Inn::parse("7707-083893")), ("inn", "invalid_format"));
        assert_eq!(code(Inn::parse("770708389X")), ("inn", "invalid_format"));
    }

    #[test]
    fn inn_debug_is_masked_and_serde_round_trips() {
        let inn = Inn::parse("500100732259").unwrap();
        assert_eq!(format!("{inn:?}"), "Inn(**********59)");
        assert_eq!(serde_json::to_string(&inn).unwrap(), "\"500100732259\"");
        let back: Inn = serde_json::from_str("\"500100732259\"").unwrap();
        assert_eq!(back, inn);
        assert!(serde_json::from_str::<Inn>("\"500100732258\"").is_err());
    }

    // ---- Phone ----

    #[test]
    fn phone_strips_separators() {
        for input in ["+7 (916) 123-45-67", "+79161234567", " +7 916 123 45 67 "] {
            assert_eq!(Phone::parse(input).unwrap().as_str(), "+79161234567");
        }
        assert_eq!(Phone::parse("+12345678").unwrap().as_str(), "+12345678");
        assert_eq!(
            Phone::parse("+123456789012345").unwrap().as_str(),
            "+123456789012345"
        );
    }

    #[test]
    fn phone_errors() {
        assert_eq!(code(Phone::parse("")), ("phone", "required"));
        assert_eq!(code(Phone::parse("89161234567")), ("phone", "invalid_format"));
        assert_eq!(code(Phone::parse("+09161234567")), ("phone", "invalid_format"));
        assert_eq!(code(Phone::parse("+1234567")), ("phone", "invalid_format"));
        assert_eq!(code(Phone::parse("+1234567890123456")), ("phone", "too_long"));
        assert_eq!(
            code(Phone::parse("+7 916 123.45.67")),
            ("phone", "invalid_format")
        );
        assert_eq!(code(Phone::parse("++79161234567")), ("phone", "invalid_format"));
        assert_eq!(code(Phone::parse("+")), ("phone", "invalid_format"));
    }

    #[test]
    fn phone_debug_keeps_last_four() {
        let p = Phone::parse("+7 (916) 123-45-67").unwrap();
        assert_eq!(format!("{p:?}"), "Phone(+*******4567)");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+79161234567\"");
    }

    // ---- Email ----

    #[test]
    fn email_valid_and_canonical() {
        let e = Email::parse("  Ivan.Petrov+kab@Mail.RU ").unwrap();
        assert_eq!(e.as_str(), "Ivan.Petrov+kab@mail.ru");
        assert!(Email::parse("a@b.co").is_ok());
        assert!(Email::parse("user@sub-domain.example.com").is_ok());
        assert_eq!(
            Email::parse("Почта@Президент.РФ").unwrap().as_str(),
            "Почта@президент.рф"
        );
        assert!(Email::parse("x@xn--p1ai.xn--p1ai").is_ok());
    }

    #[test]
    fn email_errors() {
        let fmt = ("email", "invalid_format");
        assert_eq!(code(Email::parse("")), ("email", "required"));
        for bad in [
            "plainaddress",
            "@example.com",
            "user@",
            "user@localhost",
            "a@b@example.com",
            "user name@example.com",
            "user@exa mple.com",
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "user@example..com",
            "user@example.com.",
            "user@-example.com",
            "user@example-.com",
            "user@exa_mple.com",
            "user@1.2.3.4",
            "user@[1.2.3.4]",
            "\"quoted\"@example.com",
        ] {
            assert_eq!(code(Email::parse(bad)), fmt, "{bad}");
        }
    }

    #[test]
    fn email_length_limits() {
        let local64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local64}@example.com")).is_ok());
        assert_eq!(
            code(Email::parse(&format!("a{local64}@example.com"))),
            ("email", "too_long")
        );
        // 254 bytes in total is the maximum.
        let domain = format!(
            "{}.{}.{}.{}",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
            "e".repeat(60)
        );
        let ok = format!("a@{domain}");
        assert_eq!(ok.len(), 254);
        assert!(Email::parse(&ok).is_ok());
        assert_eq!(code(Email::parse(&format!("aa@{domain}"))), ("email", "too_long"));
        assert_eq!(
            code(Email::parse(&format!("a@{}.com", "b".repeat(64)))),
            ("email", "invalid_format")
        );
    }

    #[test]
    fn email_debug_is_masked() {
        let e = Email::parse("ivan.petrov@example.com").unwrap();
        let dbg = format!("{e:?}");
        assert_eq!(dbg, "Email(i***@example.com)");
        assert!(!dbg.contains("petrov"));
        let back: Email = serde_json::from_str("\"ivan.petrov@EXAMPLE.com\"").unwrap();
        assert_eq!(back, e);
    }

    // ---- Passport ----

    #[test]
    fn passport_valid() {
        let today = date(2024, 6, 1);
        let p = PassportRf::new("45 08", "123456", date(2010, 5, 20), "770001", today).unwrap();
        assert_eq!(p.series(), "4508");
        assert_eq!(p.number(), "123456");
        assert_eq!(p.issued_on(), date(2010, 5, 20));
        assert_eq!(p.division_code(), "770-001");
        assert_eq!(p.to_string(), "4508 123456");
        // Issued today is fine.
        assert!(PassportRf::new("4508", "123456", today, "770-001", today).is_ok());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({
                "series": "4508",
                "number": "123456",
                "issued_on": "2010-05-20",
                "division_code": "770-001"
            })
        );
    }

    #[test]
    fn passport_errors_name_the_field() {
        let today = date(2024, 6, 1);
        let issued = date(2010, 5, 20);
        let new = |s, n, i, d| PassportRf::new(s, n, i, d, today);
        assert_eq!(
            code(new("", "123456", issued, "770-001")),
            ("passport.series", "required")
        );
        assert_eq!(
            code(new("450", "123456", issued, "770-001")),
            ("passport.series", "invalid_format")
        );
        assert_eq!(
            code(new("45a8", "123456", issued, "770-001")),
            ("passport.series", "invalid_format")
        );
        assert_eq!(
            code(new("4508", "12345", issued, "770-001")),
            ("passport.number", "invalid_format")
        );
        assert_eq!(
            code(new("4508", "12 3456", issued, "770-001")),
            ("passport.number", "invalid_format")
        );
        assert_eq!(
            code(new("4508", "123456", date(2024, 6, 2), "770-001")),
            ("passport.issued_on", "in_future")
        );
        for bad in ["77-0001", "770-01", "770_001", "7700011", "770-0a1", "-770001"] {
            assert_eq!(
                code(new("4508", "123456", issued, bad)),
                ("passport.division_code", "invalid_format"),
                "{bad}"
            );
        }
        assert_eq!(
            code(new("4508", "123456", issued, " ")),
            ("passport.division_code", "required")
        );
    }

    #[test]
    fn passport_debug_is_masked() {
        let p = PassportRf::new("4508", "123456", date(2010, 5, 20), "770-001", date(2024, 6, 1)).unwrap();
        let dbg = format!("{p:?}");
        assert_eq!(dbg, "PassportRf(**** ***456)");
        for secret in ["4508", "123", "770", "2010"] {
            assert!(!dbg.contains(secret), "{secret}");
        }
    }

    // ---- age_on ----

    #[test]
    fn age_counts_full_years() {
        let birth = date(1990, 6, 15);
        assert_eq!(age_on(birth, date(2024, 6, 14)), 33);
        assert_eq!(age_on(birth, date(2024, 6, 15)), 34);
        assert_eq!(age_on(birth, date(2024, 12, 31)), 34);
        assert_eq!(age_on(birth, birth), 0);
        assert_eq!(age_on(birth, date(1990, 6, 14)), 0);
        assert_eq!(age_on(birth, date(1980, 1, 1)), 0);
    }

    #[test]
    fn age_of_leap_day_birth() {
        let birth = date(2000, 2, 29);
        assert_eq!(age_on(birth, date(2001, 2, 27)), 0);
        assert_eq!(age_on(birth, date(2001, 2, 28)), 1);
        assert_eq!(age_on(birth, date(2004, 2, 28)), 3);
        assert_eq!(age_on(birth, date(2004, 2, 29)), 4);
    }

    // ---- properties ----

    proptest! {
        #[test]
        fn snils_body_with_its_checksum_parses(body in 0u32..1_000_000_000, spaced in any::<bool>()) {
            let b = format!("{body:09}");
            let c = reference_snils_checksum(&b);
            let input = if spaced {
                format!("{}-{}-{} {c:02}", &b[0..3], &b[3..6], &b[6..9])
            } else {
                format!("{b}{c:02}")
            };
            let s = Snils::parse(&input).unwrap();
            prop_assert_eq!(s.as_str(), format!("{b}{c:02}"));
        }

        #[test]
        fn snils_body_with_other_check_digits_fails(
            body in (SNILS_UNCHECKED_MAX + 1)..1_000_000_000,
            other in 0u32..100,
        ) {
            let b = format!("{body:09}");
            prop_assume!(other != reference_snils_checksum(&b));
            let e = Snils::parse(&format!("{b}{other:02}")).unwrap_err();
            prop_assert_eq!(e.code, "invalid_checksum");
        }

        #[test]
        fn inn10_body_with_its_control_parses(body in "[0-9]{9}", other in 0u32..10) {
            let c = reference_inn_digit(&body, &[2, 4, 10, 3, 5, 9, 4, 6, 8]);
            let valid = format!("{body}{c}");
            prop_assert!(Inn::parse(&valid).is_ok());
            prop_assume!(other != c);
            prop_assert_eq!(Inn::parse(&format!("{body}{other}")).unwrap_err().code, "invalid_checksum");
        }

        #[test]
        fn inn12_body_with_its_controls_parses(body in "[0-9]{10}", other in 0u32..10) {
            let n11 = reference_inn_digit(&body, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]);
            let with11 = format!("{body}{n11}");
            let n12 = reference_inn_digit(&with11, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]);
            let valid = format!("{with11}{n12}");
            prop_assert!(Inn::parse(&valid).is_ok());
            prop_assume!(other != n12);
            prop_assert_eq!(Inn::parse(&format!("{with11}{other}")).unwrap_err().code, "invalid_checksum");
        }

        // Whatever the input, parsing never panics, and anything accepted
        // re-parses (e.g. from the database or JSON) to the same value.
        #[test]
        fn parse_is_total_and_canonical_form_is_stable(
            s in prop_oneof![
                any::<String>(),
                "[ +()0-9-]{0,20}",
                "[a-zA-Z0-9.+_-]{0,10}@[a-zA-Z0-9İßΣа-яА-Я.-]{0,12}\\.[a-zA-Zа-я]{0,4}",
            ]
        ) {
            if let Ok(v) = Snils::parse(&s) { prop_assert_eq!(Snils::parse(v.as_str()).unwrap(), v); }
            if let Ok(v) = Inn::parse(&s) { prop_assert_eq!(Inn::parse(v.as_str()).unwrap(), v); }
            if let Ok(v) = Phone::parse(&s) { prop_assert_eq!(Phone::parse(v.as_str()).unwrap(), v); }
            if let Ok(v) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(v.as_str()).unwrap(), v.clone());
                let masked = v.masked();
                prop_assert!(masked.contains("***@"));
            }
        }
    }
}
