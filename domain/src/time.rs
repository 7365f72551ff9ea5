//! Time as the domain sees it: UTC instants at microsecond precision, and the local time
//! zone (Europe/Moscow by default) in which people count days and read dates.
//! Both databases store microseconds, so truncating here keeps values identical after a round trip.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;

pub type Instant = DateTime<Utc>;

/// Where people live their days: a "day" starts at local midnight, not at 00:00 UTC
/// (03:00 in Moscow), and notices print local date and time.
pub type Zone = Tz;

pub const DEFAULT_ZONE: Zone = chrono_tz::Europe::Moscow;

/// The instant the local day containing `at` began in `zone`.
pub fn day_start(at: Instant, zone: Zone) -> Instant {
    let local_date = at.with_timezone(&zone).date_naive();
    local_date
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| zone.from_local_datetime(&midnight).earliest())
        .map(|start| start.with_timezone(&Utc))
        .unwrap_or(at)
}

/// `at` as people in `zone` read it: `02.12.2026 23:15 MSK`.
pub fn local_text(at: Instant, zone: Zone) -> String {
    at.with_timezone(&zone).format("%d.%m.%Y %H:%M %Z").to_string()
}

/// Truncates to whole microseconds, the precision both backends keep.
pub fn to_storage_precision(t: Instant) -> Instant {
    t.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_moscow_day_starts_at_21_utc_the_evening_before() {
        let late = Utc
            .with_ymd_and_hms(2026, 12, 2, 21, 30, 0)
            .single()
            .unwrap_or_default();
        let start = Utc
            .with_ymd_and_hms(2026, 12, 2, 21, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(day_start(late, DEFAULT_ZONE), start);
        let evening = Utc
            .with_ymd_and_hms(2026, 12, 2, 20, 59, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            day_start(evening, DEFAULT_ZONE),
            start - chrono::TimeDelta::days(1)
        );
        assert_eq!(local_text(late, DEFAULT_ZONE), "03.12.2026 00:30 MSK");
    }

    #[test]
    fn truncates_nanoseconds_to_microseconds() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).single();
        let t = t.map(to_storage_precision).map(|t| t.timestamp_subsec_nanos());
        assert_eq!(t, Some(123_456_000));
    }
}
