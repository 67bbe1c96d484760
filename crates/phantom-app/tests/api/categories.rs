//! Categories: seeded defaults and a user's own.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, body, connected_with, event_body, eventually, spawn_app};

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

/// Creates one of `user`'s own categories; panics unless `201`.
async fn own_category(app: &TestApp, user: &TestUser, name: &str, priority: i64) -> Value {
    let response = app
        .post(
            "/api/categories/",
            Some(&user.access),
            &json!({"name": name, "priority_level": priority}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body(response).await
}

/// `method` on the category's detail route, with `request` as the body if any.
async fn on_category(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    id: &Value,
    request: Option<&Value>,
) -> (StatusCode, Option<Value>) {
    let response = app
        .send(
            method,
            &format!("/api/categories/{id}/"),
            Some(&user.access),
            request,
        )
        .await;
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).ok())
}

#[tokio::test]
async fn a_users_own_category_is_read_changed_and_deleted() {
    let app = spawn_app().await;
    let user = app.user().await;
    let reading = own_category(&app, &user, "Reading", 2).await;
    let id = &reading["id"];

    let (status, shown) = on_category(&app, &user, Method::GET, id, None).await;
    assert_eq!((status, shown.as_ref()), (StatusCode::OK, Some(&reading)));

    let patch = json!({"priority_level": 4, "description": "Novels"});
    let (status, patched) = on_category(&app, &user, Method::PATCH, id, Some(&patch)).await;
    let patched = patched.expect("json");
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (
            &patched["name"],
            &patched["priority_level"],
            &patched["description"],
            &patched["color"]
        ),
        (
            &json!("Reading"),
            &json!(4),
            &json!("Novels"),
            &reading["color"]
        )
    );

    // PUT: name and priority required; renaming to a different case of its own name is fine.
    let put = json!({"name": "reading", "priority_level": 3, "color": "#00FF00"});
    let (status, replaced) = on_category(&app, &user, Method::PUT, id, Some(&put)).await;
    let replaced = replaced.expect("json");
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (
            &replaced["name"],
            &replaced["priority_level"],
            &replaced["color"],
            &replaced["description"]
        ),
        (
            &json!("reading"),
            &json!(3),
            &json!("#00FF00"),
            &json!("Novels")
        )
    );
    let listed = body(app.get("/api/categories/", &user.access).await).await;
    assert!(
        listed.as_array().expect("list").contains(&replaced),
        "{listed}"
    );

    let (status, _) = on_category(&app, &user, Method::DELETE, id, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = on_category(&app, &user, Method::GET, id, None).await;
    assert_eq!(
        (status, gone),
        (StatusCode::NOT_FOUND, Some(json!({"detail": "Not found."})))
    );
    let listed = body(app.get("/api/categories/", &user.access).await).await;
    assert!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["id"] != *id)
    );
}

#[tokio::test]
async fn changes_are_validated_like_creation() {
    let app = spawn_app().await;
    let user = app.user().await;
    let reading = own_category(&app, &user, "Reading", 2).await;
    own_category(&app, &user, "Music", 1).await;
    let id = &reading["id"];
    for (method, request, field) in [
        (
            Method::PATCH,
            json!({"priority_level": 0}),
            "priority_level",
        ),
        (
            Method::PATCH,
            json!({"priority_level": "high"}),
            "priority_level",
        ),
        (Method::PATCH, json!({"color": "blue"}), "color"),
        (Method::PATCH, json!({"name": ""}), "name"),
        (Method::PATCH, json!({"name": "EXAM"}), "name"),
        (Method::PATCH, json!({"name": "music"}), "name"),
        (Method::PUT, json!({"priority_level": 3}), "name"),
        (Method::PUT, json!({"name": "Books"}), "priority_level"),
        (
            Method::PUT,
            json!({"name": "Music", "priority_level": 3}),
            "name",
        ),
    ] {
        let (status, answer) = on_category(&app, &user, method.clone(), id, Some(&request)).await;
        let answer = answer.expect("json");
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {request}: {answer}"
        );
        assert!(answer[field][0].is_string(), "{method} {request}: {answer}");
    }
    let (_, unchanged) = on_category(&app, &user, Method::GET, id, None).await;
    assert_eq!(unchanged, Some(reading));
}

