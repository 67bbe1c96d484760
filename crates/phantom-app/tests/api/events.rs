//! Events: CRUD, ownership, pagination and the range query.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{body, event_body, spawn_app};

#[tokio::test]
async fn an_event_round_trips_with_every_field() {
    let app = spawn_app().await;
    let user = app.user().await;
    let created = app
        .create_event(
            &user,
            &json!({"title": "Algebra exam", "description": "Room 4", "category": 1,
                    "start_time": "2026-11-24T10:00:00+01:00", "end_time": "2026-11-24T12:00:00+01:00",
                    "is_flexible": false}),
        )
        .await;
    assert_eq!(created["start_time"], "2026-11-24T09:00:00Z");
    assert_eq!(created["end_time"], "2026-11-24T11:00:00Z");
    assert_eq!(created["category_name"], "Exam");
    assert_eq!(created["priority_level"], 5);
    assert_eq!(created["is_flexible"], false);
    assert_eq!(created["is_completed"], false);
    assert_eq!(created["all_day"], false);
    assert_eq!(created["origin"], "phantom");
    assert_eq!(created["sync_status"], "not_connected");
    assert_eq!(created["google_calendar_id"], Value::Null);
    assert_eq!(created["sync_error"], Value::Null);
    assert!(
        created["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let path = format!("/api/events/{}/", created["id"]);
    assert_eq!(body(app.get(&path, &user.access).await).await, created);

    // A client may PUT back exactly what it read: read-only fields are ignored.
    let mut edited = created.clone();
    edited["title"] = json!("Algebra resit");
    edited["sync_status"] = json!("synced");
    edited["origin"] = json!("google");
    let put = app
        .send(Method::PUT, &path, Some(&user.access), Some(&edited))
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let put = body(put).await;
    assert_eq!(put["title"], "Algebra resit");
    assert_eq!(put["sync_status"], "not_connected");
    assert_eq!(put["origin"], "phantom");
}

#[tokio::test]
async fn all_day_is_a_boolean_and_whole_days_are_utc_days_by_default() {
    let app = spawn_app().await;
    let user = app.user().await;
    let mut day = event_body("Holiday", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    day["all_day"] = json!("sometimes");
    let refused = app.post("/api/events/", Some(&user.access), &day).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(body(refused).await["all_day"].is_array());

    day["all_day"] = json!(true);
    let created = app.create_event(&user, &day).await;
    assert_eq!(created["start_time"], "2026-11-24T00:00:00Z");
    assert_eq!(created["end_time"], "2026-11-25T00:00:00Z");
    // A PATCH of another field keeps the event whole days.
    let path = format!("/api/events/{}/", created["id"]);
    let renamed = body(
        app.send(
            Method::PATCH,
            &path,
            Some(&user.access),
            Some(&json!({"title": "Long weekend", "end_time": "2026-11-26T08:00:00Z"})),
        )
        .await,
    )
    .await;
    assert_eq!(renamed["all_day"], true);
    assert_eq!(renamed["end_time"], "2026-11-27T00:00:00Z");
}

#[tokio::test]
async fn another_users_event_is_not_found() {
    let app = spawn_app().await;
    let owner = app.user().await;
    let intruder = app.user().await;
    let event = app
        .create_event(
            &owner,
            &event_body("Private", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", event["id"]);
    let patch = json!({"title": "Mine now"});
    let full = event_body("Mine now", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    for (method, request) in [
        (Method::GET, None),
        (Method::PATCH, Some(&patch)),
        (Method::PUT, Some(&full)),
        (Method::DELETE, None),
    ] {
        let response = app
            .send(method.clone(), &path, Some(&intruder.access), request)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method}");
        assert_eq!(body(response).await, json!({"detail": "Not found."}));
    }
    let listed = body(app.get("/api/events/", &intruder.access).await).await;
    assert_eq!(listed["count"], 0);
    assert_eq!(
        body(app.get(&path, &owner.access).await).await["title"],
        "Private"
    );
}

#[tokio::test]
async fn pages_link_to_each_other_like_drf() {
    let app = spawn_app().await;
    let user = app.user().await;
    for day in 1..=5 {
        let start = format!("2026-12-{day:02}T09:00:00Z");
        let end = format!("2026-12-{day:02}T10:00:00Z");
        app.create_event(&user, &event_body(&format!("Day {day}"), &start, &end))
            .await;
    }
    let first = body(
        app.get("/api/events/?page_size=2&category=1", &user.access)
            .await,
    )
    .await;
    assert_eq!(first["count"], 5);
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().expect("next link");
    assert!(
        next.starts_with(&app.address) && next.contains("page=2") && next.contains("category=1"),
        "{next}"
    );

    let second = body(
        app.client
            .get(next)
            .bearer_auth(&user.access)
            .send()
            .await
            .expect("get"),
    )
    .await;
    let titles: Vec<&str> = second["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(titles, ["Day 3", "Day 4"]);
    let previous = second["previous"].as_str().expect("previous link");
    assert!(
        !previous.contains("page="),
        "the first page has no page parameter: {previous}"
    );

    let last = body(
        app.get("/api/events/?page_size=2&page=3", &user.access)
            .await,
    )
    .await;
    assert_eq!(last["next"], Value::Null);
    let past = app
        .get("/api/events/?page_size=2&page=4", &user.access)
        .await;
    assert_eq!(past.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(past).await, json!({"detail": "Invalid page."}));

    let clamped = body(app.get("/api/events/?page_size=100000", &user.access).await).await;
    assert_eq!(clamped["results"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn delete_answers_204_and_the_event_is_gone() {
    let app = spawn_app().await;
    let user = app.user().await;
    let event = app
        .create_event(
            &user,
            &event_body("Gone", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", event["id"]);
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&path, &user.access).await.status(),
        StatusCode::NOT_FOUND
    );
    let again = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_checks_the_merged_state() {
    let app = spawn_app().await;
    let user = app.user().await;
    let event = app
        .create_event(
            &user,
            &event_body("Gym", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", event["id"]);
    let token = Some(user.access.as_str());
    let backwards = app
        .send(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"start_time": "2026-11-24T11:00:00Z"})),
        )
        .await;
    assert_eq!(backwards.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(backwards).await,
        json!({"end_time": ["end_time must be after start_time."]})
    );
    let moved = app
        .send(
            Method::PATCH,
            &path,
            token,
            Some(&json!({"start_time": "2026-11-24T11:00:00Z", "end_time": "2026-11-24T12:30:00Z", "is_completed": true})),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved = body(moved).await;
    assert_eq!(
        (moved["title"].as_str(), moved["is_completed"].as_bool()),
        (Some("Gym"), Some(true))
    );
    assert_eq!(body(app.get(&path, &user.access).await).await, moved);
}

/// A list page's ids come from one range of the `(user_id, start_time)` index, bounded on
/// both sides for a window, in the index's order (no sort of the user's events), and its
/// count reads no other table.
#[tokio::test]
async fn a_window_page_is_one_bounded_index_range() {
    use diesel::prelude::*;
    use phantom_adapters::db::AnyConnection;
    use phantom_domain::error::RepoError;

    let app = spawn_app().await;
    let database = app.database().await;
    let plan: Option<Vec<String>> = database
        .read(|c| {
            #[derive(QueryableByName)]
            struct Step {
                #[diesel(sql_type = diesel::sql_types::Text)]
                detail: String,
            }
            let AnyConnection::Sqlite(c) = c else {
                return Ok(None); // PostgreSQL's planner scans tiny tables whatever the index.
            };
            diesel::sql_query(
                "EXPLAIN QUERY PLAN SELECT events.id FROM events WHERE events.user_id = 1 \
                 AND events.start_time >= '2026-01-01' AND events.end_time > '2026-01-02' \
                 AND events.start_time < '2026-01-03' \
                 ORDER BY events.start_time ASC, events.id ASC LIMIT 50 OFFSET 500",
            )
            .load::<Step>(c)
            .map(|steps| Some(steps.into_iter().map(|s| s.detail).collect()))
            .map_err(RepoError::storage)
        })
        .await
        .expect("plan");
    let Some(plan) = plan else { return };
    assert_eq!(
        plan,
        [
            "SEARCH events USING INDEX events_user_start (user_id=? AND start_time>? AND start_time<?)"
        ],
        "{plan:?}"
    );
}

/// The unfiltered `count` is kept beside the events: it follows creates and deletes, and
/// another user's events do not count.
#[tokio::test]
async fn the_count_follows_creates_and_deletes() {
    let app = spawn_app().await;
    let user = app.user().await;
    let other = app.user().await;
    let count = async |token: &str| {
        body(app.get("/api/events/?page_size=1", token).await).await["count"].clone()
    };
    assert_eq!(count(&user.access).await, 0);
    let mut ids = Vec::new();
    for day in 1..=3 {
        let start = format!("2026-12-0{day}T09:00:00Z");
        let end = format!("2026-12-0{day}T10:00:00Z");
        let created = app
            .create_event(&user, &event_body("Count", &start, &end))
            .await;
        ids.push(created["id"].clone());
    }
    app.create_event(
        &other,
        &event_body("Other", "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"),
    )
    .await;
    assert_eq!(count(&user.access).await, 3);
    let path = format!("/api/events/{}/", ids[1]);
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // A second delete of the same event changes nothing.
    let again = app
        .send(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(count(&user.access).await, 2);
    assert_eq!(count(&other.access).await, 1);
}
