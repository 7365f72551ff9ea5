//! The server's clock, at the precision both databases keep.

use domain::time::{to_storage_precision, Instant};

pub fn now() -> Instant {
    to_storage_precision(chrono::Utc::now())
}
