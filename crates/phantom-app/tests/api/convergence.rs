//! Property 11 end to end: random workloads over HTTP, with Google (the emulator) failing
//! now and then, converge; and a server killed mid-queue delivers every change exactly once
//! after a restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use phantom_domain::sync::color_id_for_priority;
use phantom_google_emulator::{
    EmulatedEvent, Emulator, EmulatorConfig, EventStatus, Fault, FaultAction, Match, Operation,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::binary::{Server, binary_env, start_with};
use crate::helpers::{
    TestApp, TestDb, TestUser, answers, body, connect_google, spawn_app_with, use_emulator,
};

/// Cases of the workload property: each runs a server-side queue to completion.
const CASES: u32 = 6;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
        .single()
        .expect("valid")
}

fn z(hour: i64) -> String {
    (base() + chrono::TimeDelta::hours(hour))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One step of a workload.
#[derive(Debug, Clone)]
enum Step {
    Create {
        title: String,
        description: String,
        hour: i64,
        category: i64,
    },
    /// Changes the `pick`-th live event (modulo how many there are).
    Update {
        pick: usize,
        title: String,
        hour: i64,
        category: i64,
    },
    Delete {
        pick: usize,
    },
    /// Google's next answer to `operation` is a failure.
    Glitch {
        operation: Operation,
        action: FaultAction,
    },
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ]{0,14}"
}

fn glitch() -> impl Strategy<Value = Step> {
    let operation = prop_oneof![
        Just(Operation::Insert),
        Just(Operation::Update),
        Just(Operation::Delete),
    ];
    let action = prop_oneof![
        Just(FaultAction::Status {
            code: 503,
            retry_after: None
        }),
        Just(FaultAction::Status {
            code: 500,
            retry_after: None
        }),
        Just(FaultAction::Forbidden {
            reason: "rateLimitExceeded".into()
        }),
        Just(FaultAction::ApplyThen503),
    ];
    (operation, action).prop_map(|(operation, action)| Step::Glitch { operation, action })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (text(), text(), 0i64..20, 1i64..=5).prop_map(|(title, description, hour, category)| {
            Step::Create { title, description, hour, category }
        }),
        3 => (any::<usize>(), text(), 0i64..20, 1i64..=5).prop_map(|(pick, title, hour, category)| {
            Step::Update { pick, title, hour, category }
        }),
        2 => any::<usize>().prop_map(|pick| Step::Delete { pick }),
        2 => glitch(),
    ]
}

/// Runs `steps` for `user` over HTTP, in order; returns nothing: the API is the record.
async fn run(app: &TestApp, emulator: &Emulator, user: &TestUser, steps: &[Step]) {
    let mut live: Vec<i64> = Vec::new();
    for step in steps {
        match step {
            Step::Create {
                title,
                description,
                hour,
                category,
            } => {
                let created = app
                    .create_event(
                        user,
                        &json!({"title": title, "description": description, "category": category,
                                "start_time": z(*hour), "end_time": z(hour + 1)}),
                    )
                    .await;
                live.push(created["id"].as_i64().expect("id"));
            }
            Step::Update {
                pick,
                title,
                hour,
                category,
            } if !live.is_empty() => {
                let id = live[pick % live.len()];
                let patch = json!({"title": title, "category": category,
                                   "start_time": z(*hour), "end_time": z(hour + 2)});
                let response = app
                    .send(
                        Method::PATCH,
                        &format!("/api/events/{id}/"),
                        Some(&user.access),
                        Some(&patch),
                    )
                    .await;
                assert!(response.status().is_success(), "{}", response.status());
            }
            Step::Delete { pick } if !live.is_empty() => {
                let id = live.remove(pick % live.len());
                let response = app
                    .send(
                        Method::DELETE,
                        &format!("/api/events/{id}/"),
                        Some(&user.access),
                        None,
                    )
                    .await;
                assert!(response.status().is_success(), "{}", response.status());
            }
            Step::Glitch { operation, action } => {
                emulator.push_fault(Fault::once(Match::operation(*operation), action.clone()));
            }
            Step::Update { .. } | Step::Delete { .. } => {}
        }
    }
}

