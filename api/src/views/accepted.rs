//! The answer to a request whose result is a message on its way (a code by e-mail or
//! SMS): the same whether or not anyone received it, so it tells nothing.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "detail": "If an account with this login exists, a code has been sent to its contacts."}))]
pub struct Accepted {
    pub status: &'static str,
    pub detail: &'static str,
}

pub const ACCEPTED: Accepted = Accepted {
    status: "accepted",
    detail: "If an account with this login exists, a code has been sent to its contacts.",
};
