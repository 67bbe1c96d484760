//! Lanes: one user's rows in order, users side by side, pacing, quota pauses, leases.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::tests::{POLICY, clock, connection, entry, now, recording_sleeper, serving, view};
use super::*;
use crate::ids::UserId;
use crate::ports::{MockCalendarSync, MockSleeper, MockSyncQueue};
use crate::timezone::TimeZoneName;

/// What the worker did to the queue, in order.
#[derive(Debug, Clone, PartialEq)]
enum Done {
    Settled(i64, Settlement),
    Released(UserId),
    Paused(UserId, DateTime<Utc>, String),
}

/// A queue whose one claim takes the users of `rows`, logging what is done with them.
fn queue_of(rows: Vec<OutboxEntry>, log: Arc<Mutex<Vec<Done>>>) -> MockSyncQueue {
    let mut queue = serving(rows);
    queue
        .expect_current()
        .returning(|_| Ok(Some((view(), TimeZoneName::UTC))));
    let settled = log.clone();
    queue.expect_settle().returning(move |e, outcome| {
        settled
            .lock()
            .expect("lock")
            .push(Done::Settled(e.id, outcome));
        Ok(())
    });
    let released = log.clone();
    queue.expect_release().returning(move |_, user| {
        released.lock().expect("lock").push(Done::Released(user));
        Ok(())
    });
    queue
        .expect_pause_user()
        .returning(move |user, until, reason| {
            log.lock()
                .expect("lock")
                .push(Done::Paused(user, until, reason.to_owned()));
            Ok(())
        });
    queue
}

fn row(id: i64, user: i64) -> OutboxEntry {
    OutboxEntry {
        occurrence: None,
        id,
        user: UserId(user),
        ..entry(SyncOperation::Upsert)
    }
}

fn service(
    queue: MockSyncQueue,
    calendar: MockCalendarSync,
    clock: Arc<dyn Clock>,
    sleeper: impl Sleeper + 'static,
) -> SyncService {
    SyncService::new(
        Arc::new(queue),
        Arc::new(calendar),
        connection(false),
        clock,
        Arc::new(sleeper),
        POLICY,
    )
}

