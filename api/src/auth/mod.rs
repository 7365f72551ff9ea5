//! Authentication: signing keys, access tokens and the `Actor` extractor that turns a
//! bearer token into the subject the authorization core reasons about.

mod actor;
mod keys;
pub mod passwords;
mod tokens;

pub use actor::Actor;
pub use keys::{load_or_generate as load_or_generate_key, Jwk, Jwks};
pub use tokens::{AccessClaims, TokenError, TokenKeys, ISSUER};
