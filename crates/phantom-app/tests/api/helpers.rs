//! `spawn_app` and friends.

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use phantom_adapters::db::Database;
use phantom_app::config::Settings;
use phantom_app::startup::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// The signing key every test server uses.
pub const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";
/// A password every validator accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// A database only this test uses.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { base: String, schema: String },
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var("PHANTOM_TEST_PG_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(base) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&base).expect("PHANTOM_TEST_PG_URL reachable");
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create schema");
                TestDb::Postgres { base, schema }
            }
            None => TestDb::Sqlite(tempfile::tempdir().expect("tempdir")),
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}/phantom.db", dir.path().display()),
            TestDb::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-csearch_path%3D{schema}")
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { base, schema } = self
            && let Ok(mut conn) = PgConnection::establish(base)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Settings for a test server on `db_url`: port 0, fixed keys, one worker, no log file.
pub fn test_settings(db_url: &str) -> Settings {
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db_url.to_owned()),
        ("PHANTOM_BIND", "127.0.0.1:0".to_owned()),
        ("PHANTOM_SECRET_KEY", SECRET.to_owned()),
        (
            "PHANTOM_TOKEN_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
        ),
    ]);
    let mut settings = Settings::from_source(
        |k| vars.get(k).cloned(),
        std::path::Path::new("/nonexistent"),
    )
    .expect("test settings");
    settings.log_dir = None;
    settings.http_workers = Some(1);
    // Tests register and log in many users from 127.0.0.1; tests/api/rate_limit.rs turns it on.
    settings.auth_rate_per_minute = 0;
    settings
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
}

/// The HTTP client tests talk to servers with. It drops a pooled connection after 2 s idle,
/// before the server's keep-alive (actix: 5 s) closes it: reusing a connection just as the
/// server closes it fails the request ("connection closed before message completed"), which
/// a test that waits a few seconds between two requests otherwise meets now and then.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

/// The redirect URI test servers register with the emulator.
pub const REDIRECT_URI: &str = "http://localhost:8000/api/integrations/google-calendar/callback/";

/// Points `settings` at the emulator, as `GOOGLE_*` variables would.
pub fn use_emulator(settings: &mut Settings, emulator: &phantom_google_emulator::Emulator) {
    settings.google.oauth = phantom_adapters::oauth::GoogleOAuthConfig {
        client_id: Some(emulator.client_id().to_owned()),
        client_secret: Some(emulator.client_secret().to_owned()),
        redirect_uri: REDIRECT_URI.to_owned(),
        auth_url: emulator.auth_url(),
        token_url: emulator.token_url(),
        revoke_url: emulator.revoke_url(),
    };
    settings.google.calendar_api_url = emulator.calendar_api_url();
}

/// A server pointed at a fresh emulator started with `config`, and the server's settings
/// (for building a second service stack on the same database, as another process would).
pub async fn spawn_app_with_google(
    config: phantom_google_emulator::EmulatorConfig,
) -> (TestApp, phantom_google_emulator::Emulator, Settings) {
    let emulator = phantom_google_emulator::Emulator::start(config)
        .await
        .expect("emulator");
    let mut captured = None;
    let app = spawn_app_with(|s| {
        use_emulator(s, &emulator);
        captured = Some(s.clone());
    })
    .await;
    (app, emulator, captured.expect("settings were configured"))
}

/// A registered, logged-in user.
pub struct TestUser {
    pub id: i64,
    pub access: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose settings `configure` may change first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_port(|s, _| configure(s)).await
}

/// [`spawn_app_with`], with the server's port known to `configure` (for a public URL or a
/// redirect URI): the port is bound before the settings are made and held until the server
/// listens on it, so no other process can take it meanwhile.
pub async fn spawn_app_on_port(configure: impl FnOnce(&mut Settings, u16)) -> TestApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("its address").port();
    let db = TestDb::new();
    let mut settings = test_settings(&db.url());
    configure(&mut settings, port);
    let app = Application::build_on(settings, listener)
        .await
        .expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: http_client(),
        db,
    }
}

