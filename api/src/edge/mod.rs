//! What every request and response passes at the edge, before and after any handler:
//! strings with NUL characters never reach a handler (PostgreSQL cannot store them), and
//! every answer carries the headers a browser needs to treat it safely.

pub mod body;
pub mod cors;
pub mod deprecation;
pub mod headers;
pub mod limits;
pub mod nul;
