//! Where a request comes from, and the per-account IP allow-list.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The peer's address. Forwarding headers are not trusted: anyone can send them, and an
/// allow-list or lockout keyed on a forgeable value would protect nothing.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}

/// Parses an allow-list entry: an address or a CIDR network.
pub fn parse_entry(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Whether `ip` is in the comma-separated `list`.
pub fn ip_allowed(list: &str, ip: &str) -> bool {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    list.split(',')
        .filter_map(parse_entry)
        .any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks_match() {
        let list = "10.0.0.0/8, 192.168.1.7,::1";
        assert!(ip_allowed(list, "10.20.30.40"));
        assert!(ip_allowed(list, "192.168.1.7"));
        assert!(ip_allowed(list, "::1"));
        assert!(!ip_allowed(list, "192.168.1.8"));
        assert!(!ip_allowed(list, "not an ip"));
        assert!(parse_entry("300.1.1.1").is_none());
    }
}
