//! The web app over HTTP: the page and its assets with their headers, and the OAuth
//! callback's browser mode (a `302` back to the app) next to its unchanged JSON answers.

use phantom_app::webapp::{CONTENT_SECURITY_POLICY, FULLCALENDAR_VERSION};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, body, consent, spawn_app, spawn_app_with_google};

/// What Chromium sends when it navigates to a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,\
    image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn callback_with(app: &TestApp, query: &str, accept: &str) -> reqwest::Response {
    no_redirects()
        .get(format!(
            "{}/api/integrations/google-calendar/callback/?{query}",
            app.address
        ))
        .header("accept", accept)
        .send()
        .await
        .expect("callback")
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[tokio::test]
async fn the_app_is_served_at_the_root_under_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let page = app.client.get(&app.address).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert_eq!(csp, CONTENT_SECURITY_POLICY);
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    for loose in ["unsafe-inline", "unsafe-eval", "http:", "https:", "*"] {
        assert!(!csp.contains(loose), "{loose} in {csp}");
    }
    let html = page.text().await.expect("html");
    assert!(html.contains("<title>Phantom Scheduler</title>"), "{html}");
    // Every script and stylesheet is one of ours, from this origin.
    for src in html
        .split("src=\"")
        .skip(1)
        .chain(html.split("href=\"").skip(1))
    {
        let url = src.split('"').next().expect("attribute");
        assert!(url.starts_with("/app/") || url == "data:,", "{url}");
    }
}

#[tokio::test]
async fn the_assets_are_served_from_the_binary_with_types_and_cache_headers() {
    let app = spawn_app().await;
    let immutable = "public, max-age=31536000, immutable";
    let bundle = format!("/app/fullcalendar.js?v={FULLCALENDAR_VERSION}");
    for (path, content_type, cache) in [
        (bundle.as_str(), "text/javascript; charset=utf-8", immutable),
        ("/app/app.js", "text/javascript; charset=utf-8", "no-cache"),
        ("/app/api.js", "text/javascript; charset=utf-8", "no-cache"),
        (
            "/app/calendar.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        (
            "/app/forms.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        (
            "/app/google.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        ("/app/style.css", "text/css; charset=utf-8", "no-cache"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["cache-control"], cache, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
    }
    for missing in ["/app/nope.js", "/app/../Cargo.toml", "/app/"] {
        let response = app
            .client
            .get(format!("{}{missing}", app.address))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn a_browser_returning_from_consent_is_sent_back_to_the_app() {
    let (app, _emulator, _) = spawn_app_with_google(Default::default()).await;
    let user = app.user().await;
    let query = consent(&app, &user).await;
    let answer = callback_with(&app, &query, BROWSER_ACCEPT).await;
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(location(&answer), "/?google=connected");
    let status = body(
        app.get("/api/integrations/google-calendar/status/", &user.access)
            .await,
    )
    .await;
    assert_eq!(status["connected"], true, "{status}");
}

#[tokio::test]
async fn a_browser_whose_connection_failed_is_sent_back_with_the_reason() {
    let (app, _emulator, _) = spawn_app_with_google(Default::default()).await;
    for query in ["code=abc", "code=abc&state=forged", "error=access_denied"] {
        let answer = callback_with(&app, query, BROWSER_ACCEPT).await;
        assert_eq!(answer.status(), StatusCode::FOUND, "{query}");
        let target = location(&answer);
        let (path, params) = target.split_once('?').expect("a query");
        assert_eq!(path, "/");
        let params: Vec<(String, String)> = serde_urlencoded::from_str(params).expect("query");
        assert_eq!(params[0], ("google".into(), "error".into()), "{target}");
        assert_eq!(params[1].0, "reason", "{target}");
        // The same words a JSON client gets as its `detail`.
        let json = callback_with(&app, query, "application/json").await;
        assert_eq!(json.status(), StatusCode::BAD_REQUEST);
        let detail = body(json).await["detail"].as_str().map(str::to_owned);
        assert_eq!(Some(params[1].1.clone()), detail, "{query}");
    }
}

#[tokio::test]
async fn json_clients_get_the_json_answers_as_before() {
    let (app, _emulator, _) = spawn_app_with_google(Default::default()).await;
    // No Accept, JSON only, and JSON named next to HTML: all JSON.
    for accept in [
        None,
        Some("application/json"),
        Some("text/html, application/json"),
    ] {
        let user = app.user().await;
        let query = consent(&app, &user).await;
        let mut request = no_redirects().get(format!(
            "{}/api/integrations/google-calendar/callback/?{query}",
            app.address
        ));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let answer = request.send().await.expect("callback");
        assert_eq!(answer.status(), StatusCode::OK, "{accept:?}");
        let connected: Value = body(answer).await;
        assert_eq!(
            connected["message"], "Google Calendar connected successfully",
            "{accept:?}"
        );
    }
    let refused = callback_with(&app, "code=abc", "*/*").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.headers()["content-type"], "application/json");
}
