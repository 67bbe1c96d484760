//! Event changes reach Google Calendar (the emulator) through the outbox and the worker.

use std::time::{Duration, Instant};

use phantom_google_emulator::{
    EmulatedEvent, Emulator, EmulatorConfig, EventStatus, Fault, FaultAction, Match, Operation,
    RetryAfter,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    self, TestApp, TestUser, answers, body, connect_google, connected_with, event_body,
    spawn_app_with, use_emulator,
};

/// A server with fast retries (20 ms base) pointed at a fresh emulator, and a connected user.
async fn connected() -> (TestApp, Emulator, TestUser) {
    connected_with(|s| s.sync.retry_base = Duration::from_millis(20)).await
}

/// Polls `check` until it holds, for at most ten seconds.
async fn eventually<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    helpers::eventually(what, Duration::from_secs(10), check).await
}

/// Waits until the event shows `synced`.
async fn until_synced(app: &TestApp, user: &TestUser, id: &Value) {
    until_status(app, user, id, "synced").await;
}

/// Waits until the event shows `status`; returns it as then shown.
async fn until_status(app: &TestApp, user: &TestUser, id: &Value, status: &str) -> Value {
    eventually(&format!("the event shows {status}"), async || {
        let e = event(app, user, id).await;
        (e["sync_status"] == status).then_some(e)
    })
    .await
}

fn google_events(emulator: &Emulator) -> Vec<EmulatedEvent> {
    emulator.events(emulator.default_user())
}

/// When the emulator received each insert, in order.
fn insert_times(emulator: &Emulator) -> Vec<chrono::DateTime<chrono::Utc>> {
    emulator
        .request_log()
        .into_iter()
        .filter(|r| r.operation == Operation::Insert)
        .map(|r| r.at)
        .collect()
}

/// There are `count` calls, each at least half a second after the one before (120 a minute:
/// slots 500 ms apart at the server, less a margin for the requests' trip).
fn assert_half_a_second_apart(calls: &[chrono::DateTime<chrono::Utc>], count: usize) {
    assert_eq!(calls.len(), count, "{calls:?}");
    for pair in calls.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= chrono::TimeDelta::milliseconds(450),
            "calls {gap} apart at 120 a minute"
        );
    }
}

/// Creates an event titled "`prefix` `hour`" over the first half of each of `hours`; returns
/// the ids.
async fn half_hours(
    app: &TestApp,
    user: &TestUser,
    prefix: &str,
    hours: std::ops::Range<u32>,
) -> Vec<Value> {
    let mut ids = Vec::new();
    for hour in hours {
        let start = format!("2026-11-24T{hour:02}:00:00Z");
        let end = format!("2026-11-24T{hour:02}:30:00Z");
        let e = app
            .create_event(user, &event_body(&format!("{prefix} {hour}"), &start, &end))
            .await;
        ids.push(e["id"].clone());
    }
    ids
}

async fn event(app: &TestApp, user: &TestUser, id: &Value) -> Value {
    body(app.get(&format!("/api/events/{id}/"), &user.access).await).await
}

