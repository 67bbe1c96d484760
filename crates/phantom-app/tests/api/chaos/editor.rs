//! One user editing events over HTTP while the server is killed and restarted under them,
//! and the record of what the API acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The most changes one user makes.
const MAX_CHANGES: usize = 150;

/// Where the server is: `None` while it is being killed and restarted.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) address: Option<String>,
    pub(super) generation: u64,
}

/// The server's address changes with each restart, so requests go through this.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) client: reqwest::Client,
    pub(super) target: watch::Receiver<Target>,
    /// Requests sent and not yet answered.
    pub(super) in_flight: Arc<AtomicUsize>,
}

/// The server was killed before it answered: the request may or may not have taken effect.
struct Lost;

impl Api {
    /// Sends once, waiting first for a running server. On `Err(Lost)` a restarted server is
    /// already up.
    async fn send(
        &mut self,
        method: &Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Lost> {
        let target = self
            .target
            .wait_for(|t| t.address.is_some())
            .await
            .expect("the killer is alive")
            .clone();
        let address = target.address.expect("up");
        let mut request = self
            .client
            .request(method.clone(), format!("{address}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        }
        .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        match answer {
            Ok((status, text)) => Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null))),
            Err(error) => {
                // The killer marks the server down before it kills it: a request that fails
                // while the same server is marked up failed for another reason.
                let now = self.target.borrow().clone();
                assert!(
                    now.address.is_none() || now.generation != target.generation,
                    "{method} {path} failed while the server was up: {error}"
                );
                self.target
                    .wait_for(|t| t.address.is_some() && t.generation > target.generation)
                    .await
                    .expect("the killer is alive");
                Err(Lost)
            }
        }
    }

    /// Sends an idempotent request until a server answers it; also says how often it was
    /// lost on the way.
    async fn send_until_answered(
        &mut self,
        method: &Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value, usize) {
        let mut lost = 0;
        loop {
            match self.send(method, path, token, body).await {
                Ok((status, body)) => return (status, body, lost),
                Err(Lost) => lost += 1,
            }
        }
    }
}

/// An event as the API acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expected {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) category: i64,
    pub(super) start: DateTime<Utc>,
    pub(super) end: DateTime<Utc>,
}

impl Expected {
    fn body(&self) -> Value {
        json!({"title": self.title, "description": self.description, "category": self.category,
               "start_time": rfc3339(self.start), "end_time": rfc3339(self.end),
               "is_flexible": true, "is_completed": false})
    }

    /// How `event` (the API's representation) differs from this, if it does.
    pub(super) fn differs_from(&self, event: &Value) -> Option<String> {
        let time = |key: &str| event[key].as_str().and_then(|t| t.parse().ok());
        let same = event["title"].as_str() == Some(self.title.as_str())
            && event["description"].as_str() == Some(self.description.as_str())
            && event["category"].as_i64() == Some(self.category)
            && time("start_time") == Some(self.start)
            && time("end_time") == Some(self.end);
        (!same).then(|| format!("expected {self:?}, the API has {event}"))
    }
}

/// What one user's requests did, as the API acknowledged it.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) live: BTreeMap<i64, Expected>,
    pub(super) deleted: BTreeSet<i64>,
    /// Every title each event was ever sent with, to recognise it in Google.
    pub(super) titles: BTreeMap<i64, Vec<String>>,
    /// Google ids seen in the API's answers.
    pub(super) google_ids: BTreeMap<i64, String>,
    pub(super) changes: usize,
    /// Requests the server was killed before answering.
    pub(super) lost: usize,
    /// Lost requests found done after the restart: creates stored, deletes done.
    pub(super) done_before_kill: usize,
}

