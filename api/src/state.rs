//! What every handler can reach: the database, configuration, token keys, metrics, the
//! document vault, the live-event bus with its stream caps, and the password-hashing pool.
//! Blocking work (diesel, argon2) runs on the blocking pool, inside the request's span.

use std::sync::Arc;

use actix_web::web;
use domain::time::Instant;
use persistence::{Database, DbConnection};

use crate::auth::password_pool::PasswordPool;
use crate::auth::{Actor, Caller, TokenKeys};
use crate::blocking::blocking;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::events::{EventBus, StreamSlots};
use crate::forms::FormValidators;
use crate::metrics::Metrics;
use crate::sealer::Sealer;
use crate::usecases::{effects, Outcome};
use crate::vault::Vault;

pub struct AppState {
    pub db: Database,
    pub config: Arc<Config>,
    pub tokens: Arc<TokenKeys>,
    pub metrics: Arc<Metrics>,
    pub pii: Arc<PiiCipher>,
    pub forms: Arc<FormValidators>,
    pub vault: Arc<Vault>,
    pub events: Arc<EventBus>,
    /// How many event streams are open here, against the per-account and per-node caps.
    pub streams: Arc<StreamSlots>,
    /// Where every password hash and check runs, bounded (see `auth::password_pool`).
    pub passwords: Arc<PasswordPool>,
    /// The one clock: use cases get `now` from it; tests move it.
    pub clock: Arc<Clock>,
    /// Seals audit records into the tree and signs checkpoints (when this node is elected);
    /// tests run its passes by hand.
    pub sealer: Arc<Sealer>,
}

pub type State = web::Data<AppState>;

impl AppState {
    /// One transaction on the blocking pool. A committed one may have published events,
    /// so the bus looks at once rather than at its next timer tick, and other nodes hear.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let result = blocking(move || db.write(work)).await;
        if result.is_ok() {
            self.events.committed();
        }
        result
    }

    /// Runs one use case in one transaction on the blocking pool: it gets `now` from the
    /// clock, and the effects it returns are written by the one writer before the commit.
    /// A failed use case (or a failed effect) rolls everything back.
    pub async fn run<T: Send + 'static>(
        &self,
        case: impl FnOnce(&mut DbConnection, Instant) -> Result<Outcome<T>, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let clock = self.clock.clone();
        self.write(move |tx| {
            let now = clock.now();
            let Outcome { value, effects } = case(tx, now)?;
            effects::commit(tx, effects, now)?;
            Ok(value)
        })
        .await
    }

    /// `run` for a caller whose session is checked inside the same transaction: one hop to
    /// the blocking pool, one connection, and no write by a session that has just ended.
    /// The request's limits on what it stores are counted there too.
    pub async fn run_as<T: Send + 'static>(
        &self,
        caller: Caller,
        case: impl FnOnce(&mut DbConnection, &Actor, Instant) -> Result<Outcome<T>, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(move |tx, now| {
            let actor = caller.check_and_count(tx, now)?;
            case(tx, &actor, now)
        })
        .await
    }

    /// `query` for a caller whose session is checked on the same connection, in the same
    /// blocking call: an authenticated read is one hop, not two.
    pub async fn query_as<T: Send + 'static>(
        &self,
        caller: Caller,
        case: impl FnOnce(&mut DbConnection, &Actor, Instant) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.query(move |conn, now| {
            let actor = caller.check(conn, now)?;
            case(conn, &actor, now)
        })
        .await
    }

    /// A read-only use case on one connection, with `now` from the clock.
    pub async fn query<T: Send + 'static>(
        &self,
        case: impl FnOnce(&mut DbConnection, Instant) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let clock = self.clock.clone();
        self.read(move |conn| case(conn, clock.now())).await
    }

    /// Reads on one connection on the blocking pool.
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        blocking(move || db.read(work)).await
    }
}
