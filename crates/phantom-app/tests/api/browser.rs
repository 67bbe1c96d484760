//! A headless Chromium driven over WebDriver: Debian's `chromium` and `chromium-driver`, and
//! `fantoccini` as the client (plain HTTP to a chromedriver on loopback, so no TLS stack).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{
    InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction, TouchActions,
};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use phantom_app::config::Settings;
use phantom_google_emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, body, spawn_app_on_port, use_emulator};

/// Chromium and its WebDriver from Debian's packages; CI must have both (`.ci/run`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a step may take before the test fails (the page refreshes every 4 s).
const PATIENCE: Duration = Duration::from_secs(30);

/// Starts chromedriver on a port it picks itself (`--port=0`) and answers that port, read from
/// its "started successfully on port N" line: no port is chosen here and released for another
/// process to take first. A chromedriver that exits before saying it (it did once in CI, under
/// load) is started again, up to three times, and what it printed is in the failure. Its later
/// output is drained on a thread until it exits.
fn start_chromedriver() -> (Child, u16) {
    const STARTED: &str = "started successfully on port ";
    let mut printed = Vec::new();
    for _ in 0..3 {
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromedriver starts");
        let stderr = driver.stderr.take().expect("piped stderr");
        let errors = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        let mut lines = BufReader::new(driver.stdout.take().expect("piped stdout")).lines();
        let port = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let port = line
                .split_once(STARTED)
                .and_then(|(_, port)| port.trim_end_matches('.').parse::<u16>().ok());
            if port.is_none() {
                printed.push(line);
            }
            port
        });
        if let Some(port) = port {
            std::thread::spawn(move || lines.for_each(drop));
            return (driver, port);
        }
        let _ = driver.kill();
        let status = driver.wait();
        printed.push(format!("(exited: {status:?})"));
        printed.extend(errors.join().unwrap_or_default());
    }
    panic!(
        "chromedriver never said which port it listens on:\n{}",
        printed.join("\n")
    );
}

