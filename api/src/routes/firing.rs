//! Firing a state-machine event from a handler, the same for the applicant's and the
//! officer's routes: the use case decides which party the event belongs to.

use actix_web::HttpResponse;
use domain::application::Event;
use domain::ids::ApplicationId;

use crate::auth::Caller;
use crate::concurrency::IfMatch;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::applications::{self as cases, Fire, Shown};
use crate::views::applications::respond;

/// Fires `event` (as the party it belongs to) and answers the application after it.
pub async fn fire_event(
    state: State,
    caller: Caller,
    id: ApplicationId,
    version: IfMatch,
    event: Event,
) -> Result<HttpResponse, ApiError> {
    let forms = state.forms.clone();
    let input = Fire {
        id,
        version: version.0,
        event,
    };
    let shown: Shown = state
        .run(move |tx, now| cases::fire_as(tx, &forms, &caller, input, now))
        .await?;
    Ok(respond(shown))
}
