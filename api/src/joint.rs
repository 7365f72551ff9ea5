//! Transitional: the joint use cases live in `crate::usecases::joint`. What remains here
//! serves handlers of other areas not yet written as use cases (attachments record their
//! joint step; lifecycle names the audience); it goes when they return effects.

use domain::application::Application;
use persistence::DbConnection;
use serde_json::Value;

use crate::error::ApiError;
use crate::lifecycle::Acting;
use crate::usecases::effects;

pub use crate::usecases::joint::{members, title};

/// Records a joint step (history, audit, live event to everyone on the application)
/// through the one effects writer, for a handler that is not a use case yet.
pub fn record(
    tx: &mut DbConnection,
    acting: &Acting,
    app: &Application,
    step: &str,
    comment: Option<String>,
    details: Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let audience = members(tx, app)?;
    let recorded = crate::usecases::joint::recorded(acting, app, step, comment, details, audience);
    effects::commit(tx, recorded, at)?;
    Ok(())
}
