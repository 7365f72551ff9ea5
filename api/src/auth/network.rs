//! Where a request comes from. Whether an account may be used from there is decided in
//! the domain (`domain::login::address_allowed`).

use actix_web::HttpRequest;

/// The peer's address. Forwarding headers are not trusted: anyone can send them, and an
/// allow-list or lockout keyed on a forgeable value would protect nothing.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}
