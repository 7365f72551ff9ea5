//! Background jobs that move time-driven state: information requests past their due date
//! expire. Correctness never depends on them having run (the state machine checks dates
//! itself); they make the state visible and notify people.

use std::time::Duration;

use domain::application::{Event, Party};
use persistence::{applications, catalog, Database};
use tokio::sync::watch;

use crate::clock::now;
use crate::error::ApiError;
use crate::lifecycle;

const BATCH: i64 = 100;

/// Expires information requests whose due date passed; returns how many expired.
pub fn expire_information_requests(db: &Database) -> Result<usize, ApiError> {
    let due = db.read(|c| Ok::<_, ApiError>(applications::overdue_info_requests(c, now(), BATCH)?))?;
    let mut expired = 0;
    for app in due {
        let done = db.write(|tx| {
            // Re-read inside the transaction: the applicant may have answered meanwhile.
            let Some(current) = applications::find(tx, app.id)? else {
                return Ok(false);
            };
            let Some(service) = catalog::find(tx, &current.service_code)? else {
                return Ok(false);
            };
            let at = now();
            match current.apply(Event::Expire, Party::System, &service.policy, at) {
                Ok(step) => {
                    lifecycle::store_step(tx, &step, &service, None, current.version, at)?;
                    Ok::<_, ApiError>(true)
                }
                Err(_) => Ok(false),
            }
        })?;
        expired += usize::from(done);
    }
    Ok(expired)
}

/// Runs the jobs every `interval` until `stop` turns true.
pub async fn run(db: Database, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let worker = db.clone();
        match actix_web::rt::task::spawn_blocking(move || expire_information_requests(&worker)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(expired = n, "information requests expired"),
            Ok(Err(error)) => tracing::warn!(%error, "expiry job failed"),
            Err(error) => tracing::error!(%error, "expiry job panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => break,
        }
    }
}
