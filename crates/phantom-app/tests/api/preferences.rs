//! `GET` / `PUT` / `PATCH /api/preferences/`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{body, spawn_app};

/// The import category is `null` or a category the user may use: a default or their own,
/// never another user's or an unknown id; `null` clears it, and PUT without it keeps it.
#[tokio::test]
async fn the_import_category_must_be_one_the_user_can_see() {
    let app = spawn_app().await;
    let (ada, bob) = (app.user_named("ada").await, app.user_named("bob").await);
    let mine = body(
        app.post(
            "/api/categories/",
            Some(&ada.access),
            &json!({"name": "From Google", "priority_level": 2}),
        )
        .await,
    )
    .await;
    let theirs = body(
        app.post(
            "/api/categories/",
            Some(&bob.access),
            &json!({"name": "Bob's", "priority_level": 2}),
        )
        .await,
    )
    .await;
    let set = async |value: serde_json::Value, method: Method| {
        app.send(
            method,
            "/api/preferences/",
            Some(&ada.access),
            Some(&json!({"timezone": "UTC", "default_event_duration": 60,
                         "google_import_category": value})),
        )
        .await
    };

    for refused in [theirs["id"].clone(), json!(9999), json!("soon")] {
        let answer = set(refused.clone(), Method::PATCH).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{refused}");
        assert!(body(answer).await["google_import_category"].is_array());
    }
    let chosen = body(set(mine["id"].clone(), Method::PATCH).await).await;
    assert_eq!(chosen["google_import_category"], mine["id"]);
    let kept = body(
        app.send(
            Method::PUT,
            "/api/preferences/",
            Some(&ada.access),
            Some(&json!({"timezone": "Europe/Paris", "default_event_duration": 30})),
        )
        .await,
    )
    .await;
    assert_eq!(kept["google_import_category"], mine["id"]);
    let default_category = body(set(json!(1), Method::PATCH).await).await;
    assert_eq!(default_category["google_import_category"], 1);
    let cleared = body(set(json!(null), Method::PATCH).await).await;
    assert_eq!(cleared["google_import_category"], json!(null));
}

#[tokio::test]
async fn preferences_can_be_read_patched_and_replaced() {
    let app = spawn_app().await;
    let user = app.user().await;
    let token = Some(user.access.as_str());
    let initial = body(app.get("/api/preferences/", &user.access).await).await;
    assert_eq!(
        initial,
        json!({"timezone": "UTC", "default_event_duration": 60, "google_import_category": null})
    );

    let patched = app
        .send(
            Method::PATCH,
            "/api/preferences/",
            token,
            Some(&json!({"timezone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        body(patched).await,
        json!({"timezone": "Asia/Tokyo", "default_event_duration": 60, "google_import_category": null})
    );

    let replaced = app
        .send(
            Method::PUT,
            "/api/preferences/",
            token,
            Some(&json!({"timezone": "America/New_York", "default_event_duration": 45})),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let stored = body(app.get("/api/preferences/", &user.access).await).await;
    assert_eq!(
        stored,
        json!({"timezone": "America/New_York", "default_event_duration": 45, "google_import_category": null})
    );
}

#[tokio::test]
async fn bad_preferences_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let user = app.user().await;
    let token = Some(user.access.as_str());
    for (method, request, field) in [
        (
            Method::PATCH,
            json!({"timezone": "Europe/Atlantis"}),
            "timezone",
        ),
        (
            Method::PATCH,
            json!({"default_event_duration": 0}),
            "default_event_duration",
        ),
        (
            Method::PATCH,
            json!({"default_event_duration": "long"}),
            "default_event_duration",
        ),
        (
            Method::PUT,
            json!({"timezone": "UTC"}),
            "default_event_duration",
        ),
    ] {
        let response = app
            .send(method, "/api/preferences/", token, Some(&request))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        assert!(body(response).await[field][0].is_string(), "{request}");
    }
    let stored = body(app.get("/api/preferences/", &user.access).await).await;
    assert_eq!(
        stored,
        json!({"timezone": "UTC", "default_event_duration": 60, "google_import_category": null})
    );
}
