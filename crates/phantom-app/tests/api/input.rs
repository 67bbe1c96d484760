//! Whatever a client sends, the answer is a 4xx with a reason, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{body, event_body, spawn_app};

#[tokio::test]
async fn malformed_bodies_are_400_413_or_415() {
    let app = spawn_app().await;
    let user = app.user().await;
    let url = format!("{}/api/events/", app.address);
    let send = |content_type: &'static str, payload: Vec<u8>| {
        app.client
            .post(&url)
            .bearer_auth(&user.access)
            .header("content-type", content_type)
            .body(payload)
            .send()
    };
    let broken = send("application/json", b"{\"title\": ".to_vec())
        .await
        .expect("sent");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(broken).await["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("JSON parse error"))
    );

    let list = send("application/json", b"[1, 2]".to_vec())
        .await
        .expect("sent");
    assert_eq!(list.status(), StatusCode::BAD_REQUEST);
    assert!(body(list).await["non_field_errors"][0].is_string());

    let text = send("text/plain", b"hello".to_vec()).await.expect("sent");
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({"title": "x", "description": "y".repeat(70 * 1024)}).to_string();
    let too_big = send("application/json", huge.into_bytes())
        .await
        .expect("sent");
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body(too_big).await["detail"].is_string());
}

#[tokio::test]
async fn each_bad_event_field_is_named() {
    let app = spawn_app().await;
    let user = app.user().await;
    let valid = event_body("Study", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().map(|o| o.remove(field));
        body
    };
    let cases = [
        (with("title", json!("")), "title"),
        (with("title", json!("   ")), "title"),
        (with("title", json!("x".repeat(201))), "title"),
        (with("title", json!(12)), "title"),
        (with("title", json!("nul\u{0}byte")), "title"),
        (with("description", json!("nul\u{0}byte")), "description"),
        (with("title", Value::Null), "title"),
        (with("category", json!(999_999)), "category"),
        (with("category", json!("1")), "category"),
        (with("category", json!(1.5)), "category"),
        (with("start_time", json!("2026-11-24 09:00")), "start_time"),
        (
            with("start_time", json!("2026-11-24T09:00:00")),
            "start_time",
        ),
        (with("end_time", json!("2026-11-24T09:00:00Z")), "end_time"),
        (with("end_time", json!("2026-11-24T08:00:00Z")), "end_time"),
        (with("end_time", json!("10000-01-01T00:00:00Z")), "end_time"),
        (with("is_flexible", json!("perhaps")), "is_flexible"),
        (with("description", json!(["a"])), "description"),
        (with("titel", json!("typo")), "titel"),
        (without("title"), "title"),
        (without("category"), "category"),
        (without("start_time"), "start_time"),
        (without("end_time"), "end_time"),
    ];
    for (request, field) in cases {
        let response = app.post("/api/events/", Some(&user.access), &request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        let errors = body(response).await;
        assert!(errors[field][0].is_string(), "{request} → {errors}");
    }
    assert_eq!(
        body(app.get("/api/events/", &user.access).await).await["count"],
        0
    );
    let exactly_200 = with("title", json!("x".repeat(200)));
    app.create_event(&user, &exactly_200).await;
}

#[tokio::test]
async fn bad_query_parameters_and_ids_are_named() {
    let app = spawn_app().await;
    let user = app.user().await;
    for (path, field) in [
        ("/api/events/?page=abc", "page"),
        ("/api/events/?page=0", "page"),
        ("/api/events/?page_size=-5", "page_size"),
        ("/api/events/?start=yesterday", "start"),
        ("/api/events/?end=2026-13-01T00:00:00Z", "end"),
        ("/api/events/?category=exam", "category"),
        ("/api/events/?priority=high", "priority"),
        (
            "/api/events/?start=2026-11-24T10:00:00Z&end=2026-11-24T09:00:00Z",
            "end",
        ),
        ("/api/events/range/", "start"),
        ("/api/events/range/?start=2026-11-24T10:00:00Z", "end"),
        (
            "/api/events/range/?start=2026-11-24T10:00:00Z&end=2026-11-24T10:00:00Z",
            "end",
        ),
    ] {
        let response = app.get(path, &user.access).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(body(response).await[field][0].is_string(), "{path}");
    }
    for path in [
        "/api/events/abc/",
        "/api/events/99999999999999999999/",
        "/api/events/0/",
        "/api/nothing/",
    ] {
        let response = app.get(path, &user.access).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let wrong_method = app
        .send(Method::DELETE, "/api/events/", Some(&user.access), None)
        .await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        body(wrong_method).await,
        json!({"detail": "Method \"DELETE\" not allowed."})
    );
}

#[tokio::test]
async fn an_unencoded_plus_in_a_query_time_is_read_as_an_offset() {
    let app = spawn_app().await;
    let user = app.user().await;
    app.create_event(
        &user,
        &event_body("Late", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
    )
    .await;
    // `+01:00` sent unencoded arrives as a space; the window 09:30–10:30 UTC meets the event.
    let response = app
        .get(
            "/api/events/range/?start=2026-11-24T10:30:00+01:00&end=2026-11-24T11:30:00+01:00",
            &user.access,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await.as_array().map(Vec::len), Some(1));
}
