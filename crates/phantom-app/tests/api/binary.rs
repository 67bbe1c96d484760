//! The `phantom` binary as a new user runs it: no configuration at all.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use phantom_google_emulator::Emulator;

use crate::helpers::{PASSWORD, REDIRECT_URI, TestDb, body};

pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
}

impl Server {
    /// SIGTERM, as an operator stops it; waits up to ten seconds for it to exit and returns
    /// how long that took (`None`: it did not exit, and is left to `Drop`).
    pub(crate) fn terminate(&mut self) -> Option<Duration> {
        let sent = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        while sent.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(sent.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL, as a crash or an OOM kill would: no draining, no log flush.
    pub(crate) fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    /// Stops it as an operator would (SIGTERM: actix drains, `main` returns, the log flushes);
    /// SIGKILL only if it does not exit within ten seconds.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // already gone (killed by the test)
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `phantom` in `dir` with an empty environment but for a free port, and waits for
/// the port it announces in `logs/phantom.log`.
async fn start(dir: &Path) -> Server {
    start_with(dir, &[]).await
}

/// Like [`start`], with extra environment variables.
pub(crate) async fn start_with(dir: &Path, env: &[(&str, String)]) -> Server {
    let (mut server, line) = launch(dir, &[], env, "phantom listening").await;
    let port = line["fields"]["port"].as_u64().expect("port field");
    server.address = format!("http://127.0.0.1:{port}");
    server
}

/// `phantom worker` in `dir` (PostgreSQL only), like [`start_with`]; waits for the worker's
/// start line in `logs/phantom.log`. The returned [`Server`] has no address.
pub(crate) async fn start_worker_with(dir: &Path, env: &[(&str, String)]) -> Server {
    launch(dir, &["worker"], env, "sync worker started").await.0
}

/// Starts `phantom ARGS` in `dir` with an empty environment but for a free port and `env`, and
/// waits for the first new line of `logs/phantom.log` that contains `ready`; returns that line.
async fn launch(
    dir: &Path,
    args: &[&str],
    env: &[(&str, String)],
    ready: &str,
) -> (Server, serde_json::Value) {
    let log = dir.join("logs/phantom.log");
    let seen_before = std::fs::read_to_string(&log).map(|t| t.len()).unwrap_or(0);
    let child = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PHANTOM_BIND", "127.0.0.1:0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("phantom starts");
    // Owned by a `Server` at once, so that a failed wait below still kills and reaps it.
    let server = Server {
        child,
        address: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let fresh = text.get(seen_before..).unwrap_or_default();
        if let Some(line) = fresh.lines().find(|l| l.contains(ready)) {
            let entry = serde_json::from_str(line).expect("JSON log line");
            return (server, entry);
        }
        assert!(Instant::now() < deadline, "phantom did not start: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn runs_without_configuration_keeps_its_secrets_and_logs_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = crate::helpers::http_client();
    let server = start(dir.path()).await;
    let registered = client
        .post(format!("{}/api/auth/register/", server.address))
        .json(&json!({"username": "newcomer", "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let tokens = body(
        client
            .post(format!("{}/api/auth/login/", server.address))
            .json(&json!({"username": "newcomer", "password": PASSWORD}))
            .send()
            .await
            .expect("login"),
    )
    .await;
    let access = tokens["access"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh"].as_str().expect("refresh").to_owned();
    drop(server);

    assert!(
        dir.path().join("phantom.db").exists(),
        "SQLite file not created"
    );
    assert!(dir.path().join(".phantom/secret_key").exists());

    // A restart reuses the generated key: the token issued before still works.
    let server = start(dir.path()).await;
    let events = client
        .get(format!("{}/api/events/", server.address))
        .bearer_auth(&access)
        .send()
        .await
        .expect("list");
    assert_eq!(events.status(), StatusCode::OK);
    drop(server);

    let log = std::fs::read_to_string(dir.path().join("logs/phantom.log")).expect("log file");
    assert!(log.contains("/api/auth/login/"), "requests are not logged");
    for secret in [PASSWORD, access.as_str(), refresh.as_str()] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[tokio::test]
async fn google_codes_state_and_tokens_never_reach_the_log() {
    use phantom_google_emulator::{Emulator, EmulatorConfig};

    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("GOOGLE_CLIENT_ID", emulator.client_id().to_owned()),
        ("GOOGLE_CLIENT_SECRET", emulator.client_secret().to_owned()),
        ("GOOGLE_AUTH_URL", emulator.auth_url()),
        ("GOOGLE_TOKEN_URL", emulator.token_url()),
        ("GOOGLE_REVOKE_URL", emulator.revoke_url()),
        ("RUST_LOG", "debug".to_owned()),
    ];
    let server = start_with(dir.path(), &env).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let credentials = json!({"username": "connector", "password": PASSWORD});
    let url = |path: &str| format!("{}{path}", server.address);
    client
        .post(url("/api/auth/register/"))
        .json(&credentials)
        .send()
        .await
        .expect("register");
    let tokens = body(
        client
            .post(url("/api/auth/login/"))
            .json(&credentials)
            .send()
            .await
            .expect("login"),
    )
    .await;
    let access = tokens["access"].as_str().expect("access").to_owned();
    let connect = client
        .get(url("/api/integrations/google-calendar/connect/"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("connect");
    let authorization_url = body(connect).await["authorization_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let consent = client
        .get(&authorization_url)
        .send()
        .await
        .expect("consent");
    let location = consent.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let query = location.split_once('?').expect("query").1.to_owned();
    let done = client
        .get(url(&format!(
            "/api/integrations/google-calendar/callback/?{query}"
        )))
        .send()
        .await
        .expect("callback");
    assert_eq!(done.status(), StatusCode::OK);
    let disconnect = client
        .post(url("/api/integrations/google-calendar/disconnect/"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("disconnect");
    assert_eq!(disconnect.status(), StatusCode::OK);
    drop(server);

    let log = std::fs::read_to_string(dir.path().join("logs/phantom.log")).expect("log file");
    assert!(
        log.contains("/api/integrations/google-calendar/callback/"),
        "callback not logged"
    );
    // Decoded, as a careless log line would show them.
    let pairs: Vec<(String, String)> = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect("param")
    };
    let (code, state) = (param("code"), param("state"));
    for secret in [
        code.as_str(),
        state.as_str(),
        "ya29.",
        "1//",
        emulator.client_secret(),
    ] {
        assert!(!log.contains(secret), "{secret:?} reached the log");
    }
}

/// The environment of a `phantom` process on `db`, pointed at `emulator`, retrying after
/// `retry_base_ms`.
pub(crate) fn binary_env(
    db: &TestDb,
    emulator: &Emulator,
    retry_base_ms: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.url()),
        ("GOOGLE_CLIENT_ID", emulator.client_id().to_owned()),
        ("GOOGLE_CLIENT_SECRET", emulator.client_secret().to_owned()),
        ("GOOGLE_REDIRECT_URI", REDIRECT_URI.to_owned()),
        ("GOOGLE_AUTH_URL", emulator.auth_url()),
        ("GOOGLE_TOKEN_URL", emulator.token_url()),
        ("GOOGLE_REVOKE_URL", emulator.revoke_url()),
        ("GOOGLE_CALENDAR_API_URL", emulator.calendar_api_url()),
        ("PHANTOM_AUTH_RATE_PER_MINUTE", "0".to_owned()),
        ("PHANTOM_SYNC_RETRY_BASE_MS", retry_base_ms.to_string()),
    ]
}
