//! The server's clock, at the precision both databases keep.
//!
//! One `Clock` lives in the application state and every use case gets its `now` from it,
//! so time is a parameter, not a hidden global. It follows the system clock; tests move it
//! forward (`advance`) instead of editing rows or sleeping to travel in time. Production
//! code never moves it: nothing outside tests holds a way to call `advance`.

use std::sync::atomic::{AtomicI64, Ordering};

use domain::time::{to_storage_precision, Instant};

#[derive(Debug, Default)]
pub struct Clock {
    /// How far this clock runs ahead of the system clock, in microseconds.
    offset_micros: AtomicI64,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Instant {
        let offset = chrono::Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        to_storage_precision(chrono::Utc::now() + offset)
    }

    /// Moves this clock forward (tests: "a month later").
    pub fn advance(&self, by: chrono::Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// The system's time, for code that runs without an application state (start-up seeding,
/// the CLI). Never on a request path: use cases get `now` from the state's clock.
pub fn now() -> Instant {
    to_storage_precision(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_the_given_time() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(chrono::Duration::days(31));
        let after = clock.now();
        assert!(after - before >= chrono::Duration::days(31));
        assert!(after - before < chrono::Duration::days(31) + chrono::Duration::seconds(5));
    }
}
