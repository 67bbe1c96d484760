//! Property 11 with series (issue 18): random interleavings of series and occurrence edits
//! made through the API and in Google, with Google failing now and then, converge to the same
//! expanded view on both sides and then stay quiet.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use phantom_google_emulator::{
    EmulatedEvent, Emulator, EventDateTime, EventEdit, EventStatus, Fault, FaultAction, Match,
    Operation,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, answers, unavailable};
use crate::recurring_reads::{View, WINDOW, get, mine, reading, t, writes};

/// The zone every series of the workload repeats in.
const ZONE: &str = "Europe/London";

/// The rules a series of the workload may have.
const RULES: [&str; 4] = [
    "RRULE:FREQ=WEEKLY;COUNT=6",
    "RRULE:FREQ=DAILY;INTERVAL=3;COUNT=8",
    "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=7",
    "RRULE:FREQ=WEEKLY",
];

/// One step of a workload on series.
#[derive(Debug, Clone)]
enum Step {
    /// A series through the API: `RULES[rule]`, from `day` days after 2026-12-01 at `hour`
    /// UTC, an hour long.
    ApiCreate {
        title: String,
        rule: usize,
        day: i64,
        hour: i64,
    },
    /// "This event": the `nth` occurrence of the `pick`-th series retitled and moved by
    /// `shift` hours.
    ApiEditOccurrence {
        pick: usize,
        nth: usize,
        title: String,
        shift: i64,
    },
    /// "This event", deleted.
    ApiCancelOccurrence { pick: usize, nth: usize },
    /// "This and following events" from the `nth` occurrence, retitled.
    ApiSplit {
        pick: usize,
        nth: usize,
        title: String,
    },
    /// "All events": the series retitled, and moved by `shift` hours.
    ApiEditAll {
        pick: usize,
        title: String,
        shift: i64,
    },
    /// "All events", deleted.
    ApiDelete { pick: usize },
    /// The person edits one instance in Google: retitled and moved by `shift` hours.
    GoogleEditInstance {
        pick: usize,
        nth: usize,
        title: String,
        shift: i64,
    },
    /// The person deletes one instance in Google.
    GoogleCancelInstance { pick: usize, nth: usize },
    /// The person retitles a whole series in Google, and moves it by `shift` hours (its
    /// instances' original starts move with it).
    GoogleEditSeries {
        pick: usize,
        title: String,
        shift: i64,
    },
    /// Google's next answer to anything is a 503.
    Glitch,
    /// Google takes no write and answers no read (503) until the next `Heal`: changes queue
    /// up in Phantom while the person goes on editing in Google.
    Outage,
    /// Google takes writes again, still answering no read: a queued change certainly
    /// reaches Google before Phantom reads what the person did there.
    HealWrites,
    /// Google works again.
    Heal,
    /// Lets the worker and the reads run a little.
    Pause,
}

/// Which series or occurrence a step picks (modulo how many there are): small, so that steps
/// on both sides often meet the same one.
fn pick() -> impl Strategy<Value = usize> {
    0usize..4
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{1,10}"
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (word(), 0..RULES.len(), 0i64..14, 7i64..20)
            .prop_map(|(title, rule, day, hour)| Step::ApiCreate { title, rule, day, hour }),
        3 => (pick(), pick(), word(), -2i64..3).prop_map(
            |(pick, nth, title, shift)| Step::ApiEditOccurrence { pick, nth, title, shift }
        ),
        2 => (pick(), pick())
            .prop_map(|(pick, nth)| Step::ApiCancelOccurrence { pick, nth }),
        2 => (pick(), pick(), word())
            .prop_map(|(pick, nth, title)| Step::ApiSplit { pick, nth, title }),
        2 => (pick(), word(), prop_oneof![3 => Just(0i64), 1 => Just(1i64)])
            .prop_map(|(pick, title, shift)| Step::ApiEditAll { pick, title, shift }),
        1 => pick().prop_map(|pick| Step::ApiDelete { pick }),
        3 => (pick(), pick(), word(), -2i64..3).prop_map(
            |(pick, nth, title, shift)| Step::GoogleEditInstance { pick, nth, title, shift }
        ),
        2 => (pick(), pick())
            .prop_map(|(pick, nth)| Step::GoogleCancelInstance { pick, nth }),
        2 => (pick(), word(), prop_oneof![3 => Just(0i64), 1 => Just(1i64)])
            .prop_map(|(pick, title, shift)| Step::GoogleEditSeries { pick, title, shift }),
        2 => Just(Step::Glitch),
        2 => Just(Step::Outage),
        1 => Just(Step::HealWrites),
        2 => Just(Step::Heal),
        2 => Just(Step::Pause),
    ]
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

