//! Push notifications end to end: with `PHANTOM_PUBLIC_URL` set, a watch channel is opened on
//! the user's calendar, the emulator calls the server on every change, and only a live
//! channel with its exact token makes the server read; channels are renewed with no gap and
//! stopped before the token is revoked.

use std::time::Duration;

use phantom_google_emulator::{
    DeliveryOutcome, Emulator, EventDateTime, EventEdit, Operation, ResourceState,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{self, TestApp, TestUser, answers, body, connected_with};

/// A connected user, no polling: changes come back only through notifications to the
/// server's own loopback address, channels asked for `ttl`.
async fn notified(ttl: Duration) -> (TestApp, Emulator, TestUser) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    connected_with(|s| {
        s.bind = ([127, 0, 0, 1], port).into();
        s.sync.retry_base = Duration::from_millis(20);
        s.sync.poll = None;
        s.sync.public_url = Some(format!("http://127.0.0.1:{port}"));
        s.sync.channel_ttl = ttl;
    })
    .await
}

async fn eventually<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    helpers::eventually(what, Duration::from_secs(15), check).await
}

async fn status(app: &TestApp, user: &TestUser) -> Value {
    body(
        app.get("/api/integrations/google-calendar/status/", &user.access)
            .await,
    )
    .await
}

async fn event_count(app: &TestApp, user: &TestUser) -> u64 {
    body(app.get("/api/events/?page_size=1", &user.access).await).await["count"]
        .as_u64()
        .unwrap_or(0)
}

fn lunch() -> EventEdit {
    EventEdit {
        summary: Some("Lunch".to_owned()),
        start: Some(EventDateTime::timed("2026-11-24T12:00:00Z", None)),
        end: Some(EventDateTime::timed("2026-11-24T13:00:00Z", None)),
        ..EventEdit::default()
    }
}

async fn notify(app: &TestApp, channel: &str, token: &str, state: &str) -> reqwest::Response {
    app.client
        .post(format!(
            "{}/api/integrations/google-calendar/notifications/",
            app.address
        ))
        .header("X-Goog-Channel-ID", channel)
        .header("X-Goog-Channel-Token", token)
        .header("X-Goog-Resource-ID", "resource")
        .header("X-Goog-Resource-State", state)
        .header("X-Goog-Message-Number", "7")
        .send()
        .await
        .expect("notification sent")
}

#[tokio::test]
async fn a_change_in_google_comes_back_through_a_notification_without_polling() {
    let (app, emulator, user) = notified(Duration::from_secs(604_800)).await;
    let channel = eventually("a channel is open", async || {
        emulator.channels().into_iter().next()
    })
    .await;
    assert!(
        channel
            .address
            .ends_with("/api/integrations/google-calendar/notifications/")
    );
    assert!(channel.token.as_deref().is_some_and(|t| t.len() >= 32));
    let open = eventually("the status says so", async || {
        let s = status(&app, &user).await;
        (s["google_changes"]["notifications"] == "on").then_some(s)
    })
    .await;
    assert!(open["google_changes"]["channel_expires_at"].is_string());

    emulator
        .create_event(emulator.default_user(), lunch())
        .expect("created in Google");
    eventually("the notified change is imported", async || {
        (event_count(&app, &user).await == 1).then_some(())
    })
    .await;
    let delivered = emulator.notifications();
    assert!(
        delivered
            .iter()
            .any(|n| n.resource_state == ResourceState::Exists
                && matches!(n.outcome, DeliveryOutcome::Answered { status: 200 }))
    );
}

#[tokio::test]
async fn forged_or_idle_notifications_change_nothing() {
    let (app, emulator, user) = notified(Duration::from_secs(604_800)).await;
    let channel = eventually("a channel is open", async || {
        emulator.channels().into_iter().next()
    })
    .await;
    eventually("the first read is done", async || {
        status(&app, &user).await["google_changes"]["last_read_at"]
            .is_string()
            .then_some(())
    })
    .await;
    // Nothing changes in Google from here on, so only the posts below could cause a read.
    let reads = answers(&emulator, Operation::List).len();
    let token = channel.token.clone().expect("a token");
    for (id, token, state) in [
        ("no-such-channel", token.as_str(), "exists"),
        (
            channel.id.as_str(),
            "a-guessed-token-of-the-right-length-000000",
            "exists",
        ),
        (channel.id.as_str(), "", "exists"),
        (channel.id.as_str(), token.as_str(), "sync"),
        (channel.id.as_str(), token.as_str(), "bogus"),
    ] {
        let answer = notify(&app, id, token, state).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(
            answer.bytes().await.expect("body").is_empty(),
            "it reveals something"
        );
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        answers(&emulator, Operation::List).len(),
        reads,
        "a forged or idle notification caused a read"
    );
    let answer = notify(&app, &channel.id, &token, "not_exists").await;
    assert_eq!(answer.status(), StatusCode::OK);
    eventually("the genuine notification reads", async || {
        (answers(&emulator, Operation::List).len() > reads).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_channel_is_renewed_with_no_gap_and_stopped_before_the_token_is_revoked() {
    // Four seconds to live: renewed once two are left.
    let (app, emulator, user) = notified(Duration::from_secs(4)).await;
    let first = eventually("a channel is open", async || {
        emulator.channels().into_iter().next()
    })
    .await;
    let second = eventually("a new channel replaces it", async || {
        let live = emulator.channels();
        (live.len() == 1 && live[0].id != first.id).then(|| live[0].clone())
    })
    .await;
    let log = emulator.request_log();
    let position = |op: Operation, status: u16| {
        log.iter()
            .enumerate()
            .filter(|(_, r)| r.operation == op && r.status == status)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let (watches, stops) = (
        position(Operation::Watch, 200),
        position(Operation::StopChannel, 204),
    );
    assert!(
        watches.len() >= 2 && !stops.is_empty(),
        "{watches:?} {stops:?}"
    );
    assert!(
        watches[1] < stops[0],
        "the old channel was stopped before the new one opened"
    );

    let answer = app
        .post(
            "/api/integrations/google-calendar/disconnect/",
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        emulator.channels().iter().all(|c| c.id != second.id),
        "still watching"
    );
    let log = emulator.request_log();
    let last_stop = log
        .iter()
        .rposition(|r| r.operation == Operation::StopChannel)
        .expect("stopped");
    let revoke = log
        .iter()
        .rposition(|r| r.operation == Operation::Revoke)
        .expect("revoked");
    assert!(
        last_stop < revoke,
        "the token was revoked before the channel was stopped"
    );
}
