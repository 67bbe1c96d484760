//! Per-client-IP limits on login, registration and token refresh.

use reqwest::header::RETRY_AFTER;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, body, spawn_app, spawn_app_with};

/// A server limiting the authentication endpoints to `per_minute`, `burst` at once.
async fn limited_app(per_minute: u32, burst: u32) -> TestApp {
    spawn_app_with(|s| {
        s.auth_rate_per_minute = per_minute;
        s.auth_rate_burst = burst;
    })
    .await
}

async fn wrong_login(app: &TestApp) -> Response {
    app.post(
        "/api/auth/login/",
        None,
        &json!({"username": "nobody", "password": "wrong password here"}),
    )
    .await
}

/// Asserts DRF's throttled answer: `429`, `Retry-After` in whole seconds, and the message
/// naming the same number of seconds.
async fn assert_throttled(response: Response) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    let unit = if wait == 1 { "second" } else { "seconds" };
    assert_eq!(
        body(response).await,
        json!({"detail": format!("Request was throttled. Expected available in {wait} {unit}.")})
    );
    wait
}

/// With the defaults (10 a minute, 5 at once), the first 5 logins always pass, and the
/// limiter guarantees that no more than 5 + 10 pass within a minute, so by the 16th at the
/// latest one is throttled; events stay reachable, and so does the refresh endpoint.
#[tokio::test]
async fn logins_over_the_limit_are_throttled_drf_style_and_nothing_else_is() {
    let app = limited_app(10, 5).await;
    let user = app.user().await; // login 1
    let mut throttled = None;
    for attempt in 2..=16 {
        let response = wrong_login(&app).await;
        if attempt <= 5 {
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "login {attempt}"
            );
        } else if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
    }
    let wait = assert_throttled(throttled.expect("a login was throttled by the 16th")).await;
    // One login is replenished every 6 s.
    assert!((1..=6).contains(&wait), "Retry-After: {wait}");

    // The right password does not get around it either, nor does a forwarded-for header.
    let response = app
        .client
        .post(format!("{}/api/auth/login/", app.address))
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({"username": "nobody", "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_throttled(response).await;

    for _ in 0..20 {
        let events = app.get("/api/events/", &user.access).await;
        assert_eq!(events.status(), StatusCode::OK);
    }
    // Each endpoint counts on its own: refreshing a token still works.
    let refreshed = app
        .post(
            "/api/auth/token/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

/// At one a minute, a second request within the minute is always over the limit.
#[tokio::test]
async fn register_and_token_refresh_are_limited_too() {
    let app = limited_app(1, 1).await;
    let register = |name: &str| json!({"username": name, "password": PASSWORD});
    let response = app
        .post("/api/auth/register/", None, &register("ada"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = app
        .post("/api/auth/register/", None, &register("grace"))
        .await;
    let wait = assert_throttled(response).await;
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");

    let refresh = json!({"refresh": "not-a-token"});
    let response = app.post("/api/auth/token/refresh/", None, &refresh).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.post("/api/auth/token/refresh/", None, &refresh).await;
    assert_throttled(response).await;
}

#[tokio::test]
async fn a_rate_of_zero_turns_limiting_off() {
    let app = spawn_app().await; // test settings: PHANTOM_AUTH_RATE_PER_MINUTE=0
    for attempt in 1..=30 {
        let response = wrong_login(&app).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "login {attempt}"
        );
    }
}

async fn login_from(app: &TestApp, forwarded_for: &str) -> Response {
    app.client
        .post(format!("{}/api/auth/login/", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"username": "nobody", "password": "wrong password here"}))
        .send()
        .await
        .expect("sent")
}

/// Behind a trusted proxy (here the test client's loopback address), each client the proxy
/// names in `X-Forwarded-For` has its own allowance; a client cannot pick a fresh address by
/// putting one before the proxy's.
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_counts_on_its_own() {
    let app = spawn_app_with(|s| {
        s.auth_rate_per_minute = 1;
        s.auth_rate_burst = 1;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a range")];
    })
    .await;
    assert_eq!(
        login_from(&app, "198.51.100.1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(&app, "198.51.100.2").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_throttled(login_from(&app, "198.51.100.1").await).await;
    // A forged address put first, the real one appended by the proxy: still the real one.
    assert_throttled(login_from(&app, "203.0.113.50, 198.51.100.2").await).await;
}

/// Without `PHANTOM_TRUSTED_PROXIES`, or from a peer that is not a trusted proxy, a forged
/// `X-Forwarded-For` changes nothing: every request counts for the peer's own address.
#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_client_changes_nothing() {
    for trusted in [vec![], vec!["10.0.0.0/8".parse().expect("a range")]] {
        let app = spawn_app_with(|s| {
            s.auth_rate_per_minute = 1;
            s.auth_rate_burst = 1;
            s.trusted_proxies = trusted;
        })
        .await;
        assert_eq!(
            login_from(&app, "198.51.100.1").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_throttled(login_from(&app, "198.51.100.2").await).await;
    }
}
