//! `GET` / `PUT` / `PATCH /api/preferences/`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{body, spawn_app};

#[tokio::test]
async fn preferences_can_be_read_patched_and_replaced() {
    let app = spawn_app().await;
    let user = app.user().await;
    let token = Some(user.access.as_str());
    let initial = body(app.get("/api/preferences/", &user.access).await).await;
    assert_eq!(
        initial,
        json!({"timezone": "UTC", "default_event_duration": 60})
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
        json!({"timezone": "Asia/Tokyo", "default_event_duration": 60})
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
        json!({"timezone": "America/New_York", "default_event_duration": 45})
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
        json!({"timezone": "UTC", "default_event_duration": 60})
    );
}
