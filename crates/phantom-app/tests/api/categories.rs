//! Categories: seeded defaults and a user's own.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{body, event_body, spawn_app};

#[tokio::test]
async fn every_user_sees_the_seeded_defaults() {
    let app = spawn_app().await;
    let user = app.user().await;
    let categories = body(app.get("/api/categories/", &user.access).await).await;
    let pairs: Vec<(String, i64)> = categories
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["priority_level"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let expected = [
        ("Exam", 5),
        ("Study", 4),
        ("Gym", 3),
        ("Social", 2),
        ("Gaming", 1),
    ];
    assert_eq!(pairs, expected.map(|(n, p)| (n.to_owned(), p)));
    for c in categories.as_array().expect("list") {
        for field in ["id", "name", "priority_level", "color", "description"] {
            assert!(c.get(field).is_some(), "{field} missing in {c}");
        }
    }
}

#[tokio::test]
async fn custom_categories_are_private_and_unique_per_user() {
    let app = spawn_app().await;
    let alice = app.user().await;
    let bob = app.user().await;
    let created = app
        .post(
            "/api/categories/",
            Some(&alice.access),
            &json!({"name": "Reading", "priority_level": 4, "color": "#123ABC"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let reading = body(created).await;
    assert_eq!(reading["name"], "Reading");

    for name in ["Reading", "reading", "EXAM"] {
        let dup = app
            .post(
                "/api/categories/",
                Some(&alice.access),
                &json!({"name": name, "priority_level": 1}),
            )
            .await;
        assert_eq!(dup.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(body(dup).await["name"][0].is_string());
    }

    // Bob neither sees Alice's category nor may use it, but may have his own "Reading".
    let bobs: Vec<Value> = body(app.get("/api/categories/", &bob.access).await)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(bobs.iter().all(|c| c["id"] != reading["id"]));
    let mut event = event_body("Book club", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    event["category"] = reading["id"].clone();
    let refused = app.post("/api/events/", Some(&bob.access), &event).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(body(refused).await["category"][0].is_string());
    let own = app
        .post(
            "/api/categories/",
            Some(&bob.access),
            &json!({"name": "Reading", "priority_level": 2}),
        )
        .await;
    assert_eq!(own.status(), StatusCode::CREATED);

    // Alice may use hers, and the event shows its name and priority.
    let created = app.create_event(&alice, &event).await;
    assert_eq!(
        (
            created["category_name"].as_str(),
            created["priority_level"].as_i64()
        ),
        (Some("Reading"), Some(4))
    );
}

#[tokio::test]
async fn category_input_is_validated() {
    let app = spawn_app().await;
    let user = app.user().await;
    for (request, field) in [
        (json!({"priority_level": 3}), "name"),
        (json!({"name": "X"}), "priority_level"),
        (json!({"name": "X", "priority_level": 0}), "priority_level"),
        (
            json!({"name": "X", "priority_level": "high"}),
            "priority_level",
        ),
        (
            json!({"name": "X", "priority_level": 3, "color": "blue"}),
            "color",
        ),
    ] {
        let response = app
            .post("/api/categories/", Some(&user.access), &request)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        assert!(body(response).await[field][0].is_string(), "{request}");
    }
}