impl TestApp {
    /// A request with a JSON body (if any) and a bearer token (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    /// Registers `username` and logs in.
    pub async fn user_named(&self, username: &str) -> TestUser {
        let response = self
            .post(
                "/api/auth/register/",
                None,
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        let id = body(response).await["id"].as_i64().expect("id");
        let response = self
            .post(
                "/api/auth/login/",
                None,
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login {username}");
        let tokens = body(response).await;
        TestUser {
            id,
            access: tokens["access"].as_str().expect("access").to_owned(),
            refresh: tokens["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// A fresh user with a unique name.
    pub async fn user(&self) -> TestUser {
        self.user_named(&format!(
            "user{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
        .await
    }

    /// Creates an event; panics unless `201`.
    pub async fn create_event(&self, user: &TestUser, event: &Value) -> Value {
        let response = self.post("/api/events/", Some(&user.access), event).await;
        let status = response.status();
        let created = body(response).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// A second handle on the test's database.
    pub async fn database(&self) -> Database {
        let url = self.db.url();
        tokio::task::spawn_blocking(move || Database::connect(&url))
            .await
            .expect("join")
            .expect("connect")
    }
}

/// The JSON body of a response.
pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
}

/// A valid event body.
pub fn event_body(title: &str, start: &str, end: &str) -> Value {
    json!({"title": title, "category": 1, "start_time": start, "end_time": end})
}

/// `connect`, then the emulator's consent screen without following its redirect: returns the
/// query string Google sends the browser back to the callback with.
pub async fn consent(app: &TestApp, user: &TestUser) -> String {
    let connect = app
        .get("/api/integrations/google-calendar/connect/", &user.access)
        .await;
    assert_eq!(connect.status(), StatusCode::OK);
    let url = body(connect).await["authorization_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = browser.get(&url).send().await.expect("consent screen");
    assert_eq!(answer.status(), StatusCode::FOUND);
    let location = answer.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let (target, query) = location.split_once('?').expect("query");
    assert_eq!(target, REDIRECT_URI);
    query.to_owned()
}

/// The OAuth callback with `query`, as the browser would call it.
pub async fn callback(app: &TestApp, query: &str) -> Response {
    app.client
        .get(format!(
            "{}/api/integrations/google-calendar/callback/?{query}",
            app.address
        ))
        .send()
        .await
        .expect("callback")
}

/// Connects `user`'s Google Calendar through connect, consent and callback.
pub async fn connect_google(app: &TestApp, user: &TestUser) {
    let query = consent(app, user).await;
    assert_eq!(callback(app, &query).await.status(), StatusCode::OK);
}

/// The statuses the emulator answered to `operation`, in order.
pub fn answers(
    emulator: &phantom_google_emulator::Emulator,
    operation: phantom_google_emulator::Operation,
) -> Vec<u16> {
    emulator
        .request_log()
        .iter()
        .filter(|r| r.operation == operation)
        .map(|r| r.status)
        .collect()
}

/// A test server pointed at a fresh emulator (`configure` adjusts its settings further) and a
/// user who has connected Google Calendar.
pub async fn connected_with(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, phantom_google_emulator::Emulator, TestUser) {
    let emulator = phantom_google_emulator::Emulator::start(
        phantom_google_emulator::EmulatorConfig::default(),
    )
    .await
    .expect("emulator");
    let (app, user) = connected_to(&emulator, configure).await;
    (app, emulator, user)
}

/// Like [`connected_with`], with an emulator the caller has started (and set faults on).
pub async fn connected_to(
    emulator: &phantom_google_emulator::Emulator,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, TestUser) {
    connected_on_port(emulator, |s, _| configure(s)).await
}

/// [`connected_to`], with the server's port known to `configure` (see [`spawn_app_on_port`]).
pub async fn connected_on_port(
    emulator: &phantom_google_emulator::Emulator,
    configure: impl FnOnce(&mut Settings, u16),
) -> (TestApp, TestUser) {
    let app = spawn_app_on_port(|s, port| {
        use_emulator(s, emulator);
        configure(s, port);
    })
    .await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    (app, user)
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
pub async fn eventually<T>(
    what: &str,
    within: std::time::Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Google answers every `operation` `503` until the fault is removed.
pub fn unavailable(
    operation: phantom_google_emulator::Operation,
) -> phantom_google_emulator::Fault {
    phantom_google_emulator::Fault::always(
        phantom_google_emulator::Match::operation(operation),
        phantom_google_emulator::FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    )
}