#[tokio::test]
async fn creates_updates_and_deletes_reach_google_calendar() {
    let (app, emulator, user) = connected().await;
    let path = "/api/preferences/";
    app.send(
        Method::PATCH,
        path,
        Some(&user.access),
        Some(&json!({"timezone": "Europe/Paris"})),
    )
    .await;
    let created = app
        .create_event(
            &user,
            &event_body(
                "Algebra exam",
                "2026-11-24T09:00:00Z",
                "2026-11-24T11:00:00Z",
            ),
        )
        .await;
    assert_eq!(created["sync_status"], "pending");
    let id = created["id"].clone();

    let synced = eventually("the event is synced", async || {
        let e = event(&app, &user, &id).await;
        (e["sync_status"] == "synced").then_some(e)
    })
    .await;
    let google_id = synced["google_calendar_id"]
        .as_str()
        .expect("google id")
        .to_owned();
    let in_google = google_events(&emulator);
    assert_eq!(in_google.len(), 1);
    let g = &in_google[0];
    assert_eq!(g.id, google_id);
    assert_eq!(g.summary.as_deref(), Some("Algebra exam"));
    assert_eq!(
        g.color_id.as_deref(),
        Some("11"),
        "Exam (priority 5) is colorId 11"
    );
    let start = g.start.as_ref().expect("start");
    assert_eq!(start.time_zone.as_deref(), Some("Europe/Paris"));
    let start_at: chrono::DateTime<chrono::Utc> = start
        .date_time
        .as_deref()
        .expect("dateTime")
        .parse()
        .expect("rfc3339");
    assert_eq!(
        start_at,
        "2026-11-24T09:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
    );

    let path = format!("/api/events/{id}/");
    app.send(
        Method::PATCH,
        &path,
        Some(&user.access),
        Some(&json!({"title": "Algebra resit", "category": 3})),
    )
    .await;
    eventually("the update reaches Google", async || {
        let g = google_events(&emulator).into_iter().next()?;
        (g.summary.as_deref() == Some("Algebra resit") && g.color_id.as_deref() == Some("10"))
            .then_some(())
    })
    .await;

    app.send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    eventually("the delete reaches Google", async || {
        let g = google_events(&emulator).into_iter().next()?;
        (g.status == EventStatus::Cancelled).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_lost_insert_answer_creates_no_duplicate() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::ApplyThen503,
    ));
    let created = app
        .create_event(
            &user,
            &event_body("Once", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let id = created["id"].clone();
    until_synced(&app, &user, &id).await;
    let in_google = google_events(&emulator);
    assert_eq!(in_google.len(), 1, "a retried insert created a duplicate");
    let inserts = answers(&emulator, Operation::Insert);
    assert_eq!(inserts, [503, 409], "the retry met the first insert");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 429,
            retry_after: Some(RetryAfter::Seconds(1)),
        },
    ));
    let created = app
        .create_event(
            &user,
            &event_body("Busy", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let id = created["id"].clone();
    until_synced(&app, &user, &id).await;
    let inserts = insert_times(&emulator);
    assert_eq!(inserts.len(), 2);
    let waited = inserts[1] - inserts[0];
    assert!(
        waited >= chrono::TimeDelta::milliseconds(1000),
        "retried after {waited} despite Retry-After: 1"
    );
}

#[tokio::test]
async fn a_refused_event_fails_alone_and_the_others_sync() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::BadRequest {
            reason: "invalid".into(),
            message: "Invalid value for: summary".into(),
        },
    ));
    let refused = app
        .create_event(
            &user,
            &event_body("Refused", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let id = refused["id"].clone();
    let failed = until_status(&app, &user, &id, "failed").await;
    assert!(
        failed["sync_error"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid value")),
        "{failed}"
    );
    let inserts_before = answers(&emulator, Operation::Insert).len();
    assert_eq!(inserts_before, 1, "a permanent error was retried");

    let fine = app
        .create_event(
            &user,
            &event_body("Fine", "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z"),
        )
        .await;
    let id = fine["id"].clone();
    until_synced(&app, &user, &id).await;
}

#[tokio::test]
async fn with_google_down_creates_answer_at_once_and_converge_later() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault::always(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
    let started = Instant::now();
    let created = app
        .create_event(
            &user,
            &event_body("Patient", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the request waited on Google"
    );
    let id = created["id"].clone();
    let failed = until_status(&app, &user, &id, "failed").await;
    assert!(
        failed["sync_error"]
            .as_str()
            .is_some_and(|m| m.contains("retrying")),
        "{failed}"
    );

    emulator.clear_faults();
    until_synced(&app, &user, &id).await;
    assert_eq!(google_events(&emulator).len(), 1);
}

#[tokio::test]
async fn connecting_backfills_the_events_made_before() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    let ids = half_hours(&app, &user, "Before", 9..12).await;
    for id in &ids {
        assert_eq!(event(&app, &user, id).await["sync_status"], "not_connected");
    }
    connect_google(&app, &user).await;
    for id in &ids {
        eventually("a backfilled event is synced", async || {
            (event(&app, &user, id).await["sync_status"] == "synced").then_some(())
        })
        .await;
    }
    let mut titles: Vec<String> = google_events(&emulator)
        .into_iter()
        .filter_map(|g| g.summary)
        .collect();
    titles.sort();
    assert_eq!(titles, ["Before 10", "Before 11", "Before 9"]);
}

#[tokio::test]
async fn a_401_from_expired_tokens_is_answered_by_one_refresh() {
    let (app, emulator, user) = connected().await;
    // Connecting reads the calendar once; let that read finish with the first token.
    eventually("the first read", async || {
        answers(&emulator, Operation::List)
            .contains(&200)
            .then_some(())
    })
    .await;
    // Google forgets every access token; ours still looks valid by the clock.
    emulator.expire_all_access_tokens();
    let created = app
        .create_event(
            &user,
            &event_body(
                "After expiry",
                "2026-11-24T09:00:00Z",
                "2026-11-24T10:00:00Z",
            ),
        )
        .await;
    until_synced(&app, &user, &created["id"]).await;
    let log = emulator.request_log();
    let statuses = |op: Operation| -> Vec<u16> {
        log.iter()
            .filter(|r| r.operation == op)
            .map(|r| r.status)
            .collect()
    };
    assert_eq!(
        statuses(Operation::Refresh),
        [200],
        "not exactly one refresh"
    );
    assert_eq!(statuses(Operation::Insert), [401, 200]);
}

#[tokio::test]
async fn runs_of_503_and_a_rate_limit_403_are_retried_to_success() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault {
        times: Some(2),
        ..Fault::always(
            Match::operation(Operation::Insert),
            FaultAction::Status {
                code: 503,
                retry_after: None,
            },
        )
    });
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::Forbidden {
            reason: "userRateLimitExceeded".into(),
        },
    ));
    let created = app
        .create_event(
            &user,
            &event_body("Persistent", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    until_synced(&app, &user, &created["id"]).await;
    let inserts = answers(&emulator, Operation::Insert);
    assert_eq!(
        inserts,
        [503, 503, 403, 200],
        "three retries within one round"
    );
    assert_eq!(google_events(&emulator).len(), 1);
}

#[tokio::test]
async fn a_backfill_is_paced_to_the_users_rate() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    // 120 calls a minute: one every half second.
    let app = spawn_app_with(|s| {
        use_emulator(s, &emulator);
        s.sync.user_rate = 120;
    })
    .await;
    let user = app.user().await;
    let ids = half_hours(&app, &user, "Paced", 9..13).await;
    connect_google(&app, &user).await;
    for id in &ids {
        until_synced(&app, &user, id).await;
    }
    assert_half_a_second_apart(&insert_times(&emulator), 4);
}

