//! Property tests over HTTP. Each property shares one server across its cases; each case has
//! its own user, so cases cannot see each other's events.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use diesel::prelude::*;
use phantom_adapters::db::schema::users;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::helpers::{TestApp, TestUser, body, spawn_app};

const CASES: u32 = 16;
/// The range properties hunt for boundary mistakes, so they get more cases.
const RANGE_CASES: u32 = 48;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
        .single()
        .expect("valid")
}

fn at(minutes: i64) -> DateTime<Utc> {
    base() + Duration::minutes(minutes)
}

fn z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A generated event: start minute, length in minutes, default category id (1–5), title.
#[derive(Debug, Clone)]
struct Spec {
    start: i64,
    minutes: i64,
    category: i64,
    title: String,
}

impl Spec {
    fn end(&self) -> i64 {
        self.start + self.minutes
    }

    /// Seeded defaults: Exam (id 1) has priority 5 … Gaming (id 5) has priority 1.
    fn priority(&self) -> i64 {
        6 - self.category
    }

    fn body(&self) -> Value {
        json!({"title": self.title, "category": self.category,
               "start_time": z(at(self.start)), "end_time": z(at(self.end()))})
    }
}

fn title() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ]{0,28}[A-Za-z0-9]"
}

/// Times sit on an hourly grid over one day so that event and window edges often coincide:
/// the half-open boundaries are what a wrong comparison gets wrong.
fn spec() -> impl Strategy<Value = Spec> {
    (0i64..18, 1i64..6, 1i64..=5, title()).prop_map(|(hour, hours, category, title)| Spec {
        start: hour * 60,
        minutes: hours * 60,
        category,
        title,
    })
}

/// A window edge on the same hourly grid, a little beyond the events on both sides.
fn edge() -> impl Strategy<Value = i64> {
    (-2i64..26).prop_map(|hour| hour * 60)
}

struct Harness {
    rt: Runtime,
    app: TestApp,
}

fn harness() -> Harness {
    let rt = Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    Harness { rt, app }
}

