//! Pacing of Google Calendar calls under Google's two quotas: per user (600 calls a minute),
//! so that a backfill never trips it and one user's burst does not slow the others, and per
//! project (10,000 a minute), so that a fleet's backlog does not get every user rate-limited
//! at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::UserId;

/// Above this many remembered users, users whose next slot has passed are forgotten.
const REMEMBERED_USERS: usize = 10_000;

/// Calls per minute allowed to each user and to the whole deployment; `0` leaves that side
/// unpaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Calls per user and minute (Google allows 600).
    pub per_user: u32,
    /// Calls per minute of all users together, of every process that talks to Google (Google
    /// allows 10,000 per project); each process paces its share (see
    /// [`Pacer::share_project`]).
    pub per_project: u32,
}

/// Spaces each user's calls at least `60 s / per_user` apart and all calls at least
/// `60 s / per_project` apart, so no minute holds more than either rate.
///
/// The schedule lives in this process: two worker processes working one user's rows at the
/// same moment could each spend the user's budget (the claim makes that rare: it skips a user
/// whose rows another worker holds). The project budget is shared: each live process paces
/// the share its heartbeat reserved ([`Pacer::share_project`]).
#[derive(Debug)]
pub struct Pacer {
    per_user: Option<TimeDelta>,
    per_project: u32,
    slots: Mutex<Slots>,
    /// Bumped whenever this process's share changes: callers waiting for a slot booked at
    /// the old spacing book again ([`Pacer::changes`]).
    changed: tokio::sync::watch::Sender<u64>,
}

/// The next free slot of each user and of the project, and this process's project spacing.
#[derive(Debug, Default)]
struct Slots {
    users: HashMap<UserId, DateTime<Utc>>,
    project: Option<DateTime<Utc>>,
    project_interval: Option<TimeDelta>,
}

/// The spacing of `calls_per_minute` calls; `None` for `0`. Rounded up: a slot a microsecond
/// early would let one call too many into a minute.
fn interval(calls_per_minute: u32) -> Option<TimeDelta> {
    (calls_per_minute > 0).then(|| {
        let rate = i64::from(calls_per_minute);
        TimeDelta::microseconds((60_000_000 + rate - 1) / rate)
    })
}

