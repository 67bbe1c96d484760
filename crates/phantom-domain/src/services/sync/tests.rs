//! The sync service against mocks: Property 23 and the handling of each failure class.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::event::{Event, EventView};
use crate::google::{CALENDAR_EVENTS_SCOPE, GoogleToken, StoredToken};
use crate::google_changes::FieldSet;
use crate::ids::{CategoryId, EventId, UserId};
use crate::ports::{
    MockCalendarSync, MockClock, MockOAuthProvider, MockOAuthStateStore, MockRevocationQueue,
    MockSleeper, MockStateCodec, MockSyncQueue, MockTokenStore,
};
use crate::sync::{GoogleEventId, SyncStatus};
use crate::timezone::TimeZoneName;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .single()
        .expect("valid")
}

pub(super) fn clock() -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    Arc::new(clock)
}

pub(super) fn entry(operation: SyncOperation) -> OutboxEntry {
    OutboxEntry {
        occurrence: None,
        id: 1,
        user: UserId(7),
        event_id: EventId(3),
        google_event_id: GoogleEventId::from_stored("abcdef0123".into()),
        operation,
        version: 1,
        fields: FieldSet::ALL,
        attempts: 0,
        etag: None,
    }
}

pub(super) fn view() -> EventView {
    EventView {
        event: Event {
            id: EventId(3),
            user_id: UserId(7),
            category_id: CategoryId(1),
            title: "Exam".into(),
            description: String::new(),
            start_time: now(),
            end_time: now() + TimeDelta::hours(2),
            is_flexible: true,
            is_completed: false,
            all_day: false,
            origin: crate::event::Origin::Phantom,
            google_event_id: GoogleEventId::from_stored("abcdef0123".into()),
            google_calendar_id: None,
            sync_status: SyncStatus::Pending,
            sync_error: None,
            created_at: now(),
            updated_at: now(),
            recurrence: Vec::new(),
            timezone: None,
        },
        category_name: "Exam".into(),
        priority_level: 5,
        occurrence: None,
    }
}

/// A connection whose token is valid for an hour; `refreshes` counts forced refreshes.
pub(super) fn connection(refresh: bool) -> ConnectionService {
    let mut tokens = MockTokenStore::new();
    tokens.expect_load().returning(|_| {
        Ok(StoredToken::Present(GoogleToken {
            access_token: Secret::new("ya29.first"),
            refresh_token: Secret::new("1//r"),
            expires_at: now() + TimeDelta::hours(1),
            scopes: vec![CALENDAR_EVENTS_SCOPE.into()],
        }))
    });
    let mut oauth = MockOAuthProvider::new();
    if refresh {
        tokens
            .expect_try_lease_refresh()
            .returning(|_, _, _| Ok(true));
        tokens.expect_update().returning(|_, _| Ok(()));
        oauth.expect_refresh().times(1).returning(|_| {
            Ok(crate::google::TokenGrant {
                access_token: Secret::new("ya29.second"),
                refresh_token: None,
                expires_at: now() + TimeDelta::hours(1),
                scopes: vec![],
            })
        });
    }
    ConnectionService::new(
        Arc::new(oauth),
        Arc::new(MockOAuthStateStore::new()),
        Arc::new(MockStateCodec::new()),
        Arc::new(tokens),
        Arc::new(MockRevocationQueue::new()),
        clock(),
        Arc::new(MockSleeper::new()),
    )
}

/// A mock queue whose one claim takes the users of `rows` (in the order they first appear)
/// and whose `due` serves each user's rows once, then nothing.
pub(super) fn serving(rows: Vec<OutboxEntry>) -> MockSyncQueue {
    let mut users: Vec<UserId> = Vec::new();
    for row in &rows {
        if !users.contains(&row.user) {
            users.push(row.user);
        }
    }
    let mut queue = MockSyncQueue::new();
    queue.expect_claim().return_once(move |_, _, _, _| {
        Ok(users
            .into_iter()
            .map(|user| ClaimedUser {
                user,
                rescued: false,
                read_due: false,
                connection: None,
            })
            .collect())
    });
    let unserved = Mutex::new(rows);
    queue.expect_due().returning(move |user, _, _| {
        let mut unserved = unserved.lock().expect("lock");
        let (mine, rest) = unserved.drain(..).partition(|row| row.user == user);
        *unserved = rest;
        Ok(mine)
    });
    queue
}

