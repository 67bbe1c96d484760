//! Conditional writes end to end: every update, patch and delete of an event Google holds is
//! conditional on the etag Phantom last saw (`If-Match`), so a queued Phantom change that is
//! older than an edit made in Google never overwrites it, even when the retry reaches Google
//! before any read does. The reads fail throughout these sequences: only the `412` and the
//! conflict rule can tell the worker what happened in Google.

use std::time::Duration;

use phantom_google_emulator::{Emulator, EventEdit, Match, Operation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, answers, body, connected_with, event_body, unavailable};
use crate::two_way::{eventually, reading};

/// An event Google holds, and its API path.
async fn synced(app: &TestApp, user: &TestUser, title: &str) -> (Value, String) {
    let created = app
        .create_event(
            user,
            &event_body(title, "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", created["id"]);
    let event = eventually("the event is synced", async || {
        let e = body(app.get(&path, &user.access).await).await;
        (e["sync_status"] == "synced").then_some(e)
    })
    .await;
    (event, path)
}

async fn retitle(app: &TestApp, user: &TestUser, path: &str, title: &str) {
    let answer = app
        .send(
            Method::PATCH,
            path,
            Some(&user.access),
            Some(&json!({ "title": title })),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
}

/// A person renames the event in Google Calendar.
fn retitle_in_google(emulator: &Emulator, google_id: &str, title: &str) {
    let owner = emulator.default_user().to_owned();
    emulator
        .edit_event(
            &owner,
            google_id,
            EventEdit {
                summary: Some(title.to_owned()),
                ..EventEdit::default()
            },
        )
        .expect("edited in Google");
}

/// Waits until Google has refused `operation` as unavailable at least once.
async fn tried(emulator: &Emulator, operation: Operation) {
    eventually("Phantom's write is tried", async || {
        answers(emulator, operation).contains(&503).then_some(())
    })
    .await;
}

fn title_in_google(emulator: &Emulator, google_id: &str) -> Option<String> {
    emulator
        .event(emulator.default_user(), google_id)
        .and_then(|e| e.summary)
}

/// The lost-edit sequence: Phantom's change is queued while Google fails, the person then
/// edits the event in Google (the later change), Google's writes heal while its reads still
/// fail. The retry meets a `412`; Google's edit wins on both sides, and is never overwritten.
#[tokio::test]
async fn a_retried_older_change_never_overwrites_a_newer_google_edit() {
    let (app, emulator, user) = reading().await;
    let (exam, path) = synced(&app, &user, "Exam").await;
    let google_id = exam["google_calendar_id"].as_str().expect("in Google");
    emulator.push_fault(unavailable(Operation::Update));
    retitle(&app, &user, &path, "Exam (Phantom)").await;
    tried(&emulator, Operation::Update).await;
    emulator.push_fault(unavailable(Operation::List));
    tokio::time::sleep(Duration::from_millis(20)).await;
    retitle_in_google(&emulator, google_id, "Exam (Google)");
    let reads_before = answers(&emulator, Operation::List).len();
    emulator.remove_faults(&Match::operation(Operation::Update));

    let taken = eventually("Google's later edit reaches Phantom", async || {
        let e = body(app.get(&path, &user.access).await).await;
        (e["title"] == "Exam (Google)").then_some(e)
    })
    .await;
    assert_eq!(taken["sync_status"], "synced");
    assert!(
        answers(&emulator, Operation::List)[reads_before..]
            .iter()
            .all(|&s| s != 200),
        "no read succeeded since the Google edit: the 412 told the worker"
    );
    assert!(answers(&emulator, Operation::Update).contains(&412));
    assert!(!answers(&emulator, Operation::Update).contains(&200));
    assert_eq!(
        title_in_google(&emulator, google_id).as_deref(),
        Some("Exam (Google)")
    );

    // Reads heal: nothing changes any more on either side, nothing is written.
    emulator.clear_faults();
    let reads = answers(&emulator, Operation::List).len();
    eventually("two more reads", async || {
        (answers(&emulator, Operation::List).len() >= reads + 2).then_some(())
    })
    .await;
    assert_eq!(
        title_in_google(&emulator, google_id).as_deref(),
        Some("Exam (Google)")
    );
    let e = body(app.get(&path, &user.access).await).await;
    assert_eq!(e["title"], "Exam (Google)");
    assert!(!answers(&emulator, Operation::Update).contains(&200));
}

/// The reverse: the Google edit is older than the queued Phantom change. The retry meets a
/// `412` and still pushes Phantom's version, on Google's new revision.
#[tokio::test]
async fn a_retried_newer_change_is_still_pushed_over_an_older_google_edit() {
    let (app, emulator, user) = reading().await;
    let (exam, path) = synced(&app, &user, "Exam").await;
    let google_id = exam["google_calendar_id"].as_str().expect("in Google");
    emulator.push_fault(unavailable(Operation::Update));
    emulator.push_fault(unavailable(Operation::List));
    retitle_in_google(&emulator, google_id, "Exam (Google)");
    tokio::time::sleep(Duration::from_millis(20)).await;
    retitle(&app, &user, &path, "Exam (Phantom)").await;
    tried(&emulator, Operation::Update).await;
    emulator.remove_faults(&Match::operation(Operation::Update));

    eventually("Phantom's later change reaches Google", async || {
        (title_in_google(&emulator, google_id).as_deref() == Some("Exam (Phantom)")).then_some(())
    })
    .await;
    let updates = answers(&emulator, Operation::Update);
    let refused = updates.iter().position(|&s| s == 412).expect("a 412");
    assert!(updates[refused..].contains(&200), "{updates:?}");
    let e = eventually("the event is synced", async || {
        let e = body(app.get(&path, &user.access).await).await;
        (e["sync_status"] == "synced").then_some(e)
    })
    .await;
    assert_eq!(e["title"], "Exam (Phantom)");
}

/// A delete queued before an edit made in Google meets a `412`; a deletion is final, so the
/// event is deleted in Google all the same, and not imported back.
#[tokio::test]
async fn a_delete_that_meets_a_newer_google_edit_still_deletes() {
    let (app, emulator, user) = reading().await;
    let (exam, path) = synced(&app, &user, "Exam").await;
    let google_id = exam["google_calendar_id"].as_str().expect("in Google");
    emulator.push_fault(unavailable(Operation::Delete));
    emulator.push_fault(unavailable(Operation::List));
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    tried(&emulator, Operation::Delete).await;
    retitle_in_google(&emulator, google_id, "Exam (Google)");
    emulator.remove_faults(&Match::operation(Operation::Delete));

    eventually("the event is deleted in Google", async || {
        let g = emulator.event(emulator.default_user(), google_id)?;
        (g.status == phantom_google_emulator::EventStatus::Cancelled).then_some(())
    })
    .await;
    let deletes = answers(&emulator, Operation::Delete);
    assert!(
        deletes.contains(&412) && deletes.contains(&204),
        "{deletes:?}"
    );

    emulator.clear_faults();
    let reads = answers(&emulator, Operation::List).len();
    eventually("two more reads", async || {
        (answers(&emulator, Operation::List).len() >= reads + 2).then_some(())
    })
    .await;
    assert_eq!(
        app.get(&path, &user.access).await.status(),
        StatusCode::NOT_FOUND
    );
    let page = body(app.get("/api/events/", &user.access).await).await;
    assert_eq!(page["count"], 0, "imported back: {page}");
}

/// The common case costs nothing: when Google did not change the event, a create, an edit and
/// a delete are one call each (no insert before the update, no read before a write).
#[tokio::test]
async fn conditional_writes_cost_no_call_when_google_did_not_change() {
    let (app, emulator, user) = connected_with(|s| {
        s.sync.retry_base = Duration::from_millis(20);
        s.sync.poll = None;
    })
    .await;
    let (exam, path) = synced(&app, &user, "Exam").await;
    let google_id = exam["google_calendar_id"]
        .as_str()
        .expect("in Google")
        .to_owned();
    retitle(&app, &user, &path, "Exam (room 4)").await;
    eventually("the edit reaches Google", async || {
        (title_in_google(&emulator, &google_id).as_deref() == Some("Exam (room 4)")).then_some(())
    })
    .await;
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    eventually("the delete reaches Google", async || {
        answers(&emulator, Operation::Delete)
            .contains(&204)
            .then_some(())
    })
    .await;
    let calls = |op| answers(&emulator, op);
    assert_eq!(calls(Operation::Insert), [200]);
    assert_eq!(calls(Operation::Update), [200]);
    assert_eq!(calls(Operation::Delete), [204]);
    assert_eq!(calls(Operation::Get), Vec::<u16>::new());
    assert_eq!(calls(Operation::Patch), Vec::<u16>::new());
}

/// An event of the user's own category "Maths" (priority 4, Google colour `"9"`), synced, and
/// the category's path.
async fn in_maths(app: &TestApp, user: &TestUser) -> (Value, String, String) {
    let maths = body(
        app.post(
            "/api/categories/",
            Some(&user.access),
            &json!({"name": "Maths", "priority_level": 4, "color": "#3F51B5"}),
        )
        .await,
    )
    .await;
    let created = app
        .create_event(
            user,
            &json!({"title": "Algebra", "category": maths["id"],
                    "start_time": "2026-11-24T09:00:00Z", "end_time": "2026-11-24T10:00:00Z"}),
        )
        .await;
    let path = format!("/api/events/{}/", created["id"]);
    let event = eventually("the event is synced", async || {
        let e = body(app.get(&path, &user.access).await).await;
        (e["sync_status"] == "synced").then_some(e)
    })
    .await;
    (event, path, format!("/api/categories/{}/", maths["id"]))
}

/// Recolour, then a Google edit of the title, with the recolour still queued: Google's edit is
/// the later change and wins, yet the colour is Phantom's own, so both are kept, whether
/// Phantom reads Google's edit before its retry (`read_first`) or its retry meets the `412`.
async fn recolour_then_google_edit(read_first: bool) {
    let (app, emulator, user) = reading().await;
    let (event, path, maths) = in_maths(&app, &user).await;
    let google_id = event["google_calendar_id"].as_str().expect("in Google");
    let colour = |emulator: &Emulator| {
        emulator
            .event(emulator.default_user(), google_id)
            .and_then(|e| e.color_id)
    };
    assert_eq!(colour(&emulator).as_deref(), Some("9"));
    emulator.push_fault(unavailable(Operation::Update));
    if !read_first {
        emulator.push_fault(unavailable(Operation::List));
    }
    let recoloured = app
        .send(
            Method::PATCH,
            &maths,
            Some(&user.access),
            Some(&json!({"priority_level": 2})),
        )
        .await;
    assert_eq!(recoloured.status(), StatusCode::OK);
    tried(&emulator, Operation::Update).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    retitle_in_google(&emulator, google_id, "Algebra (room 4)");
    if read_first {
        eventually("Google's edit is read", async || {
            let e = body(app.get(&path, &user.access).await).await;
            (e["title"] == "Algebra (room 4)").then_some(())
        })
        .await;
    }
    emulator.remove_faults(&Match::operation(Operation::Update));

    eventually("the colour reaches Google", async || {
        (colour(&emulator).as_deref() == Some("5")).then_some(())
    })
    .await;
    assert_eq!(
        title_in_google(&emulator, google_id).as_deref(),
        Some("Algebra (room 4)")
    );
    let e = eventually("Phantom holds Google's title, synced", async || {
        let e = body(app.get(&path, &user.access).await).await;
        (e["sync_status"] == "synced").then_some(e)
    })
    .await;
    assert_eq!(
        (e["title"].as_str(), e["priority_level"].as_i64()),
        (Some("Algebra (room 4)"), Some(2))
    );
}

#[tokio::test]
async fn a_recolour_and_a_later_google_title_edit_are_both_kept_when_the_read_comes_first() {
    recolour_then_google_edit(true).await;
}

#[tokio::test]
async fn a_recolour_and_a_later_google_title_edit_are_both_kept_when_the_retry_comes_first() {
    recolour_then_google_edit(false).await;
}
