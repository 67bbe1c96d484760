//! The OpenAPI document against the server: the same routes both ways, and response bodies that
//! match their documented schemas.

use std::collections::BTreeSet;
use std::time::Duration;

use phantom_app::openapi::SCHEMA_PATH;
use phantom_app::routes::route_table;
use phantom_google_emulator::EmulatorConfig;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, TestUser, callback, consent, event_body, spawn_app, spawn_app_with,
    spawn_app_with_google,
};

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document the server serves.
async fn served_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}{SCHEMA_PATH}", app.address))
        .send()
        .await
        .expect("schema");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("JSON document")
}

/// `(METHOD, path template)` of every operation in `doc`.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            HTTP_METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn every_registered_route_is_documented_and_every_documented_route_is_registered() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");

    // The document's own route is the only one left out of it.
    let undocumented = [SCHEMA_PATH];
    let table = route_table();
    let registered: BTreeSet<(String, String)> = table
        .iter()
        .filter(|(_, path)| !undocumented.contains(path))
        .map(|(method, path)| (method.as_str().to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(
        registered.len() + undocumented.len(),
        table.len(),
        "a route is registered twice: {table:?}"
    );
    let documented = documented_operations(&doc);

    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered but not documented: {missing:?}"
    );
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        phantom.is_empty(),
        "documented but not registered: {phantom:?}"
    );
    assert_eq!(documented.len(), 23, "{documented:?}");
}

/// Checks responses against the document and remembers which operations were seen.
struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
}

impl Checker {
    /// The schema of `template`'s `method` answering `status` as JSON; `None` when the
    /// document says that answer has no body. Panics when the answer is not documented.
    fn documented_schema(&self, method: &Method, template: &str, status: u16) -> Option<Value> {
        let operation = &self.doc["paths"][template][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let answer = &operation["responses"][status.to_string()];
        assert!(
            answer.is_object(),
            "{method} {template} answered {status}, which is not documented"
        );
        answer
            .get("content")
            .map(|content| content["application/json"]["schema"].clone())
    }

    /// Errors of `instance` against `schema`, whose `$ref`s point into the document's
    /// `components`.
    fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut root = schema.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::validator_for(&root).expect("a valid JSON Schema");
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} (at {})", e.instance_path()))
            .collect()
    }

    /// Validates `response` as the answer of `template`'s `method`; returns its body.
    async fn check(&mut self, method: Method, template: &str, response: Response) -> Value {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let text = response.text().await.expect("body");
        let schema = self.documented_schema(&method, template, status);
        self.seen
            .insert((method.as_str().to_owned(), template.to_owned()));
        let Some(schema) = schema else {
            assert_eq!(
                text, "",
                "{method} {template} {status} has no documented body"
            );
            return Value::Null;
        };
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_str(&text).expect("JSON body");
        let violations = self.violations(&schema, &body);
        assert!(
            violations.is_empty(),
            "{method} {template} {status}: {body} does not match {schema}: {violations:#?}"
        );
        body
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    app.send(method, path, token, body.as_ref()).await
}

