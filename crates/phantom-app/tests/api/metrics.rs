//! `/metrics`: Prometheus text, on the main listener, off, or on a listener of its own.
//!
//! The recorder is one per process and the tests run in parallel in one process, so these
//! assert on deltas, or on series only one test produces, never on absolute values.

use std::time::{Duration, Instant};

use phantom_app::config::MetricsSetting;
use phantom_app::startup::{Application, token_cipher};
use phantom_domain::google::StoredToken;
use phantom_domain::ids::UserId;
use phantom_domain::ports::TokenStore;
use phantom_google_emulator::{EmulatorConfig, Fault, FaultAction, Match, Operation};
use reqwest::StatusCode;

use crate::helpers::{
    TestApp, TestDb, connect_google, event_body, spawn_app, spawn_app_with, spawn_app_with_google,
    test_settings,
};

/// The body of `GET {base}/metrics`, after checking it is `200` Prometheus text.
async fn scrape_at(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.expect("body")
}

async fn scrape(app: &TestApp) -> String {
    scrape_at(&app.address).await
}

/// The value of the series written exactly as `series` (name and labels), 0 if absent.
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn sync_calls(body: &str, operation: &str, outcome: &str) -> f64 {
    value(
        body,
        &format!(r#"phantom_sync_calls_total{{operation="{operation}",outcome="{outcome}"}}"#),
    )
}

fn refreshes(body: &str, outcome: &str) -> f64 {
    value(
        body,
        &format!(r#"phantom_google_token_refreshes_total{{outcome="{outcome}"}}"#),
    )
}

/// Scrapes until `check` holds on the body, for at most ten seconds; returns that body.
async fn scrape_until(app: &TestApp, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = scrape(app).await;
        if check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With SQLite's group commit, the scrape reports the writer's transactions and the writes they
/// held: every event created is a write, and no transaction holds none.
#[tokio::test]
async fn sqlite_group_commits_and_their_writes_are_reported() {
    let app = spawn_app().await;
    if app.db.is_postgres() {
        return; // PostgreSQL commits each request's transaction itself.
    }
    let user = app.user().await;
    let before = scrape(&app).await;
    let writes_before = value(&before, "phantom_sqlite_group_commit_writes_total");
    assert!(writes_before >= 1.0, "registering wrote nothing:\n{before}");
    for title in ["one", "two", "three"] {
        app.create_event(
            &user,
            &event_body(title, "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    }
    let body = scrape(&app).await;
    let (commits, writes) = (
        value(&body, "phantom_sqlite_group_commits_total"),
        value(&body, "phantom_sqlite_group_commit_writes_total"),
    );
    assert!(writes - writes_before >= 3.0, "{body}");
    assert!(commits >= 1.0 && commits <= writes, "{body}");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_not_path() {
    let app = spawn_app().await;
    let user = app.user().await;
    let series = r#"http_requests_total{method="GET",route="/api/events/{id}/",status="404"}"#;
    let before = value(&scrape(&app).await, series);
    for id in [123_456_789, 987_654_321] {
        let response = app.get(&format!("/api/events/{id}/"), &user.access).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let body = scrape(&app).await;
    assert!(value(&body, series) - before >= 2.0, "{body}");
    assert!(!body.contains("123456789"), "a raw path became a label");
    assert!(
        body.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/events/{id}/",le="0.005"}"#
        ),
        "no latency histogram for the route"
    );
    // A path no route has: one fixed label however many such paths there are.
    let stray = app
        .get("/no-such-path-a1b2c3/", &user.access)
        .await
        .status();
    assert_eq!(stray, StatusCode::NOT_FOUND);
    let body = scrape(&app).await;
    assert!(!body.contains("a1b2c3"));
    assert!(body.contains(r#"route="unmatched",status="404""#));
    // The access token and username are nowhere in it.
    assert!(!body.contains(&user.access));
}

#[tokio::test]
async fn off_means_no_route() {
    let app = spawn_app_with(|s| s.metrics = MetricsSetting::Off).await;
    for path in ["/metrics", "/metrics/"] {
        let response = reqwest::get(format!("{}{path}", app.address))
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_separate_address_serves_metrics_there_only() {
    let db = TestDb::new();
    let mut settings = test_settings(&db.url());
    settings.metrics = MetricsSetting::Separate("127.0.0.1:0".parse().expect("address"));
    let app = Application::build(settings).await.expect("server builds");
    let main = format!("http://127.0.0.1:{}", app.port());
    let metrics = format!(
        "http://127.0.0.1:{}",
        app.metrics_port().expect("a metrics listener")
    );
    tokio::spawn(app.run_until_stopped());

    let response = reqwest::get(format!("{main}/metrics")).await.expect("main");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let healthy = reqwest::get(format!("{main}/healthz/"))
        .await
        .expect("main");
    assert_eq!(healthy.status(), StatusCode::OK);
    let body = scrape_at(&metrics).await;
    // Requests to the main listener are still counted; the outbox gauges are there.
    assert!(
        body.contains(r#"http_requests_total{method="GET",route="/healthz/",status="200"}"#),
        "{body}"
    );
    assert!(body.contains("phantom_sync_outbox_depth "), "{body}");
    let api = reqwest::get(format!("{metrics}/healthz/"))
        .await
        .expect("metrics listener");
    assert_eq!(
        api.status(),
        StatusCode::NOT_FOUND,
        "the API leaked onto it"
    );
}

#[tokio::test]
async fn sync_outcomes_token_refreshes_and_the_outbox_are_reported() {
    let (app, emulator, settings) = spawn_app_with_google(EmulatorConfig::default()).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let start = scrape(&app).await;

    // Google rate-limits every insert: the change stays queued.
    emulator.push_fault(Fault::always(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 429,
            retry_after: None,
        },
    ));
    app.create_event(
        &user,
        &event_body("Queued", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
    )
    .await;
    let limited = scrape_until(&app, "a rate-limited insert is counted", |body| {
        sync_calls(body, "insert", "rate_limited") > sync_calls(&start, "insert", "rate_limited")
    })
    .await;
    assert_eq!(
        value(&limited, "phantom_sync_outbox_depth"),
        1.0,
        "{limited}"
    );
    assert!(value(&limited, "phantom_sync_outbox_oldest_age_seconds") >= 0.0);

    // Google answers again, but has forgotten the access token: one 401, one refresh.
    emulator.clear_faults();
    emulator.expire_all_access_tokens();
    let before = scrape(&app).await;
    let drained = scrape_until(&app, "the outbox drains", |body| {
        value(body, "phantom_sync_outbox_depth") == 0.0
            && sync_calls(body, "insert", "ok") > sync_calls(&before, "insert", "ok")
    })
    .await;
    assert!(
        sync_calls(&drained, "insert", "unauthorized")
            > sync_calls(&before, "insert", "unauthorized")
    );
    assert!(refreshes(&drained, "ok") > refreshes(&before, "ok"));
    assert_eq!(
        value(&drained, "phantom_sync_outbox_oldest_age_seconds"),
        0.0
    );

    // Nothing in it identifies the user or carries a token.
    let db = app.database().await;
    let store = phantom_adapters::db::DieselTokenStore::new(db, token_cipher(&settings));
    let StoredToken::Present(token) = store.load(UserId(user.id)).await.expect("load") else {
        panic!("the user is not connected");
    };
    for secret in [
        token.access_token.expose(),
        token.refresh_token.expose(),
        &user.access,
        &user.refresh,
    ] {
        assert!(!drained.contains(secret), "a token is in the metrics");
    }
    assert!(!drained.contains("user"), "a user label is in the metrics");
}

/// `phantom worker` (PostgreSQL only) serves metrics at `PHANTOM_METRICS=HOST:PORT`, and
/// SIGTERM still ends it.
#[tokio::test]
async fn the_worker_serves_metrics_at_an_address_and_still_stops_on_sigterm() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // `phantom worker` refuses SQLite.
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg("worker")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env("PHANTOM_METRICS", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker starts");
    let log = dir.path().join("logs/phantom.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("metrics listening")) {
            let entry: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
            break entry["fields"]["port"].as_u64().expect("port field");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the worker announced no metrics listener: {text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = scrape_at(&format!("http://127.0.0.1:{port}")).await;
    assert!(body.contains("phantom_sync_outbox_depth 0"), "{body}");

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("SIGTERM did not end the worker");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