impl Model {
    fn saw(&mut self, id: i64, event: &Value) {
        if let Some(google_id) = event["google_calendar_id"].as_str() {
            self.google_ids.insert(id, google_id.to_owned());
        }
    }
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
        .single()
        .expect("valid")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Fresh random data for an event titled `title`.
fn random_event(rng: &mut StdRng, title: String) -> Expected {
    let start = base() + TimeDelta::minutes(30 * rng.random_range(0..48 * 30));
    Expected {
        title,
        description: if rng.random_bool(0.3) {
            String::new()
        } else {
            format!("notes {}", rng.random_range(0..10_000))
        },
        category: rng.random_range(1..=5),
        start,
        end: start + TimeDelta::minutes(30 * rng.random_range(1..=6)),
    }
}

/// One user's workload: random creates, PATCHes, PUTs and deletes until `until`.
pub(super) async fn edit(
    mut api: Api,
    token: String,
    n: usize,
    mut rng: StdRng,
    until: Instant,
) -> (usize, Model) {
    let mut model = Model::default();
    for change in 0..MAX_CHANGES {
        if Instant::now() >= until {
            break;
        }
        model.changes += 1;
        // Unique titles tell every version of every event apart in Google.
        let title = format!("u{n}-c{change}");
        let roll = rng.random_range(0..100);
        let pick = (!model.live.is_empty())
            .then(|| rng.random_range(0..model.live.len()))
            .and_then(|i| model.live.keys().nth(i).copied());
        match pick {
            Some(id) if roll >= 35 => {
                let path = format!("/api/events/{id}/");
                if roll >= 82 {
                    let (status, answer, lost) = api
                        .send_until_answered(&Method::DELETE, &path, &token, None)
                        .await;
                    model.lost += lost;
                    if status == StatusCode::NOT_FOUND {
                        model.done_before_kill += 1;
                    }
                    // A lost delete may have been done before the kill.
                    assert!(
                        status == StatusCode::NO_CONTENT
                            || (status == StatusCode::NOT_FOUND && lost > 0),
                        "DELETE {path}: {status} {answer}"
                    );
                    model.live.remove(&id);
                    model.deleted.insert(id);
                } else {
                    let (method, body, expected) = if roll >= 62 {
                        let expected = random_event(&mut rng, title);
                        (Method::PUT, expected.body(), expected)
                    } else {
                        patch(&mut rng, &model.live[&id], title)
                    };
                    if let Some(title) = body["title"].as_str() {
                        model.titles.entry(id).or_default().push(title.to_owned());
                    }
                    let (status, answer, lost) = api
                        .send_until_answered(&method, &path, &token, Some(&body))
                        .await;
                    model.lost += lost;
                    assert_eq!(status, StatusCode::OK, "{method} {path} {body}: {answer}");
                    if let Some(why) = expected.differs_from(&answer) {
                        panic!("{method} {path} answered something else: {why}");
                    }
                    model.saw(id, &answer);
                    model.live.insert(id, expected);
                }
            }
            _ => create(&mut api, &token, &mut model, random_event(&mut rng, title)).await,
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
    }
    (n, model)
}

/// A random non-empty subset of the fields, changed; and the event it makes.
fn patch(rng: &mut StdRng, current: &Expected, title: String) -> (Method, Value, Expected) {
    let fresh = random_event(rng, title);
    let mut expected = current.clone();
    let mut body = serde_json::Map::new();
    let fields = rng.random_range(1..16u8);
    if fields & 1 != 0 {
        body.insert("title".into(), json!(fresh.title));
        expected.title = fresh.title;
    }
    if fields & 2 != 0 {
        body.insert("description".into(), json!(fresh.description));
        expected.description = fresh.description;
    }
    if fields & 4 != 0 {
        body.insert("category".into(), json!(fresh.category));
        expected.category = fresh.category;
    }
    if fields & 8 != 0 {
        body.insert("start_time".into(), json!(rfc3339(fresh.start)));
        body.insert("end_time".into(), json!(rfc3339(fresh.end)));
        expected.start = fresh.start;
        expected.end = fresh.end;
    }
    (Method::PATCH, Value::Object(body), expected)
}

/// Creates `expected`. A create the server was killed before answering may have been stored:
/// after the restart the user looks for its unique title and sends it again only if absent.
async fn create(api: &mut Api, token: &str, model: &mut Model, expected: Expected) {
    let body = expected.body();
    loop {
        let created = match api
            .send(&Method::POST, "/api/events/", token, Some(&body))
            .await
        {
            Ok((status, created)) => {
                assert_eq!(status, StatusCode::CREATED, "POST {body}: {created}");
                created
            }
            Err(Lost) => {
                model.lost += 1;
                let (status, page, lost) = api
                    .send_until_answered(&Method::GET, "/api/events/?page_size=500", token, None)
                    .await;
                model.lost += lost;
                assert_eq!(status, StatusCode::OK, "{page}");
                let found = page["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .find(|e| e["title"].as_str() == Some(expected.title.as_str()))
                    .cloned();
                let Some(found) = found else { continue };
                model.done_before_kill += 1;
                found
            }
        };
        if let Some(why) = expected.differs_from(&created) {
            panic!("POST answered something else: {why}");
        }
        let id = created["id"].as_i64().expect("id");
        model.saw(id, &created);
        model
            .titles
            .entry(id)
            .or_default()
            .push(expected.title.clone());
        model.live.insert(id, expected);
        return;
    }
}
