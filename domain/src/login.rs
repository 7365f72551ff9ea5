//! How a typed login maps to the stored login keys: one key per kind of login, so the same
//! text can be tried as a user name, an e-mail, a phone number or a SNILS in one lookup.
//! SNILS keys are blind indexes computed by the caller (they need a secret key).

use std::net::IpAddr;

use crate::field_error::FieldError;
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

/// One entry of an account's IP allow-list: an address, or a network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// An address (`192.0.2.7`, `::1`) or a network (`10.0.0.0/8`); `None` for anything else.
    pub fn parse(entry: &str) -> Option<Network> {
        let entry = entry.trim();
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address.parse::<IpAddr>().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (entry.parse::<IpAddr>().ok()?, None),
        };
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Network { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(u128::from(net), u128::from(ip), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    a & mask == b & mask
}

/// The one decision on where an account may be used from, for a login and for every
/// request with a token: with no allow-list (`None`) from anywhere; with one, only from
/// an address it contains (comma-separated entries) — an unknown address never passes.
pub fn address_allowed(allow_list: Option<&str>, ip: Option<&str>) -> bool {
    let Some(list) = allow_list else {
        return true;
    };
    let Some(ip) = ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok()) else {
        return false;
    };
    list.split(',')
        .filter_map(Network::parse)
        .any(|net| net.contains(ip))
}

/// A new allow-list as stored (`None`: every address), from its entries; refuses a
/// malformed entry, and a list that would shut out the address it is set from.
pub fn allow_list(entries: &[String], caller: Option<&str>) -> Result<Option<String>, FieldError> {
    const FIELD: &str = "ip_allow_list";
    if entries.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = entries.iter().find(|e| Network::parse(e).is_none()) {
        return Err(FieldError::new(
            FIELD,
            FieldError::INVALID_FORMAT,
            format!("{bad:?} is not an IP address or network."),
        ));
    }
    let list = entries.iter().map(|e| e.trim()).collect::<Vec<_>>().join(",");
    if !address_allowed(Some(&list), caller) {
        return Err(FieldError::new(
            FIELD,
            "excludes_current_address",
            "The list must include the address you are using now.",
        ));
    }
    Ok(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_decides_where_an_account_may_be_used_from() {
        let list = Some("10.0.0.0/8, 192.168.1.7,::1, 2001:db8::/32");
        let table: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, Some("203.0.113.9"), true),
            (None, None, true),
            (list, Some("10.20.30.40"), true),
            (list, Some("192.168.1.7"), true),
            (list, Some("::1"), true),
            (list, Some("2001:db8:1::5"), true),
            (list, Some("192.168.1.8"), false),
            (list, Some("11.0.0.1"), false),
            (list, Some("2001:db9::1"), false),
            (list, Some("not an ip"), false),
            (list, None, false),
            (Some("0.0.0.0/0"), Some("198.51.100.1"), true),
            (Some("0.0.0.0/0"), Some("::1"), false),
            (Some("garbage"), Some("10.0.0.1"), false),
        ];
        for (allow_list, ip, expected) in table {
            assert_eq!(
                address_allowed(*allow_list, *ip),
                *expected,
                "{allow_list:?} {ip:?}"
            );
        }
    }

    #[test]
    fn an_allow_list_must_be_well_formed_and_keep_its_setter_in() {
        let list = |entries: &[&str]| entries.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let code = |r: Result<Option<String>, FieldError>| r.err().map(|e| e.code);
        // Entries, the caller's address, and what is stored or the refusal's code.
        type Row = (
            &'static [&'static str],
            Option<&'static str>,
            Result<Option<&'static str>, &'static str>,
        );
        let table: &[Row] = &[
            (&[], Some("203.0.113.7"), Ok(None)),
            (&[], None, Ok(None)),
            (
                &[" 203.0.113.0/24 ", "10.0.0.1"],
                Some("203.0.113.7"),
                Ok(Some("203.0.113.0/24,10.0.0.1")),
            ),
            (
                &["203.0.113.0/24", "nonsense"],
                Some("203.0.113.7"),
                Err("invalid_format"),
            ),
            (
                &["10.0.0.0/8"],
                Some("203.0.113.7"),
                Err("excludes_current_address"),
            ),
            (&["10.0.0.0/8"], None, Err("excludes_current_address")),
        ];
        for (entries, caller, expected) in table {
            let got = allow_list(&list(entries), *caller);
            match expected {
                Ok(stored) => assert_eq!(got.clone().ok().flatten().as_deref(), *stored, "{entries:?}"),
                Err(expected) => assert_eq!(code(got), Some(*expected), "{entries:?}"),
            }
        }
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        assert!(Network::parse("300.1.1.1").is_none());
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("::/129").is_none());
        assert!(Network::parse(" 10.0.0.0/8 ").is_some());
        assert!(Network::parse("10.1.2.3/8").is_some_and(|n| n.contains(
            "10.9.9.9"
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
        )));
    }

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
