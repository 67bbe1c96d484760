//! The loose ends of recurring events (issue 18): conflicts on series and instances, the
//! backfill of a series' changed and cancelled occurrences, and what is imported from Google
//! (an all-day series, the zone of a single event).

use std::time::Duration;

use phantom_google_emulator::{
    Emulator, EmulatorConfig, EventDateTime, EventEdit, Match, Operation,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, TestApp, TestUser, answers, unavailable};
use crate::recurring_reads::{WINDOW, converged, edit, get, quiet, reading, t, timed};

/// Waits until Google has refused `operation` as unavailable at least once.
pub(crate) async fn tried(emulator: &Emulator, operation: Operation) {
    helpers::eventually(
        "Phantom's write is tried",
        Duration::from_secs(15),
        async || answers(emulator, operation).contains(&503).then_some(()),
    )
    .await;
}

/// Phantom's change of `occurrence`'s title to `title`, made while Google takes no write and
/// answers no read: its first write has been tried, and refused, when this returns.
pub(crate) async fn queued_while_google_is_down(
    app: &TestApp,
    user: &TestUser,
    emulator: &Emulator,
    occurrence: &str,
    title: &str,
) {
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    patch(app, user, occurrence, &json!({ "title": title })).await;
    tried(emulator, Operation::Patch).await;
}

pub(crate) async fn patch(app: &TestApp, user: &TestUser, path: &str, body: &Value) -> Value {
    let answer = app
        .send(Method::PATCH, path, Some(&user.access), Some(body))
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("json")
}

/// A weekly series made in Google (Tuesdays 09:00 London from 2026-12-08), read into
/// Phantom: its Google id and its Phantom id.
async fn google_series(app: &TestApp, user: &TestUser, emulator: &Emulator) -> (String, i64) {
    let owner = emulator.default_user().to_owned();
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
    converged(app, user, emulator, &[&series.id], WINDOW).await;
    let (_, list) = get(app, user, "/api/events/?page_size=100").await;
    let id = list["results"][0]["id"].as_i64().expect("imported");
    quiet(emulator).await;
    (series.id, id)
}

/// Phantom's later change of a Google-made series wins over Google's older change of its
/// rule: the write that restores Phantom's version carries the series' rule and times, so
/// both sides end with Phantom's rule, not Phantom's title on Google's rule.
#[tokio::test]
async fn a_later_phantom_change_restores_the_rule_google_changed_before() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (gid, id) = google_series(&app, &user, &emulator).await;
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    emulator
        .edit_event(
            &owner,
            &gid,
            EventEdit {
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=TU,TH".to_owned()]),
                ..EventEdit::default()
            },
        )
        .expect("rule changed in Google");
    tokio::time::sleep(Duration::from_millis(20)).await;
    patch(
        &app,
        &user,
        &format!("/api/events/{id}/"),
        &json!({"title": "Standup (Phantom)"}),
    )
    .await;
    tried(&emulator, Operation::Patch).await;
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Phantom's later change reaches Google",
        Duration::from_secs(15),
        async || {
            let g = emulator.event(&owner, &gid)?;
            (g.summary.as_deref() == Some("Standup (Phantom)")).then_some(())
        },
    )
    .await;
    assert!(answers(&emulator, Operation::Patch).contains(&412));
    emulator.clear_faults();
    let google = converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    assert!(
        google.iter().all(
            |(s, _, title)| title == "Standup (Phantom)" && s.format("%a").to_string() == "Tue"
        ),
        "{google:?}"
    );
    let held = emulator.event(&owner, &gid).expect("in Google");
    assert_eq!(
        held.recurrence,
        Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".to_owned()])
    );
    assert_eq!(
        held.start.and_then(|s| s.time_zone).as_deref(),
        Some("Europe/London")
    );
    quiet(&emulator).await;
}

