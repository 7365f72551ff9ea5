//! Time as the domain sees it: UTC instants at microsecond precision.
//! Both databases store microseconds, so truncating here keeps values identical after a round trip.

use chrono::{DateTime, SubsecRound, Utc};

pub type Instant = DateTime<Utc>;

/// Truncates to whole microseconds, the precision both backends keep.
pub fn to_storage_precision(t: Instant) -> Instant {
    t.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncates_nanoseconds_to_microseconds() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).single();
        let t = t.map(to_storage_precision).map(|t| t.timestamp_subsec_nanos());
        assert_eq!(t, Some(123_456_000));
    }
}
