//! The loose ends of recurring events (issue 18): conflicts on series and instances, the
//! backfill of a series' changed and cancelled occurrences, and what is imported from Google
//! (an all-day series, the zone of a single event).

use std::time::Duration;

use phantom_google_emulator::{Emulator, EventEdit, Match, Operation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, TestApp, TestUser, answers, unavailable};
use crate::recurring_reads::{WINDOW, converged, edit, get, quiet, reading, t, timed};

/// Waits until Google has refused `operation` as unavailable at least once.
async fn tried(emulator: &Emulator, operation: Operation) {
    helpers::eventually(
        "Phantom's write is tried",
        Duration::from_secs(15),
        async || answers(emulator, operation).contains(&503).then_some(()),
    )
    .await;
}

async fn patch(app: &TestApp, user: &TestUser, path: &str, body: &Value) -> Value {
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