/// A weekly series made through the API (Mondays 09:00 London from 2026-12-07), synced, with
/// its occurrence of 2026-12-14 retitled and synced (so Google's instance has an etag
/// Phantom holds): the series' Phantom id and Google id.
pub(crate) async fn phantom_series(
    app: &TestApp,
    user: &TestUser,
    emulator: &Emulator,
) -> (i64, String) {
    let created = app
        .create_event(
            user,
            &json!({"title": "Gym", "category": 3, "start_time": "2026-12-07T09:00:00Z",
                    "end_time": "2026-12-07T10:00:00Z", "timezone": "Europe/London",
                    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"]}),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    patch(
        app,
        user,
        &format!("/api/events/{id}_20261214T090000Z/"),
        &json!({"title": "Gym (first)"}),
    )
    .await;
    let synced = helpers::eventually(
        "the series and its occurrence are synced",
        Duration::from_secs(15),
        async || {
            let (_, e) = get(app, user, &format!("/api/events/{id}/")).await;
            let (_, o) = get(app, user, &format!("/api/events/{id}_20261214T090000Z/")).await;
            (e["sync_status"] == "synced" && o["sync_status"] == "synced").then_some(e)
        },
    )
    .await;
    let gid = synced["google_calendar_id"]
        .as_str()
        .expect("in Google")
        .to_owned();
    converged(app, user, emulator, &[&gid], WINDOW).await;
    quiet(emulator).await;
    (id, gid)
}

/// The occurrence of 2026-12-14 as Google holds it.
fn instance_title(emulator: &Emulator, gid: &str) -> Option<String> {
    emulator
        .event(emulator.default_user(), &format!("{gid}_20261214T090000Z"))
        .and_then(|i| i.summary)
}

/// An instance edited in Google after Phantom's queued change of that occurrence: the retry
/// meets a `412`, Google's later change wins on both sides, Phantom's is never written.
#[tokio::test]
async fn a_queued_occurrence_change_older_than_a_google_edit_of_the_instance_is_dropped() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_20261214T090000Z/");
    queued_while_google_is_down(&app, &user, &emulator, &occurrence, "Gym (Phantom)").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    emulator
        .edit_event(
            &owner,
            &format!("{gid}_20261214T090000Z"),
            EventEdit {
                summary: Some("Gym (Google)".to_owned()),
                ..EventEdit::default()
            },
        )
        .expect("edited in Google");
    let patched = answers(&emulator, Operation::Patch).len();
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Google's later edit reaches Phantom",
        Duration::from_secs(15),
        async || {
            let (_, o) = get(&app, &user, &occurrence).await;
            (o["title"] == "Gym (Google)" && o["sync_status"] == "synced").then_some(())
        },
    )
    .await;
    let after = &answers(&emulator, Operation::Patch)[patched..];
    assert!(after.contains(&412), "{after:?}");
    assert!(
        !after.contains(&200),
        "Phantom's older change was written: {after:?}"
    );
    assert_eq!(
        instance_title(&emulator, &gid).as_deref(),
        Some("Gym (Google)")
    );
    emulator.clear_faults();
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;
    assert_eq!(
        instance_title(&emulator, &gid).as_deref(),
        Some("Gym (Google)")
    );
}

/// An instance cancelled in Google after Phantom's queued change of that occurrence: a
/// cancellation is final, on both sides.
#[tokio::test]
async fn a_queued_occurrence_change_meets_a_cancellation_in_google_and_the_cancellation_stays() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_20261214T090000Z/");
    queued_while_google_is_down(&app, &user, &emulator, &occurrence, "Gym (Phantom)").await;
    emulator
        .delete_event(&owner, &format!("{gid}_20261214T090000Z"))
        .expect("cancelled in Google");
    let patched = answers(&emulator, Operation::Patch).len();
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "the cancellation reaches Phantom",
        Duration::from_secs(15),
        async || {
            let (status, _) = get(&app, &user, &occurrence).await;
            (status == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;
    let after = &answers(&emulator, Operation::Patch)[patched..];
    assert!(
        !after.contains(&200),
        "written over the cancellation: {after:?}"
    );
    emulator.clear_faults();
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;
    let instance = emulator
        .event(&owner, &format!("{gid}_20261214T090000Z"))
        .expect("instance");
    assert_eq!(
        instance.status,
        phantom_google_emulator::EventStatus::Cancelled
    );
}

/// The reverse: Google's edit of the instance is older than Phantom's queued change; the
/// retry meets a `412` and Phantom's version is written on Google's new revision.
#[tokio::test]
async fn a_queued_occurrence_change_later_than_a_google_edit_is_written_again() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_20261214T090000Z/");
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    emulator
        .edit_event(
            &owner,
            &format!("{gid}_20261214T090000Z"),
            EventEdit {
                summary: Some("Gym (Google)".to_owned()),
                ..EventEdit::default()
            },
        )
        .expect("edited in Google");
    tokio::time::sleep(Duration::from_millis(20)).await;
    patch(&app, &user, &occurrence, &json!({"title": "Gym (Phantom)"})).await;
    tried(&emulator, Operation::Patch).await;
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Phantom's later change reaches Google",
        Duration::from_secs(15),
        async || {
            (instance_title(&emulator, &gid).as_deref() == Some("Gym (Phantom)")).then_some(())
        },
    )
    .await;
    assert!(answers(&emulator, Operation::Patch).contains(&412));
    emulator.clear_faults();
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;
    let (_, o) = get(&app, &user, &occurrence).await;
    assert_eq!(o["title"], "Gym (Phantom)");
}