#[tokio::test]
async fn the_calls_of_all_users_together_are_paced_to_the_project_rate() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    // No limit per user; 120 calls a minute in all: one every half second, whoever's.
    let app = spawn_app_with(|s| {
        use_emulator(s, &emulator);
        s.sync.user_rate = 0;
        s.sync.project_rate = 120;
    })
    .await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let user = app.user().await;
        let ids = half_hours(&app, &user, "Shared quota", 9..11).await;
        waiting.push((user, ids));
    }
    for (user, _) in &waiting {
        connect_google(&app, user).await;
    }
    for (user, ids) in &waiting {
        for id in ids {
            until_synced(&app, user, id).await;
        }
    }
    assert_half_a_second_apart(&insert_times(&emulator), 6);
}

#[tokio::test]
async fn quota_exceeded_pauses_the_users_queue_and_says_why() {
    let (app, emulator, user) = connected().await;
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::Forbidden {
            reason: "quotaExceeded".into(),
        },
    ));
    let first = app
        .create_event(
            &user,
            &event_body("Over quota", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let failed = until_status(&app, &user, &first["id"], "failed").await;
    assert!(
        failed["sync_error"]
            .as_str()
            .is_some_and(|e| e.contains("daily limit")),
        "{failed}"
    );

    // The next change waits with the queue: Google is not called for it.
    let second = app
        .create_event(
            &user,
            &event_body("Waiting", "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z"),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        event(&app, &user, &second["id"]).await["sync_status"],
        "pending"
    );
    assert_eq!(answers(&emulator, Operation::Insert), [403]);
    // The status endpoint says so too.
    let status = body(
        app.get("/api/integrations/google-calendar/status/", &user.access)
            .await,
    )
    .await;
    let sync = &status["sync"];
    assert_eq!((&sync["pending"], &sync["failed"]), (&json!(1), &json!(1)));
    assert!(sync["paused_until"].is_string(), "{status}");
    assert!(
        sync["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("daily limit")),
        "{status}"
    );

    // Another user of the same server is not held up.
    let other = app.user().await;
    connect_google(&app, &other).await;
    let theirs = app
        .create_event(
            &other,
            &event_body("Unaffected", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    until_synced(&app, &other, &theirs["id"]).await;
    let status = body(
        app.get("/api/integrations/google-calendar/status/", &other.access)
            .await,
    )
    .await;
    assert_eq!(
        status["sync"],
        json!({"pending": 0, "failed": 0, "paused_until": null, "last_error": null})
    );
}

/// An all-day event covers whole local days of the user's time zone, and Google gets it as
/// `date`s (end exclusive) with no `dateTime`; turning `all_day` off writes instants again.
#[tokio::test]
async fn an_all_day_event_spans_local_days_and_reaches_google_as_dates() {
    let (app, emulator, user) = connected().await;
    app.send(
        Method::PATCH,
        "/api/preferences/",
        Some(&user.access),
        Some(&json!({"timezone": "Europe/Paris"})),
    )
    .await;
    let mut trip = event_body("Trip", "2026-11-24T09:00:00Z", "2026-11-25T11:00:00Z");
    trip["all_day"] = json!(true);
    let created = app.create_event(&user, &trip).await;
    // Paris is UTC+1 in November: the 24th and the 25th, local midnight to local midnight.
    assert_eq!(created["all_day"], true);
    assert_eq!(created["origin"], "phantom");
    assert_eq!(created["start_time"], "2026-11-23T23:00:00Z");
    assert_eq!(created["end_time"], "2026-11-25T23:00:00Z");
    let id = created["id"].clone();
    until_synced(&app, &user, &id).await;
    let g = google_events(&emulator).remove(0);
    let (start, end) = (g.start.expect("start"), g.end.expect("end"));
    assert_eq!(
        (start.date.as_deref(), end.date.as_deref()),
        (Some("2026-11-24"), Some("2026-11-26"))
    );
    assert_eq!((start.date_time, end.date_time), (None, None));

    let path = format!("/api/events/{id}/");
    let timed = body(
        app.send(
            Method::PATCH,
            &path,
            Some(&user.access),
            Some(&json!({"all_day": false})),
        )
        .await,
    )
    .await;
    assert_eq!(timed["all_day"], false);
    eventually("Google holds instants again", async || {
        let g = google_events(&emulator).into_iter().next()?;
        let start = g.start?;
        (start.date.is_none() && start.date_time.is_some()).then_some(())
    })
    .await;
}