/// The `i`-th item of `items`, counted modulo their number.
fn nth<T>(items: &[T], i: usize) -> Option<&T> {
    items.get(i % items.len().max(1))
}

/// The series Phantom stores, in id order.
async fn series(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let (_, page) = get(app, user, "/api/events/?page_size=500").await;
    let mut all: Vec<Value> = page["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["recurrence"].as_array().is_some_and(|r| !r.is_empty()))
        .collect();
    all.sort_by_key(|e| e["id"].as_i64());
    all
}

/// The live occurrences Phantom shows of the series `id` in the window, by start.
async fn occurrences(app: &TestApp, user: &TestUser, id: &Value) -> Vec<Value> {
    let (from, to) = WINDOW;
    let (_, view) = get(
        app,
        user,
        &format!("/api/events/range/?start={from}&end={to}"),
    )
    .await;
    view.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o["recurring_event_id"] == *id)
        .collect()
}

/// The live series in Google (not instances, not single events), in insertion order.
fn google_series(emulator: &Emulator, owner: &str) -> Vec<EmulatedEvent> {
    emulator
        .events(owner)
        .into_iter()
        .filter(|g| {
            g.status != EventStatus::Cancelled
                && g.recurring_event_id.is_none()
                && g.recurrence.as_ref().is_some_and(|r| !r.is_empty())
        })
        .collect()
}

fn instant(at: &Option<EventDateTime>) -> Option<DateTime<Utc>> {
    at.as_ref().and_then(EventDateTime::instant)
}

/// `at` moved by `shift` hours, as a Google boundary in the workload's zone.
fn moved(at: &Option<EventDateTime>, shift: i64) -> Option<EventDateTime> {
    let at = instant(at)? + hours(shift);
    Some(EventDateTime::timed(rfc3339(at), Some(ZONE)))
}

/// Google's `singleEvents=true` view of the window: every live instance of every live series
/// and every live single event meeting it, as `(start, end, title)`, sorted.
fn google_view(emulator: &Emulator, owner: &str) -> Result<View, String> {
    let (from, to) = (t(WINDOW.0), t(WINDOW.1));
    let mut view = View::new();
    for g in emulator.events(owner) {
        if g.status == EventStatus::Cancelled || g.recurring_event_id.is_some() {
            continue;
        }
        let items = if g.recurrence.as_ref().is_some_and(|r| !r.is_empty()) {
            emulator
                .instances(owner, &g.id, from, to)
                .map_err(|e| format!("instances of {}: {e:?}", g.id))?
        } else {
            vec![g]
        };
        for i in items {
            let (Some(start), Some(end)) = (instant(&i.start), instant(&i.end)) else {
                return Err(format!("{} has no instants", i.id));
            };
            if start < to && end > from {
                view.push((start, end, i.summary.clone().unwrap_or_default()));
            }
        }
    }
    view.sort();
    Ok(view)
}

