//! Writes of one instance of a series (issue 18): the first write of an occurrence, for which
//! Phantom holds no etag of Google's instance, never overwrites a newer edit of it made in
//! Google.

use std::time::Duration;

use phantom_google_emulator::{EventEdit, Match, Operation};
use serde_json::json;

use crate::helpers::{self, answers, unavailable};
use crate::recurring_ends::{patch, phantom_series, tried};
use crate::recurring_reads::{WINDOW, converged, get, quiet, reading};

/// The occurrence of `phantom_series` that no write or read has touched: Phantom holds no
/// etag of its Google instance.
const FRESH: &str = "20261221T090000Z";

fn retitled(title: &str) -> EventEdit {
    EventEdit {
        summary: Some(title.to_owned()),
        ..EventEdit::default()
    }
}

/// The person edits an instance in Google after Phantom's first change of that occurrence
/// was queued (Google taking no write, and no read happening): when Google takes writes
/// again, Phantom fetches the instance before writing it, Google's later edit wins on both
/// sides and Phantom's older change is never written.
#[tokio::test]
async fn a_first_occurrence_write_keeps_a_later_google_edit_of_the_instance() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_{FRESH}/");
    let instance = format!("{gid}_{FRESH}");
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    patch(&app, &user, &occurrence, &json!({"title": "Gym (Phantom)"})).await;
    tried(&emulator, Operation::Patch).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    emulator
        .edit_event(&owner, &instance, retitled("Gym (Google)"))
        .expect("edited in Google");
    let patched = answers(&emulator, Operation::Patch).len();
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Google's later edit reaches Phantom",
        Duration::from_secs(15),
        async || {
            let (_, o) = get(&app, &user, &occurrence).await;
            let (_, s) = get(&app, &user, &format!("/api/events/{id}/")).await;
            (o["title"] == "Gym (Google)" && s["sync_status"] == "synced").then_some(())
        },
    )
    .await;
    let after = &answers(&emulator, Operation::Patch)[patched..];
    assert!(
        !after.contains(&200),
        "Phantom's older change was written over Google's: {after:?}"
    );
    let held = emulator.event(&owner, &instance).expect("instance");
    assert_eq!(held.summary.as_deref(), Some("Gym (Google)"));
    emulator.clear_faults();
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;
    let held = emulator.event(&owner, &instance).expect("instance");
    assert_eq!(held.summary.as_deref(), Some("Gym (Google)"));
}

/// The reverse: the person's edit of the instance in Google is older than Phantom's first
/// change of that occurrence, which is written (after the fetch, on Google's revision).
#[tokio::test]
async fn a_first_occurrence_write_later_than_a_google_edit_is_written() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_{FRESH}/");
    let instance = format!("{gid}_{FRESH}");
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    emulator
        .edit_event(&owner, &instance, retitled("Gym (Google)"))
        .expect("edited in Google");
    tokio::time::sleep(Duration::from_millis(20)).await;
    patch(&app, &user, &occurrence, &json!({"title": "Gym (Phantom)"})).await;
    tried(&emulator, Operation::Patch).await;
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Phantom's later change reaches Google",
        Duration::from_secs(15),
        async || {
            let held = emulator.event(&owner, &instance)?;
            (held.summary.as_deref() == Some("Gym (Phantom)")).then_some(())
        },
    )
    .await;
    emulator.clear_faults();
    converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    quiet(&emulator).await;
    let (_, o) = get(&app, &user, &occurrence).await;
    assert_eq!(o["title"], "Gym (Phantom)");
}

/// The person retitles the whole series in Google after Phantom's first change of one
/// occurrence: Google's instance changed only as its series did, so Phantom's change of that
/// occurrence is no older edit of it and is written; the occurrence keeps its own title on
/// both sides when the person retitles the series once more.
#[tokio::test]
async fn a_first_occurrence_write_is_not_lost_to_a_later_edit_of_the_whole_series() {
    let (app, emulator, user) = reading().await;
    let owner = emulator.default_user().to_owned();
    let (id, gid) = phantom_series(&app, &user, &emulator).await;
    let occurrence = format!("/api/events/{id}_{FRESH}/");
    let instance = format!("{gid}_{FRESH}");
    emulator.push_fault(unavailable(Operation::Patch));
    emulator.push_fault(unavailable(Operation::List));
    patch(&app, &user, &occurrence, &json!({"title": "Gym (Phantom)"})).await;
    tried(&emulator, Operation::Patch).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    emulator
        .edit_event(&owner, &gid, retitled("Sport"))
        .expect("series retitled in Google");
    emulator.remove_faults(&Match::operation(Operation::Patch));
    helpers::eventually(
        "Phantom's change of the occurrence reaches Google",
        Duration::from_secs(15),
        async || {
            let held = emulator.event(&owner, &instance)?;
            (held.summary.as_deref() == Some("Gym (Phantom)")).then_some(())
        },
    )
    .await;
    emulator.clear_faults();
    let google = converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    assert!(
        google.iter().any(|(_, _, title)| title == "Sport"),
        "{google:?}"
    );
    emulator
        .edit_event(&owner, &gid, retitled("Sport again"))
        .expect("series retitled in Google");
    let google = converged(&app, &user, &emulator, &[&gid], WINDOW).await;
    assert!(
        google.iter().any(|(_, _, title)| title == "Gym (Phantom)"),
        "{google:?}"
    );
    quiet(&emulator).await;
}
