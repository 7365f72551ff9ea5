//! Bounded guessing: failed checks of a secret (a password, a second factor) counted per
//! key, and the lock that the failure reaching the limit starts (SPEC §8: three failed
//! logins lock for 15 minutes; a second factor locks after five, config).
//!
//! The rules are one pure step, so that the store only has to make each step atomic: a
//! failure during a lock leaves the lock as it is (a late failure never clears it), and a
//! lock that ran out starts the count afresh.

use chrono::TimeDelta;

use crate::time::Instant;

/// How many failures lock, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: i32,
    pub lock_for: TimeDelta,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 3,
            lock_for: TimeDelta::minutes(15),
        }
    }
}

/// What is stored for one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    pub failures: i32,
    pub locked_until: Option<Instant>,
}

/// What one more failure did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Counted; this many more failures are allowed before the lock.
    Counted { remaining: i32 },
    /// This failure reached the limit and started a lock.
    LockedNow { until: Instant },
    /// A lock was already running (the failure raced one that started it).
    StillLocked { until: Instant },
}

impl Attempts {
    /// The lock in force at `now`, if any.
    pub fn locked_at(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The state after one more failure at `now`, and what it did.
    pub fn fail(self, policy: LockoutPolicy, now: Instant) -> (Attempts, Failure) {
        if let Some(until) = self.locked_at(now) {
            return (self, Failure::StillLocked { until });
        }
        // A lock that ran out leaves no debt: the next window starts from zero.
        let before = if self.locked_until.is_some() {
            0
        } else {
            self.failures
        };
        let failures = before + 1;
        if failures >= policy.max_failures {
            let until = now + policy.lock_for;
            let locked = Attempts {
                failures,
                locked_until: Some(until),
            };
            return (locked, Failure::LockedNow { until });
        }
        let counted = Attempts {
            failures,
            locked_until: None,
        };
        (
            counted,
            Failure::Counted {
                remaining: policy.max_failures - failures,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn the_third_failure_locks_for_fifteen_minutes_and_keeps_its_count() {
        let policy = LockoutPolicy::default();
        let now = Utc::now();
        let (one, first) = Attempts::default().fail(policy, now);
        assert_eq!(first, Failure::Counted { remaining: 2 });
        let (two, _) = one.fail(policy, now);
        let (three, third) = two.fail(policy, now);
        let until = now + TimeDelta::minutes(15);
        assert_eq!(third, Failure::LockedNow { until });
        assert_eq!(
            three,
            Attempts {
                failures: 3,
                locked_until: Some(until)
            }
        );
    }

    #[test]
    fn a_failure_during_a_lock_neither_clears_nor_extends_it() {
        let policy = LockoutPolicy::default();
        let now = Utc::now();
        let until = now + TimeDelta::minutes(10);
        let locked = Attempts {
            failures: 3,
            locked_until: Some(until),
        };
        let (after, failure) = locked.fail(policy, now + TimeDelta::minutes(1));
        assert_eq!(after, locked);
        assert_eq!(failure, Failure::StillLocked { until });
    }

    #[test]
    fn a_lock_that_ran_out_starts_the_count_afresh() {
        let policy = LockoutPolicy::default();
        let now = Utc::now();
        let ran_out = Attempts {
            failures: 3,
            locked_until: Some(now - TimeDelta::seconds(1)),
        };
        assert_eq!(ran_out.locked_at(now), None);
        let (after, failure) = ran_out.fail(policy, now);
        assert_eq!(
            after,
            Attempts {
                failures: 1,
                locked_until: None
            }
        );
        assert_eq!(failure, Failure::Counted { remaining: 2 });
    }

    #[test]
    fn a_limit_of_one_locks_at_the_first_failure() {
        let policy = LockoutPolicy {
            max_failures: 1,
            lock_for: TimeDelta::minutes(1),
        };
        let now = Utc::now();
        let (_, failure) = Attempts::default().fail(policy, now);
        assert_eq!(
            failure,
            Failure::LockedNow {
                until: now + TimeDelta::minutes(1)
            }
        );
    }
}
