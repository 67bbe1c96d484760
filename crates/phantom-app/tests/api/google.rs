//! Connecting Google Calendar end to end: the server, the Google emulator, real HTTP.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use phantom_adapters::crypto::HmacStateCodec;
use phantom_domain::google::OAuthState;
use phantom_domain::ids::UserId;
use phantom_domain::ports::StateCodec;
use phantom_domain::services::ConnectionError;
use phantom_google_emulator::{
    Consent, Emulator, EmulatorConfig, Fault, FaultAction, Match, Operation,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    SECRET, TestApp, TestUser, answers, body, callback, connect_google, consent, spawn_app,
    spawn_app_with, spawn_app_with_google, unavailable, use_emulator,
};

async fn with_google(config: EmulatorConfig) -> (TestApp, Emulator) {
    let (app, emulator, _) = spawn_app_with_google(config).await;
    (app, emulator)
}

/// A new user who went through connect, consent and callback.
async fn connected_user(app: &TestApp) -> TestUser {
    let user = app.user().await;
    connect_google(app, &user).await;
    user
}

/// Access tokens that live 30 s are always within the 60 s refresh margin: every use of one
/// refreshes first.
fn short_lived_tokens() -> EmulatorConfig {
    EmulatorConfig {
        access_token_lifetime: Duration::from_secs(30),
        ..EmulatorConfig::default()
    }
}

/// `(connected, needs_reconnect)` as the status endpoint shows them.
async fn flags(app: &TestApp, user: &TestUser) -> (Option<bool>, Option<bool>) {
    let shown = status(app, user).await;
    (
        shown["connected"].as_bool(),
        shown["needs_reconnect"].as_bool(),
    )
}

