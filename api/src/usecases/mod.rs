//! The use-case layer: one function per thing a caller can do, in modules per area.
//!
//! Every use case has one shape: it takes the transaction, the acting subject, a typed
//! input and `now`; it loads what it needs, asks the authorization core, calls the pure
//! domain, stores its rows and returns an [`Outcome`] — the value for the caller plus the
//! [`Effects`] (history, audit, live events, notices) that [`AppState::run`] writes with
//! one writer before it commits. Use cases know nothing of HTTP; handlers extract, call
//! `run` and respond.
//!
//! [`AppState::run`]: crate::state::AppState::run

pub mod accounts;
pub mod audit;
pub mod documents;
pub mod effects;
pub mod sessions;

pub use effects::{Effects, History, Outcome};