/// A user who made a series, moved one occurrence and cancelled another before connecting:
/// once connected, Google holds the series with that occurrence moved and the other
/// cancelled, and its `singleEvents=true` view equals Phantom's `range/` view.
#[tokio::test]
async fn a_series_changed_before_connecting_reaches_google_with_its_changed_occurrences() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = helpers::spawn_app_with(|s| {
        helpers::use_emulator(s, &emulator);
        s.sync.retry_base = Duration::from_millis(20);
        s.sync.poll = Some(Duration::from_secs(1));
    })
    .await;
    let user = app.user().await;
    let created = app
        .create_event(
            &user,
            &json!({"title": "Gym", "category": 3, "start_time": "2026-12-07T09:00:00Z",
                    "end_time": "2026-12-07T10:00:00Z", "timezone": "Europe/London",
                    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"]}),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    patch(
        &app,
        &user,
        &format!("/api/events/{id}_20261214T090000Z/"),
        &json!({"title": "Gym (moved)", "start_time": "2026-12-15T12:00:00Z",
                "end_time": "2026-12-15T13:00:00Z"}),
    )
    .await;
    let cancelled = app
        .send(
            Method::DELETE,
            &format!("/api/events/{id}_20261221T090000Z/"),
            Some(&user.access),
            None,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);

    helpers::connect_google(&app, &user).await;
    let synced = helpers::eventually(
        "the series is in Google",
        Duration::from_secs(15),
        async || {
            let (_, e) = get(&app, &user, &format!("/api/events/{id}/")).await;
            (e["sync_status"] == "synced").then_some(e)
        },
    )
    .await;
    let gid = synced["google_calendar_id"].as_str().expect("in Google");
    let google = converged(&app, &user, &emulator, &[gid], WINDOW).await;
    assert!(
        google.contains(&(
            t("2026-12-15T12:00:00Z"),
            t("2026-12-15T13:00:00Z"),
            "Gym (moved)".to_owned()
        )),
        "{google:?}"
    );
    assert!(
        !google
            .iter()
            .any(|(s, _, _)| *s == t("2026-12-14T09:00:00Z") || *s == t("2026-12-21T09:00:00Z")),
        "{google:?}"
    );
    quiet(&emulator).await;
}

/// `(first day, title)` of every all-day occurrence Google shows of `series` in the window.
fn google_days(emulator: &Emulator, series: &str) -> Vec<(String, String)> {
    let (from, to) = WINDOW;
    let mut days: Vec<(String, String)> = emulator
        .instances(emulator.default_user(), series, t(from), t(to))
        .expect("instances")
        .into_iter()
        .map(|i| {
            let day = i.start.and_then(|s| s.date).expect("a date");
            (day, i.summary.unwrap_or_default())
        })
        .collect();
    days.sort();
    days
}

/// `(first day, title)` of every occurrence Phantom shows in the window, all of them all-day,
/// their days in Tokyo (UTC+9 all year).
async fn phantom_days(app: &TestApp, user: &TestUser) -> Vec<(String, String)> {
    let (status, answer) = get(
        app,
        user,
        &format!("/api/events/range/?start={}&end={}", WINDOW.0, WINDOW.1),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
        .as_array()
        .expect("list")
        .iter()
        .map(|e| {
            assert_eq!(e["all_day"], true, "{e}");
            let start = t(e["start_time"].as_str().expect("start")) + chrono::TimeDelta::hours(9);
            (
                start.format("%Y-%m-%d").to_string(),
                e["title"].as_str().expect("title").to_owned(),
            )
        })
        .collect()
}

/// An all-day series made in Google with an `EXDATE;VALUE=DATE` is imported as an all-day
/// series, its days the user's (in Tokyo, a day ahead of UTC's evening): the excluded day
/// is not shown, the others are the same whole days as in Google.
#[tokio::test]
async fn an_all_day_series_made_in_google_with_an_exdate_is_imported() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    patch(
        &app,
        &user,
        "/api/preferences/",
        &json!({"timezone": "Asia/Tokyo"}),
    )
    .await;
    let series = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec![
                    "RRULE:FREQ=DAILY;COUNT=5".to_owned(),
                    "EXDATE;VALUE=DATE:20261209".to_owned(),
                ]),
                ..edit(
                    "Exam week",
                    EventDateTime::all_day("2026-12-07"),
                    EventDateTime::all_day("2026-12-08"),
                )
            },
        )
        .expect("series");
    let expected: Vec<(String, String)> = ["2026-12-07", "2026-12-08", "2026-12-10", "2026-12-11"]
        .iter()
        .map(|d| ((*d).to_owned(), "Exam week".to_owned()))
        .collect();
    assert_eq!(google_days(&emulator, &series.id), expected);
    helpers::eventually(
        "Phantom shows Google's days",
        Duration::from_secs(15),
        async || (phantom_days(&app, &user).await == expected).then_some(()),
    )
    .await;
    let (_, list) = get(&app, &user, "/api/events/?page_size=100").await;
    let stored = &list["results"][0];
    assert_eq!(stored["all_day"], true, "{stored}");
    assert_eq!(stored["timezone"], "Asia/Tokyo", "{stored}");
    assert_eq!(stored["start_time"], "2026-12-06T15:00:00Z", "{stored}");
    assert_eq!(
        stored["recurrence"],
        json!(["RRULE:FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20261209"])
    );
    quiet(&emulator).await;
    assert_eq!(phantom_days(&app, &user).await, expected);
}