#[tokio::test]
async fn defaults_are_read_only_and_other_users_categories_are_not_found() {
    let app = spawn_app().await;
    let alice = app.user().await;
    let bob = app.user().await;
    let exam = json!(1);
    let (status, shown) = on_category(&app, &alice, Method::GET, &exam, None).await;
    assert_eq!(
        (status, shown.expect("json")["name"].clone()),
        (StatusCode::OK, json!("Exam"))
    );
    let rename = json!({"name": "Exams"});
    for (method, request) in [(Method::PATCH, Some(&rename)), (Method::DELETE, None)] {
        let (status, answer) = on_category(&app, &alice, method.clone(), &exam, request).await;
        let answer = answer.expect("json");
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {answer}");
        assert!(
            answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{answer}"
        );
    }
    let put = json!({"name": "Exams", "priority_level": 1});
    let (status, _) = on_category(&app, &alice, Method::PUT, &exam, Some(&put)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, still) = on_category(&app, &bob, Method::GET, &exam, None).await;
    assert_eq!(still.expect("json")["name"], "Exam");

    let reading = own_category(&app, &alice, "Reading", 2).await;
    let not_found = Some(json!({"detail": "Not found."}));
    for id in [&reading["id"], &json!(999_999)] {
        for (method, request) in [
            (Method::GET, None),
            (Method::PATCH, Some(&rename)),
            (Method::PUT, Some(&put)),
            (Method::DELETE, None),
        ] {
            let answer = on_category(&app, &bob, method.clone(), id, request).await;
            assert_eq!(
                answer,
                (StatusCode::NOT_FOUND, not_found.clone()),
                "{method} {id}"
            );
        }
    }
    let (_, hers) = on_category(&app, &alice, Method::GET, &reading["id"], None).await;
    assert_eq!(hers, Some(reading));
}

#[tokio::test]
async fn a_category_events_use_is_not_deleted() {
    let app = spawn_app().await;
    let user = app.user().await;
    let reading = own_category(&app, &user, "Reading", 2).await;
    let mut event = event_body("Book club", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    event["category"] = reading["id"].clone();
    let first = app.create_event(&user, &event).await;
    app.create_event(&user, &event).await;

    let (status, answer) = on_category(&app, &user, Method::DELETE, &reading["id"], None).await;
    let answer = answer.expect("json");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let detail = answer["detail"].as_str().expect("detail");
    assert!(detail.contains("2 events"), "{detail}");
    let events = body(app.get("/api/events/", &user.access).await).await;
    assert_eq!(events["count"], 2);

    app.send(
        Method::DELETE,
        &format!("/api/events/{}/", first["id"]),
        Some(&user.access),
        None,
    )
    .await;
    let (status, answer) = on_category(&app, &user, Method::DELETE, &reading["id"], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.expect("json")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1 event "))
    );
}

#[tokio::test]
async fn the_google_import_category_is_not_deleted() {
    let app = spawn_app().await;
    let user = app.user().await;
    let imports = own_category(&app, &user, "Imported", 1).await;
    let prefer = |category: &Value| json!({"google_import_category": category});
    let set = app
        .send(
            Method::PATCH,
            "/api/preferences/",
            Some(&user.access),
            Some(&prefer(&imports["id"])),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);

    let (status, answer) = on_category(&app, &user, Method::DELETE, &imports["id"], None).await;
    let answer = answer.expect("json");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .is_some_and(|d| d.contains("imported")),
        "{answer}"
    );

    app.send(
        Method::PATCH,
        "/api/preferences/",
        Some(&user.access),
        Some(&prefer(&Value::Null)),
    )
    .await;
    let (status, _) = on_category(&app, &user, Method::DELETE, &imports["id"], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Google Calendar's colour follows the priority: a new priority is written to the
/// category's events already there.
#[tokio::test]
async fn a_new_priority_recolours_the_categorys_events_in_google_calendar() {
    let (app, emulator, user) =
        connected_with(|s| s.sync.retry_base = Duration::from_millis(20)).await;
    let reading = own_category(&app, &user, "Reading", 2).await;
    let mut event = event_body("Book club", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    event["category"] = reading["id"].clone();
    app.create_event(&user, &event).await;
    let colour = || {
        emulator
            .events(emulator.default_user())
            .first()
            .and_then(|e| e.color_id.clone())
    };
    let within = Duration::from_secs(10);
    eventually(
        "the event is in Google, priority 2's colour",
        within,
        async || (colour().as_deref() == Some("5")).then_some(()),
    )
    .await;

    let patch = json!({"priority_level": 5});
    let (status, _) = on_category(&app, &user, Method::PATCH, &reading["id"], Some(&patch)).await;
    assert_eq!(status, StatusCode::OK);
    eventually("Google has priority 5's colour", within, async || {
        (colour().as_deref() == Some("11")).then_some(())
    })
    .await;
}
