//! Per-user pacing of Google Calendar calls, so that a backfill never trips Google's per-user
//! rate limit (600 calls per minute) and one user's burst does not slow the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::UserId;

/// Above this many remembered users, users whose next slot has passed are forgotten.
const REMEMBERED_USERS: usize = 10_000;

/// Spaces each user's calls at least `60 s / calls_per_minute` apart, so no minute holds
/// more than `calls_per_minute` of them. Users are paced independently of each other.
///
/// The schedule lives in this process: two worker processes working one user's rows at the
/// same moment could each spend the budget (the claim makes that rare: it skips a user
/// whose rows another worker holds).
#[derive(Debug)]
pub struct Pacer {
    interval: Option<TimeDelta>,
    next_slot: Mutex<HashMap<UserId, DateTime<Utc>>>,
}

impl Pacer {
    /// At most `calls_per_minute` calls per user and minute; `0` paces nothing.
    pub fn per_minute(calls_per_minute: u32) -> Self {
        // Rounded up: a slot a microsecond early would let one call too many into a minute.
        let interval = (calls_per_minute > 0).then(|| {
            let rate = i64::from(calls_per_minute);
            TimeDelta::microseconds((60_000_000 + rate - 1) / rate)
        });
        Self {
            interval,
            next_slot: Mutex::new(HashMap::new()),
        }
    }

    /// No pacing at all.
    pub fn unpaced() -> Self {
        Self::per_minute(0)
    }

    /// Books `user`'s next call slot at or after `now`; returns how long to wait for it.
    pub fn reserve(&self, user: UserId, now: DateTime<Utc>) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let mut slots = self
            .next_slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slots.len() > REMEMBERED_USERS {
            slots.retain(|_, next| *next > now);
        }
        let slot = slots.get(&user).map_or(now, |next| (*next).max(now));
        slots.insert(user, slot + interval);
        (slot - now).to_std().unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_burst_is_spaced_evenly_and_other_users_are_not_delayed() {
        let pacer = Pacer::per_minute(600);
        let waits: Vec<u128> = (0..4)
            .map(|_| pacer.reserve(UserId(1), t0()).as_millis())
            .collect();
        assert_eq!(waits, [0, 100, 200, 300]);
        assert_eq!(pacer.reserve(UserId(2), t0()), Duration::ZERO);
    }

    #[test]
    fn an_idle_user_calls_at_once() {
        let pacer = Pacer::per_minute(60);
        assert_eq!(pacer.reserve(UserId(1), t0()), Duration::ZERO);
        let later = t0() + TimeDelta::seconds(5);
        assert_eq!(pacer.reserve(UserId(1), later), Duration::ZERO);
    }

    #[test]
    fn zero_means_unpaced() {
        let pacer = Pacer::unpaced();
        for _ in 0..100 {
            assert_eq!(pacer.reserve(UserId(1), t0()), Duration::ZERO);
        }
    }

    proptest! {
        /// Pacing: for any rate and any pattern of call requests, the calls a user actually
        /// makes (request time + the wait it is given) never number more than the rate in
        /// any 60-second window.
        #[test]
        fn no_minute_holds_more_calls_than_the_rate(
            rate in 1u32..120,
            gaps_ms in prop::collection::vec(0i64..2_000, 1..300),
        ) {
            let pacer = Pacer::per_minute(rate);
            let mut now = t0();
            let mut calls = Vec::new();
            for gap in gaps_ms {
                now += TimeDelta::milliseconds(gap);
                let wait = pacer.reserve(UserId(1), now);
                let at = now + TimeDelta::from_std(wait).expect("small");
                calls.push(at);
                // The caller waits for its slot before asking for the next one.
                now = at;
            }
            for (i, start) in calls.iter().enumerate() {
                let in_window = calls[i..]
                    .iter()
                    .take_while(|at| **at < *start + TimeDelta::seconds(60))
                    .count();
                prop_assert!(in_window as u32 <= rate, "{in_window} calls within a minute at rate {rate}");
            }
        }
    }
}