/// Runs `steps`: through the API as `user`, and in Google as the person `owner`.
async fn run(app: &TestApp, emulator: &Emulator, user: &TestUser, owner: &str, steps: &[Step]) {
    let start = t("2026-12-01T00:00:00Z");
    for step in steps {
        match step {
            Step::ApiCreate {
                title,
                rule,
                day,
                hour,
            } => {
                let at = start + TimeDelta::days(*day) + hours(*hour);
                app.create_event(
                    user,
                    &json!({"title": title, "category": 3, "start_time": rfc3339(at),
                            "end_time": rfc3339(at + hours(1)), "timezone": ZONE,
                            "recurrence": [RULES[*rule]]}),
                )
                .await;
            }
            Step::ApiEditOccurrence {
                pick,
                nth: n,
                title,
                shift,
            } => {
                let all = series(app, user).await;
                let Some(s) = nth(&all, *pick) else { continue };
                let list = occurrences(app, user, &s["id"]).await;
                let Some(o) = nth(&list, *n) else { continue };
                let (begin, end) = (
                    t(o["start_time"].as_str().unwrap_or_default()) + hours(*shift),
                    t(o["end_time"].as_str().unwrap_or_default()) + hours(*shift),
                );
                let patch =
                    json!({"title": title, "start_time": rfc3339(begin), "end_time": rfc3339(end)});
                // A 404 means Google cancelled it meanwhile, which wins.
                app.send(
                    Method::PATCH,
                    &format!("/api/events/{}/", o["id"].as_str().unwrap_or_default()),
                    Some(&user.access),
                    Some(&patch),
                )
                .await;
            }
            Step::ApiCancelOccurrence { pick, nth: n } => {
                let all = series(app, user).await;
                let Some(s) = nth(&all, *pick) else { continue };
                let list = occurrences(app, user, &s["id"]).await;
                let Some(o) = nth(&list, *n) else { continue };
                app.send(
                    Method::DELETE,
                    &format!("/api/events/{}/", o["id"].as_str().unwrap_or_default()),
                    Some(&user.access),
                    None,
                )
                .await;
            }
            Step::ApiSplit {
                pick,
                nth: n,
                title,
            } => {
                let all = series(app, user).await;
                let Some(s) = nth(&all, *pick) else { continue };
                // Not at the first occurrence: that is a change of the whole series (400).
                let list: Vec<Value> = occurrences(app, user, &s["id"])
                    .await
                    .into_iter()
                    .filter(|o| o["original_start_time"] != s["start_time"])
                    .collect();
                let Some(o) = nth(&list, *n) else { continue };
                app.send(
                    Method::POST,
                    &format!(
                        "/api/events/{}/split/",
                        o["id"].as_str().unwrap_or_default()
                    ),
                    Some(&user.access),
                    Some(&json!({"title": title})),
                )
                .await;
            }
            Step::ApiEditAll { pick, title, shift } => {
                let all = series(app, user).await;
                let Some(s) = nth(&all, *pick) else { continue };
                let (begin, end) = (
                    t(s["start_time"].as_str().unwrap_or_default()) + hours(*shift),
                    t(s["end_time"].as_str().unwrap_or_default()) + hours(*shift),
                );
                let patch =
                    json!({"title": title, "start_time": rfc3339(begin), "end_time": rfc3339(end)});
                app.send(
                    Method::PATCH,
                    &format!("/api/events/{}/", s["id"]),
                    Some(&user.access),
                    Some(&patch),
                )
                .await;
            }
            Step::ApiDelete { pick } => {
                let all = series(app, user).await;
                let Some(s) = nth(&all, *pick) else { continue };
                app.send(
                    Method::DELETE,
                    &format!("/api/events/{}/", s["id"]),
                    Some(&user.access),
                    None,
                )
                .await;
            }
            Step::GoogleEditInstance {
                pick,
                nth: n,
                title,
                shift,
            } => {
                let all = google_series(emulator, owner);
                let Some(s) = nth(&all, *pick) else { continue };
                let list = emulator
                    .instances(owner, &s.id, t(WINDOW.0), t(WINDOW.1))
                    .unwrap_or_default();
                let Some(i) = nth(&list, *n) else { continue };
                let edit = EventEdit {
                    summary: Some(title.clone()),
                    start: moved(&i.start, *shift),
                    end: moved(&i.end, *shift),
                    ..EventEdit::default()
                };
                let _ = emulator.edit_event(owner, &i.id, edit);
            }
            Step::GoogleCancelInstance { pick, nth: n } => {
                let all = google_series(emulator, owner);
                let Some(s) = nth(&all, *pick) else { continue };
                let list = emulator
                    .instances(owner, &s.id, t(WINDOW.0), t(WINDOW.1))
                    .unwrap_or_default();
                let Some(i) = nth(&list, *n) else { continue };
                let _ = emulator.delete_event(owner, &i.id);
            }
            Step::GoogleEditSeries { pick, title, shift } => {
                let all = google_series(emulator, owner);
                let Some(s) = nth(&all, *pick) else { continue };
                let edit = EventEdit {
                    summary: Some(title.clone()),
                    start: moved(&s.start, *shift),
                    end: moved(&s.end, *shift),
                    ..EventEdit::default()
                };
                let _ = emulator.edit_event(owner, &s.id, edit);
            }
            Step::Glitch => emulator.push_fault(Fault::once(
                Match::any(),
                FaultAction::Status {
                    code: 503,
                    retry_after: None,
                },
            )),
            Step::Outage => {
                for operation in [
                    Operation::Insert,
                    Operation::Update,
                    Operation::Patch,
                    Operation::Delete,
                    Operation::List,
                ] {
                    emulator.push_fault(unavailable(operation));
                }
            }
            Step::HealWrites => {
                for operation in [
                    Operation::Insert,
                    Operation::Update,
                    Operation::Patch,
                    Operation::Delete,
                ] {
                    emulator.remove_faults(&Match::operation(operation));
                }
            }
            Step::Heal => emulator.clear_faults(),
            Step::Pause => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Whether both sides agree: nothing queued, every series synced, and Phantom's expanded view
/// of the window equal to Google's, occurrence by occurrence. `Err` says how not.
async fn agree(
    app: &TestApp,
    emulator: &Emulator,
    user: &TestUser,
    owner: &str,
    database: &phantom_adapters::db::Database,
) -> Result<(), String> {
    let queued = database
        .outbox_stats(Utc::now())
        .await
        .map_err(|e| e.to_string())?
        .depth;
    if queued != 0 {
        return Err(format!("{queued} changes still queued"));
    }
    for s in series(app, user).await {
        if s["sync_status"] != "synced" {
            return Err(format!("series {} is {}", s["id"], s["sync_status"]));
        }
    }
    let google = google_view(emulator, owner)?;
    let mut ours = mine(app, user, WINDOW.0, WINDOW.1).await;
    ours.sort();
    if ours != google {
        return Err(format!(
            "the views differ:\nPhantom {ours:?}\nGoogle  {google:?}"
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Property 11 with series: for any interleaving of series and occurrence edits made
    /// through the API (create a series, edit, move or cancel one occurrence, split "this and
    /// following", edit or move "all events", delete) and in Google (edit, move or cancel one
    /// instance, retitle or move the series), with Google failing now and then (a single
    /// error, or no write and no read for a while), once both sides are
    /// quiet Phantom's expanded view of the window (`range/`) equals Google's
    /// `singleEvents=true` view occurrence by occurrence (start, end, title), every series
    /// is synced with nothing queued, and a further quiet period (two more reads) writes
    /// nothing to Google.
    #[test]
    fn property_11_series_edits_on_both_sides_converge_and_then_stay_quiet(
        steps in prop::collection::vec(step(), 1..16),
    ) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let (app, emulator, user) = reading().await;
            let owner = emulator.default_user().to_owned();
            run(&app, &emulator, &user, &owner, &steps).await;
            emulator.clear_faults();
            let database = app.database().await;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                match agree(&app, &emulator, &user, &owner, &database).await {
                    Ok(()) => break,
                    Err(why) if std::time::Instant::now() > deadline => {
                        return Err(TestCaseError::fail(why));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            let before = writes(&emulator);
            let reads = answers(&emulator, Operation::List).len();
            crate::helpers::eventually("two more reads", Duration::from_secs(15), async || {
                (answers(&emulator, Operation::List).len() >= reads + 2).then_some(())
            })
            .await;
            prop_assert_eq!(writes(&emulator), before, "a quiet period wrote to Google");
            agree(&app, &emulator, &user, &owner, &database)
                .await
                .map_err(TestCaseError::fail)
        })?;
    }
}