async fn status(app: &TestApp, user: &TestUser) -> Value {
    body(
        app.get("/api/integrations/google-calendar/status/", &user.access)
            .await,
    )
    .await
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn the_whole_flow_connects_and_stores_tokens_encrypted() {
    let (app, emulator) = with_google(EmulatorConfig::default()).await;
    let user = app.user().await;
    assert_eq!(status(&app, &user).await["connected"], false);

    let connect = body(
        app.get("/api/integrations/google-calendar/connect/", &user.access)
            .await,
    )
    .await;
    assert_eq!(
        connect["message"],
        "Please visit the authorization URL to connect your Google Calendar"
    );
    let url = connect["authorization_url"].as_str().expect("url");
    for expected in [
        "access_type=offline",
        "prompt=consent",
        "code_challenge_method=S256",
        "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcalendar.events&",
        "response_type=code",
    ] {
        assert!(url.contains(expected), "{expected} missing from {url}");
    }

    let query = consent(&app, &user).await;
    let response = callback(&app, &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = body(response).await;
    let username = status(&app, &user).await["user"].clone();
    assert_eq!(
        answer,
        json!({"message": "Google Calendar connected successfully", "user": username})
    );

    let connected = status(&app, &user).await;
    assert_eq!(
        (
            connected["connected"].as_bool(),
            connected["needs_reconnect"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert!(
        connected["connected_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // Tokens are sealed: Google's token prefixes appear nowhere in the database.
    let sealed: String = app
        .database()
        .await
        .read(move |c| {
            use diesel::prelude::*;
            use phantom_adapters::db::schema::users;
            users::table
                .find(user.id)
                .select(users::google_calendar_token.assume_not_null())
                .first(c)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("token column");
    assert!(sealed.starts_with("v1."), "{sealed}");
    if let crate::helpers::TestDb::Sqlite(dir) = &app.db {
        let mut bytes = Vec::new();
        for name in ["phantom.db", "phantom.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(name)).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&bytes);
        // The emulator's access and refresh tokens start so (the sealed form is URL-safe
        // base64, which has no `.` and no `/`).
        let at = text.find("ya29.a0").or_else(|| text.find("1//0"));
        assert!(
            at.is_none(),
            "a token is stored in clear: {:?}",
            at.map(|i| text.get(i.saturating_sub(40)..i + 60).unwrap_or_default())
        );
    }
    assert_eq!(answers(&emulator, Operation::Token).len(), 1);
}

#[tokio::test]
async fn every_state_attack_is_refused_and_nobody_connects() {
    let (app, _emulator) = with_google(EmulatorConfig::default()).await;
    let victim = app.user().await;
    let query = consent(&app, &victim).await;
    let code = param(&query, "code").expect("code");
    let codec = HmacStateCodec::new(SECRET.as_bytes());
    let expired = codec.sign(&OAuthState {
        user: UserId(victim.id),
        nonce: "n".into(),
        expires_at: Utc::now() - TimeDelta::minutes(1),
    });
    let unknown = codec.sign(&OAuthState {
        user: UserId(victim.id),
        nonce: "never-issued".into(),
        expires_at: Utc::now() + TimeDelta::minutes(5),
    });
    let forged = HmacStateCodec::new(b"an attacker's key").sign(&OAuthState {
        user: UserId(victim.id),
        nonce: "n".into(),
        expires_at: Utc::now() + TimeDelta::minutes(5),
    });
    for (name, attack, words) in [
        ("missing", format!("code={code}"), "missing"),
        ("forged", format!("code={code}&state={forged}"), "invalid"),
        ("garbage", format!("code={code}&state=xyz"), "invalid"),
        ("expired", format!("code={code}&state={expired}"), "expired"),
        (
            "unknown",
            format!("code={code}&state={unknown}"),
            "already used or is unknown",
        ),
    ] {
        let response = callback(&app, &attack).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        let detail = body(response).await["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(words), "{name}: {detail}");
    }
    assert_eq!(status(&app, &victim).await["connected"], false);

    // The genuine callback still works once, and a replay is refused.
    assert_eq!(callback(&app, &query).await.status(), StatusCode::OK);
    let replay = callback(&app, &query).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_callback_carrying_another_users_token_connects_nobody() {
    let (app, _emulator) = with_google(EmulatorConfig::default()).await;
    let starter = app.user().await;
    let other = app.user().await;
    let query = consent(&app, &starter).await;
    let response = app
        .send(
            Method::GET,
            &format!("/api/integrations/google-calendar/callback/?{query}"),
            Some(&other.access),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(status(&app, &starter).await["connected"], false);
    assert_eq!(status(&app, &other).await["connected"], false);
}

#[tokio::test]
async fn denied_consent_and_missing_scope_are_400_with_a_reason() {
    let (app, emulator) = with_google(EmulatorConfig::default()).await;
    let user = app.user().await;

    emulator.set_consent(Consent::Deny);
    let denied = consent(&app, &user).await;
    assert_eq!(param(&denied, "error"), Some("access_denied"));
    let response = callback(&app, &denied).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(response).await["detail"]
            .as_str()
            .is_some_and(|d| d.contains("denied"))
    );

    emulator.set_consent(Consent::GrantScopes(vec!["openid".into()]));
    let unticked = consent(&app, &user).await;
    let response = callback(&app, &unticked).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(response).await["detail"]
            .as_str()
            .is_some_and(|d| d.contains("permission"))
    );
    assert_eq!(status(&app, &user).await["connected"], false);
    let revoked = emulator
        .request_log()
        .iter()
        .any(|r| r.operation == Operation::Revoke && r.status == 200);
    assert!(revoked, "the useless grant was not given back");
}

#[tokio::test]
async fn google_down_at_the_token_endpoint_is_503_not_500() {
    let (app, emulator) = with_google(EmulatorConfig::default()).await;
    let user = app.user().await;
    let query = consent(&app, &user).await;
    emulator.push_fault(Fault::always(
        Match::operation(Operation::Token),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
    let response = callback(&app, &query).await;
    let status_code = response.status();
    let answer = body(response).await;
    assert_eq!(status_code, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(answer["detail"].is_string());
    assert_eq!(status(&app, &user).await["connected"], false);
}

#[tokio::test]
async fn without_client_credentials_connect_says_what_to_set() {
    let app = spawn_app().await;
    let user = app.user().await;
    let response = app
        .get("/api/integrations/google-calendar/connect/", &user.access)
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let detail = body(response).await["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("GOOGLE_CLIENT_ID") && detail.contains("GOOGLE_CLIENT_SECRET"),
        "{detail}"
    );
}

#[tokio::test]
async fn strict_browser_binding_needs_the_cookie_from_connect() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| {
        use_emulator(s, &emulator);
        s.google.strict_browser_binding = true;
    })
    .await;
    let user = app.user().await;
    // A script without the cookie is refused…
    let query = consent(&app, &user).await;
    assert_eq!(
        callback(&app, &query).await.status(),
        StatusCode::BAD_REQUEST
    );

    // …a browser that keeps cookies is let through.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let connect = browser
        .get(format!(
            "{}/api/integrations/google-calendar/connect/",
            app.address
        ))
        .bearer_auth(&user.access)
        .send()
        .await
        .expect("connect");
    let cookie = connect.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let url = body(connect).await["authorization_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let location = browser.get(&url).send().await.expect("consent").headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let query = location.split_once('?').expect("query").1;
    let response = browser
        .get(format!(
            "{}/api/integrations/google-calendar/callback/?{query}",
            app.address
        ))
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn disconnect_forgets_and_revokes_the_token() {
    let (app, emulator) = with_google(EmulatorConfig::default()).await;
    let user = connected_user(&app).await;
    let response = app
        .post(
            "/api/integrations/google-calendar/disconnect/",
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"message": "Google Calendar disconnected successfully"})
    );
    assert_eq!(status(&app, &user).await["connected"], false);
    let revoked = emulator
        .request_log()
        .iter()
        .any(|r| r.operation == Operation::Revoke && r.status == 200);
    assert!(revoked, "the token was not revoked at Google");
}

#[tokio::test]
async fn tokens_are_refreshed_early_and_invalid_grant_stops_all_token_calls() {
    let (app, emulator, settings) = spawn_app_with_google(short_lived_tokens()).await;
    let user = connected_user(&app).await;

    let state = phantom_app::startup::app_state(&app.database().await, &settings).expect("state");
    let first = state
        .connection
        .access_token(UserId(user.id))
        .await
        .expect("refreshed");
    let second = state
        .connection
        .access_token(UserId(user.id))
        .await
        .expect("refreshed");
    assert_ne!(first, second, "no new access token");
    let refreshes = |e: &Emulator| answers(e, Operation::Refresh).len();
    assert_eq!(refreshes(&emulator), 2);

    emulator.invalidate_all_refresh_tokens();
    for _ in 0..3 {
        let result = state.connection.access_token(UserId(user.id)).await;
        assert!(
            matches!(result, Err(ConnectionError::NeedsReconnect)),
            "{result:?}"
        );
    }
    assert_eq!(
        refreshes(&emulator),
        3,
        "token calls went on after invalid_grant"
    );
    assert_eq!(flags(&app, &user).await, (Some(false), Some(true)));
}

#[tokio::test]
async fn rotating_the_token_key_keeps_tokens_readable() {
    use std::sync::Arc;

    use phantom_adapters::crypto::TokenCipher;
    use phantom_adapters::db::DieselTokenStore;
    use phantom_domain::google::StoredToken;
    use phantom_domain::ports::TokenStore;

    let (app, _emulator) = with_google(EmulatorConfig::default()).await;
    let user = connected_user(&app).await;

    // The key test servers use (see helpers::test_settings), and a new one.
    let old_key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let new_key = [42u8; 32];
    let db = app.database().await;
    let new_only = DieselTokenStore::new(db.clone(), Arc::new(TokenCipher::new(&new_key, None)));
    let id = UserId(user.id);
    assert!(
        matches!(new_only.load(id).await, Ok(StoredToken::NeedsReconnect)),
        "unreadable is not 'reconnect'"
    );
    let shown = new_only.status(id).await.expect("status");
    assert!(!shown.connected && shown.needs_reconnect);

    let rotating = DieselTokenStore::new(
        db.clone(),
        Arc::new(TokenCipher::new(&new_key, Some(&old_key))),
    );
    assert_eq!(rotating.reseal_all().await.expect("reseal"), 1);
    assert_eq!(
        rotating.reseal_all().await.expect("reseal"),
        0,
        "resealing is not idempotent"
    );
    assert!(matches!(
        new_only.load(id).await,
        Ok(StoredToken::Present(_))
    ));
    assert!(new_only.status(id).await.expect("status").connected);
    // The server still on the old key now reads the user as needing to reconnect, not a 500.
    assert_eq!(flags(&app, &user).await, (Some(false), Some(true)));
}

#[tokio::test]
async fn two_processes_needing_a_fresh_token_refresh_it_once() {
    let (app, emulator, settings) = spawn_app_with_google(short_lived_tokens()).await;
    let user = connected_user(&app).await;
    // The server's own worker reads the calendar right after connecting, refreshing the
    // token first: wait for that read, so that only the two processes below refresh.
    crate::helpers::eventually(
        "the first read after connecting",
        Duration::from_secs(15),
        async || {
            status(&app, &user).await["google_changes"]["last_read_at"]
                .is_string()
                .then_some(())
        },
    )
    .await;
    emulator.clear_request_log();

    // Two independent service stacks on the same database stand for two server processes.
    let first = phantom_app::startup::app_state(&app.database().await, &settings).expect("state");
    let second = phantom_app::startup::app_state(&app.database().await, &settings).expect("state");
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Refresh),
        FaultAction::Delay(Duration::from_millis(400)),
    ));
    let id = UserId(user.id);
    let (a, b) = tokio::join!(
        first.connection.access_token(id),
        second.connection.access_token(id)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b, "the waiting process did not get the refreshed token");
    let refreshes = answers(&emulator, Operation::Refresh).len();
    assert_eq!(refreshes, 1, "both processes refreshed");
}

#[tokio::test]
async fn a_revocation_google_cannot_take_now_is_retried_later() {
    use diesel::prelude::*;
    use phantom_adapters::db::schema::google_revocations as gr;

    let (app, emulator, settings) = spawn_app_with_google(EmulatorConfig::default()).await;
    let user = connected_user(&app).await;

    emulator.push_fault(unavailable(Operation::Revoke));
    let response = app
        .post(
            "/api/integrations/google-calendar/disconnect/",
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "disconnect must not depend on Google"
    );
    assert_eq!(status(&app, &user).await["connected"], false);

    let db = app.database().await;
    let queued = |db: phantom_adapters::db::Database| async move {
        db.read(|c| {
            gr::table
                .select((gr::attempts, gr::token))
                .load::<(i32, String)>(c)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("queue")
    };
    let rows = queued(db.clone()).await;
    assert_eq!(rows.len(), 1, "the failed revocation is not queued");
    assert_eq!(rows[0].0, 1);
    assert!(
        rows[0].1.starts_with("v1."),
        "the queued token is not sealed"
    );

    // Google is back, and the retry is due (moved from a minute ahead to now).
    emulator.clear_faults();
    db.write(|c| {
        diesel::update(gr::table)
            .set(gr::available_at.eq(Utc::now().naive_utc() - TimeDelta::seconds(1)))
            .execute(c)
            .map_err(phantom_domain::error::RepoError::storage)
    })
    .await
    .expect("make due");
    let state = phantom_app::startup::app_state(&db, &settings).expect("state");
    assert_eq!(state.connection.revoke_pending().await.expect("retry"), 1);
    assert!(queued(db).await.is_empty());
    assert_eq!(answers(&emulator, Operation::Revoke), [503, 200]);
}
