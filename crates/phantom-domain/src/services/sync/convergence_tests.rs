//! Property 11 against in-memory fakes of the outbox and of Google Calendar.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::calendar::CalendarEvent;
use crate::event::{Event, EventView};
use crate::google::{CALENDAR_EVENTS_SCOPE, GoogleToken, StoredToken};
use crate::ids::{CategoryId, EventId, UserId};
use crate::ports::{
    MockOAuthProvider, MockOAuthStateStore, MockRevocationQueue, MockSleeper, MockStateCodec,
    MockTokenStore,
};
use crate::sync::{GoogleEventId, SyncStatus, color_id_for_priority};
use crate::timezone::TimeZoneName;

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
        .single()
        .expect("valid")
}

/// A clock the test moves forward, so rescheduled rows come due.
#[derive(Default)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        epoch() + TimeDelta::seconds(self.0.load(Ordering::SeqCst))
    }
}

/// The outbox contract: one row per event, later changes replace the operation and bump
/// the version, a settlement only settles the version it was claimed with.
#[derive(Default)]
struct Store {
    events: BTreeMap<i64, EventView>,
    outbox: BTreeMap<i64, Row>,
    /// The one user is leased to a worker.
    leased: bool,
}

#[derive(Clone)]
struct Row {
    google_id: GoogleEventId,
    operation: SyncOperation,
    version: i32,
    available_at: DateTime<Utc>,
}

#[derive(Clone, Default)]
struct FakeQueue(Arc<Mutex<Store>>);

impl FakeQueue {
    fn enqueue(&self, event: i64, google_id: GoogleEventId, operation: SyncOperation) {
        let mut store = self.0.lock().expect("lock");
        let row = store.outbox.entry(event).or_insert(Row {
            google_id,
            operation,
            version: 0,
            available_at: epoch(),
        });
        row.operation = operation;
        row.version += 1;
        row.available_at = epoch();
    }
}