/// A queue holding `entry`, recording how it was settled.
fn queue(entry: OutboxEntry, settled: Arc<Mutex<Vec<Settlement>>>) -> MockSyncQueue {
    let mut queue = serving(vec![entry]);
    queue
        .expect_current()
        .returning(|_| Ok(Some((view(), TimeZoneName::UTC))));
    queue.expect_settle().returning(move |_, outcome| {
        settled.lock().expect("lock").push(outcome);
        Ok(())
    });
    queue.expect_release().returning(|_, _| Ok(()));
    queue.expect_pause_user().returning(|_, _, _| Ok(()));
    queue
}

pub(super) fn recording_sleeper() -> (MockSleeper, Arc<Mutex<Vec<Duration>>>) {
    let slept = Arc::new(Mutex::new(Vec::new()));
    let log = slept.clone();
    let mut sleeper = MockSleeper::new();
    sleeper
        .expect_sleep()
        .returning(move |d| log.lock().expect("lock").push(d));
    (sleeper, slept)
}

/// Delivers one queued `operation` through `calendar` (with a forced refresh available when
/// `refresh`); `never_sleeps` makes any retry wait a failure. Returns how the row settled.
async fn deliver_one(
    operation: SyncOperation,
    calendar: MockCalendarSync,
    refresh: bool,
    never_sleeps: bool,
) -> Vec<Settlement> {
    let settled = Arc::new(Mutex::new(Vec::new()));
    let mut sleeper = MockSleeper::new();
    if never_sleeps {
        sleeper.expect_sleep().never();
    }
    let service = SyncService::new(
        Arc::new(queue(entry(operation), settled.clone())),
        Arc::new(calendar),
        connection(refresh),
        clock(),
        Arc::new(sleeper),
        POLICY,
    );
    service.run_once(10).await.expect("run");
    settled.lock().expect("lock").clone()
}

pub(super) const POLICY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(1000),
    max_retries: 3,
    max_round_delay: Duration::from_secs(3600),
};

/// One generated answer of Google to an insert.
#[derive(Debug, Clone)]
enum Answer {
    Ok,
    Busy(Option<u64>),
    Refused,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        1 => Just(Answer::Ok),
        4 => prop::option::of(0u64..10).prop_map(Answer::Busy),
        1 => Just(Answer::Refused),
    ]
}