impl Pacer {
    /// A pacer for `pacing`, with no call booked yet.
    pub fn new(pacing: Pacing) -> Self {
        Self {
            per_user: interval(pacing.per_user),
            per_project: pacing.per_project,
            slots: Mutex::new(Slots {
                project_interval: interval(pacing.per_project),
                ..Slots::default()
            }),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Tells when this process's share changes: a caller that subscribes before
    /// [`Pacer::reserve`] and sees a change while it waits books its slot again, at the new
    /// spacing (the slots booked at the old one are forgotten).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// This process's share of the project rate is `per_minute` calls a minute from `now` on
    /// (see `SyncQueue::beat`; with the project unpaced it stays unpaced). A share of `0` is
    /// held as one call a minute: the worker claims nothing meanwhile, and the lanes it has
    /// left finish at that pace.
    ///
    /// A change forgets the slots booked ahead at the old spacing: the next free one is a new
    /// interval from `now` (no call went out after `now`, so the spacing holds across the
    /// change), and those who booked them book again (see [`Pacer::changes`]). Without this
    /// a worker that took on ten users at a tiny share would leave them asleep for minutes
    /// after its share grew.
    pub fn share_project(&self, per_minute: u32, now: DateTime<Utc>) {
        if self.per_project == 0 {
            return;
        }
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let spacing = interval(per_minute.clamp(1, self.per_project));
        if spacing == slots.project_interval {
            return;
        }
        slots.project_interval = spacing;
        if let (Some(next), Some(spacing)) = (slots.project, spacing)
            && next > now
        {
            slots.project = Some(now + spacing);
            // The users' slots booked ahead with them go too (no call of theirs went out
            // after `now` either), or the callers would book again behind them.
            if let Some(per_user) = self.per_user {
                for next in slots.users.values_mut() {
                    *next = (*next).min(now + per_user);
                }
            }
            drop(slots);
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The whole project's rate this pacer was made with (calls a minute; `0`: unpaced).
    pub fn project_rate(&self) -> u32 {
        self.per_project
    }

    /// No pacing at all.
    pub fn unpaced() -> Self {
        Self::new(Pacing::default())
    }

    /// Books `user`'s next call slot at or after `now`: the later of the user's and the
    /// project's next free slots. Both move past the booked slot, so a call held back by the
    /// project's pace also holds back the user's next one. Returns how long to wait for it.
    pub fn reserve(&self, user: UserId, now: DateTime<Utc>) -> Duration {
        if self.per_user.is_none() && self.per_project == 0 {
            return Duration::ZERO;
        }
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slots.users.len() > REMEMBERED_USERS {
            slots.users.retain(|_, next| *next > now);
        }
        // A side that is not paced never books a slot, so it holds nothing back here.
        let slot = [slots.users.get(&user).copied(), slots.project]
            .into_iter()
            .flatten()
            .fold(now, DateTime::max);
        if let Some(interval) = self.per_user {
            slots.users.insert(user, slot + interval);
        }
        if let Some(interval) = slots.project_interval {
            slots.project = Some(slot + interval);
        }
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

    fn pacer(per_user: u32, per_project: u32) -> Pacer {
        Pacer::new(Pacing {
            per_user,
            per_project,
        })
    }

    fn millis(wait: Duration) -> u128 {
        wait.as_millis()
    }

    #[test]
    fn a_burst_is_spaced_evenly_and_other_users_are_not_delayed() {
        let pacer = pacer(600, 0);
        let waits: Vec<u128> = (0..4)
            .map(|_| millis(pacer.reserve(UserId(1), t0())))
            .collect();
        assert_eq!(waits, [0, 100, 200, 300]);
        assert_eq!(pacer.reserve(UserId(2), t0()), Duration::ZERO);
    }

    #[test]
    fn an_idle_user_calls_at_once() {
        let pacer = pacer(60, 0);
        assert_eq!(pacer.reserve(UserId(1), t0()), Duration::ZERO);
        let later = t0() + TimeDelta::seconds(5);
        assert_eq!(pacer.reserve(UserId(1), later), Duration::ZERO);
    }

    #[test]
    fn the_project_pace_spaces_the_calls_of_all_users() {
        let pacer = pacer(0, 600);
        let waits: Vec<u128> = (1..=4)
            .map(|user| millis(pacer.reserve(UserId(user), t0())))
            .collect();
        assert_eq!(waits, [0, 100, 200, 300]);
        let later = t0() + TimeDelta::seconds(5);
        assert_eq!(pacer.reserve(UserId(1), later), Duration::ZERO);
    }

    #[test]
    fn a_call_held_back_by_the_project_holds_back_the_users_next_call() {
        let pacer = pacer(60, 600);
        assert_eq!(millis(pacer.reserve(UserId(2), t0())), 0);
        // User 1's first call waits 100 ms for the project; its next one a second after that.
        assert_eq!(millis(pacer.reserve(UserId(1), t0())), 100);
        assert_eq!(millis(pacer.reserve(UserId(1), t0())), 1_100);
        // Meanwhile the project's next slot is 100 ms after user 1's last booking.
        assert_eq!(millis(pacer.reserve(UserId(3), t0())), 1_200);
    }

    #[test]
    fn a_shared_project_rate_paces_this_processs_share() {
        // 120 a minute for the deployment; this process reserved 40 of them.
        let pacer = pacer(0, 120);
        pacer.share_project(40, t0());
        let waits: Vec<u128> = (0..3)
            .map(|n| millis(pacer.reserve(UserId(n), t0())))
            .collect();
        assert_eq!(waits, [0, 1500, 3000]);
        // At 4.5 s (the last call out at 3 s) its share grew to 60: the slots booked ahead
        // are forgotten, and the next is a new interval on, then 1 s apart.
        let later = t0() + TimeDelta::milliseconds(4500);
        let changes = pacer.changes();
        assert_eq!(millis(pacer.reserve(UserId(9), later)), 0);
        assert_eq!(millis(pacer.reserve(UserId(8), later)), 1500);
        pacer.share_project(60, later);
        assert!(changes.has_changed().unwrap_or(false), "waiters are told");
        assert_eq!(millis(pacer.reserve(UserId(7), later)), 1000);
        assert_eq!(millis(pacer.reserve(UserId(6), later)), 2000);
        // Never above the whole rate; nothing at all is held as one call a minute.
        pacer.share_project(500, later);
        assert_eq!(millis(pacer.reserve(UserId(1), later)), 500);
        assert_eq!(millis(pacer.reserve(UserId(2), later)), 1000);
        let idle = pacer_with(120, 0);
        assert_eq!(millis(idle.reserve(UserId(1), t0())), 0);
        assert_eq!(millis(idle.reserve(UserId(2), t0())), 60_000);
        // An unpaced project stays unpaced.
        let unpaced = pacer_with(0, 40);
        assert_eq!(unpaced.reserve(UserId(1), t0()), Duration::ZERO);
        assert_eq!(unpaced.reserve(UserId(2), t0()), Duration::ZERO);
    }

    #[test]
    fn a_share_that_grows_frees_the_users_slots_booked_behind_the_old_spacing() {
        // Two users' calls booked 30 s apart at a share of 2 a minute; the share grows to 120:
        // each user's next call is a new spacing away (and at least its own 100 ms), not half
        // a minute on.
        let pacer = pacer(600, 120);
        pacer.share_project(2, t0());
        assert_eq!(millis(pacer.reserve(UserId(1), t0())), 0);
        assert_eq!(millis(pacer.reserve(UserId(2), t0())), 30_000);
        assert_eq!(millis(pacer.reserve(UserId(1), t0())), 60_000);
        pacer.share_project(120, t0());
        assert_eq!(millis(pacer.reserve(UserId(2), t0())), 500);
        assert_eq!(millis(pacer.reserve(UserId(1), t0())), 1000);
    }

    fn pacer_with(per_project: u32, share: u32) -> Pacer {
        let pacer = pacer(0, per_project);
        pacer.share_project(share, t0());
        pacer
    }

    #[test]
    fn zero_means_unpaced() {
        let pacer = Pacer::unpaced();
        for user in 0..100 {
            assert_eq!(pacer.reserve(UserId(user % 3), t0()), Duration::ZERO);
        }
    }

    /// The most of `calls` (instants, any order) that fall within one 60-second window.
    fn busiest_minute(mut calls: Vec<DateTime<Utc>>) -> usize {
        calls.sort_unstable();
        (0..calls.len())
            .map(|i| {
                calls[i..]
                    .iter()
                    .take_while(|at| **at < calls[i] + TimeDelta::seconds(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    proptest! {
        /// Pacing: for any two rates and any pattern of call requests by any users (lanes ask
        /// concurrently, so a request may come while others wait for their slots), the calls
        /// made (request time + the wait each is given) never number more than the user rate
        /// for one user, nor more than the project rate for all users, in any 60-second window.
        #[test]
        fn no_minute_holds_more_calls_than_either_rate(
            per_user in 1u32..60,
            per_project in 1u32..150,
            requests in prop::collection::vec((0i64..4, 0i64..2_000), 1..300),
        ) {
            let pacer = pacer(per_user, per_project);
            let mut now = t0();
            let mut calls: Vec<(i64, DateTime<Utc>)> = Vec::new();
            for (user, gap) in requests {
                now += TimeDelta::milliseconds(gap);
                let wait = pacer.reserve(UserId(user), now);
                calls.push((user, now + TimeDelta::from_std(wait).expect("small")));
            }
            for user in 0..4 {
                let mine = calls.iter().filter(|(u, _)| *u == user).map(|(_, at)| *at).collect();
                let most = busiest_minute(mine);
                prop_assert!(most as u32 <= per_user, "user {user}: {most} calls within a minute at {per_user}");
            }
            let most = busiest_minute(calls.iter().map(|(_, at)| *at).collect());
            prop_assert!(most as u32 <= per_project, "{most} calls within a minute at {per_project}");
        }
    }
}