#[async_trait]
impl SyncQueue for FakeQueue {
    async fn claim(
        &self,
        _: &WorkerId,
        now: DateTime<Utc>,
        _: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedUser>, RepoError> {
        let mut store = self.0.lock().expect("lock");
        let due = store.outbox.values().any(|row| row.available_at <= now);
        if store.leased || !due || limit == 0 {
            return Ok(Vec::new());
        }
        store.leased = true;
        Ok(vec![ClaimedUser {
            user: UserId(1),
            rescued: false,
            read_due: false,
            connection: None,
        }])
    }

    async fn due(
        &self,
        _: UserId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, RepoError> {
        let store = self.0.lock().expect("lock");
        let mut due: Vec<(DateTime<Utc>, OutboxEntry)> = store
            .outbox
            .iter()
            .filter(|(_, row)| row.available_at <= now)
            .map(|(event, row)| {
                let entry = OutboxEntry {
                    occurrence: None,
                    id: *event,
                    user: UserId(1),
                    event_id: EventId(*event),
                    google_event_id: row.google_id.clone(),
                    operation: row.operation,
                    version: row.version,
                    fields: crate::google_changes::FieldSet::ALL,
                    attempts: 0,
                    etag: None,
                };
                (row.available_at, entry)
            })
            .collect();
        due.sort_by_key(|(at, entry)| (*at, entry.id));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, entry)| entry)
            .collect())
    }

    async fn renew(&self, _: &WorkerId, _: DateTime<Utc>) -> Result<u64, RepoError> {
        Ok(u64::from(self.0.lock().expect("lock").leased))
    }

    async fn current(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<(EventView, TimeZoneName)>, RepoError> {
        let store = self.0.lock().expect("lock");
        Ok(store
            .events
            .get(&entry.event_id.0)
            .map(|v| (v.clone(), TimeZoneName::UTC)))
    }

    async fn settle(&self, entry: &OutboxEntry, outcome: Settlement) -> Result<(), RepoError> {
        let mut store = self.0.lock().expect("lock");
        let Some(row) = store.outbox.get_mut(&entry.id) else {
            return Ok(());
        };
        if row.version != entry.version {
            return Ok(());
        }
        match outcome {
            Settlement::Delivered { .. } | Settlement::GiveUp { .. } => {
                store.outbox.remove(&entry.id);
            }
            Settlement::RetryAt { retry_at, .. } => row.available_at = retry_at,
        }
        Ok(())
    }

    async fn release(&self, _: &WorkerId, _: UserId) -> Result<(), RepoError> {
        self.0.lock().expect("lock").leased = false;
        Ok(())
    }

    async fn expire_leases(&self, _: DateTime<Utc>) -> Result<u64, RepoError> {
        let mut store = self.0.lock().expect("lock");
        Ok(u64::from(std::mem::take(&mut store.leased)))
    }

    async fn read_state(
        &self,
        _: UserId,
        _: DateTime<Utc>,
    ) -> Result<Option<crate::ports::ReadState>, RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn apply_changes(
        &self,
        _: UserId,
        _: Option<DateTime<Utc>>,
        _: &[crate::google_changes::GoogleEvent],
        _: crate::google_changes::ReadRules,
        _: DateTime<Utc>,
    ) -> Result<crate::ports::Applied, RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn finish_read(
        &self,
        _: UserId,
        _: DateTime<Utc>,
        _: Option<String>,
        _: DateTime<Utc>,
        _: Option<DateTime<Utc>>,
    ) -> Result<(), RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn retry_read(&self, _: UserId, _: DateTime<Utc>) -> Result<(), RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn channels(
        &self,
        _: UserId,
    ) -> Result<Vec<crate::google_changes::OpenChannel>, RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn keep_channel(
        &self,
        _: UserId,
        _: &crate::google_changes::OpenChannel,
        _: &Secret,
    ) -> Result<bool, RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn forget_channel(&self, _: &str) -> Result<(), RepoError> {
        unreachable!("no read is ever due here")
    }

    async fn channel_owner(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<Option<UserId>, RepoError> {
        unreachable!("no notification comes here")
    }

    async fn request_read(&self, _: UserId, _: DateTime<Utc>) -> Result<(), RepoError> {
        unreachable!("no notification comes here")
    }

    async fn beat(
        &self,
        _: &WorkerId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: u64,
        rate: u32,
    ) -> Result<crate::ports::Beat, RepoError> {
        Ok(crate::ports::Beat {
            live: 1,
            share: rate,
        })
    }

    async fn prune_tombstones(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<u64, RepoError> {
        Ok(0)
    }

    async fn pause_user(&self, _: UserId, _: DateTime<Utc>, _: &str) -> Result<(), RepoError> {
        Ok(())
    }
}

/// Google Calendar: events by id, cancelled ones kept (ids are never reusable), and a
/// script of failures: `Fail` answers 503 without acting, `Lose` acts and then answers 503.
#[derive(Clone, Default)]
struct FakeCalendar {
    events: Arc<Mutex<HashMap<String, (CalendarEvent, bool)>>>,
    script: Arc<Mutex<Vec<Glitch>>>,
}

#[derive(Debug, Clone, Copy)]
enum Glitch {
    None,
    Fail,
    Lose,
}

fn busy() -> CalendarError {
    CalendarError::Retryable {
        reason: "503".into(),
        retry_after: None,
    }
}

impl FakeCalendar {
    fn glitch(&self) -> Glitch {
        self.script
            .lock()
            .expect("lock")
            .pop()
            .unwrap_or(Glitch::None)
    }

    fn apply(
        &self,
        f: impl FnOnce(&mut HashMap<String, (CalendarEvent, bool)>) -> Result<(), CalendarError>,
    ) -> Result<(), CalendarError> {
        match self.glitch() {
            Glitch::Fail => Err(busy()),
            Glitch::None => f(&mut self.events.lock().expect("lock")),
            Glitch::Lose => {
                let _ = f(&mut self.events.lock().expect("lock"));
                Err(busy())
            }
        }
    }
}

#[async_trait]
impl CalendarSync for FakeCalendar {
    async fn insert(
        &self,
        _: &Secret,
        event: &CalendarEvent,
    ) -> Result<Option<String>, CalendarError> {
        self.apply(|events| {
            if events.contains_key(event.id.as_str()) {
                return Err(CalendarError::AlreadyExists);
            }
            events.insert(event.id.as_str().to_owned(), (event.clone(), false));
            Ok(())
        })
        .map(|()| None)
    }

    async fn update(
        &self,
        _: &Secret,
        event: &CalendarEvent,
        _: Option<String>,
    ) -> Result<Option<String>, CalendarError> {
        self.apply(|events| match events.get_mut(event.id.as_str()) {
            Some((stored, false)) => {
                *stored = event.clone();
                Ok(())
            }
            _ => Err(CalendarError::Gone),
        })
        .map(|()| None)
    }

    async fn delete(
        &self,
        _: &Secret,
        id: &GoogleEventId,
        _: Option<String>,
    ) -> Result<(), CalendarError> {
        self.apply(|events| match events.get_mut(id.as_str()) {
            Some((_, cancelled @ false)) => {
                *cancelled = true;
                Ok(())
            }
            _ => Err(CalendarError::Gone),
        })
    }

    async fn patch(
        &self,
        _: &Secret,
        _: &CalendarEvent,
        _: crate::google_changes::FieldSet,
        _: Option<String>,
    ) -> Result<Option<String>, CalendarError> {
        unreachable!("the workload creates no Google-origin event")
    }

    async fn get(
        &self,
        _: &Secret,
        _: &GoogleEventId,
    ) -> Result<crate::google_changes::GoogleEvent, CalendarError> {
        unreachable!("the fake gives no etag, so no write is conditional")
    }

    async fn list_changes(
        &self,
        _: &Secret,
        _: Option<String>,
        _: Option<String>,
    ) -> Result<crate::google_changes::ChangePage, CalendarError> {
        unreachable!("the workload reads nothing back")
    }

    async fn watch(
        &self,
        _: &Secret,
        _: &crate::google_changes::ChannelRequest,
    ) -> Result<crate::google_changes::OpenChannel, CalendarError> {
        unreachable!("the workload reads nothing back")
    }

    async fn stop_channel(
        &self,
        _: &Secret,
        _: &crate::google_changes::OpenChannel,
    ) -> Result<(), CalendarError> {
        unreachable!("the workload reads nothing back")
    }
}

fn connection(clock: Arc<TestClock>) -> ConnectionService {
    let mut tokens = MockTokenStore::new();
    tokens.expect_load().returning(|_| {
        Ok(StoredToken::Present(GoogleToken {
            access_token: Secret::new("ya29.token"),
            refresh_token: Secret::new("1//r"),
            expires_at: epoch() + TimeDelta::days(365),
            scopes: vec![CALENDAR_EVENTS_SCOPE.into()],
        }))
    });
    ConnectionService::new(
        Arc::new(MockOAuthProvider::new()),
        Arc::new(MockOAuthStateStore::new()),
        Arc::new(MockStateCodec::new()),
        Arc::new(tokens),
        Arc::new(MockRevocationQueue::new()),
        clock,
        Arc::new(MockSleeper::new()),
    )
}

/// One step of a generated workload.
#[derive(Debug, Clone)]
enum Step {
    Create {
        title: String,
        priority: i32,
        start: i64,
    },
    Update {
        which: usize,
        title: String,
        priority: i32,
    },
    Delete {
        which: usize,
    },
    /// Let the worker take up to this many rows.
    Work(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => ("[a-z]{1,8}", 1i32..=6, 0i64..48).prop_map(|(title, priority, start)| Step::Create { title, priority, start }),
        2 => (any::<usize>(), "[a-z]{1,8}", 1i32..=6).prop_map(|(which, title, priority)| Step::Update { which, title, priority }),
        1 => any::<usize>().prop_map(|which| Step::Delete { which }),
        2 => (1u32..4).prop_map(Step::Work),
    ]
}

fn glitch() -> impl Strategy<Value = Glitch> {
    prop_oneof![4 => Just(Glitch::None), 1 => Just(Glitch::Fail), 1 => Just(Glitch::Lose)]
}

fn view(id: i64, title: &str, priority: i32, start: i64) -> EventView {
    let start = epoch() + TimeDelta::hours(start);
    EventView {
        event: Event {
            id: EventId(id),
            user_id: UserId(1),
            category_id: CategoryId(1),
            title: title.to_owned(),
            description: format!("about {title}"),
            start_time: start,
            end_time: start + TimeDelta::hours(1),
            is_flexible: true,
            is_completed: false,
            all_day: false,
            origin: crate::event::Origin::Phantom,
            google_event_id: GoogleEventId::generate(),
            google_calendar_id: None,
            sync_status: SyncStatus::Pending,
            sync_error: None,
            created_at: epoch(),
            updated_at: epoch(),
            recurrence: Vec::new(),
            timezone: None,
        },
        category_name: "Any".into(),
        priority_level: priority,
        occurrence: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Property 11: for any event created or modified, Google Calendar reflects the same
    /// data. For any sequence of creates, updates and deletes, interleaved with partial work
    /// by the worker and with Google failing or losing answers, once the queue drains the
    /// calendar holds exactly the live events (no duplicate, no leftover), each with the
    /// same title, description, start, end and colour.
    #[test]
    fn property_11_google_calendar_converges_to_the_live_events(
        steps in prop::collection::vec(step(), 1..30),
        glitches in prop::collection::vec(glitch(), 0..20),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let clock = Arc::new(TestClock::default());
        let queue = FakeQueue::default();
        let calendar = FakeCalendar::default();
        *calendar.script.lock().expect("lock") = glitches;
        let mut sleeper = MockSleeper::new();
        sleeper.expect_sleep().returning(|_| ());
        let service = SyncService::new(
            Arc::new(queue.clone()),
            Arc::new(calendar.clone()),
            connection(clock.clone()),
            clock.clone(),
            Arc::new(sleeper),
            RetryPolicy::default(),
        );
        let mut live: Vec<i64> = Vec::new();
        let mut next_id = 1;
        rt.block_on(async {
            for step in steps {
                match step {
                    Step::Create { title, priority, start } => {
                        let v = view(next_id, &title, priority, start);
                        let google_id = v.event.google_event_id.clone();
                        queue.0.lock().expect("lock").events.insert(next_id, v);
                        queue.enqueue(next_id, google_id, SyncOperation::Upsert);
                        live.push(next_id);
                        next_id += 1;
                    }
                    Step::Update { which, title, priority } if !live.is_empty() => {
                        let id = live[which % live.len()];
                        let google_id = {
                            let mut store = queue.0.lock().expect("lock");
                            let v = store.events.get_mut(&id).expect("live");
                            v.event.title = title.clone();
                            v.event.description = format!("now {title}");
                            v.priority_level = priority;
                            v.event.google_event_id.clone()
                        };
                        queue.enqueue(id, google_id, SyncOperation::Upsert);
                    }
                    Step::Delete { which } if !live.is_empty() => {
                        let id = live.remove(which % live.len());
                        let v = queue.0.lock().expect("lock").events.remove(&id).expect("live");
                        queue.enqueue(id, v.event.google_event_id, SyncOperation::Delete);
                    }
                    Step::Work(n) => {
                        service.run_once(n).await.expect("run");
                    }
                    _ => {}
                }
            }
            // Drain: move the clock past every rescheduled row until nothing is queued.
            for _ in 0..100 {
                if queue.0.lock().expect("lock").outbox.is_empty() {
                    break;
                }
                clock.0.fetch_add(2 * 3600, Ordering::SeqCst);
                service.run_once(100).await.expect("run");
            }
        });
        prop_assert!(queue.0.lock().expect("lock").outbox.is_empty(), "the queue did not drain");

        let store = queue.0.lock().expect("lock");
        let in_google: BTreeMap<String, CalendarEvent> = calendar
            .events
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, (_, cancelled))| !cancelled)
            .map(|(id, (e, _))| (id.clone(), e.clone()))
            .collect();
        let expected: BTreeMap<String, CalendarEvent> = live
            .iter()
            .map(|id| {
                let v = &store.events[id];
                (v.event.google_event_id.as_str().to_owned(), CalendarEvent::from_view(v, TimeZoneName::UTC))
            })
            .collect();
        prop_assert_eq!(in_google.len(), expected.len());
        for (id, want) in &expected {
            let got = in_google.get(id);
            prop_assert!(got.is_some(), "event {} missing in Google", id);
            let got = got.expect("checked");
            prop_assert_eq!(&got.summary, &want.summary);
            prop_assert_eq!(&got.description, &want.description);
            prop_assert_eq!(got.start, want.start);
            prop_assert_eq!(got.end, want.end);
            prop_assert_eq!(&got.color_id, &color_id_for_priority(store.events.values().find(|v| v.event.google_event_id.as_str() == id).map_or(0, |v| v.priority_level)).to_owned());
        }
    }
}