proptest! {
    /// Property 23: a failed call is retried with increasing delays. For any sequence of
    /// answers, retryable failures are retried after base × 1, 2, 4 … (a longer
    /// `Retry-After` wins), never more than `max_retries` times in one round; a
    /// non-retryable error is not retried; the round ends delivered, given up, or
    /// rescheduled.
    #[test]
    fn property_23_failed_calls_are_retried_with_increasing_delays(
        answers in prop::collection::vec(answer(), 1..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let script = Arc::new(Mutex::new(answers.clone().into_iter()));
        let calls = Arc::new(Mutex::new(0usize));
        let mut calendar = MockCalendarSync::new();
        let (next, counter) = (script.clone(), calls.clone());
        calendar.expect_insert().returning(move |_, _| {
            *counter.lock().expect("lock") += 1;
            match next.lock().expect("lock").next() {
                Some(Answer::Ok) | None => Ok(None),
                Some(Answer::Busy(after)) => Err(CalendarError::Retryable {
                    reason: "503".into(),
                    retry_after: after.map(Duration::from_secs),
                }),
                Some(Answer::Refused) => Err(CalendarError::Permanent { status: 400, message: "bad".into() }),
            }
        });
        let settled = Arc::new(Mutex::new(Vec::new()));
        let (sleeper, slept) = recording_sleeper();
        let service = SyncService::new(
            Arc::new(queue(entry(SyncOperation::Upsert), settled.clone())),
            Arc::new(calendar),
            connection(false),
            clock(),
            Arc::new(sleeper),
            POLICY,
        );
        rt.block_on(service.run_once(10)).expect("run");

        // What the policy says should have happened.
        let mut expected_delays = Vec::new();
        let mut expected_calls = 0;
        let mut expected_end = "delivered";
        for (i, a) in answers.iter().chain(std::iter::repeat(&Answer::Ok)).enumerate() {
            expected_calls += 1;
            match a {
                Answer::Ok => break,
                Answer::Refused => { expected_end = "given up"; break; }
                Answer::Busy(after) => {
                    if i as u32 == POLICY.max_retries { expected_end = "rescheduled"; break; }
                    let backoff = POLICY.base * (1 << i);
                    expected_delays.push(after.map_or(backoff, |s| Duration::from_secs(s).max(backoff)));
                }
            }
        }
        let slept = slept.lock().expect("lock").clone();
        prop_assert_eq!(&slept, &expected_delays);
        prop_assert!(slept.len() as u32 <= POLICY.max_retries);
        for (i, d) in slept.iter().enumerate() {
            prop_assert!(*d >= POLICY.base * (1 << i), "delay {} shorter than its backoff", i);
        }
        prop_assert_eq!(*calls.lock().expect("lock"), expected_calls);
        let end = match settled.lock().expect("lock").as_slice() {
            [Settlement::Delivered { etag: None }] => "delivered",
            [Settlement::GiveUp { .. }] => "given up",
            [Settlement::RetryAt { retry_at, .. }] => {
                prop_assert_eq!(*retry_at, now() + TimeDelta::seconds(8), "round delay is base × 2^max_retries");
                "rescheduled"
            }
            other => return Err(TestCaseError::fail(format!("settled {other:?}"))),
        };
        prop_assert_eq!(end, expected_end);
    }
}

#[tokio::test]
async fn a_lost_insert_answer_becomes_an_update_not_a_duplicate() {
    let mut calendar = MockCalendarSync::new();
    calendar
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(CalendarError::AlreadyExists));
    calendar
        .expect_update()
        .times(1)
        .withf(|_, e, if_match| e.summary == "Exam" && e.color_id == "11" && if_match.is_none())
        .returning(|_, _, _| Ok(None));
    let settled = deliver_one(SyncOperation::Upsert, calendar, false, false).await;
    assert_eq!(settled.as_slice(), [Settlement::Delivered { etag: None }]);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_with_the_new_token() {
    let mut calendar = MockCalendarSync::new();
    calendar
        .expect_delete()
        .withf(|token, _, _| token.expose() == "ya29.first")
        .times(1)
        .returning(|_, _, _| Err(CalendarError::Unauthorized));
    calendar
        .expect_delete()
        .withf(|token, _, _| token.expose() == "ya29.second")
        .times(1)
        .returning(|_, _, _| Err(CalendarError::Gone));
    let settled = deliver_one(SyncOperation::Delete, calendar, true, false).await;
    assert_eq!(
        settled.as_slice(),
        [Settlement::Delivered { etag: None }],
        "410 on delete is done"
    );
}

#[test]
fn round_delays_keep_doubling_up_to_an_hour() {
    let delays: Vec<u64> = (0..12).map(|r| POLICY.round_delay(r).as_secs()).collect();
    assert_eq!(
        delays,
        [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600, 3600]
    );
}

/// Delivers one upsert of an event made in Google whose queued change touched `fields`;
/// returns the fields each `events.patch` carried, and the settlements.
async fn deliver_to_google_origin(fields: FieldSet) -> (Vec<FieldSet>, Vec<Settlement>) {
    let patched = Arc::new(Mutex::new(Vec::new()));
    let mut calendar = MockCalendarSync::new();
    calendar.expect_insert().never();
    calendar.expect_update().never();
    let seen = patched.clone();
    calendar
        .expect_patch()
        .returning(move |_, event, fields, _| {
            assert_eq!(event.summary, "Exam");
            seen.lock().expect("lock").push(fields);
            Ok(Some("\"e2\"".to_owned()))
        });
    let settled = Arc::new(Mutex::new(Vec::new()));
    let mut queue = serving(vec![OutboxEntry {
        occurrence: None,
        fields,
        ..entry(SyncOperation::Upsert)
    }]);
    queue.expect_current().returning(|_| {
        let mut imported = view();
        imported.event.origin = crate::event::Origin::Google;
        Ok(Some((imported, TimeZoneName::UTC)))
    });
    let log = settled.clone();
    queue.expect_settle().returning(move |_, outcome| {
        log.lock().expect("lock").push(outcome);
        Ok(())
    });
    queue.expect_release().returning(|_, _| Ok(()));
    let service = SyncService::new(
        Arc::new(queue),
        Arc::new(calendar),
        connection(false),
        clock(),
        Arc::new(MockSleeper::new()),
        POLICY,
    );
    service.run_once(10).await.expect("run");
    let patched = patched.lock().expect("lock").clone();
    let settled = settled.lock().expect("lock").clone();
    (patched, settled)
}

#[tokio::test]
async fn an_event_made_in_google_is_patched_with_the_changed_fields_only() {
    // The etag of a partial patch is not kept: Google's version may hold edits of the other
    // fields that Phantom has not read yet.
    let changed = FieldSet::TITLE.with(FieldSet::TIMES);
    assert_eq!(
        deliver_to_google_origin(changed).await,
        (vec![changed], vec![Settlement::Delivered { etag: None }])
    );
    assert_eq!(
        deliver_to_google_origin(FieldSet::ALL).await,
        (
            vec![FieldSet::ALL],
            vec![Settlement::Delivered {
                etag: Some("\"e2\"".to_owned())
            }]
        )
    );
}

#[tokio::test]
async fn a_change_google_does_not_hold_writes_nothing_to_an_event_made_there() {
    assert_eq!(
        deliver_to_google_origin(FieldSet::NONE).await,
        (vec![], vec![Settlement::Delivered { etag: None }])
    );
}

/// A service over `queue` whose clock reads `at`.
fn service_at(queue: MockSyncQueue, at: Arc<Mutex<DateTime<Utc>>>) -> SyncService {
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .returning(move || *at.lock().expect("clock"));
    SyncService::new(
        Arc::new(queue),
        Arc::new(MockCalendarSync::new()),
        connection(false),
        Arc::new(clock),
        Arc::new(MockSleeper::new()),
        RetryPolicy::default(),
    )
}

/// A queue whose heartbeats grant the share `share` holds then, of a fleet of two.
fn beating(share: Arc<std::sync::atomic::AtomicU32>) -> MockSyncQueue {
    let mut queue = MockSyncQueue::new();
    queue.expect_renew().returning(|_, _| Ok(3));
    queue.expect_beat().returning(move |_, _, _, held, rate| {
        assert_eq!((held, rate), (3, 600), "the users held and the whole rate");
        Ok(crate::ports::Beat {
            live: 2,
            share: share.load(std::sync::atomic::Ordering::SeqCst),
        })
    });
    queue
}

fn share(n: u32) -> Arc<std::sync::atomic::AtomicU32> {
    Arc::new(std::sync::atomic::AtomicU32::new(n))
}

/// A worker claims only while its heartbeat reserved it a share of the project's rate.
#[tokio::test]
async fn a_worker_claims_only_with_a_share_of_the_project_rate() {
    let at = Arc::new(Mutex::new(now()));
    let granted = share(0);
    let service = service_at(beating(granted.clone()), at).with_pacing(Pacing {
        per_user: 0,
        per_project: 600,
    });
    assert!(!service.joined(), "no claim before the first heartbeat");
    // The others' shares leave nothing yet: it waits for them to shrink.
    service.heartbeat().await.expect("beat");
    assert!(!service.joined());
    granted.store(200, std::sync::atomic::Ordering::SeqCst);
    service.heartbeat().await.expect("beat");
    assert!(service.joined());
}

/// With the project unpaced there is nothing to share: the first heartbeat is enough.
#[tokio::test]
async fn an_unpaced_worker_claims_after_its_first_heartbeat() {
    let at = Arc::new(Mutex::new(now()));
    let mut queue = MockSyncQueue::new();
    queue.expect_renew().returning(|_, _| Ok(0));
    queue.expect_beat().returning(|_, _, _, _, rate| {
        assert_eq!(rate, 0);
        Ok(crate::ports::Beat { live: 3, share: 0 })
    });
    let service = service_at(queue, at);
    assert!(!service.joined());
    service.heartbeat().await.expect("beat");
    assert!(service.joined());
}

/// Shares by weight: busy workers divide the rate by the users they hold, an idle one keeps
/// a little, and nobody's aim is above the rate or (with a rate) below one call a minute.
#[test]
fn shares_follow_the_users_held() {
    use crate::ports::{share_of, weight};
    let (busy, idle) = (weight(10), weight(0));
    assert_eq!((busy, idle), (101, 1));
    assert_eq!(share_of(240, busy, busy + 2 * idle), 235);
    assert_eq!(share_of(240, idle, busy + 2 * idle), 2);
    assert_eq!(share_of(240, weight(5), 2 * weight(5)), 120);
    assert_eq!(share_of(240, idle, 10_000), 1);
    assert_eq!(share_of(240, busy, busy), 240);
    assert_eq!(share_of(0, busy, busy), 0);
}
