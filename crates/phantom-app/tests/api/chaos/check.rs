//! The end state against the record: the API and Google hold what the API acknowledged.

use std::collections::BTreeMap;

use phantom_domain::sync::color_id_for_priority;
use phantom_google_emulator::{EmulatedEvent, EventDateTime, EventStatus};
use serde_json::Value;

use super::editor::Model;
use crate::helpers::{TestApp, TestUser, body};

/// All of `user`'s events, as the API shows them.
pub(super) async fn list_events(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let page = body(app.get("/api/events/?page_size=500", &user.access).await).await;
    assert!(page["next"].is_null(), "more than one page");
    page["results"].as_array().expect("results").clone()
}

/// Compares what the API and Google hold for user `n` with what the API acknowledged.
pub(super) fn check_user(
    n: usize,
    model: &Model,
    api_events: &[Value],
    google: &[EmulatedEvent],
    problems: &mut Vec<String>,
) {
    let mut problem = |text: String| problems.push(format!("user {n}: {text}"));
    let by_id: BTreeMap<i64, &Value> = api_events
        .iter()
        .filter_map(|e| Some((e["id"].as_i64()?, e)))
        .collect();
    for id in by_id.keys().filter(|id| !model.live.contains_key(id)) {
        problem(format!(
            "the API holds event {id}, never acknowledged or deleted: {}",
            by_id[id]
        ));
    }
    // Which event each title belongs to.
    let owner_of: BTreeMap<&str, i64> = model
        .titles
        .iter()
        .flat_map(|(id, titles)| titles.iter().map(move |t| (t.as_str(), *id)))
        .collect();
    let live_google: Vec<&EmulatedEvent> = google
        .iter()
        .filter(|g| g.status != EventStatus::Cancelled)
        .collect();
    let mut copies: BTreeMap<i64, usize> = BTreeMap::new();
    for g in &live_google {
        match g.summary.as_deref().and_then(|s| owner_of.get(s)) {
            Some(id) if model.deleted.contains(id) => {
                problem(format!(
                    "deleted event {id} is live in Google as {}: {:?}",
                    g.id, g.summary
                ));
            }
            Some(id) => *copies.entry(*id).or_default() += 1,
            None => problem(format!(
                "Google holds an unknown event {}: {:?}",
                g.id, g.summary
            )),
        }
    }
    for (id, expected) in &model.live {
        let Some(event) = by_id.get(id) else {
            problem(format!(
                "acknowledged event {id} is missing from the API: {expected:?}"
            ));
            continue;
        };
        if let Some(why) = expected.differs_from(event) {
            problem(format!("event {id}: {why}"));
        }
        if event["sync_status"] != "synced" {
            problem(format!(
                "event {id} is {}: {}",
                event["sync_status"], event["sync_error"]
            ));
        }
        let copies = copies.get(id).copied().unwrap_or(0);
        if copies != 1 {
            problem(format!("event {id} is in Google {copies} times"));
        }
        let Some(google_id) = event["google_calendar_id"].as_str() else {
            problem(format!("event {id} has no google_calendar_id"));
            continue;
        };
        let Some(g) = live_google.iter().find(|g| g.id == google_id) else {
            problem(format!(
                "event {id} is not live in Google under {google_id}"
            ));
            continue;
        };
        let priority = i32::try_from(event["priority_level"].as_i64().unwrap_or(0)).unwrap_or(0);
        let instant = |t: &Option<EventDateTime>| t.as_ref().and_then(EventDateTime::instant);
        let same = g.summary.as_deref() == Some(expected.title.as_str())
            && g.description.as_deref().unwrap_or("") == expected.description
            && instant(&g.start) == Some(expected.start)
            && instant(&g.end) == Some(expected.end)
            && g.color_id.as_deref() == Some(color_id_for_priority(priority));
        if !same {
            problem(format!(
                "event {id}: Google has {:?}, {:?}, {:?}–{:?}, colour {:?}; expected {expected:?}, \
                 colour {:?}",
                g.summary,
                g.description,
                instant(&g.start),
                instant(&g.end),
                g.color_id,
                color_id_for_priority(priority)
            ));
        }
    }
    for id in &model.deleted {
        if by_id.contains_key(id) {
            problem(format!("deleted event {id} is still in the API"));
        }
        if let Some(google_id) = model.google_ids.get(id)
            && live_google.iter().any(|g| &g.id == google_id)
        {
            problem(format!(
                "deleted event {id} is live in Google under {google_id}"
            ));
        }
    }
}
