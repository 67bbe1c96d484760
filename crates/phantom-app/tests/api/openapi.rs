//! The OpenAPI document against the server: the same routes both ways, response bodies that
//! match their documented schemas, and Swagger UI rendering it in a real browser.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use phantom_app::openapi::{ASSET_PATH, DOCS_PATH, SCHEMA_PATH};
use phantom_app::routes::route_table;
use phantom_app::webapp;
use phantom_google_emulator::EmulatorConfig;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, TestUser, consent, event_body, spawn_app, spawn_app_with,
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

    // The documentation's own routes and the web app's are the only ones left out of the
    // document.
    let undocumented = [
        SCHEMA_PATH,
        DOCS_PATH,
        ASSET_PATH,
        webapp::PAGE_PATH,
        webapp::ASSET_PATH,
    ];
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
    assert_eq!(documented.len(), 29, "{documented:?}");
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

/// One sample request: `method` on `path`, an instance of the documented `template`.
struct Call {
    method: Method,
    template: &'static str,
    path: String,
    token: Option<String>,
    body: Option<Value>,
}

fn call(method: Method, template: &'static str) -> Call {
    Call {
        method,
        template,
        path: template.to_owned(),
        token: None,
        body: None,
    }
}

impl Call {
    /// The concrete path (with ids or a query string).
    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    fn auth(mut self, user: &TestUser) -> Self {
        self.token = Some(user.access.clone());
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

impl Checker {
    /// Sends `call` to `app`, expects `status`, and validates the answer against the document.
    async fn expect(&mut self, app: &TestApp, status: u16, call: Call) -> Value {
        let response = app
            .send(
                call.method.clone(),
                &call.path,
                call.token.as_deref(),
                call.body.as_ref(),
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{} {}",
            call.method,
            call.path
        );
        self.check(call.method, call.template, response).await
    }
}

const REGISTER: &str = "/api/auth/register/";
const LOGIN: &str = "/api/auth/login/";
const REFRESH: &str = "/api/auth/token/refresh/";
const VERIFY: &str = "/api/auth/token/verify/";
const LOGOUT: &str = "/api/auth/logout/";
const CATEGORIES: &str = "/api/categories/";
const CATEGORY: &str = "/api/categories/{id}/";
const PREFERENCES: &str = "/api/preferences/";
const EVENTS: &str = "/api/events/";
const RANGE: &str = "/api/events/range/";
const EVENT: &str = "/api/events/{id}/";
const CONNECT: &str = "/api/integrations/google-calendar/connect/";
const CALLBACK: &str = "/api/integrations/google-calendar/callback/";
const STATUS: &str = "/api/integrations/google-calendar/status/";
const DISCONNECT: &str = "/api/integrations/google-calendar/disconnect/";
const NOTIFICATIONS: &str = "/api/integrations/google-calendar/notifications/";

#[tokio::test]
async fn every_endpoint_answers_what_the_document_says() {
    use Method as M;
    let (app, _emulator, _) = spawn_app_with_google(EmulatorConfig::default()).await;
    let mut c = Checker {
        doc: served_document(&app).await,
        seen: BTreeSet::new(),
    };

    // Authentication.
    let credentials = json!({"username": "ada", "password": PASSWORD});
    let full = json!({"username": "ada", "password": PASSWORD, "email": "ada@example.com",
                      "name": "Ada", "timezone": "Europe/Paris"});
    let ada = c
        .expect(&app, 201, call(M::POST, REGISTER).body(full))
        .await;
    c.expect(&app, 400, call(M::POST, REGISTER).body(credentials.clone()))
        .await;
    let tokens = c
        .expect(&app, 200, call(M::POST, LOGIN).body(credentials))
        .await;
    let wrong = json!({"username": "ada", "password": "wrong password"});
    c.expect(&app, 401, call(M::POST, LOGIN).body(wrong)).await;
    let user = TestUser {
        id: ada["id"].as_i64().expect("id"),
        access: tokens["access"].as_str().expect("access").to_owned(),
        refresh: tokens["refresh"].as_str().expect("refresh").to_owned(),
    };
    let refresh = json!({"refresh": user.refresh});
    c.expect(&app, 200, call(M::POST, REFRESH).body(refresh.clone()))
        .await;
    let forged = json!({"refresh": "forged"});
    c.expect(&app, 401, call(M::POST, REFRESH).body(forged))
        .await;
    let token = json!({"token": user.access});
    c.expect(&app, 200, call(M::POST, VERIFY).body(token)).await;
    c.expect(&app, 400, call(M::POST, VERIFY).body(json!({})))
        .await;

    // Categories and preferences.
    c.expect(&app, 200, call(M::GET, CATEGORIES).auth(&user))
        .await;
    let reading = json!({"name": "Reading", "priority_level": 2, "color": "#00FF00"});
    let post_category = || call(M::POST, CATEGORIES).auth(&user).body(reading.clone());
    let created = c.expect(&app, 201, post_category()).await;
    c.expect(&app, 400, post_category()).await;
    c.expect(&app, 401, call(M::GET, CATEGORIES)).await;
    let mine = format!("{CATEGORIES}{}/", created["id"]);
    let category = |method: Method, path: &str| call(method, CATEGORY).auth(&user).at(path);
    let default = format!("{CATEGORIES}1/");
    c.expect(&app, 200, category(M::GET, &mine)).await;
    c.expect(&app, 404, category(M::GET, "/api/categories/999999/"))
        .await;
    let renamed = json!({"name": "Books", "priority_level": 3});
    c.expect(&app, 200, category(M::PUT, &mine).body(renamed.clone()))
        .await;
    c.expect(&app, 403, category(M::PUT, &default).body(renamed))
        .await;
    let recoloured = json!({"color": "#0000FF"});
    c.expect(&app, 200, category(M::PATCH, &mine).body(recoloured))
        .await;
    let unknown = json!({"priority_level": 99});
    c.expect(&app, 400, category(M::PATCH, &mine).body(unknown))
        .await;
    c.expect(&app, 403, category(M::DELETE, &default)).await;
    c.expect(&app, 204, category(M::DELETE, &mine)).await;
    c.expect(&app, 404, category(M::DELETE, &mine)).await;
    c.expect(&app, 200, call(M::GET, PREFERENCES).auth(&user))
        .await;
    let both = json!({"timezone": "UTC", "default_event_duration": 30});
    c.expect(&app, 200, call(M::PUT, PREFERENCES).auth(&user).body(both))
        .await;
    let tokyo = json!({"timezone": "Asia/Tokyo"});
    c.expect(
        &app,
        200,
        call(M::PATCH, PREFERENCES).auth(&user).body(tokyo),
    )
    .await;
    let mars = json!({"timezone": "Mars/Olympus"});
    c.expect(
        &app,
        400,
        call(M::PATCH, PREFERENCES).auth(&user).body(mars),
    )
    .await;

    // Google Calendar: not connected, connecting, connected.
    c.expect(&app, 200, call(M::GET, STATUS).auth(&user)).await;
    c.expect(&app, 200, call(M::GET, CONNECT).auth(&user)).await;
    let query = consent(&app, &user).await;
    let back = format!("{CALLBACK}?{query}");
    c.expect(&app, 200, call(M::GET, CALLBACK).at(&back)).await;
    c.expect(&app, 400, call(M::GET, CALLBACK).at(&back)).await;
    c.expect(&app, 200, call(M::GET, STATUS).auth(&user)).await;

    // Events: two valid ones, one per page, so that `next` and `previous` are URLs.
    let exam = event_body(
        "Algebra exam",
        "2026-11-24T09:00:00Z",
        "2026-11-24T11:00:00Z",
    );
    let first = c
        .expect(&app, 201, call(M::POST, EVENTS).auth(&user).body(exam))
        .await;
    let gym = event_body("Gym", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z");
    c.expect(&app, 201, call(M::POST, EVENTS).auth(&user).body(gym))
        .await;
    let backwards = event_body("Backwards", "2026-11-24T11:00:00Z", "2026-11-24T09:00:00Z");
    c.expect(&app, 400, call(M::POST, EVENTS).auth(&user).body(backwards))
        .await;
    for (status, query) in [
        (200, "?page_size=1"),
        (200, "?page_size=1&page=2"),
        (
            200,
            "?category=1&priority=5&start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z",
        ),
        (404, "?page=9"),
        (400, "?start=yesterday"),
    ] {
        let list = call(M::GET, EVENTS)
            .auth(&user)
            .at(format!("{EVENTS}{query}"));
        c.expect(&app, status, list).await;
    }
    c.expect(&app, 401, call(M::GET, EVENTS)).await;
    let week = format!("{RANGE}?start=2026-11-24T00:00:00Z&end=2026-12-01T00:00:00Z");
    let listed = c
        .expect(&app, 200, call(M::GET, RANGE).auth(&user).at(week))
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    c.expect(&app, 400, call(M::GET, RANGE).auth(&user)).await;

    // One event: until it is synced (a string `google_calendar_id`), then changed and deleted.
    let path = format!("/api/events/{}/", first["id"]);
    let one = |method: Method| call(method, EVENT).auth(&user).at(&path);
    let mut synced = false;
    for _ in 0..100 {
        let event = c.expect(&app, 200, one(M::GET)).await;
        if event["sync_status"] == "synced" {
            assert!(event["google_calendar_id"].is_string(), "{event}");
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "the event never synced");
    let moved = event_body(
        "Algebra exam",
        "2026-11-24T09:00:00Z",
        "2026-11-24T11:30:00Z",
    );
    c.expect(&app, 200, one(M::PUT).body(moved)).await;
    c.expect(&app, 400, one(M::PUT).body(json!({"title": ""})))
        .await;
    c.expect(&app, 200, one(M::PATCH).body(json!({"is_completed": true})))
        .await;
    c.expect(&app, 400, one(M::PATCH).body(json!({"colour": "red"})))
        .await;
    c.expect(&app, 204, one(M::DELETE)).await;
    c.expect(&app, 404, one(M::DELETE)).await;
    c.expect(&app, 404, one(M::GET)).await;
    let anonymous = call(M::PATCH, EVENT).at(&path).body(json!({}));
    c.expect(&app, 401, anonymous).await;

    // A series: an occurrence by its id, and a split of it.
    let series = json!({"title": "Gym", "category": 3, "start_time": "2026-11-23T09:00:00Z",
        "end_time": "2026-11-23T10:00:00Z", "recurrence": ["RRULE:FREQ=WEEKLY"]});
    let series = c
        .expect(&app, 201, call(M::POST, EVENTS).auth(&user).body(series))
        .await;
    let occurrence = format!("/api/events/{}_20261130T090000Z/", series["id"]);
    let read = call(M::GET, EVENT).auth(&user).at(&occurrence);
    let read = c.expect(&app, 200, read).await;
    assert_eq!(read["recurring_event_id"], series["id"], "{read}");
    const SPLIT: &str = "/api/events/{id}/split/";
    let first = format!("/api/events/{}_20261123T090000Z/split/", series["id"]);
    let split = call(M::POST, SPLIT).auth(&user).at(&first).body(json!({}));
    c.expect(&app, 400, split).await;
    let later = format!("/api/events/{}_20261130T090000Z/split/", series["id"]);
    let split = call(M::POST, SPLIT)
        .auth(&user)
        .at(&later)
        .body(json!({"title": "B"}));
    c.expect(&app, 201, split).await;
    let split = call(M::POST, SPLIT).auth(&user).at(&later).body(json!({}));
    c.expect(&app, 404, split).await;
    c.expect(&app, 401, call(M::POST, SPLIT).at(&later).body(json!({})))
        .await;

    // Disconnecting, then once more with nothing to disconnect (idempotent).
    // Public, and the same answer to anyone: 200 with no body.
    c.expect(&app, 200, call(M::POST, NOTIFICATIONS)).await;
    c.expect(&app, 200, call(M::POST, DISCONNECT).auth(&user))
        .await;
    c.expect(&app, 200, call(M::POST, DISCONNECT).auth(&user))
        .await;

    // Probes, then logging out (and a refresh token that is not one).
    c.expect(&app, 200, call(M::GET, "/healthz/")).await;
    c.expect(&app, 200, call(M::GET, "/readyz/")).await;
    let logout = |body: &Value| call(M::POST, LOGOUT).auth(&user).body(body.clone());
    c.expect(&app, 205, logout(&refresh)).await;
    c.expect(&app, 401, logout(&json!({"refresh": "forged"})))
        .await;

    // The throttled answer of an authentication endpoint.
    let throttled = spawn_app_with(|s| {
        s.auth_rate_per_minute = 1;
        s.auth_rate_burst = 1;
    })
    .await;
    let nobody = json!({"username": "nobody", "password": PASSWORD});
    for status in [401, 429] {
        let login = call(M::POST, LOGIN).body(nobody.clone());
        c.expect(&throttled, status, login).await;
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

/// Chromium from Debian's package; CI must have it (`.ci/run` installs it).
const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn swagger_ui_renders_the_document_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must install chromium"
        );
        eprintln!("skipped: {CHROMIUM} is not installed");
        return;
    }
    let app = spawn_app().await;
    let operations = documented_operations(&served_document(&app).await).len();
    let profile = tempfile::tempdir().expect("tempdir");
    let url = format!("{}{DOCS_PATH}", app.address);
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .arg("120")
            .arg(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                &profile_arg,
                "--virtual-time-budget=10000",
                "--dump-dom",
                &url,
            ])
            .output()
    })
    .await
    .expect("join")
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Swagger UI fetched /api/schema/ and rendered one block per operation.
    assert!(dom.contains("Phantom Scheduler API"), "{dom}");
    assert!(
        dom.contains(r#"class="opblock-summary-path" data-path="/api/events/""#),
        "{dom}"
    );
    assert_eq!(
        dom.matches(r#"class="opblock-summary-path""#).count(),
        operations,
        "{dom}"
    );
    assert!(dom.contains("opblock opblock-delete"), "{dom}");
}

#[tokio::test]
async fn the_docs_assets_are_served_with_types_and_cache_headers() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.address)).send();
    let page = get(DOCS_PATH).await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.expect("html");
    for (asset, content_type, cache) in [
        (
            "/api/docs/swagger-ui-bundle.js?v=5.35.0",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/api/docs/swagger-ui.css?v=5.35.0",
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/api/docs/init.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
    ] {
        assert!(html.contains(asset), "{html} does not load {asset}");
        let response = get(asset).await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_eq!(response.headers()["content-type"], content_type);
        assert_eq!(response.headers()["cache-control"], cache);
        assert!(!response.bytes().await.expect("body").is_empty());
    }
    let init = get("/api/docs/init.js").await.expect("init").text().await;
    assert!(
        init.expect("text")
            .contains(&format!("url: \"{SCHEMA_PATH}\""))
    );
    let unknown = get("/api/docs/petstore.json").await.expect("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
