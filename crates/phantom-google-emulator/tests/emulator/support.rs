//! Helpers shared by the tests: an HTTP client, PKCE, the OAuth dance.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use phantom_google_emulator::{Emulator, EmulatorConfig};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
pub const OPENID_SCOPES: &str = "openid email";

pub async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts")
}

/// A client that leaves redirects to the test, like a browser under test control.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

/// A fresh `(code_verifier, S256 code_challenge)` pair per RFC 7636.
pub fn pkce() -> (String, String) {
    let verifier = Alphanumeric.sample_string(&mut rand::rng(), 64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub const REDIRECT_URI: &str = "http://127.0.0.1:8080/auth/google/callback";

/// Requests `GET /o/oauth2/v2/auth` with the usual parameters, overridden or
/// extended by `extra` (an empty value drops the parameter).
pub async fn authorize(emu: &Emulator, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut params: Vec<(String, String)> = [
        ("client_id", emu.client_id()),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", CALENDAR_EVENTS),
        ("access_type", "offline"),
        ("state", "xyz"),
    ]
    .iter()
    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
    .collect();
    for (key, value) in extra {
        params.retain(|(existing, _)| existing != key);
        if !value.is_empty() {
            params.push(((*key).to_owned(), (*value).to_owned()));
        }
    }
    http()
        .get(emu.auth_url())
        .query(&params)
        .send()
        .await
        .expect("authorize request")
}

/// The query pairs of a redirect's `Location`.
pub fn redirect_params(response: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), 302, "expected a redirect");
    let location = response
        .headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .expect("ASCII Location");
    url::Url::parse(location)
        .expect("absolute Location")
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Gets a code with PKCE; returns `(code, verifier)`.
pub async fn code(emu: &Emulator, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let response = authorize(emu, &params).await;
    let code = param(&redirect_params(&response), "code")
        .expect("code in redirect")
        .to_owned();
    (code, verifier)
}

/// Posts a form to `/token` with client credentials in the body.
pub async fn token(emu: &Emulator, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form = form.to_vec();
    form.push(("client_id", emu.client_id()));
    form.push(("client_secret", emu.client_secret()));
    http()
        .post(emu.token_url())
        .form(&form)
        .send()
        .await
        .expect("token request")
}

pub async fn exchange(emu: &Emulator, code: &str, verifier: &str) -> reqwest::Response {
    token(
        emu,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Tokens from a completed offline flow.
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// The whole consent flow; `extra` adjusts the authorization request.
pub async fn sign_in_with(emu: &Emulator, extra: &[(&str, &str)]) -> Tokens {
    let (code, verifier) = code(emu, extra).await;
    let answer: Value = exchange(emu, &code, &verifier)
        .await
        .json()
        .await
        .expect("token JSON");
    Tokens {
        access: answer["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: answer["refresh_token"].as_str().map(str::to_owned),
    }
}

pub async fn sign_in(emu: &Emulator) -> Tokens {
    sign_in_with(emu, &[]).await
}

pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

/// The `errors[0].reason` of a Google API error body.
pub fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"]
        .as_str()
        .expect("Google error envelope")
}

pub fn events_url(emu: &Emulator) -> String {
    format!("{}calendars/primary/events", emu.calendar_api_url())
}

pub fn event_url(emu: &Emulator, id: &str) -> String {
    format!("{}/{id}", events_url(emu))
}

pub fn sample_event(id: Option<&str>) -> Value {
    let mut event = json!({
        "summary": "Dentist",
        "description": "Bring the forms",
        "start": { "dateTime": "2030-05-01T10:00:00+02:00", "timeZone": "Europe/Paris" },
        "end": { "dateTime": "2030-05-01T11:00:00+02:00", "timeZone": "Europe/Paris" },
        "colorId": "5",
    });
    if let Some(id) = id {
        event["id"] = id.into();
    }
    event
}

pub async fn insert(emu: &Emulator, access: &str, event: &Value) -> reqwest::Response {
    http()
        .post(events_url(emu))
        .bearer_auth(access)
        .json(event)
        .send()
        .await
        .expect("insert request")
}

pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("request")
}

/// The `X-Goog-*` headers of one push notification, lower-cased names.
pub type Headers = std::collections::BTreeMap<String, String>;

/// What a [`Receiver`] got: headers and body length per POST.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(Headers, usize)>>>;

/// A webhook receiver on 127.0.0.1 that records the headers of every POST
/// to `/hook` and answers `status`.
pub struct Receiver {
    pub url: String,
    received: Received,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = web::Data::new(received.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let server = HttpServer::new(move || {
            App::new().app_data(store.clone()).route(
                "/hook",
                web::post().to(
                    move |req: HttpRequest,
                          body: web::Bytes,
                          store: web::Data<Received>| async move {
                        let headers = req
                            .headers()
                            .iter()
                            .filter(|(name, _)| name.as_str().starts_with("x-goog-"))
                            .map(|(name, value)| {
                                (
                                    name.as_str().to_owned(),
                                    value.to_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect();
                        store.lock().expect("receiver lock").push((headers, body.len()));
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                            .finish()
                    },
                ),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            received,
            handle,
        }
    }

    /// Waits (up to 5 s) until `count` notifications arrived; returns them
    /// as `(headers, body length)`.
    pub async fn wait_for(&self, count: usize) -> Vec<(Headers, usize)> {
        for _ in 0..500 {
            let received = self.received.lock().expect("receiver lock").clone();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "expected {count} notifications, got {:?}",
            self.received.lock().expect("receiver lock")
        );
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<(Headers, usize)> {
        self.received.lock().expect("receiver lock").clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Lists with `query` until the last page; returns the items and the
/// `nextSyncToken` (empty when ordered by start time, which has none), or the first failed response's status and body.
pub async fn list_all(
    emu: &Emulator,
    access: &str,
    query: &[(&str, &str)],
) -> Result<(Vec<Value>, String), (u16, Value)> {
    let mut items = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut params: Vec<(&str, String)> = query
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect();
        if let Some(token) = &page_token {
            params.push(("pageToken", token.clone()));
        }
        let response = send(
            http()
                .get(events_url(emu))
                .query(&params)
                .bearer_auth(access),
        )
        .await;
        let status = response.status().as_u16();
        let page = json_of(response).await;
        if status != 200 {
            return Err((status, page));
        }
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["nextPageToken"].as_str() {
            Some(next) => {
                assert!(
                    page.get("nextSyncToken").is_none(),
                    "only the last page has it"
                );
                page_token = Some(next.to_owned());
            }
            None => {
                // Google gives no sync token for a listing ordered by start time.
                if query.contains(&("orderBy", "startTime")) {
                    assert!(page.get("nextSyncToken").is_none());
                    return Ok((items, String::new()));
                }
                let token = page["nextSyncToken"]
                    .as_str()
                    .expect("nextSyncToken on the last page");
                return Ok((items, token.to_owned()));
            }
        }
    }
}

/// The ids of listed items, in order.
pub fn ids(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("id"))
        .collect()
}
