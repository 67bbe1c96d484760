//! Recurring events over HTTP (API.md, "Recurring events"): series, the expanded `range/`,
//! occurrence ids, "this event", "this and following" (split), "all events", every `400`,
//! and the push of series, changed and cancelled occurrences and splits to Google.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, TestApp, TestUser, connected_with, spawn_app};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

async fn send(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    b: Option<&Value>,
) -> (StatusCode, Value) {
    let response = app.send(method, path, Some(&user.access), b).await;
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn range(app: &TestApp, user: &TestUser, start: &str, end: &str) -> Vec<Value> {
    let path = format!("/api/events/range/?start={start}&end={end}");
    let (status, answer) = send(app, user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer.as_array().expect("list").clone()
}

fn starts(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["start_time"].as_str().expect("start"))
        .collect()
}

/// A weekly Monday 09:00 Europe/London series from 2026-03-16 (GMT), an hour long.
fn weekly(rule: &str) -> Value {
    json!({"title": "Gym", "category": 3, "start_time": "2026-03-16T09:00:00Z",
           "end_time": "2026-03-16T10:00:00Z", "timezone": "Europe/London",
           "recurrence": [rule]})
}

async fn series(app: &TestApp, user: &TestUser, rule: &str) -> i64 {
    let created = app.create_event(user, &weekly(rule)).await;
    assert_eq!(created["recurrence"], json!([rule]));
    assert_eq!(created["timezone"], "Europe/London");
    assert_eq!(created["recurring_event_id"], Value::Null);
    assert_eq!(created["original_start_time"], Value::Null);
    created["id"].as_i64().expect("integer id")
}

#[tokio::test]
async fn a_weekly_series_stays_at_nine_local_across_both_clock_changes() {
    let app = spawn_app().await;
    let user = app.user().await;
    let id = series(&app, &user, "RRULE:FREQ=WEEKLY;BYDAY=MO").await;
    app.create_event(
        &user,
        &helpers::event_body("Lecture", "2026-03-23T12:00:00Z", "2026-03-23T13:00:00Z"),
    )
    .await;
    let spring = range(&app, &user, "2026-03-16T00:00:00Z", "2026-04-07T00:00:00Z").await;
    assert_eq!(
        starts(&spring),
        [
            "2026-03-16T09:00:00Z",
            "2026-03-23T09:00:00Z",
            "2026-03-23T12:00:00Z",
            "2026-03-30T08:00:00Z",
            "2026-04-06T08:00:00Z"
        ]
    );
    let first = &spring[0];
    assert_eq!(first["id"], format!("{id}_20260316T090000Z"));
    assert_eq!(first["recurring_event_id"], id);
    assert_eq!(first["original_start_time"], "2026-03-16T09:00:00Z");
    assert_eq!(first["recurrence"], json!([]));
    assert_eq!(first["title"], "Gym");
    assert_eq!(first["end_time"], "2026-03-16T10:00:00Z");
    assert_eq!(spring[2]["recurring_event_id"], Value::Null);
    let autumn = range(&app, &user, "2026-10-19T00:00:00Z", "2026-11-03T00:00:00Z").await;
    assert_eq!(
        starts(&autumn),
        [
            "2026-10-19T08:00:00Z",
            "2026-10-26T09:00:00Z",
            "2026-11-02T09:00:00Z"
        ]
    );
}

#[tokio::test]
async fn byday_goes_by_the_series_zone_when_the_users_falls_on_another_date() {
    let app = spawn_app().await;
    let user = app.user().await; // UTC
    // Monday 09:00 in Auckland (NZST, +12) is Sunday 21:00 UTC.
    let created = app
        .create_event(
            &user,
            &json!({"title": "Tutorial", "category": 4, "start_time": "2026-06-14T21:00:00Z",
                    "end_time": "2026-06-14T22:00:00Z", "timezone": "Pacific/Auckland",
                    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE"]}),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    let got = range(&app, &user, "2026-06-14T00:00:00Z", "2026-06-22T00:00:00Z").await;
    assert_eq!(
        starts(&got),
        [
            "2026-06-14T21:00:00Z",
            "2026-06-16T21:00:00Z",
            "2026-06-21T21:00:00Z"
        ]
    );
    assert_eq!(got[1]["id"], format!("{id}_20260616T210000Z"));
}

#[tokio::test]
async fn an_occurrence_is_read_changed_and_cancelled_by_its_id() {
    let app = spawn_app().await;
    let user = app.user().await;
    let id = series(&app, &user, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4").await;
    let occ = format!("/api/events/{id}_20260323T090000Z/");
    let (status, got) = send(&app, &user, Method::GET, &occ, None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["id"], format!("{id}_20260323T090000Z"));
    assert_eq!(got["recurring_event_id"], id);
    // Letter case, a time off the rule, past COUNT, garbage: no live occurrence.
    for missing in [
        format!("{id}_20260323t090000z"),
        format!("{id}_20260324T090000Z"),
        format!("{id}_20260413T080000Z"),
        format!("{id}_2026"),
        "nope".to_owned(),
    ] {
        let path = format!("/api/events/{missing}/");
        let (status, _) = send(&app, &user, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
    // "This event": moved an hour later, with its own title.
    let (status, moved) = send(
        &app,
        &user,
        Method::PATCH,
        &occ,
        Some(
            &json!({"title": "Gym (late)", "start_time": "2026-03-23T10:00:00Z",
                     "end_time": "2026-03-23T11:00:00Z", "recurrence": []}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["id"], format!("{id}_20260323T090000Z"));
    assert_eq!(moved["start_time"], "2026-03-23T10:00:00Z");
    assert_eq!(moved["original_start_time"], "2026-03-23T09:00:00Z");
    let (status, refused) = send(
        &app,
        &user,
        Method::PUT,
        &occ,
        Some(
            &json!({"title": "x", "category": 3, "start_time": "2026-03-23T10:00:00Z",
                     "end_time": "2026-03-23T11:00:00Z",
                     "recurrence": ["RRULE:FREQ=DAILY"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["recurrence"].is_array(), "{refused}");
    // Cancelled: 204, gone from range/ and from GET.
    let third = format!("/api/events/{id}_20260330T080000Z/");
    let (status, _) = send(&app, &user, Method::DELETE, &third, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, &user, Method::GET, &third, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, &user, Method::DELETE, &third, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = range(&app, &user, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z").await;
    assert_eq!(
        starts(&got),
        [
            "2026-03-16T09:00:00Z",
            "2026-03-23T10:00:00Z",
            "2026-04-06T08:00:00Z"
        ]
    );
    assert_eq!(got[1]["title"], "Gym (late)");
    // The series changed as a whole keeps the occurrence's own title.
    let all = format!("/api/events/{id}/");
    let (status, _) = send(
        &app,
        &user,
        Method::PATCH,
        &all,
        Some(&json!({"title": "Swim"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let got = range(&app, &user, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z").await;
    let titles: Vec<&str> = got
        .iter()
        .map(|e| e["title"].as_str().expect("t"))
        .collect();
    assert_eq!(titles, ["Swim", "Gym (late)", "Swim"]);
    // Another user sees none of it.
    let other = app.user().await;
    for path in [&all, &occ] {
        let (status, _) = send(&app, &other, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(&app, &other, Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = send(
        &app,
        &other,
        Method::POST,
        &format!("/api/events/{id}_20260406T080000Z/split/"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_series_whose_start_changes_drops_the_occurrences_it_no_longer_has() {
    let app = spawn_app().await;
    let user = app.user().await;
    let id = series(&app, &user, "RRULE:FREQ=WEEKLY;BYDAY=MO").await;
    let occ = format!("/api/events/{id}_20260323T090000Z/");
    let (status, _) = send(
        &app,
        &user,
        Method::PATCH,
        &occ,
        Some(&json!({"title": "Own"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, moved) = send(
        &app,
        &user,
        Method::PATCH,
        &format!("/api/events/{id}/"),
        Some(&json!({"start_time": "2026-03-16T10:00:00Z", "end_time": "2026-03-16T11:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, _) = send(&app, &user, Method::GET, &occ, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = range(&app, &user, "2026-03-16T00:00:00Z", "2026-03-30T00:00:00Z").await;
    assert_eq!(
        starts(&got),
        ["2026-03-16T10:00:00Z", "2026-03-23T10:00:00Z"]
    );
    assert!(got.iter().all(|e| e["title"] == "Gym"));
    // `recurrence: []`: a single event, its first occurrence.
    let (status, single) = send(
        &app,
        &user,
        Method::PATCH,
        &format!("/api/events/{id}/"),
        Some(&json!({"recurrence": []})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(single["recurrence"], json!([]));
    let got = range(&app, &user, "2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["id"], id);
}

#[tokio::test]
async fn a_split_ends_the_old_series_and_starts_a_new_one() {
    let app = spawn_app().await;
    let user = app.user().await;
    let id = series(&app, &user, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6").await;
    // Move the third occurrence, then split there ("this and following").
    let third = format!("{id}_20260330T080000Z");
    let (status, _) = send(
        &app,
        &user,
        Method::PATCH,
        &format!("/api/events/{third}/"),
        Some(&json!({"start_time": "2026-03-31T08:00:00Z", "end_time": "2026-03-31T09:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, new) = send(
        &app,
        &user,
        Method::POST,
        &format!("/api/events/{third}/split/"),
        Some(&json!({"title": "Gym, new term"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_id = new["id"].as_i64().expect("integer id");
    assert_ne!(new_id, id);
    assert_eq!(new["start_time"], "2026-03-30T08:00:00Z");
    assert_eq!(new["recurrence"][0], "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4");
    let (_, old) = send(
        &app,
        &user,
        Method::GET,
        &format!("/api/events/{id}/"),
        None,
    )
    .await;
    let rule = old["recurrence"][0].as_str().expect("rule");
    assert!(
        rule.contains("UNTIL=20260330T075959Z") && !rule.contains("COUNT"),
        "{rule}"
    );
    let got = range(&app, &user, "2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z").await;
    assert_eq!(
        starts(&got),
        [
            "2026-03-16T09:00:00Z",
            "2026-03-23T09:00:00Z",
            "2026-03-30T08:00:00Z",
            "2026-04-06T08:00:00Z",
            "2026-04-13T08:00:00Z",
            "2026-04-20T08:00:00Z"
        ]
    );
    assert_eq!(got[2]["recurring_event_id"], new_id);
    assert_eq!(got[2]["title"], "Gym, new term");
    // At the first occurrence: change the whole series instead.
    let (status, refused) = send(
        &app,
        &user,
        Method::POST,
        &format!("/api/events/{id}_20260316T090000Z/split/"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["non_field_errors"].is_array(), "{refused}");
    let (status, _) = send(
        &app,
        &user,
        Method::POST,
        &format!("/api/events/{id}/split/"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_refused_input_is_a_400_on_its_field() {
    let app = spawn_app().await;
    let user = app.user().await;
    let base = weekly("RRULE:FREQ=WEEKLY");
    let cases: Vec<(Value, &str)> = vec![
        (json!("RRULE:FREQ=WEEKLY"), "recurrence"),
        (json!([1]), "recurrence"),
        (json!(["EXDATE:20260323T090000Z"]), "recurrence"),
        (
            json!(["RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY"]),
            "recurrence",
        ),
        (
            json!(["RRULE:FREQ=WEEKLY", "EXRULE:FREQ=DAILY"]),
            "recurrence",
        ),
        (
            json!(["DTSTART:20260316T090000Z", "RRULE:FREQ=WEEKLY"]),
            "recurrence",
        ),
        (
            json!(["RRULE:FREQ=WEEKLY;COUNT=2;UNTIL=20270101T000000Z"]),
            "recurrence",
        ),
        (json!(["RRULE:FREQ=SOMETIMES"]), "recurrence"),
        (json!(["RRULE:BYDAY=MO"]), "recurrence"),
        (json!(["SUMMARY:x", "RRULE:FREQ=WEEKLY"]), "recurrence"),
    ];
    for (recurrence, field) in cases {
        let mut event = base.clone();
        event["recurrence"] = recurrence.clone();
        let (status, answer) = send(&app, &user, Method::POST, "/api/events/", Some(&event)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{recurrence}: {answer}");
        assert!(answer[field].is_array(), "{recurrence}: {answer}");
    }
    let mut event = base.clone();
    event["timezone"] = json!("Mars/Olympus");
    let (status, answer) = send(&app, &user, Method::POST, "/api/events/", Some(&event)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["timezone"].is_array(), "{answer}");
    // The expanded view answers at most 366 days.
    let path = "/api/events/range/?start=2026-01-01T00:00:00Z&end=2027-01-02T00:00:01Z";
    let (status, answer) = send(&app, &user, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["end"].is_array(), "{answer}");
    let path = "/api/events/range/?start=2026-01-01T00:00:00Z&end=2027-01-02T00:00:00Z";
    let (status, _) = send(&app, &user, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_endless_series_far_in_the_future_answers_in_bounded_time() {
    let app = spawn_app().await;
    let user = app.user().await;
    series(&app, &user, "RRULE:FREQ=DAILY").await;
    let began = std::time::Instant::now();
    let got = range(&app, &user, "2900-01-01T00:00:00Z", "2901-01-01T00:00:00Z").await;
    assert_eq!(got.len(), 365);
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn the_list_shows_each_series_once_by_its_span() {
    let app = spawn_app().await;
    let user = app.user().await;
    let endless = series(&app, &user, "RRULE:FREQ=WEEKLY").await;
    let short = series(&app, &user, "RRULE:FREQ=WEEKLY;COUNT=2").await;
    for day in 10..=14 {
        app.create_event(
            &user,
            &helpers::event_body(
                "Single",
                &format!("2026-05-{day}T09:00:00Z"),
                &format!("2026-05-{day}T10:00:00Z"),
            ),
        )
        .await;
    }
    let list = |query: &'static str| {
        let (app, user) = (&app, &user);
        async move {
            let (status, page) = send(
                app,
                user,
                Method::GET,
                &format!("/api/events/{query}"),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let all = list("").await;
    assert_eq!(all["count"], 7);
    let ids: Vec<&Value> = all["results"]
        .as_array()
        .expect("r")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids.iter().filter(|i| **i == &json!(endless)).count(), 1);
    // May: the endless series spans it, the two-week one does not.
    let may = list("?start=2026-05-01T00:00:00Z&end=2026-06-01T00:00:00Z").await;
    assert_eq!(may["count"], 6);
    let results = may["results"].as_array().expect("r");
    assert_eq!(results[0]["id"], endless);
    assert!(results.iter().all(|e| e["id"] != short));
    // Pages of a window with a series put it at its place.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = match page {
            1 => list("?start=2026-05-12T00:00:00Z&page_size=2").await,
            2 => list("?start=2026-05-12T00:00:00Z&page_size=2&page=2").await,
            _ => break,
        };
        assert_eq!(p["count"], 4);
        seen.extend(
            p["results"]
                .as_array()
                .expect("r")
                .iter()
                .map(|e| e["start_time"].clone()),
        );
    }
    assert_eq!(
        seen,
        [
            json!("2026-03-16T09:00:00Z"),
            json!("2026-05-12T09:00:00Z"),
            json!("2026-05-13T09:00:00Z"),
            json!("2026-05-14T09:00:00Z")
        ]
    );
}

/// The instants a Google event's start or end names.
fn google_time(t: &Option<phantom_google_emulator::EventDateTime>) -> DateTime<Utc> {
    let t = t.as_ref().expect("time");
    DateTime::parse_from_rfc3339(t.date_time.as_deref().expect("dateTime"))
        .expect("rfc 3339")
        .with_timezone(&Utc)
}

/// `(start, end, title)` of Phantom's expanded view and of Google's instances of `series`.
async fn both_views(
    app: &TestApp,
    user: &TestUser,
    emulator: &phantom_google_emulator::Emulator,
    series: &[&str],
    from: &str,
    to: &str,
) -> (
    Vec<(DateTime<Utc>, DateTime<Utc>, String)>,
    Vec<(DateTime<Utc>, DateTime<Utc>, String)>,
) {
    let mine: Vec<_> = range(app, user, from, to)
        .await
        .iter()
        .map(|e| {
            (
                t(e["start_time"].as_str().expect("s")),
                t(e["end_time"].as_str().expect("e")),
                e["title"].as_str().expect("t").to_owned(),
            )
        })
        .collect();
    let mut google = Vec::new();
    for id in series {
        let instances = emulator
            .instances(emulator.default_user(), id, t(from), t(to))
            .expect("instances");
        google.extend(instances.iter().map(|i| {
            (
                google_time(&i.start),
                google_time(&i.end),
                i.summary.clone().unwrap_or_default(),
            )
        }));
    }
    google.sort();
    (mine, google)
}

async fn synced(app: &TestApp, user: &TestUser, id: i64) -> Value {
    helpers::eventually(
        "the series is synced",
        Duration::from_secs(15),
        async || {
            let (_, e) = send(app, user, Method::GET, &format!("/api/events/{id}/"), None).await;
            (e["sync_status"] == "synced").then_some(e)
        },
    )
    .await
}

#[tokio::test]
async fn a_series_its_occurrences_and_a_split_reach_google() {
    let (app, emulator, user) = connected_with(|_| {}).await;
    let id = series(&app, &user, "RRULE:FREQ=WEEKLY;BYDAY=MO").await;
    let gid = synced(&app, &user, id).await["google_calendar_id"]
        .as_str()
        .expect("in Google")
        .to_owned();
    let stored = emulator
        .event(emulator.default_user(), &gid)
        .expect("series");
    assert_eq!(
        stored.recurrence,
        Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=MO".to_owned()])
    );
    assert_eq!(
        stored.start.as_ref().and_then(|s| s.time_zone.as_deref()),
        Some("Europe/London")
    );
    let (from, to) = ("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z");
    let (mine, google) = both_views(&app, &user, &emulator, &[&gid], from, to).await;
    assert_eq!(mine, google);
    // Moved and renamed: a patch of Google's instance; cancelled: a delete of it.
    let (status, _) = send(
        &app,
        &user,
        Method::PATCH,
        &format!("/api/events/{id}_20260323T090000Z/"),
        Some(
            &json!({"title": "Late gym", "start_time": "2026-03-23T11:00:00Z",
                     "end_time": "2026-03-23T12:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &app,
        &user,
        Method::DELETE,
        &format!("/api/events/{id}_20260406T080000Z/"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    synced(&app, &user, id).await;
    let instance = emulator
        .event(emulator.default_user(), &format!("{gid}_20260323T090000Z"))
        .expect("instance");
    assert_eq!(instance.summary.as_deref(), Some("Late gym"));
    assert_eq!(google_time(&instance.start), t("2026-03-23T11:00:00Z"));
    let (mine, google) = both_views(&app, &user, &emulator, &[&gid], from, to).await;
    assert_eq!(mine, google);
    assert_eq!(mine.len(), 6);
    // "This and following": an UNTIL on the old Google series, and a new Google series.
    let (status, new) = send(
        &app,
        &user,
        Method::POST,
        &format!("/api/events/{id}_20260413T080000Z/split/"),
        Some(&json!({"title": "Gym B"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_id = new["id"].as_i64().expect("id");
    synced(&app, &user, id).await;
    let new_gid = synced(&app, &user, new_id).await["google_calendar_id"]
        .as_str()
        .expect("in Google")
        .to_owned();
    let old = emulator
        .event(emulator.default_user(), &gid)
        .expect("series");
    assert!(
        old.recurrence.as_ref().expect("rule")[0].contains("UNTIL=20260413T075959Z"),
        "{:?}",
        old.recurrence
    );
    let (mine, google) = both_views(&app, &user, &emulator, &[&gid, &new_gid], from, to).await;
    assert_eq!(mine, google);
    assert!(mine.iter().any(|(_, _, title)| title == "Gym B"));
}

/// Property: for any sequence of "this event" edits (moves, renames, cancellations) on a
/// weekly series, the expanded view equals a model that applies the same edits to the
/// series' plain occurrences: a cancelled occurrence never comes back, a moved one is found
/// at its new time under its original id, every other one keeps the series' fields.
#[test]
fn occurrence_edits_are_seen_exactly_as_made() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    let config = ProptestConfig::with_cases(6);
    proptest!(config, |(edits in proptest::collection::vec((0_usize..8, 0_u8..3, 1_i64..5), 1..6))| {
        rt.block_on(async {
            let user = app.user().await;
            let id = series(&app, &user, "RRULE:FREQ=WEEKLY;COUNT=8").await;
            let first = t("2026-03-16T09:00:00Z");
            let mut model: Vec<Option<(DateTime<Utc>, String)>> = (0..8)
                .map(|w| {
                    let local = first + chrono::TimeDelta::weeks(w);
                    // Europe/London: summer time from 2026-03-29.
                    let utc = if w >= 2 { local - chrono::TimeDelta::hours(1) } else { local };
                    Some((utc, "Gym".to_owned()))
                })
                .collect();
            let originals: Vec<DateTime<Utc>> = model.iter().map(|m| m.as_ref().expect("m").0).collect();
            for (index, kind, hours) in edits {
                let key = format!("{id}_{}", originals[index].format("%Y%m%dT%H%M%SZ"));
                let path = format!("/api/events/{key}/");
                let Some((start, _)) = model[index].clone() else {
                    let (status, _) = send(&app, &user, Method::GET, &path, None).await;
                    assert_eq!(status, StatusCode::NOT_FOUND);
                    continue;
                };
                match kind {
                    0 => {
                        let (status, _) = send(&app, &user, Method::DELETE, &path, None).await;
                        assert_eq!(status, StatusCode::NO_CONTENT);
                        model[index] = None;
                    }
                    1 => {
                        let to = start + chrono::TimeDelta::hours(hours);
                        let b = json!({"start_time": to.to_rfc3339(), "end_time": (to + chrono::TimeDelta::hours(1)).to_rfc3339()});
                        let (status, got) = send(&app, &user, Method::PATCH, &path, Some(&b)).await;
                        assert_eq!(status, StatusCode::OK, "{got}");
                        assert_eq!(got["id"], key);
                        model[index].as_mut().expect("live").0 = to;
                    }
                    _ => {
                        let title = format!("T{hours}");
                        let (status, _) = send(&app, &user, Method::PATCH, &path, Some(&json!({"title": title}))).await;
                        assert_eq!(status, StatusCode::OK);
                        model[index].as_mut().expect("live").1 = title;
                    }
                }
            }
            let got = range(&app, &user, "2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z").await;
            let got: Vec<(DateTime<Utc>, String)> = got
                .iter()
                .map(|e| (t(e["start_time"].as_str().expect("s")), e["title"].as_str().expect("t").to_owned()))
                .collect();
            let mut want: Vec<(DateTime<Utc>, String)> = model.into_iter().flatten().collect();
            want.sort();
            let mut sorted = got.clone();
            sorted.sort();
            assert_eq!(sorted, want);
            assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "ordered by start");
        });
    });
}

/// A weekly Monday 09:00 Europe/London series starting at `start` (an hour long).
fn weekly_from(rule: &str, start: &str, end: &str) -> Value {
    let mut body = weekly(rule);
    body["start_time"] = json!(start);
    body["end_time"] = json!(end);
    body
}

#[tokio::test]
async fn a_window_takes_exactly_the_series_whose_span_meets_it_ended_bounded_or_endless() {
    let app = spawn_app().await;
    let user = app.user().await;
    let made = |body: Value| {
        let (app, user) = (&app, &user);
        async move {
            app.create_event(user, &body).await["id"]
                .as_i64()
                .expect("id")
        }
    };
    // Ended in March; ends in May; without end; both starting in June, bounded or not.
    let ended = made(weekly("RRULE:FREQ=WEEKLY;COUNT=3")).await;
    let bounded = made(weekly("RRULE:FREQ=WEEKLY;COUNT=10")).await;
    let endless = made(weekly("RRULE:FREQ=WEEKLY")).await;
    let june = ("2026-06-01T08:00:00Z", "2026-06-01T09:00:00Z");
    let later = made(weekly_from("RRULE:FREQ=WEEKLY", june.0, june.1)).await;
    let later_bounded = made(weekly_from("RRULE:FREQ=WEEKLY;COUNT=2", june.0, june.1)).await;
    let (from, to) = ("2026-05-01T00:00:00Z", "2026-05-15T00:00:00Z");
    let shown = range(&app, &user, from, to).await;
    let of = |series: i64| {
        shown
            .iter()
            .filter(|e| e["recurring_event_id"] == series)
            .count()
    };
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert_eq!((of(bounded), of(endless)), (2, 2));
    assert_eq!(
        (of(ended), of(later), of(later_bounded)),
        (0, 0, 0),
        "{shown:?}"
    );
    assert_eq!(
        starts(&shown),
        [
            "2026-05-04T08:00:00Z",
            "2026-05-04T08:00:00Z",
            "2026-05-11T08:00:00Z",
            "2026-05-11T08:00:00Z"
        ]
    );
    // The stored list of the same window: each series meeting it once, by (start, id), the
    // bounded one (older id) before the endless one of the same start.
    let path = format!("/api/events/?start={from}&end={to}");
    let (status, listed) = send(&app, &user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&Value> = listed["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&json!(bounded), &json!(endless)], "{listed}");
    // The first week of June: the endless series and the two June ones.
    let june_week = range(&app, &user, "2026-06-01T00:00:00Z", "2026-06-09T00:00:00Z").await;
    let mut in_june: Vec<i64> = june_week
        .iter()
        .map(|e| e["recurring_event_id"].as_i64().expect("an occurrence"))
        .collect();
    in_june.sort_unstable();
    assert_eq!(
        in_june,
        [endless, endless, later, later, later_bounded, later_bounded]
    );
}
