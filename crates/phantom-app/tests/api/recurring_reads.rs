//! Series read back from Google (API.md, "Recurring events", "Sync with Google"): a series
//! made in Google is imported as a series and expands as Google's instances do; instances
//! moved or cancelled in Google move or cancel Phantom's occurrences; a Phantom series edited,
//! split (an UNTIL added) or deleted in Google follows; nothing read is written back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use phantom_google_emulator::{Emulator, EventDateTime, EventEdit, Operation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, TestApp, TestUser, answers, connected_with};

pub(crate) type View = Vec<(DateTime<Utc>, DateTime<Utc>, String)>;

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// A connected user whose calendar is read every second.
pub(crate) async fn reading() -> (TestApp, Emulator, TestUser) {
    connected_with(|s| {
        s.sync.retry_base = Duration::from_millis(20);
        s.sync.poll = Some(Duration::from_secs(1));
    })
    .await
}

pub(crate) async fn get(app: &TestApp, user: &TestUser, path: &str) -> (StatusCode, Value) {
    let response = app.send(Method::GET, path, Some(&user.access), None).await;
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Phantom's expanded view of `[from, to)`: `(start, end, title)` by start.
pub(crate) async fn mine(app: &TestApp, user: &TestUser, from: &str, to: &str) -> View {
    let (status, answer) = get(
        app,
        user,
        &format!("/api/events/range/?start={from}&end={to}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
        .as_array()
        .expect("list")
        .iter()
        .map(|e| {
            (
                t(e["start_time"].as_str().expect("start")),
                t(e["end_time"].as_str().expect("end")),
                e["title"].as_str().expect("title").to_owned(),
            )
        })
        .collect()
}

fn instant(at: &Option<EventDateTime>) -> DateTime<Utc> {
    t(at.as_ref()
        .and_then(|a| a.date_time.as_deref())
        .expect("dateTime"))
}

/// Google's instances of `series` over `[from, to)`, as `events.list?singleEvents=true`.
pub(crate) fn googles(emulator: &Emulator, series: &[&str], from: &str, to: &str) -> View {
    let mut view: View = series
        .iter()
        .flat_map(|id| {
            emulator
                .instances(emulator.default_user(), id, t(from), t(to))
                .expect("instances")
        })
        .map(|i| {
            (
                instant(&i.start),
                instant(&i.end),
                i.summary.clone().unwrap_or_default(),
            )
        })
        .collect();
    view.sort();
    view
}

/// Waits until Phantom's view of the window equals Google's.
pub(crate) async fn converged(
    app: &TestApp,
    user: &TestUser,
    emulator: &Emulator,
    series: &[&str],
    window: (&str, &str),
) -> View {
    let (from, to) = window;
    helpers::eventually(
        "Phantom's expanded view equals Google's instances",
        Duration::from_secs(15),
        async || {
            let google = googles(emulator, series, from, to);
            (mine(app, user, from, to).await == google).then_some(google)
        },
    )
    .await
}

/// Calendar writes so far.
pub(crate) fn writes(emulator: &Emulator) -> usize {
    [
        Operation::Insert,
        Operation::Update,
        Operation::Patch,
        Operation::Delete,
    ]
    .into_iter()
    .map(|op| answers(emulator, op).len())
    .sum()
}

/// Three more reads happen, and none of them writes anything to Google.
pub(crate) async fn quiet(emulator: &Emulator) {
    let before = writes(emulator);
    let reads = answers(emulator, Operation::List).len();
    helpers::eventually("three more reads", Duration::from_secs(15), async || {
        (answers(emulator, Operation::List).len() >= reads + 3).then_some(())
    })
    .await;
    assert_eq!(writes(emulator), before, "a quiet read wrote to Google");
}

pub(crate) fn timed(at: &str, zone: &str) -> EventDateTime {
    EventDateTime::timed(at, Some(zone))
}

pub(crate) fn edit(summary: &str, start: EventDateTime, end: EventDateTime) -> EventEdit {
    EventEdit {
        summary: Some(summary.to_owned()),
        start: Some(start),
        end: Some(end),
        ..EventEdit::default()
    }
}

pub(crate) const WINDOW: (&str, &str) = ("2026-12-01T00:00:00Z", "2027-03-01T00:00:00Z");

#[tokio::test]
async fn a_series_made_in_google_is_imported_with_its_moved_and_cancelled_instances() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    // Tuesdays 09:00 London (GMT in winter), from 2026-12-08; one moved, one cancelled.
    let series = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".to_owned()]),
                ..edit(
                    "Standup",
                    timed("2026-12-08T09:00:00Z", "Europe/London"),
                    timed("2026-12-08T09:15:00Z", "Europe/London"),
                )
            },
        )
        .expect("series");
    emulator
        .edit_event(
            &owner,
            &format!("{}_20261215T090000Z", series.id),
            edit(
                "Late standup",
                timed("2026-12-15T11:00:00Z", "Europe/London"),
                timed("2026-12-15T11:30:00Z", "Europe/London"),
            ),
        )
        .expect("moved");
    emulator
        .delete_event(&owner, &format!("{}_20261222T090000Z", series.id))
        .expect("cancelled");
    let google = converged(&app, &user, &emulator, &[&series.id], WINDOW).await;
    assert!(
        google
            .iter()
            .any(|(s, _, title)| { title == "Late standup" && *s == t("2026-12-15T11:00:00Z") })
    );
    assert!(
        !google
            .iter()
            .any(|(s, _, _)| *s == t("2026-12-22T09:00:00Z"))
    );
    // Stored once, as a series made in Google.
    let (_, list) = get(&app, &user, "/api/events/?page_size=100").await;
    let stored = list["results"].as_array().expect("results");
    assert_eq!(stored.len(), 1, "{list}");
    assert_eq!(stored[0]["origin"], "google");
    assert_eq!(
        stored[0]["recurrence"],
        json!(["RRULE:FREQ=WEEKLY;BYDAY=TU"])
    );
    assert_eq!(stored[0]["timezone"], "Europe/London");
    assert_eq!(stored[0]["google_calendar_id"], series.id.as_str());
    quiet(&emulator).await;

    // An instance moved later in Google moves the occurrence; another cancelled later.
    emulator
        .edit_event(
            &owner,
            &format!("{}_20261229T090000Z", series.id),
            edit(
                "Standup (moved)",
                timed("2026-12-30T09:00:00Z", "Europe/London"),
                timed("2026-12-30T09:15:00Z", "Europe/London"),
            ),
        )
        .expect("moved");
    emulator
        .delete_event(&owner, &format!("{}_20270105T090000Z", series.id))
        .expect("cancelled");
    let google = converged(&app, &user, &emulator, &[&series.id], WINDOW).await;
    assert!(
        google
            .iter()
            .any(|(_, _, title)| title == "Standup (moved)")
    );
    let (status, occurrence) = get(
        &app,
        &user,
        &format!("/api/events/{}_20261229T090000Z/", stored[0]["id"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(occurrence["start_time"], "2026-12-30T09:00:00Z");

    // An expired sync token: everything read again, the same outcome, nothing written.
    let before = writes(&emulator);
    emulator.invalidate_sync_tokens();
    helpers::eventually("a read answered 410", Duration::from_secs(15), async || {
        answers(&emulator, Operation::List)
            .contains(&410)
            .then_some(())
    })
    .await;
    quiet(&emulator).await;
    assert_eq!(writes(&emulator), before);
    assert_eq!(mine(&app, &user, WINDOW.0, WINDOW.1).await, google);
    let (_, list) = get(&app, &user, "/api/events/?page_size=100").await;
    assert_eq!(list["results"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_series_whose_start_is_not_on_its_rule_is_imported_as_google_shows_it() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    // Starts on a Wednesday, repeats on three Mondays. Google shows the start beside the
    // rule's three matches (four instances; see the `recurrence` module doc for the sources).
    let series = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3".to_owned()]),
                ..edit(
                    "Odd start",
                    timed("2026-12-09T14:00:00Z", "UTC"),
                    timed("2026-12-09T15:00:00Z", "UTC"),
                )
            },
        )
        .expect("series");
    let google = converged(&app, &user, &emulator, &[&series.id], WINDOW).await;
    assert_eq!(google[0].0, t("2026-12-09T14:00:00Z"));
    assert_eq!(google[1].0, t("2026-12-14T14:00:00Z"));
    assert_eq!(google.len(), 4, "{google:?}");
    assert_eq!(google[3].0, t("2026-12-28T14:00:00Z"));
    quiet(&emulator).await;
}

#[tokio::test]
async fn a_phantom_series_edited_split_and_deleted_in_google_follows() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let created = app
        .create_event(
            &user,
            &json!({"title": "Gym", "category": 3, "start_time": "2026-12-07T09:00:00Z",
                    "end_time": "2026-12-07T10:00:00Z", "timezone": "Europe/London",
                    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"]}),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    let path = format!("/api/events/{id}/");
    let synced = helpers::eventually(
        "the series is synced",
        Duration::from_secs(15),
        async || {
            let (_, e) = get(&app, &user, &path).await;
            (e["sync_status"] == "synced").then_some(e)
        },
    )
    .await;
    let gid = synced["google_calendar_id"]
        .as_str()
        .expect("in Google")
        .to_owned();
    // Phantom's own change of one occurrence, to be dropped by the split below.
    let status = app
        .send(
            Method::PATCH,
            &format!("/api/events/{id}_20270201T090000Z/"),
            Some(&user.access),
            Some(&json!({"title": "Gym (late February)"})),
        )
        .await
        .status();
    assert_eq!(status, StatusCode::OK);
    helpers::eventually(
        "the occurrence is synced",
        Duration::from_secs(15),
        async || {
            let (_, e) = get(&app, &user, &path).await;
            (e["sync_status"] == "synced").then_some(())
        },
    )
    .await;
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;

    // Renamed in Google: the series is renamed here.
    emulator
        .edit_event(
            &owner,
            &gid,
            EventEdit {
                summary: Some("Gym (Google)".to_owned()),
                ..EventEdit::default()
            },
        )
        .expect("renamed");
    helpers::eventually("renamed here", Duration::from_secs(15), async || {
        let (_, e) = get(&app, &user, &path).await;
        (e["title"] == "Gym (Google)").then_some(())
    })
    .await;
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;

    // An instance moved, another cancelled in Google.
    emulator
        .edit_event(
            &owner,
            &format!("{gid}_20261214T090000Z"),
            EventEdit {
                start: Some(timed("2026-12-14T12:00:00Z", "Europe/London")),
                end: Some(timed("2026-12-14T13:00:00Z", "Europe/London")),
                ..EventEdit::default()
            },
        )
        .expect("moved");
    emulator
        .delete_event(&owner, &format!("{gid}_20261221T090000Z"))
        .expect("cancelled");
    let google = converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    assert!(
        google
            .iter()
            .any(|(s, _, _)| *s == t("2026-12-14T12:00:00Z"))
    );
    let (status, _) = get(&app, &user, &format!("/api/events/{id}_20261221T090000Z/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    quiet(&emulator).await;

    // "This and following" done in Google: an UNTIL. Phantom's later changed occurrence goes.
    emulator
        .edit_event(
            &owner,
            &gid,
            EventEdit {
                recurrence: Some(vec![
                    "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20270111T085959Z".to_owned(),
                ]),
                ..EventEdit::default()
            },
        )
        .expect("split");
    let google = converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    assert_eq!(google.last().map(|g| g.0), Some(t("2027-01-04T09:00:00Z")));
    let (status, _) = get(&app, &user, &format!("/api/events/{id}_20270201T090000Z/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, series) = get(&app, &user, &path).await;
    assert!(
        series["recurrence"][0]
            .as_str()
            .is_some_and(|r| r.contains("UNTIL=20270111T085959Z")),
        "{series}"
    );
    quiet(&emulator).await;

    // Deleted in Google: deleted here.
    emulator.delete_event(&owner, &gid).expect("deleted");
    helpers::eventually("deleted here", Duration::from_secs(15), async || {
        let (status, _) = get(&app, &user, &path).await;
        (status == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert_eq!(mine(&app, &user, WINDOW.0, WINDOW.1).await, Vec::new());
    quiet(&emulator).await;
}
