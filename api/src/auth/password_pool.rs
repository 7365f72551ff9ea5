//! The bounded pool every password hash and check runs in. Argon2 takes tens of
//! milliseconds of a core per password, so a flood of logins handed straight to the
//! blocking pool would run hundreds of hashes at once and starve every other request of
//! the cores. Here at most `concurrency` hashes run at once, at most `queue` more wait, each
//! at most `wait`; anything beyond is answered 503 `busy` with `Retry-After` at once, and
//! counted in `/metrics`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::blocking::blocking;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Seconds a refused client is asked to wait: a few hashes' time on a busy node.
const RETRY_AFTER_SECS: u32 = 2;

pub struct PasswordPool {
    slots: Arc<Semaphore>,
    concurrency: usize,
    queue: usize,
    waiting: AtomicUsize,
    wait: Duration,
    metrics: Arc<Metrics>,
}

/// Every slot of the pool, taken by a test to stand for hashes in progress.
pub struct HeldSlots(#[allow(dead_code)] OwnedSemaphorePermit);

/// Leaves the wait queue however the wait ends (a slot, the timeout, the client gone).
struct InQueue<'a>(&'a AtomicUsize);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordPool {
    pub fn new(concurrency: usize, queue: usize, wait: Duration, metrics: Arc<Metrics>) -> PasswordPool {
        PasswordPool {
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            queue,
            waiting: AtomicUsize::new(0),
            wait,
            metrics,
        }
    }

    pub fn from_config(config: &Config, metrics: Arc<Metrics>) -> PasswordPool {
        PasswordPool::new(
            config.password_hash_concurrency,
            config.password_hash_queue,
            Duration::from_millis(config.password_hash_wait_ms),
            metrics,
        )
    }

    /// Runs `work` (a hash or a check) on the blocking pool once a slot is free. The slot
    /// goes with the work, not with the request: a client that gives up does not free the
    /// core its hash is still using.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(TryAcquireError::NoPermits) => self.wait_for_slot().await?,
            Err(TryAcquireError::Closed) => return Err(ApiError::internal("password pool closed")),
        };
        blocking(move || {
            let _slot = slot;
            Ok(work())
        })
        .await
    }

    async fn wait_for_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let joined = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.queue).then_some(n + 1)
            });
        if joined.is_err() {
            return Err(self.refuse());
        }
        let _in_queue = InQueue(&self.waiting);
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(_)) => Err(ApiError::internal("password pool closed")),
            Err(_) => Err(self.refuse()),
        }
    }

    fn refuse(&self) -> ApiError {
        self.metrics.password_check_refused();
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Too many password checks are in progress; try again shortly.",
        )
        .with_header(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())
    }

    /// Password checks waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// For tests: takes every slot, as hashes in progress would, until dropped; `None`
    /// when a hash is running.
    pub fn hold_all(&self) -> Option<HeldSlots> {
        let all = u32::try_from(self.concurrency).ok()?;
        self.slots.clone().try_acquire_many_owned(all).ok().map(HeldSlots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(queue: usize, wait: Duration) -> PasswordPool {
        let metrics = Arc::new(Metrics::new().unwrap_or_else(|e| panic!("{e}")));
        PasswordPool::new(1, queue, wait, metrics)
    }

    #[tokio::test]
    async fn a_check_that_waits_too_long_is_answered_busy() {
        let pool = pool(1, Duration::from_millis(20));
        let held = pool.hold_all();
        assert!(held.is_some());
        let refused = pool.run(|| ()).await.err().map(|e| e.code());
        assert_eq!(refused, Some("busy"));
        assert_eq!(pool.waiting(), 0, "the timed-out check left the queue");
        drop(held);
        assert!(pool.run(|| ()).await.is_ok());
    }

    #[tokio::test]
    async fn with_no_queue_a_busy_pool_refuses_at_once() {
        let pool = pool(0, Duration::from_secs(3600));
        let _held = pool.hold_all();
        let refused = pool.run(|| ()).await.err().map(|e| e.code());
        assert_eq!(refused, Some("busy"));
    }
}