/// How the API shows a user's events, by id.
async fn api_events(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let page = body(app.get("/api/events/?page_size=100", &user.access).await).await;
    page["results"].as_array().expect("results").clone()
}

/// Whether Google's live events are exactly `events`, field by field; `Err` says how not.
fn mirrors(google: &[EmulatedEvent], events: &[Value]) -> Result<(), String> {
    let live: BTreeMap<&str, &EmulatedEvent> = google
        .iter()
        .filter(|g| g.status != EventStatus::Cancelled)
        .map(|g| (g.id.as_str(), g))
        .collect();
    if live.len() != events.len() {
        return Err(format!(
            "Google holds {} live events, the API {}",
            live.len(),
            events.len()
        ));
    }
    for e in events {
        if e["sync_status"] != "synced" {
            return Err(format!("event {} is {}", e["id"], e["sync_status"]));
        }
        let id = e["google_calendar_id"].as_str().unwrap_or_default();
        let g = live.get(id).ok_or(format!("{id} is not in Google"))?;
        let instant = |t: &Option<phantom_google_emulator::EventDateTime>| {
            t.as_ref()
                .and_then(|t| t.date_time.as_deref())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let field = |v: &Value| v.as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
        let priority = i32::try_from(e["priority_level"].as_i64().unwrap_or(0)).unwrap_or(0);
        let same = g.summary.as_deref() == e["title"].as_str()
            && g.description.as_deref().unwrap_or("") == e["description"].as_str().unwrap_or("")
            && instant(&g.start) == field(&e["start_time"])
            && instant(&g.end) == field(&e["end_time"])
            && g.color_id.as_deref() == Some(color_id_for_priority(priority));
        if !same {
            return Err(format!("{id} differs: Google {g:?}, API {e}"));
        }
    }
    Ok(())
}

/// Waits up to `limit` for Google to mirror the user's events.
async fn until_mirrored(
    app: &TestApp,
    user: &TestUser,
    emulator: &Emulator,
    owner: &str,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let events = api_events(app, user).await;
        match mirrors(&emulator.events(owner), &events) {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() > deadline => return Err(why),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Property 11: for any event created or modified, Google Calendar reflects the same data.
/// For any sequence of creates, updates and deletes over HTTP, with Google failing some
/// calls (5xx, rate limits, lost answers), once the queue drains Google holds exactly the
/// live events, with the same title, description, start, end and colour.
#[test]
fn property_11_random_workloads_converge_in_google_calendar() {
    let rt = Runtime::new().expect("runtime");
    let emulator = rt
        .block_on(Emulator::start(EmulatorConfig::default()))
        .expect("emulator");
    let app = rt.block_on(spawn_app_with(|s| {
        use_emulator(s, &emulator);
        s.sync.retry_base = Duration::from_millis(10);
    }));

    proptest!(ProptestConfig::with_cases(CASES), |(steps in prop::collection::vec(step(), 1..25))| {
                // Each case is its own user with its own Google account.
        let owner = format!("case.{}@gmail.com", uuid::Uuid::new_v4().simple());
        rt.block_on(async {
            emulator.clear_faults();
            emulator.set_signed_in_user(&owner);
            let user = app.user().await;
            connect_google(&app, &user).await;
            run(&app, &emulator, &user, &steps).await;
            until_mirrored(&app, &user, &emulator, &owner, Duration::from_secs(20))
                .await
                .map_err(TestCaseError::fail)
        })?;
    });
}

/// The server killed (SIGKILL) while its queue is half delivered, then started again on the
/// same database, with the default lease: every event reaches Google exactly once, none
/// twice, none lost. Google answers slowly so that the kill lands mid-queue.
#[tokio::test]
async fn a_server_killed_mid_queue_delivers_every_event_exactly_once_after_restart() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let env = binary_env(&db, &emulator, 20);
    let server = start_with(dir.path(), &env).await;
    let app = TestApp {
        address: server.address.clone(),
        client: crate::helpers::http_client(),
        db,
    };
    let user = app.user().await;
    connect_google(&app, &user).await;
    emulator.push_fault(Fault::always(
        Match::operation(Operation::Insert),
        FaultAction::Delay(Duration::from_millis(150)),
    ));
    const EVENTS: usize = 20;
    for n in 0..EVENTS {
        let hour = i64::try_from(n).expect("small");
        app.create_event(
            &user,
            &json!({"title": format!("Event {n}"), "category": 2,
                    "start_time": z(hour), "end_time": z(hour + 1)}),
        )
        .await;
    }
    // Kill it once some, not all, are in Google.
    let owner = emulator.default_user().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while emulator.events(&owner).len() < 3 {
        assert!(Instant::now() < deadline, "nothing reached Google");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(server);
    let delivered_before = emulator.events(&owner).len();
    assert!(
        delivered_before < EVENTS,
        "the queue drained before the kill"
    );

    emulator.clear_faults();
    let server = start_with(dir.path(), &env).await;
    let app = TestApp {
        address: server.address.clone(),
        ..app
    };
    until_mirrored(&app, &user, &emulator, &owner, Duration::from_secs(30))
        .await
        .expect("Google mirrors the events after the restart");
    // Exactly once: one Google event per API event (checked above), each created by one
    // insert; a retry after the kill met its event and updated it (409) instead.
    assert_eq!(emulator.events(&owner).len(), EVENTS);
    let inserted = answers(&emulator, Operation::Insert)
        .into_iter()
        .filter(|status| *status == 200)
        .count();
    assert_eq!(
        inserted, EVENTS,
        "{delivered_before} were in Google before the kill"
    );
}

/// SIGTERM while every lane sleeps out a retry (Google answers 503): the server exits at
/// once, not after its retries or the kill fallback, and leaves its user released with the
/// queue intact and no attempt counted, for any worker to take over immediately.
#[tokio::test]
async fn a_stopped_server_releases_its_users_at_once() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    // Retries wait 5 s, 10 s, 20 s: far longer than the stop may take.
    let mut server = start_with(dir.path(), &binary_env(&db, &emulator, 5000)).await;
    let app = TestApp {
        address: server.address.clone(),
        client: crate::helpers::http_client(),
        db,
    };
    let user = app.user().await;
    connect_google(&app, &user).await;
    emulator.push_fault(Fault::always(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
    for n in 0..3 {
        app.create_event(
            &user,
            &json!({"title": format!("Event {n}"), "category": 2,
                    "start_time": z(n), "end_time": z(n + 1)}),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while answers(&emulator, Operation::Insert).is_empty() {
        assert!(Instant::now() < deadline, "no insert was tried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let took = server.terminate().expect("the server exits on SIGTERM");
    assert!(took < Duration::from_secs(4), "stopping took {took:?}");
    let database = phantom_app::startup::open_database(&app.db.url())
        .await
        .expect("db");
    let (leased, queued, attempts) = database
        .read(|c| {
            use diesel::prelude::*;
            use phantom_adapters::db::schema::{sync_outbox, users};
            let leased: i64 = users::table
                .filter(users::sync_worker.is_not_null())
                .count()
                .get_result(c)
                .map_err(phantom_domain::error::RepoError::storage)?;
            let attempts: Vec<i32> = sync_outbox::table
                .select(sync_outbox::attempts)
                .load(c)
                .map_err(phantom_domain::error::RepoError::storage)?;
            Ok((leased, attempts.len(), attempts.into_iter().max()))
        })
        .await
        .expect("read");
    assert_eq!(leased, 0, "a user is still leased to the stopped server");
    assert_eq!(queued, 3, "every change is still queued");
    assert_eq!(attempts, Some(0), "the interrupted round was counted");
}

/// SIGKILL: no draining, no flushing, leases left behind.
fn kill(mut server: Server) {
    server.kill_now();
}
