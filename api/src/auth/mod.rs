//! Authentication: signing keys, access tokens and the `Actor` extractor that turns a
//! bearer token into the subject the authorization core reasons about.

pub mod actor;
pub mod alerts;
mod keys;
pub mod logins;
pub mod network;
pub mod password_pool;
pub mod passwords;
pub mod second_factor;
pub mod session;
pub mod tickets;
mod tokens;
pub mod totp;

pub use actor::{Actor, Caller};
pub use keys::{public_jwk, Jwk, Jwks, NamedKey, SigningKeys};
pub use tokens::{AccessClaims, MfaClaims, TokenError, TokenKeys, ISSUER};