/// A single event made in Google keeps its `start.timeZone` as its `timezone`; an all-day
/// one (dates, no zone) takes the user's.
#[tokio::test]
async fn a_single_event_made_in_google_keeps_its_time_zone() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    patch(
        &app,
        &user,
        "/api/preferences/",
        &json!({"timezone": "Asia/Tokyo"}),
    )
    .await;
    emulator
        .create_event(
            &owner,
            edit(
                "Call with Ada",
                timed("2026-12-08T15:00:00Z", "America/New_York"),
                timed("2026-12-08T16:00:00Z", "America/New_York"),
            ),
        )
        .expect("event");
    emulator
        .create_event(
            &owner,
            edit(
                "Holiday",
                EventDateTime::all_day("2026-12-24"),
                EventDateTime::all_day("2026-12-25"),
            ),
        )
        .expect("event");
    let list = helpers::eventually("both imported", Duration::from_secs(15), async || {
        let (_, list) = get(&app, &user, "/api/events/?page_size=100").await;
        (list["count"] == 2).then_some(list)
    })
    .await;
    let zone_of = |title: &str| {
        list["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|e| e["title"] == title)
            .map(|e| e["timezone"].clone())
    };
    assert_eq!(zone_of("Call with Ada"), Some(json!("America/New_York")));
    assert_eq!(zone_of("Holiday"), Some(json!("Asia/Tokyo")));
    quiet(&emulator).await;
}

/// Named cases of issue 18 read back from Google: a monthly series on the 31st skips the
/// short months, and `EXDATE`s given with a `TZID` and in UTC each remove their occurrence,
/// in Google and in Phantom alike.
#[tokio::test]
async fn a_monthly_series_on_the_31st_with_exdates_in_a_zone_and_in_utc_is_imported() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let series = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec![
                    "RRULE:FREQ=MONTHLY;BYMONTHDAY=31".to_owned(),
                    // 10:00 in Paris: 09:00Z in winter, 08:00Z in summer.
                    "EXDATE;TZID=Europe/Paris:20270331T100000".to_owned(),
                    "EXDATE:20270531T080000Z".to_owned(),
                ]),
                ..edit(
                    "Rent",
                    timed("2026-12-31T09:00:00Z", "Europe/Paris"),
                    timed("2026-12-31T09:30:00Z", "Europe/Paris"),
                )
            },
        )
        .expect("series");
    let window = ("2026-12-01T00:00:00Z", "2027-09-01T00:00:00Z");
    let google = converged(&app, &user, &emulator, &[&series.id], window).await;
    let starts: Vec<_> = google.iter().map(|g| g.0).collect();
    assert_eq!(
        starts,
        [
            t("2026-12-31T09:00:00Z"),
            t("2027-01-31T09:00:00Z"),
            t("2027-07-31T08:00:00Z"),
            t("2027-08-31T08:00:00Z"),
        ]
    );
    quiet(&emulator).await;
}
