//! Joint work on an application: participants and invitations, signatures of the current
//! content, requests between participants, and the comment thread. Each use case takes
//! the transaction, who acts, its input and `now`, and returns its effects (history,
//! audit, the live event to everyone on the application, notices) for the one writer.

pub mod comments;
pub mod invitations;
pub mod live;
mod members;
pub mod participants;
pub mod requests;
pub mod signatures;

pub use members::{members, members_among, recorded, title, Tidings};

use domain::joint::Refusal;

use crate::error::ApiError;

/// A refused joint action: the caller's input is 422 on its field, the application's or
/// invitation's state 409 — chosen by the refusal, never by its code.
pub fn refused(refusal: Refusal) -> ApiError {
    match refusal.field() {
        Some(field) => ApiError::field(field, refusal.code(), refusal.message()),
        None => ApiError::conflict(refusal.code(), refusal.message()),
    }
}