#[tokio::test]
async fn every_endpoint_answers_what_the_document_says() {
    let (app, _emulator, _) = spawn_app_with_google(EmulatorConfig::default()).await;
    let mut c = Checker {
        doc: served_document(&app).await,
        seen: BTreeSet::new(),
    };
    use Method as M;

    // Authentication.
    let credentials = json!({"username": "ada", "password": PASSWORD});
    let register = "/api/auth/register/";
    let user = c
        .check(M::POST, register, send(&app, M::POST, register, None, Some(json!({"username": "ada", "password": PASSWORD, "email": "ada@example.com", "timezone": "Europe/Paris"}))).await)
        .await;
    c.check(
        M::POST,
        register,
        send(&app, M::POST, register, None, Some(credentials.clone())).await,
    )
    .await;
    let login = "/api/auth/login/";
    let tokens = c
        .check(
            M::POST,
            login,
            send(&app, M::POST, login, None, Some(credentials)).await,
        )
        .await;
    c.check(
        M::POST,
        login,
        send(
            &app,
            M::POST,
            login,
            None,
            Some(json!({"username": "ada", "password": "wrong password"})),
        )
        .await,
    )
    .await;
    let user = TestUser {
        id: user["id"].as_i64().expect("id"),
        access: tokens["access"].as_str().expect("access").to_owned(),
        refresh: tokens["refresh"].as_str().expect("refresh").to_owned(),
    };
    let token = Some(user.access.as_str());
    let refresh = "/api/auth/token/refresh/";
    c.check(
        M::POST,
        refresh,
        send(
            &app,
            M::POST,
            refresh,
            None,
            Some(json!({"refresh": user.refresh})),
        )
        .await,
    )
    .await;
    c.check(
        M::POST,
        refresh,
        send(
            &app,
            M::POST,
            refresh,
            None,
            Some(json!({"refresh": "forged"})),
        )
        .await,
    )
    .await;
    let verify = "/api/auth/token/verify/";
    c.check(
        M::POST,
        verify,
        send(
            &app,
            M::POST,
            verify,
            None,
            Some(json!({"token": user.access})),
        )
        .await,
    )
    .await;
    c.check(
        M::POST,
        verify,
        send(&app, M::POST, verify, None, Some(json!({}))).await,
    )
    .await;

    // Categories and preferences.
    let categories = "/api/categories/";
    c.check(
        M::GET,
        categories,
        send(&app, M::GET, categories, token, None).await,
    )
    .await;
    let new_category = json!({"name": "Reading", "priority_level": 2, "color": "#00FF00"});
    c.check(
        M::POST,
        categories,
        send(&app, M::POST, categories, token, Some(new_category.clone())).await,
    )
    .await;
    c.check(
        M::POST,
        categories,
        send(&app, M::POST, categories, token, Some(new_category)).await,
    )
    .await;
    c.check(
        M::GET,
        categories,
        send(&app, M::GET, categories, None, None).await,
    )
    .await;
    let preferences = "/api/preferences/";
    c.check(
        M::GET,
        preferences,
        send(&app, M::GET, preferences, token, None).await,
    )
    .await;
    c.check(
        M::PUT,
        preferences,
        send(
            &app,
            M::PUT,
            preferences,
            token,
            Some(json!({"timezone": "UTC", "default_event_duration": 30})),
        )
        .await,
    )
    .await;
    c.check(
        M::PATCH,
        preferences,
        send(
            &app,
            M::PATCH,
            preferences,
            token,
            Some(json!({"timezone": "Asia/Tokyo"})),
        )
        .await,
    )
    .await;
    c.check(
        M::PATCH,
        preferences,
        send(
            &app,
            M::PATCH,
            preferences,
            token,
            Some(json!({"timezone": "Mars/Olympus"})),
        )
        .await,
    )
    .await;

    // Google Calendar, before and after connecting.
    let status = "/api/integrations/google-calendar/status/";
    c.check(
        M::GET,
        status,
        send(&app, M::GET, status, token, None).await,
    )
    .await;
    let connect = "/api/integrations/google-calendar/connect/";
    c.check(
        M::GET,
        connect,
        send(&app, M::GET, connect, token, None).await,
    )
    .await;
    let query = consent(&app, &user).await;
    let callback_path = "/api/integrations/google-calendar/callback/";
    c.check(M::GET, callback_path, callback(&app, &query).await)
        .await;
    c.check(M::GET, callback_path, callback(&app, &query).await)
        .await;
    c.check(
        M::GET,
        status,
        send(&app, M::GET, status, token, None).await,
    )
    .await;

    // Events.
    let events = "/api/events/";
    let first = c
        .check(
            M::POST,
            events,
            send(
                &app,
                M::POST,
                events,
                token,
                Some(event_body(
                    "Algebra exam",
                    "2026-11-24T09:00:00Z",
                    "2026-11-24T11:00:00+00:00",
                )),
            )
            .await,
        )
        .await;
    c.check(
        M::POST,
        events,
        send(
            &app,
            M::POST,
            events,
            token,
            Some(event_body(
                "Backwards",
                "2026-11-24T11:00:00Z",
                "2026-11-24T09:00:00Z",
            )),
        )
        .await,
    )
    .await;
    c.check(
        M::POST,
        events,
        send(
            &app,
            M::POST,
            events,
            token,
            Some(event_body(
                "Gym",
                "2026-11-25T09:00:00Z",
                "2026-11-25T10:00:00Z",
            )),
        )
        .await,
    )
    .await;
    // Two events, one per page: `next`, then `previous`, are URLs.
    for page in [
        "/api/events/?page_size=1",
        "/api/events/?page_size=1&page=2",
        "/api/events/?category=1&priority=5&start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z",
    ] {
        c.check(M::GET, events, send(&app, M::GET, page, token, None).await)
            .await;
    }
    c.check(
        M::GET,
        events,
        send(&app, M::GET, "/api/events/?page=9", token, None).await,
    )
    .await;
    c.check(
        M::GET,
        events,
        send(&app, M::GET, "/api/events/?start=yesterday", token, None).await,
    )
    .await;
    c.check(M::GET, events, send(&app, M::GET, events, None, None).await)
        .await;
    let range = "/api/events/range/";
    c.check(
        M::GET,
        range,
        send(
            &app,
            M::GET,
            "/api/events/range/?start=2026-11-24T00:00:00Z&end=2026-11-26T00:00:00Z",
            token,
            None,
        )
        .await,
    )
    .await;
    c.check(M::GET, range, send(&app, M::GET, range, token, None).await)
        .await;

    let one = "/api/events/{id}/";
    let path = format!("/api/events/{}/", first["id"]);
    let mut synced = false;
    for _ in 0..100 {
        let event = c
            .check(M::GET, one, send(&app, M::GET, &path, token, None).await)
            .await;
        if event["sync_status"] == "synced" {
            assert!(event["google_calendar_id"].is_string(), "{event}");
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "the event never synced");
    c.check(
        M::PUT,
        one,
        send(
            &app,
            M::PUT,
            &path,
            token,
            Some(event_body(
                "Algebra exam, room 4",
                "2026-11-24T09:00:00Z",
                "2026-11-24T11:30:00Z",
            )),
        )
        .await,
    )
    .await;
    c.check(
        M::PUT,
        one,
        send(&app, M::PUT, &path, token, Some(json!({"title": ""}))).await,
    )
    .await;
    c.check(
        M::PATCH,
        one,
        send(
            &app,
            M::PATCH,
            &path,
            token,
            Some(json!({"is_completed": true})),
        )
        .await,
    )
    .await;
    c.check(
        M::PATCH,
        one,
        send(&app, M::PATCH, &path, token, Some(json!({"colour": "red"}))).await,
    )
    .await;
    c.check(
        M::DELETE,
        one,
        send(&app, M::DELETE, &path, token, None).await,
    )
    .await;
    c.check(
        M::DELETE,
        one,
        send(&app, M::DELETE, &path, token, None).await,
    )
    .await;
    c.check(M::GET, one, send(&app, M::GET, &path, token, None).await)
        .await;
    c.check(
        M::PATCH,
        one,
        send(&app, M::PATCH, &path, None, Some(json!({}))).await,
    )
    .await;

    // Disconnecting, then once more when there is nothing to disconnect.
    let disconnect = "/api/integrations/google-calendar/disconnect/";
    c.check(
        M::POST,
        disconnect,
        send(&app, M::POST, disconnect, token, None).await,
    )
    .await;
    c.check(
        M::POST,
        disconnect,
        send(&app, M::POST, disconnect, token, None).await,
    )
    .await;

    // Probes, then logging out.
    for probe in ["/healthz/", "/readyz/"] {
        c.check(M::GET, probe, send(&app, M::GET, probe, None, None).await)
            .await;
    }
    let logout = "/api/auth/logout/";
    c.check(
        M::POST,
        logout,
        send(
            &app,
            M::POST,
            logout,
            token,
            Some(json!({"refresh": user.refresh})),
        )
        .await,
    )
    .await;
    c.check(
        M::POST,
        logout,
        send(
            &app,
            M::POST,
            logout,
            token,
            Some(json!({"refresh": user.refresh})),
        )
        .await,
    )
    .await;

    // The throttled answer of an authentication endpoint.
    let throttled = spawn_app_with(|s| {
        s.auth_rate_per_minute = 1;
        s.auth_rate_burst = 1;
    })
    .await;
    let nobody = json!({"username": "nobody", "password": PASSWORD});
    for expected in [401, 429] {
        let response = send(&throttled, M::POST, login, None, Some(nobody.clone())).await;
        assert_eq!(response.status().as_u16(), expected);
        c.check(M::POST, login, response).await;
    }

    let unseen: Vec<_> = documented_operations(&c.doc)
        .difference(&c.seen)
        .cloned()
        .collect();
    assert!(unseen.is_empty(), "operations without a sample: {unseen:?}");
}

#[tokio::test]
async fn a_schema_that_drifts_from_the_handler_fails_the_check() {
    let app = spawn_app().await;
    let user = app.user().await;
    let event = app
        .create_event(
            &user,
            &event_body("Drift", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let mut checker = Checker {
        doc: served_document(&app).await,
        seen: BTreeSet::new(),
    };
    let schema = checker
        .documented_schema(&Method::GET, "/api/events/{id}/", 200)
        .expect("a JSON body");
    assert_eq!(checker.violations(&schema, &event), Vec::<String>::new());

    // The document forgets a field the handler sends: the body no longer matches.
    let event_schema = &mut checker.doc["components"]["schemas"]["Event"];
    event_schema["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("sync_error");
    let required = event_schema["required"].as_array_mut().expect("required");
    required.retain(|f| f != "sync_error");
    let violations = checker.violations(&schema, &event);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("sync_error"), "{violations:?}");

    // And the handler dropping a field the document requires fails too.
    let mut thinner = event.clone();
    thinner
        .as_object_mut()
        .expect("object")
        .remove("updated_at");
    checker.doc = served_document(&app).await;
    assert_eq!(checker.violations(&schema, &thinner).len(), 1);
}