/// One browser session; chromedriver is stopped when it is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh headless Chromium at `width`×`height`; `None` (the test skips) when it is not
    /// installed, except under `CI=true`, where that fails the test.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        Self::start_in(width, height, "en-US").await
    }

    /// [`Browser::start`] with the browser's language `lang` (e.g. `en-GB`, which writes
    /// times on a 24-hour clock).
    pub async fn start_in(width: u32, height: u32, lang: &str) -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI must install chromium and chromium-driver"
            );
            eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is not installed");
            return None;
        }
        let (driver, port) = start_chromedriver();
        let profile = tempfile::tempdir().expect("tempdir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", format!("--lang={lang}"),
                    format!("--accept-lang={lang}"),
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": { "intl.accept_languages": lang },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("waiting for chromedriver: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The element `css` selects, once it exists.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self
                .client
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Css(css))
                .await
            {
                Ok(element) => return element,
                // A navigation under way (a form post, a redirect) aborts the lookup: look
                // again on the page it brings.
                Err(e) if e.to_string().contains("navigation") && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("no {css}: {e}"),
            }
        }
    }

    /// Clicks the element `css` selects. One the page has not shown or enabled yet, or has
    /// just re-rendered (not interactable, covered, stale), is found and clicked again.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("clicking {css} again: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// Replaces the text of the input `css` with `text`, typed as a person would. An input
    /// the page re-renders or has not enabled yet (stale, not interactable) is found again.
    pub async fn fill(&self, css: &str, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let field = self.find(css).await;
            let typed = match field.clear().await {
                Ok(()) => field.send_keys(text).await,
                Err(e) => Err(e),
            };
            match typed {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("typing into {css} again: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("type into {css}: {e}"),
            }
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy, and returns it.
    pub async fn until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.run(script, args.clone()).await;
            if !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!([])
            {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.run("return document.body.innerText", vec![]).await;
                panic!("timed out waiting until {what}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses the left button at `from` (viewport pixels), moves by `by` in small steps as a
    /// hand would (FullCalendar follows `pointermove`), and releases it there.
    pub async fn drag(&self, from: (f64, f64), by: (f64, f64)) {
        const STEPS: u32 = 8;
        let step = |d: f64| (d / f64::from(STEPS)).round();
        let mut hand = MouseActions::new("hand".to_owned())
            .then(PointerAction::MoveTo {
                duration: None,
                x: from.0.round(),
                y: from.1.round(),
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .pause(Duration::from_millis(100));
        for _ in 0..STEPS {
            hand = hand.then(PointerAction::MoveBy {
                duration: Some(Duration::from_millis(40)),
                x: step(by.0),
                y: step(by.1),
            });
        }
        hand = hand
            .pause(Duration::from_millis(100))
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(hand).await.expect("drag");
        self.client.release_actions().await.expect("release");
    }

    /// A finger's short tap at `at` (viewport pixels).
    pub async fn tap(&self, at: (f64, f64)) {
        let finger = TouchActions::new("finger".to_owned())
            .then(PointerAction::MoveTo {
                duration: None,
                x: at.0.round(),
                y: at.1.round(),
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .pause(Duration::from_millis(60))
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(finger).await.expect("tap");
        self.client.release_actions().await.expect("release");
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the session (the browser exits) and stops chromedriver.
    pub async fn close(self) {
        let Self { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A server for the browser, pointed at `emulator` (`configure` adjusts its settings
/// further). Google sends the browser back to this server's own callback, on the app's
/// origin, so the browser-binding cookie and the app's session storage are there.
pub async fn spawn_app_for_browser(
    emulator: &Emulator,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_on_port(|s, port| {
        use_emulator(s, emulator);
        s.google.oauth.redirect_uri =
            format!("http://127.0.0.1:{port}/api/integrations/google-calendar/callback/");
        s.google.strict_browser_binding = true;
        configure(s);
    })
    .await
}

/// An emulator that shows its consent page (`Consent::Prompt`), as a person would see it.
pub async fn emulator_with_consent_page() -> Emulator {
    let emulator = Emulator::start(phantom_google_emulator::EmulatorConfig::default())
        .await
        .expect("emulator");
    emulator.set_consent(phantom_google_emulator::Consent::Prompt);
    emulator
}

/// Registers `username` over the API (the returned user's token is for checking what the
/// API says), then signs in through the app's form and waits for the week view.
pub async fn signed_in(browser: &Browser, app: &TestApp, username: &str) -> TestUser {
    let user = app.user_named(username).await;
    browser.goto(&format!("{}/", app.address)).await;
    browser.fill("#sign-in-username", username).await;
    browser
        .fill("#sign-in-password", crate::helpers::PASSWORD)
        .await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser.find("#calendar .fc-timegrid").await;
    user
}

/// `GET path` as `user`; panics unless `200`.
pub async fn api_get(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let response = app.get(path, &user.access).await;
    let status = response.status();
    let answer = body(response).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
    answer
}

/// The event box whose title contains `arguments[0]`, when its sync status is `arguments[1]`.
const EVENT_WITH_STATUS: &str = "return [...document.querySelectorAll('#calendar [data-event-id]')]
    .find(e => e.textContent.includes(arguments[0]) && e.dataset.syncStatus === arguments[1])
    ?.title ?? null;";

/// Waits until the event whose title contains `title` shows `status`; its tooltip.
pub async fn event_shows(browser: &Browser, what: &str, title: &str, status: &str) -> Value {
    let args = vec![json!(title), json!(status)];
    browser.until(what, EVENT_WITH_STATUS, args).await
}

/// The ids of the events the calendar shows now, in the order of the page.
pub async fn shown_event_ids(browser: &Browser) -> Vec<i64> {
    let ids = browser
        .run(
            "return [...document.querySelectorAll('#calendar [data-event-id]')]
                .map(e => Number(e.dataset.eventId));",
            vec![],
        )
        .await;
    serde_json::from_value(ids).expect("a list of ids")
}

/// The dates (`YYYY-MM-DD`) of the week view's day columns, left to right.
pub async fn week_days(browser: &Browser) -> Vec<String> {
    let days = browser
        .until(
            "the week view has its days",
            "return [...document.querySelectorAll('#calendar td.fc-timegrid-col[data-date]')]
                .map(c => c.dataset.date);",
            vec![],
        )
        .await;
    serde_json::from_value(days).expect("a list of dates")
}

/// Waits until the event form is open.
pub async fn form_opens(browser: &Browser) {
    let open = "return document.getElementById('event-dialog').open";
    browser.until("the form is open", open, vec![]).await;
}

/// Opens the event whose title contains `title` in the form.
pub async fn open_event(browser: &Browser, title: &str) {
    browser
        .run(
            "[...document.querySelectorAll('#calendar [data-event-id]')]
                .find(e => e.textContent.includes(arguments[0])).click();",
            vec![json!(title)],
        )
        .await;
    form_opens(browser).await;
}

/// Where `PHANTOM_SCREENSHOT_DIR` says screenshots go (`docs` refreshes the README's).
fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("PHANTOM_SCREENSHOT_DIR").map(PathBuf::from)
}

/// Saves a screenshot named `name` when `PHANTOM_SCREENSHOT_DIR` is set.
pub async fn shoot(browser: &Browser, name: &str) {
    if let Some(dir) = screenshot_dir() {
        browser.screenshot(&dir.join(name)).await;
    }
}

/// Presses `button` (`#google-connect` or `#google-reconnect`) in the header and **Continue**
/// on the emulator's consent page (`Consent::Prompt`); waits until the browser is back on the
/// app, which says Google is connected.
pub async fn connect_through_consent_page(browser: &Browser, button: &str) {
    browser.click(button).await;
    browser.click("button[value=allow]").await;
    browser
        .until(
            "the app says Google is connected",
            "return location.pathname === '/' && location.search === ''
                && document.getElementById('notice').textContent === 'Google Calendar connected.'
                && document.getElementById('google-state').dataset.state === 'connected'",
            vec![],
        )
        .await;
}
