//! Rate limits as the generic cell rate algorithm (GCRA): a limit of `count` per `period`
//! admits a burst of `count` and then one request every `period / count`. The whole
//! state of a key is one instant, its theoretical arrival time (TAT), so it fits one
//! database row that every node shares, and a decision is one read and one write of it.
//!
//! The well-known crates (`governor`, `gcra`) keep that instant as a process-local
//! monotonic time, which another node cannot read; a TAT shared through the database has
//! to be wall-clock time, so the arithmetic lives here, pure and table-tested.

use chrono::TimeDelta;

use crate::time::Instant;

/// `count` requests per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub count: u32,
    pub period: TimeDelta,
}

impl Quota {
    /// Parses `N/PERIOD`, the period a number with a unit: `10/15m`, `100/1d`, `5/30s`.
    pub fn parse(text: &str) -> Option<Quota> {
        let (count, period) = text.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
        let period = period.trim();
        let split = period.len().checked_sub(1)?;
        let (amount, unit) = period.split_at(split);
        let amount: i64 = amount.parse().ok().filter(|a| *a > 0)?;
        let period = match unit {
            "s" => TimeDelta::try_seconds(amount)?,
            "m" => TimeDelta::try_minutes(amount)?,
            "h" => TimeDelta::try_hours(amount)?,
            "d" => TimeDelta::try_days(amount)?,
            _ => return None,
        };
        Some(Quota { count, period })
    }

    /// The time one request uses up, in whole microseconds: the precision at which both
    /// databases store a TAT, so a decision made here and one made in SQL agree.
    pub fn emission(&self) -> TimeDelta {
        let count = i64::from(self.count.max(1));
        TimeDelta::microseconds(self.period.num_microseconds().unwrap_or(i64::MAX) / count)
    }

    /// Decides a request arriving at `now` given the key's stored TAT (none: never seen).
    /// Admitted exactly when `max(tat, now) + emission <= now + period`.
    pub fn decide(&self, tat: Option<Instant>, now: Instant) -> Decision {
        let next = tat.filter(|t| *t > now).unwrap_or(now) + self.emission();
        if next > now + self.period {
            self.refused(tat, now)
        } else {
            self.admitted(next, now)
        }
    }

    /// The answer to an admitted request whose new TAT is `next` (as `decide` computed it,
    /// or as a database computed it by the same rule in the statement that stored it).
    pub fn admitted(&self, next: Instant, now: Instant) -> Decision {
        let room = now + self.period - next;
        let remaining = u32::try_from(
            room.num_microseconds().unwrap_or(0) / self.emission().num_microseconds().unwrap_or(1).max(1),
        )
        .unwrap_or(0);
        Decision {
            allowed: true,
            tat: next,
            remaining,
            retry_after: TimeDelta::zero(),
            reset: next - now,
        }
    }

    /// The answer to a refused request, the key's TAT being `tat`: it uses up nothing.
    pub fn refused(&self, tat: Option<Instant>, now: Instant) -> Decision {
        let tat = tat.filter(|t| *t > now).unwrap_or(now);
        let allowed_from = tat + self.emission() - self.period;
        Decision {
            allowed: false,
            tat,
            remaining: 0,
            retry_after: (allowed_from - now).max(TimeDelta::zero()),
            reset: tat - now,
        }
    }
}

/// What one request gets, and the TAT to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The key's new TAT (unchanged when refused).
    pub tat: Instant,
    /// Requests left right now after this one.
    pub remaining: u32,
    /// How long a refused caller waits before one more request is admitted.
    pub retry_after: TimeDelta,
    /// How long until the whole quota is available again.
    pub reset: TimeDelta,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn quota(text: &str) -> Quota {
        Quota::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn quotas_parse_with_units_and_refuse_nonsense() {
        assert_eq!(
            quota("10/15m"),
            Quota {
                count: 10,
                period: TimeDelta::minutes(15)
            }
        );
        assert_eq!(quota("100/1d").period, TimeDelta::days(1));
        for bad in ["", "10", "0/1m", "10/0m", "10/5x", "ten/1m", "10/m", "-1/1m"] {
            assert_eq!(Quota::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_burst_of_count_is_admitted_and_the_next_refused_until_one_interval_passes() {
        let q = quota("3/1m");
        let start = Utc::now();
        let mut tat = None;
        for left in [2, 1, 0] {
            let d = q.decide(tat, start);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
            tat = Some(d.tat);
        }
        let refused = q.decide(tat, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, TimeDelta::seconds(20));
        assert_eq!(
            refused.tat,
            tat.unwrap_or(start),
            "a refusal does not use up quota"
        );
        assert!(!q.decide(tat, start + TimeDelta::seconds(19)).allowed);
        assert!(q.decide(tat, start + TimeDelta::seconds(20)).allowed);
    }

    #[test]
    fn an_idle_key_gets_its_whole_burst_back() {
        let q = quota("2/1h");
        let start = Utc::now();
        let first = q.decide(None, start);
        let second = q.decide(Some(first.tat), start);
        assert!(!q.decide(Some(second.tat), start).allowed);
        let later = q.decide(Some(second.tat), start + TimeDelta::hours(2));
        assert!(later.allowed);
        assert_eq!(later.remaining, 1);
    }
}