#[tokio::test]
async fn quota_exceeded_pauses_the_users_whole_queue() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calendar = MockCalendarSync::new();
    // Only the first row reaches Google; the second waits with it.
    calendar
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(CalendarError::QuotaExceeded));
    let mut sleeper = MockSleeper::new();
    sleeper.expect_sleep().never();
    let sync = service(
        queue_of(vec![row(1, 7), row(2, 7)], log.clone()),
        calendar,
        clock(),
        sleeper,
    );

    assert_eq!(sync.run_once(10).await.expect("run"), 1);

    // The second row is not tried: the user rests, and the pause marks every queued event.
    let until = now() + TimeDelta::hours(6);
    let log = log.lock().expect("lock").clone();
    assert!(
        matches!(log.as_slice(), [
            Done::Settled(1, Settlement::RetryAt { retry_at, .. }),
            Done::Paused(UserId(7), paused, reason),
            Done::Released(UserId(7)),
        ] if *retry_at == until && *paused == until && reason.contains("daily limit")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_user_waiting_out_retries_does_not_hold_up_another() {
    // User 7's insert fails and its retry sleeps until user 8's insert has happened: with
    // lanes worked one after the other this would never finish.
    let user_8_called = Arc::new(Notify::new());
    let mut calendar = MockCalendarSync::new();
    let mut failed_once = false;
    let signal = user_8_called.clone();
    calendar.expect_insert().returning(move |_, e| {
        if e.summary == "eight" {
            signal.notify_one();
            return Ok(None);
        }
        if failed_once {
            return Ok(None);
        }
        failed_once = true;
        Err(CalendarError::Retryable {
            reason: "503".into(),
            retry_after: None,
        })
    });
    struct WaitFor(Arc<Notify>);
    #[async_trait]
    impl Sleeper for WaitFor {
        async fn sleep(&self, _: Duration) {
            self.0.notified().await;
        }
    }
    let mut queue = serving(vec![row(1, 7), row(2, 8)]);
    queue.expect_release().times(2).returning(|_, _| Ok(()));
    queue.expect_current().returning(|e| {
        let mut v = view();
        if e.user == UserId(8) {
            v.event.title = "eight".into();
        }
        Ok(Some((v, TimeZoneName::UTC)))
    });
    queue.expect_settle().times(2).returning(|_, outcome| {
        assert_eq!(outcome, Settlement::Delivered { etag: None });
        Ok(())
    });
    let sync = service(queue, calendar, clock(), WaitFor(user_8_called));

    let worked = tokio::time::timeout(Duration::from_secs(5), sync.run_once(10))
        .await
        .expect("user 7's retry waited for user 8, who never ran: lanes are not concurrent");
    assert_eq!(worked.expect("run"), 2);
}

#[tokio::test]
async fn a_lanes_calls_are_paced_per_user() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().times(4).returning(|_, _| Ok(None));
    let (sleeper, slept) = recording_sleeper();
    let sync = service(
        queue_of(vec![row(1, 7), row(2, 7), row(3, 7), row(4, 8)], log),
        calendar,
        clock(),
        sleeper,
    )
    .with_pacing(Pacing {
        per_user: 60,
        per_project: 0,
    });

    assert_eq!(sync.run_once(10).await.expect("run"), 4);

    // The clock stands still: user 7's second and third calls wait for their slots, one
    // second apart; user 8's first call waits for nobody.
    let mut slept = slept.lock().expect("lock").clone();
    slept.sort();
    assert_eq!(slept, [Duration::from_secs(1), Duration::from_secs(2)]);
}

#[tokio::test]
async fn the_calls_of_all_lanes_together_are_paced_per_project() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().times(3).returning(|_, _| Ok(None));
    let (sleeper, slept) = recording_sleeper();
    let sync = service(
        queue_of(vec![row(1, 7), row(2, 8), row(3, 9)], log),
        calendar,
        clock(),
        sleeper,
    )
    .with_pacing(Pacing {
        per_user: 600,
        per_project: 60,
    });

    assert_eq!(sync.run_once(10).await.expect("run"), 3);

    // Three users, one call each, so no user waits for itself; the second and third calls
    // wait for the project's slots, one second apart.
    let mut slept = slept.lock().expect("lock").clone();
    slept.sort();
    assert_eq!(slept, [Duration::from_secs(1), Duration::from_secs(2)]);
}

/// The project's rate is the whole deployment's: a worker whose heartbeat reserved it a
/// third of it paces that third.
#[tokio::test]
async fn a_worker_paces_its_share_of_the_project_rate() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().times(3).returning(|_, _| Ok(None));
    let (sleeper, slept) = recording_sleeper();
    let mut queue = queue_of(vec![row(1, 7), row(2, 8), row(3, 9)], log);
    queue.expect_renew().returning(|_, _| Ok(0));
    queue.expect_beat().times(1).returning(|_, _, _, _, rate| {
        assert_eq!(rate, 60);
        Ok(crate::ports::Beat { live: 3, share: 20 })
    });
    let sync = service(queue, calendar, clock(), sleeper).with_pacing(Pacing {
        per_user: 600,
        per_project: 60,
    });

    sync.heartbeat().await.expect("heartbeat");
    assert_eq!(sync.run_once(10).await.expect("run"), 3);

    // 60 a minute for three workers: this one's calls are three seconds apart.
    let mut slept = slept.lock().expect("lock").clone();
    slept.sort();
    assert_eq!(slept, [Duration::from_secs(3), Duration::from_secs(6)]);
}

/// A clock that the calendar moves forward.
struct SteppedClock(Mutex<DateTime<Utc>>);

impl Clock for SteppedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("lock")
    }
}

