//! Push notifications end to end: with `PHANTOM_PUBLIC_URL` set, a watch channel is opened on
//! the user's calendar, the emulator calls the server on every change, and only a live
//! channel with its exact token makes the server read; channels are renewed with no gap and
//! stopped before the token is revoked.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use phantom_google_emulator::{
    DeliveryOutcome, Emulator, EmulatorConfig, EventDateTime, EventEdit, Fault, FaultAction, Match,
    Operation, ResourceState,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{binary_env, start_with};
use crate::helpers::{
    self, TestApp, TestDb, TestUser, answers, body, connect_google, connected_on_port,
};

/// A connected user, no polling: changes come back only through notifications to the
/// server's own loopback address, channels asked for `ttl`.
async fn notified(ttl: Duration) -> (TestApp, Emulator, TestUser) {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let (app, user) = notified_by(&emulator, ttl).await;
    (app, emulator, user)
}

/// [`notified`] with an emulator the caller has started (and set faults on).
async fn notified_by(emulator: &Emulator, ttl: Duration) -> (TestApp, TestUser) {
    connected_on_port(emulator, |s, port| {
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

/// The first watch channel the emulator sees opened.
async fn open_channel(emulator: &Emulator) -> phantom_google_emulator::WatchChannel {
    eventually("a channel is open", async || {
        emulator.channels().into_iter().next()
    })
    .await
}

/// Waits for the first read and the one made right after the channel is on record, so that
/// no read is left in flight when a test starts counting them.
async fn both_first_reads_done(emulator: &Emulator) {
    eventually("the first two reads are done", async || {
        (answers(emulator, Operation::List).len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A lunch created in Google reaches the user's (empty) event list.
async fn lunch_made_in_google_arrives(app: &TestApp, emulator: &Emulator, user: &TestUser) {
    emulator
        .create_event(emulator.default_user(), lunch())
        .expect("created in Google");
    eventually("the change made in Google arrives", async || {
        (event_count(app, user).await == 1).then_some(())
    })
    .await;
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
    let channel = open_channel(&emulator).await;
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

    lunch_made_in_google_arrives(&app, &emulator, &user).await;
    let delivered = emulator.notifications();
    assert!(
        delivered
            .iter()
            .any(|n| n.resource_state == ResourceState::Exists
                && matches!(n.outcome, DeliveryOutcome::Answered { status: 200 }))
    );
}

/// A change made in Google after the first read but before the watch channel exists reaches
/// no channel: the read made once the channel is on record brings it back (polling is off).
#[tokio::test]
async fn a_change_made_while_the_channel_opens_is_not_missed() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    emulator.push_fault(Fault::once(
        Match::operation(Operation::Watch),
        FaultAction::Delay(Duration::from_millis(1500)),
    ));
    let (app, user) = notified_by(&emulator, Duration::from_secs(604_800)).await;
    eventually("the first read", async || {
        (!answers(&emulator, Operation::List).is_empty()).then_some(())
    })
    .await;
    assert!(
        emulator.channels().is_empty(),
        "the channel opened too soon"
    );
    lunch_made_in_google_arrives(&app, &emulator, &user).await;
    assert!(
        emulator
            .notifications()
            .iter()
            .all(|n| n.resource_state != ResourceState::Exists),
        "the change was notified: the test no longer makes the gap it is about"
    );
}

#[tokio::test]
async fn forged_or_idle_notifications_change_nothing() {
    let (app, emulator, _) = notified(Duration::from_secs(604_800)).await;
    let channel = open_channel(&emulator).await;
    both_first_reads_done(&emulator).await;
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
    let first = open_channel(&emulator).await;
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
    assert_stopped_before_revoked(&emulator);
}

/// The last `channels.stop` came before the token's revocation.
fn assert_stopped_before_revoked(emulator: &Emulator) {
    let log = emulator.request_log();
    let last = |op: Operation| log.iter().rposition(|r| r.operation == op);
    let (stop, revoke) = (last(Operation::StopChannel), last(Operation::Revoke));
    assert!(
        stop.expect("stopped") < revoke.expect("revoked"),
        "the token was revoked before the channel was stopped"
    );
}

/// A channel Google cannot stop at the moment of disconnecting is stopped later, with the
/// token, and only then is the token revoked; meanwhile the user is disconnected and the
/// channel's notifications count no more.
#[tokio::test]
async fn a_channel_google_cannot_stop_at_disconnect_is_stopped_later_before_the_revocation() {
    use diesel::prelude::*;
    use phantom_adapters::db::schema::google_revocations as gr;

    let (app, emulator, user) = notified(Duration::from_secs(600)).await;
    let channel = open_channel(&emulator).await;
    eventually("the server keeps it", async || {
        (status(&app, &user).await["google_changes"]["notifications"] == "on").then_some(())
    })
    .await;
    both_first_reads_done(&emulator).await;
    emulator.push_fault(helpers::unavailable(Operation::StopChannel));
    let answer = app
        .post(
            "/api/integrations/google-calendar/disconnect/",
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(status(&app, &user).await["connected"], false);
    assert_eq!(answers(&emulator, Operation::StopChannel), [503]);
    assert!(
        answers(&emulator, Operation::Revoke).is_empty(),
        "revoked while Google still calls"
    );
    assert!(emulator.channels().iter().any(|c| c.id == channel.id));
    // Google goes on calling meanwhile: nothing is read for a disconnected user.
    emulator
        .create_event(emulator.default_user(), lunch())
        .expect("created");
    let token = channel.token.clone().unwrap_or_default();
    let reads = answers(&emulator, Operation::List).len();
    assert_eq!(
        notify(&app, &channel.id, &token, "exists").await.status(),
        StatusCode::OK
    );

    // Google is back and the retry is due (moved from a minute ahead to now).
    emulator.clear_faults();
    let db = app.database().await;
    db.write(|c| {
        diesel::update(gr::table)
            .set(gr::available_at.eq(Utc::now().naive_utc() - TimeDelta::seconds(1)))
            .execute(c)
            .map_err(phantom_domain::error::RepoError::storage)
    })
    .await
    .expect("make due");
    let mut settings = helpers::test_settings(&app.db.url());
    helpers::use_emulator(&mut settings, &emulator);
    let state = phantom_app::startup::app_state(&db, &settings).expect("state");
    assert_eq!(state.connection.revoke_pending().await.expect("retry"), 1);
    assert!(emulator.channels().is_empty(), "still watching");
    assert_eq!(answers(&emulator, Operation::StopChannel), [503, 204]);
    assert_eq!(answers(&emulator, Operation::Revoke), [200]);
    assert_stopped_before_revoked(&emulator);
    assert_eq!(answers(&emulator, Operation::List).len(), reads);
}

/// Channels live in the database: a server killed and started again on the same database
/// and address goes on taking the notifications of the channel its earlier life opened,
/// without opening another.
#[tokio::test]
async fn a_restarted_server_keeps_its_channels_working() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut env = binary_env(&db, &emulator, 20);
    env.extend([
        ("PHANTOM_BIND", format!("127.0.0.1:{port}")),
        ("PHANTOM_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("PHANTOM_GOOGLE_POLL_SECS", "0".to_owned()),
    ]);
    let mut server = start_with(dir.path(), &env).await;
    let app = TestApp {
        address: server.address.clone(),
        client: crate::helpers::http_client(),
        db,
    };
    let user = app.user().await;
    connect_google(&app, &user).await;
    let channel = open_channel(&emulator).await;
    // Killed only once Phantom has the channel on record too (Google opening it is not enough:
    // a server killed before keeping it opens another after the restart).
    eventually("the channel is on record", async || {
        status(&app, &user).await["google_changes"]["channel_expires_at"]
            .is_string()
            .then_some(())
    })
    .await;

    server.kill_now();
    let _server = start_with(dir.path(), &env).await;
    lunch_made_in_google_arrives(&app, &emulator, &user).await;
    let live = emulator.channels();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, channel.id);
    assert_eq!(answers(&emulator, Operation::Watch), [200]);
}

/// A change notified while a read is on its way back (its page made before the change) is
/// read once that read ends: the notification asks for one more read, it is not dropped
/// because a read was already due (polling is off, so nothing else would bring it).
#[tokio::test]
async fn a_change_notified_during_a_read_is_read_after_it() {
    let (app, emulator, user) = notified(Duration::from_secs(604_800)).await;
    open_channel(&emulator).await;
    both_first_reads_done(&emulator).await;
    // The next read's page is made at once and held on its way back for 2 s.
    emulator.push_fault(Fault::once(
        Match::operation(Operation::List),
        FaultAction::DelayAnswer(Duration::from_secs(2)),
    ));
    emulator
        .create_event(emulator.default_user(), lunch())
        .expect("created in Google");
    // The lunch's notification starts that read: the fault is taken, its page made.
    eventually(
        "the read the lunch's notification asked for is held",
        async || emulator.armed_faults().is_empty().then_some(()),
    )
    .await;
    emulator
        .create_event(
            emulator.default_user(),
            EventEdit {
                summary: Some("Dinner".to_owned()),
                start: Some(EventDateTime::timed("2026-11-24T19:00:00Z", None)),
                end: Some(EventDateTime::timed("2026-11-24T20:00:00Z", None)),
                ..EventEdit::default()
            },
        )
        .expect("created in Google");
    assert_eq!(
        event_count(&app, &user).await,
        0,
        "the held read already ended: the test no longer makes the overlap it is about"
    );
    eventually("both changes arrive", async || {
        (event_count(&app, &user).await == 2).then_some(())
    })
    .await;
}