/// Creates the events for a fresh user; returns the user and the created ids in spec order.
async fn populate(app: &TestApp, specs: &[Spec]) -> (TestUser, Vec<i64>) {
    let user = app.user().await;
    let mut ids = Vec::new();
    for spec in specs {
        ids.push(
            app.create_event(&user, &spec.body()).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    (user, ids)
}

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|a| a.iter().filter_map(|e| e["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// The ids of `specs` that pass `keep`, ordered as the API orders: by start, then id.
fn expected(specs: &[Spec], ids: &[i64], keep: impl Fn(&Spec) -> bool) -> Vec<i64> {
    let mut chosen: Vec<(i64, i64)> = specs
        .iter()
        .zip(ids)
        .filter(|(s, _)| keep(s))
        .map(|(s, id)| (s.start, *id))
        .collect();
    chosen.sort();
    chosen.into_iter().map(|(_, id)| id).collect()
}

/// Property 9: the range query returns all and only the events whose interval intersects
/// `[start, end)`, ordered by start time.
#[test]
fn property_9_range_returns_exactly_the_intersecting_events() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(RANGE_CASES), |(
        specs in prop::collection::vec(spec(), 0..8),
        from in edge(),
        len in (1i64..12).prop_map(|h| h * 60),
    )| {
        h.rt.block_on(async {
            let (user, ids) = populate(&h.app, &specs).await;
            let path = format!("/api/events/range/?start={}&end={}", z(at(from)), z(at(from + len)));
            let response = h.app.get(&path, &user.access).await;
            prop_assert_eq!(response.status(), StatusCode::OK);
            let got = ids_of(&body(response).await);
            let want = expected(&specs, &ids, |s| s.end() > from && s.start < from + len);
            prop_assert_eq!(got, want);
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 24: every combination of the `start`, `end`, `category` and `priority` filters
/// returns exactly the events that pass all given filters, ordered by start time.
#[test]
fn property_24_filters_return_exactly_the_matching_events() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(RANGE_CASES), |(
        specs in prop::collection::vec(spec(), 0..8),
        from in prop::option::of(edge()),
        to in prop::option::of(edge()),
        category in prop::option::of(1i64..=5),
        priority in prop::option::of(1i64..=5),
    )| {
        prop_assume!(!matches!((from, to), (Some(f), Some(t)) if t <= f));
        h.rt.block_on(async {
            let (user, ids) = populate(&h.app, &specs).await;
            let mut query = vec!["page_size=500".to_owned()];
            if let Some(f) = from { query.push(format!("start={}", z(at(f)))); }
            if let Some(t) = to { query.push(format!("end={}", z(at(t)))); }
            if let Some(c) = category { query.push(format!("category={c}")); }
            if let Some(p) = priority { query.push(format!("priority={p}")); }
            let response = h.app.get(&format!("/api/events/?{}", query.join("&")), &user.access).await;
            prop_assert_eq!(response.status(), StatusCode::OK);
            let page = body(response).await;
            let want = expected(&specs, &ids, |s| {
                from.is_none_or(|f| s.end() > f)
                    && to.is_none_or(|t| s.start < t)
                    && category.is_none_or(|c| s.category == c)
                    && priority.is_none_or(|p| s.priority() == p)
            });
            prop_assert_eq!(page["count"].as_u64(), Some(want.len() as u64));
            prop_assert_eq!(ids_of(&page["results"]), want);
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// A year in minutes: the history property's events start anywhere in it.
const YEAR: i64 = 365 * 24 * 60;

/// An event of the history property: short, a few days, or up to three months long, so that
/// many windows meet events that began long before them and are still running.
fn long_spec() -> impl Strategy<Value = Spec> {
    let minutes = prop_oneof![1i64..180, 180i64..10_000, 10_000i64..130_000];
    (0i64..YEAR, minutes, 1i64..=5).prop_map(|(start, minutes, category)| Spec {
        start,
        minutes,
        category,
        title: format!("h{start}"),
    })
}

/// Every page of `query` at `size` per page, concatenated, and the count of the first page.
async fn all_pages(app: &TestApp, user: &TestUser, query: &str, size: usize) -> (u64, Vec<i64>) {
    let mut ids = Vec::new();
    let mut count = 0;
    for page in 1.. {
        let path = format!("/api/events/?{query}&page_size={size}&page={page}");
        let response = app.get(&path, &user.access).await;
        if page > 1 && response.status() == StatusCode::NOT_FOUND {
            break;
        }
        let body = body(response).await;
        count = body["count"].as_u64().unwrap_or(u64::MAX);
        ids.extend(ids_of(&body["results"]));
        if body["next"].is_null() {
            break;
        }
    }
    (count, ids)
}

/// Property 31, bounded windows: the list reads a window `[from, to)` only from
/// `start_time >= from - (the longest event the user ever stored)`, and keeps its count
/// without reading the history. For any events of any lengths (among them events that
/// started long before the window and are still running), after an edit that lengthens one
/// of them and the deletion of another, the bounded list (`?start=&end=`, every page of it,
/// and `/range/`), `?start=` alone, `?end=` alone and the unfiltered list return exactly
/// what the naive filter over all the user's events returns (end after `from`, start before
/// `to`), in (start, id) order, with `count` equal to its length.
#[test]
fn property_31_bounded_windows_equal_the_naive_filter() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(RANGE_CASES), |(
        mut specs in prop::collection::vec(long_spec(), 1..10),
        lengthen in prop::option::of((any::<prop::sample::Index>(), 1i64..200_000)),
        doomed in prop::option::of(any::<prop::sample::Index>()),
        from in -20_000i64..YEAR + 20_000,
        len in prop_oneof![1i64..120, 120i64..20_000],
    )| {
        let to = from + len;
        h.rt.block_on(async {
            let (user, mut ids) = populate(&h.app, &specs).await;
            if let Some((pick, extra)) = lengthen {
                let i = pick.index(specs.len());
                specs[i].minutes += extra;
                let path = format!("/api/events/{}/", ids[i]);
                let patch = json!({"end_time": z(at(specs[i].end()))});
                let r = h.app.send(Method::PATCH, &path, Some(&user.access), Some(&patch)).await;
                prop_assert_eq!(r.status(), StatusCode::OK);
            }
            if let Some(pick) = doomed {
                let i = pick.index(specs.len());
                let path = format!("/api/events/{}/", ids[i]);
                let r = h.app.send(Method::DELETE, &path, Some(&user.access), None).await;
                prop_assert_eq!(r.status(), StatusCode::NO_CONTENT);
                specs.remove(i);
                ids.remove(i);
            }
            let window = format!("start={}&end={}", z(at(from)), z(at(to)));
            let want = expected(&specs, &ids, |s| s.end() > from && s.start < to);
            for size in [500, 2] {
                let (count, got) = all_pages(&h.app, &user, &window, size).await;
                prop_assert_eq!(count, want.len() as u64);
                prop_assert_eq!(&got, &want);
            }
            let range = h.app.get(&format!("/api/events/range/?{window}"), &user.access).await;
            prop_assert_eq!(ids_of(&body(range).await), want);

            let (count, got) = all_pages(&h.app, &user, &format!("start={}", z(at(from))), 500).await;
            let want = expected(&specs, &ids, |s| s.end() > from);
            prop_assert_eq!(count, want.len() as u64);
            prop_assert_eq!(got, want);
            let (count, got) = all_pages(&h.app, &user, &format!("end={}", z(at(to))), 500).await;
            let want = expected(&specs, &ids, |s| s.start < to);
            prop_assert_eq!(count, want.len() as u64);
            prop_assert_eq!(got, want);
            let (count, got) = all_pages(&h.app, &user, "category=1&priority=5", 500).await;
            let want = expected(&specs, &ids, |s| s.category == 1);
            prop_assert_eq!(count, want.len() as u64);
            prop_assert_eq!(got, want);
            let (count, got) = all_pages(&h.app, &user, "", 3).await;
            prop_assert_eq!(count, specs.len() as u64);
            prop_assert_eq!(got, expected(&specs, &ids, |_| true));
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 14: creating a valid event answers `201` with every field of the representation,
/// equal to what was sent (times in UTC whatever offset they were sent with).
#[test]
fn property_14_create_returns_201_with_all_fields() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(CASES), |(
        s in spec(),
        description in "[ -~]{0,80}",
        offset_hours in -11i32..=14,
        is_flexible in any::<bool>(),
        is_completed in any::<bool>(),
    )| {
        h.rt.block_on(async {
            let user = h.app.user().await;
            let zone = FixedOffset::east_opt(offset_hours * 3600).expect("offset");
            let request = json!({
                "title": s.title, "description": description, "category": s.category,
                "start_time": at(s.start).with_timezone(&zone).to_rfc3339(),
                "end_time": at(s.end()).with_timezone(&zone).to_rfc3339(),
                "is_flexible": is_flexible, "is_completed": is_completed,
            });
            let response = h.app.post("/api/events/", Some(&user.access), &request).await;
            prop_assert_eq!(response.status(), StatusCode::CREATED);
            let created = body(response).await;
            let mut keys: Vec<&str> = created.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            keys.sort_unstable();
            prop_assert_eq!(keys, ["all_day", "category", "category_name", "created_at", "description",
                "end_time", "google_calendar_id", "id", "is_completed", "is_flexible", "origin",
                "original_start_time", "priority_level", "recurrence", "recurring_event_id",
                "start_time", "sync_error", "sync_status", "timezone", "title", "updated_at"]);
            prop_assert_eq!(&created["recurrence"], &json!([]));
            prop_assert_eq!(&created["recurring_event_id"], &json!(null));
            prop_assert_eq!(&created["all_day"], &json!(false));
            prop_assert_eq!(&created["origin"], &json!("phantom"));
            prop_assert_eq!(&created["title"], &json!(s.title));
            prop_assert_eq!(&created["description"], &json!(description));
            prop_assert_eq!(&created["category"], &json!(s.category));
            prop_assert_eq!(&created["priority_level"], &json!(s.priority()));
            prop_assert_eq!(&created["start_time"], &json!(z(at(s.start))));
            prop_assert_eq!(&created["end_time"], &json!(z(at(s.end()))));
            prop_assert_eq!(&created["is_flexible"], &json!(is_flexible));
            prop_assert_eq!(&created["is_completed"], &json!(is_completed));
            prop_assert_eq!(&created["sync_status"], &json!("not_connected"));
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 15: the response to an update (`PUT` or `PATCH` of any subset of fields) equals
/// the state stored afterwards, and holds the sent values.
#[test]
fn property_15_update_response_equals_stored_state() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(CASES), |(
        s in spec(),
        replacement in spec(),
        fields in prop::sample::subsequence(vec!["title", "category", "start_time", "end_time", "is_completed"], 0..=5),
        full in any::<bool>(),
    )| {
        h.rt.block_on(async {
            let (user, ids) = populate(&h.app, std::slice::from_ref(&s)).await;
            let path = format!("/api/events/{}/", ids[0]);
            let mut patch = replacement.body();
            patch["is_completed"] = json!(true);
            let (method, request) = if full {
                (Method::PUT, patch.clone())
            } else {
                let chosen: serde_json::Map<String, Value> = fields.iter()
                    .map(|f| ((*f).to_owned(), patch[*f].clone())).collect();
                (Method::PATCH, Value::Object(chosen))
            };
            let response = h.app.send(method, &path, Some(&user.access), Some(&request)).await;
            let status = response.status();
            let answered = body(response).await;
            let stored = body(h.app.get(&path, &user.access).await).await;
            if status == StatusCode::BAD_REQUEST {
                // Only a partial time change can reverse the interval; then nothing changed.
                prop_assert!(answered.get("end_time").is_some(), "{}", answered);
                prop_assert_eq!(&stored["title"], &json!(s.title));
            } else {
                prop_assert_eq!(status, StatusCode::OK);
                prop_assert_eq!(&answered, &stored);
                if let Some(sent) = request.as_object() {
                    for (field, value) in sent {
                        prop_assert_eq!(&stored[field], value, "{}", field);
                    }
                }
            }
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 16: deleting any subset of events answers `204` for each; they are gone from
/// detail and list, and the others remain.
#[test]
fn property_16_deleted_events_are_gone() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(CASES), |(
        specs in prop::collection::vec(spec(), 1..6),
        doomed in prop::collection::vec(any::<bool>(), 6),
    )| {
        h.rt.block_on(async {
            let (user, ids) = populate(&h.app, &specs).await;
            let mut kept = Vec::new();
            for (id, delete) in ids.iter().zip(&doomed) {
                let path = format!("/api/events/{id}/");
                if *delete {
                    let r = h.app.send(Method::DELETE, &path, Some(&user.access), None).await;
                    prop_assert_eq!(r.status(), StatusCode::NO_CONTENT);
                    prop_assert_eq!(h.app.get(&path, &user.access).await.status(), StatusCode::NOT_FOUND);
                } else {
                    kept.push(*id);
                }
            }
            let mut listed = ids_of(&body(h.app.get("/api/events/?page_size=500", &user.access).await).await["results"]);
            listed.sort_unstable();
            prop_assert_eq!(listed, kept);
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// One way to break a valid event body, and the field the error must name.
fn invalid_body() -> impl Strategy<Value = (Value, &'static str)> {
    let valid = || {
        json!({"title": "Valid", "category": 1,
                          "start_time": "2026-11-24T09:00:00Z", "end_time": "2026-11-24T10:00:00Z"})
    };
    prop_oneof![
        (201usize..400).prop_map(move |n| {
            let mut b = valid();
            b["title"] = json!("t".repeat(n));
            (b, "title")
        }),
        "[ \t]{0,5}".prop_map(move |blank| {
            let mut b = valid();
            b["title"] = json!(blank);
            (b, "title")
        }),
        any::<i64>().prop_map(move |n| {
            let mut b = valid();
            b["title"] = json!(n);
            (b, "title")
        }),
        (1000i64..i64::MAX).prop_map(move |id| {
            let mut b = valid();
            b["category"] = json!(id);
            (b, "category")
        }),
        "[a-z ]{1,12}".prop_map(move |t| {
            let mut b = valid();
            b["category"] = json!(t);
            (b, "category")
        }),
        "[a-zA-Z0-9:. -]{0,25}".prop_map(move |t| {
            let mut b = valid();
            b["start_time"] = json!(t);
            (b, "start_time")
        }),
        (0i64..600).prop_map(move |back| {
            let mut b = valid();
            b["end_time"] = json!(z(Utc
                .with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
                .single()
                .expect("valid")
                - Duration::minutes(back)));
            (b, "end_time")
        }),
        prop::sample::select(vec!["title", "category", "start_time", "end_time"]).prop_map(
            move |f| {
                let mut b = valid();
                b.as_object_mut().map(|o| o.remove(f));
                (b, f)
            }
        ),
        "[a-z_]{3,10}"
            .prop_filter("not a field", |f| ![
                "title",
                "category",
                "description",
                "start_time",
                "end_time",
                "is_flexible",
                "is_completed",
                "id"
            ]
            .contains(&f.as_str()))
            .prop_map(move |f| {
                let mut b = valid();
                b[f.as_str()] = json!(1);
                (b, "unknown")
            }),
    ]
}

/// Property 17: any invalid event body is answered `400` (never `5xx`) with a message under
/// the offending field, and nothing is stored.
#[test]
fn property_17_invalid_requests_get_a_4xx_naming_the_field() {
    let h = harness();
    let user = h.rt.block_on(h.app.user());
    proptest!(ProptestConfig::with_cases(CASES * 4), |((request, field) in invalid_body())| {
        h.rt.block_on(async {
            let response = h.app.post("/api/events/", Some(&user.access), &request).await;
            prop_assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let errors = body(response).await;
            let named = if field == "unknown" {
                errors.as_object().is_some_and(|o| o.values().all(|v| v[0].is_string()) && !o.is_empty())
            } else {
                errors[field][0].as_str().is_some_and(|m| !m.is_empty())
            };
            prop_assert!(named, "{} → {}", request, errors);
            let count = body(h.app.get("/api/events/", &user.access).await).await["count"].clone();
            prop_assert_eq!(count, json!(0));
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 29: a username that is taken is refused with `400` under `username`, whatever the
/// password of the second attempt.
#[test]
fn property_29_duplicate_usernames_are_refused() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(CASES), |(name in "[A-Za-z0-9@.+_-]{1,20}", other_password in "[a-z]{6}[A-Z][0-9]{3}")| {
        h.rt.block_on(async {
            let username = format!("{name}{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
            h.app.user_named(&username).await;
            let again = h.app
                .post("/api/auth/register/", None, &json!({"username": username, "password": other_password}))
                .await;
            prop_assert_eq!(again.status(), StatusCode::BAD_REQUEST);
            prop_assert!(body(again).await["username"][0].is_string());
            Ok::<(), TestCaseError>(())
        })?;
    });
}

/// Property 30: whatever the password, what is stored is an Argon2id (m=19456, t=2, p=1) PHC
/// hash that does not contain it, and the password logs in.
#[test]
fn property_30_stored_passwords_are_argon2id_hashes() {
    let h = harness();
    proptest!(ProptestConfig::with_cases(CASES / 2), |(password in "[a-zA-Z][ -~]{9,40}")| {
        h.rt.block_on(async {
            let username = format!("p30{}", uuid::Uuid::new_v4().simple());
            let registered = h.app
                .post("/api/auth/register/", None, &json!({"username": username, "password": password}))
                .await;
            prop_assert_eq!(registered.status(), StatusCode::CREATED);
            let name = username.clone();
            let stored: String = h.app.database().await
                .read(move |c| users::table.filter(users::username.eq(name)).select(users::password_hash)
                    .first(c).map_err(phantom_domain::error::RepoError::storage))
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored);
            prop_assert!(!stored.contains(password.as_str()));
            let login = h.app
                .post("/api/auth/login/", None, &json!({"username": username, "password": password}))
                .await;
            prop_assert_eq!(login.status(), StatusCode::OK);
            Ok::<(), TestCaseError>(())
        })?;
    });
}