/// A lane whose three rows each take three minutes of a five-minute lease; the heartbeat
/// ran at `renewed_at` minutes, if at all. Returns what the lane did.
async fn three_slow_rows(renewed_at: Option<i64>) -> Vec<Done> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let clock = Arc::new(SteppedClock(Mutex::new(now())));
    let mut calendar = MockCalendarSync::new();
    let ticking = clock.clone();
    calendar.expect_insert().returning(move |_, _| {
        *ticking.0.lock().expect("lock") += TimeDelta::minutes(3);
        Ok(None)
    });
    let mut queue = queue_of(vec![row(1, 7), row(2, 7), row(3, 7)], log.clone());
    queue.expect_renew().returning(|_, _| Ok(1));
    queue.expect_beat().returning(|_, _, _, _, rate| {
        Ok(crate::ports::Beat {
            live: 1,
            share: rate,
        })
    });
    let sync = service(queue, calendar, clock.clone(), MockSleeper::new())
        .with_lease(Duration::from_secs(300));
    let lanes = sync.claim(10).await.expect("claim");
    if let Some(minutes) = renewed_at {
        *clock.0.lock().expect("lock") = now() + TimeDelta::minutes(minutes);
        sync.heartbeat().await.expect("heartbeat");
        *clock.0.lock().expect("lock") = now();
    }
    for lane in lanes {
        sync.work(lane).await.expect("work");
    }
    log.lock().expect("lock").clone()
}

#[tokio::test]
async fn a_lane_starts_no_row_in_the_second_half_of_its_lease() {
    assert_eq!(
        three_slow_rows(None).await,
        [
            Done::Settled(1, Settlement::Delivered { etag: None }),
            Done::Released(UserId(7)),
        ]
    );
}

#[tokio::test]
async fn a_heartbeat_extends_the_lease_a_lane_works_under() {
    // Renewed at minute 3: held until minute 8, so the second row (minute 3) starts and the
    // third (minute 6, under half a lease left) does not.
    assert_eq!(
        three_slow_rows(Some(3)).await,
        [
            Done::Settled(1, Settlement::Delivered { etag: None }),
            Done::Settled(2, Settlement::Delivered { etag: None }),
            Done::Released(UserId(7)),
        ]
    );
}

#[tokio::test]
async fn a_stopping_worker_ends_its_sleeps_and_releases_without_settling() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let called = Arc::new(Notify::new());
    let signal = called.clone();
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().times(1).returning(move |_, _| {
        signal.notify_one();
        Err(CalendarError::Retryable {
            reason: "503".into(),
            retry_after: None,
        })
    });
    struct Forever;
    #[async_trait]
    impl Sleeper for Forever {
        async fn sleep(&self, _: Duration) {
            std::future::pending::<()>().await;
        }
    }
    let sync = service(
        queue_of(vec![row(1, 7), row(2, 7)], log.clone()),
        calendar,
        clock(),
        Forever,
    );
    let running = tokio::spawn({
        let sync = sync.clone();
        async move { sync.run_once(10).await }
    });
    called.notified().await;
    sync.stop();

    let settled = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the lane kept sleeping after the stop")
        .expect("join")
        .expect("run");
    assert_eq!(settled, 0);
    // The failed try is not recorded: the row stays due, for the next worker, at once.
    assert_eq!(
        log.lock().expect("lock").as_slice(),
        [Done::Released(UserId(7))]
    );
}

#[tokio::test]
async fn a_long_retry_after_reschedules_instead_of_sleeping() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let called = Arc::new(Notify::new());
    let signal = called.clone();
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().times(1).returning(move |_, _| {
        signal.notify_one();
        Err(CalendarError::Retryable {
            reason: "429".into(),
            retry_after: Some(Duration::from_secs(120)),
        })
    });
    let mut sleeper = MockSleeper::new();
    sleeper.expect_sleep().never();
    let sync = service(
        queue_of(vec![row(1, 7)], log.clone()),
        calendar,
        clock(),
        sleeper,
    );

    sync.run_once(10).await.expect("run");

    let log = log.lock().expect("lock").clone();
    assert!(
        matches!(log.as_slice(), [
            Done::Settled(1, Settlement::RetryAt { retry_at, .. }),
            Done::Released(UserId(7)),
        ] if *retry_at == now() + TimeDelta::seconds(120)),
        "{log:?}"
    );
}
