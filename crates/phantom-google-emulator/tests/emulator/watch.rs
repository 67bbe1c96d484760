//! `events.watch`, `channels.stop` and the push notifications Google sends.

use std::time::Duration;

use phantom_google_emulator::{DeliveryOutcome, Emulator, EventDateTime, EventEdit, ResourceState};
use serde_json::{Value, json};

use crate::support::*;

fn watch_url(emu: &Emulator) -> String {
    format!("{}/watch", events_url(emu))
}

fn stop_url(emu: &Emulator) -> String {
    format!("{}channels/stop", emu.calendar_api_url())
}

async fn watch(emu: &Emulator, access: &str, body: &Value) -> reqwest::Response {
    send(http().post(watch_url(emu)).bearer_auth(access).json(body)).await
}

fn channel(id: &str, address: &str, token: Option<&str>) -> Value {
    let mut body = json!({
        "id": id,
        "type": "web_hook",
        "address": address,
        "params": { "ttl": "604800" },
    });
    if let Some(token) = token {
        body["token"] = token.into();
    }
    body
}

/// Waits until the emulator recorded `count` notifications.
async fn notifications(emu: &Emulator, count: usize) -> Vec<phantom_google_emulator::Notification> {
    for _ in 0..500 {
        let sent = emu.notifications();
        if sent.len() >= count {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected {count} notifications, got {:?}",
        emu.notifications()
    );
}

#[tokio::test]
async fn watch_sends_sync_then_exists_on_every_change() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let receiver = Receiver::start(200).await;
    let before = chrono::Utc::now();
    let answer = watch(
        &emu,
        &access,
        &channel("channel-1", &receiver.url, Some("s3cret")),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let resource = json_of(answer).await;
    assert_eq!(resource["kind"], "api#channel");
    assert_eq!(resource["id"], "channel-1");
    assert_eq!(resource["token"], "s3cret");
    let resource_id = resource["resourceId"].as_str().unwrap().to_owned();
    assert!(
        resource["resourceUri"]
            .as_str()
            .unwrap()
            .ends_with("/calendar/v3/calendars/primary/events?alt=json")
    );
    let expiration: i64 = resource["expiration"].as_str().unwrap().parse().unwrap();
    let week = (before + chrono::TimeDelta::seconds(604_800)).timestamp_millis();
    assert!(
        (week..week + 60_000).contains(&expiration),
        "{expiration} vs {week}"
    );

    let sync = receiver.wait_for(1).await;
    let (headers, body) = &sync[0];
    assert_eq!(*body, 0, "notifications have an empty body");
    assert_eq!(headers["x-goog-channel-id"], "channel-1");
    assert_eq!(headers["x-goog-channel-token"], "s3cret");
    assert_eq!(headers["x-goog-resource-id"], resource_id);
    assert_eq!(
        headers["x-goog-resource-uri"],
        resource["resourceUri"].as_str().unwrap()
    );
    assert_eq!(headers["x-goog-resource-state"], "sync");
    assert_eq!(headers["x-goog-message-number"], "1");
    assert!(headers["x-goog-channel-expiration"].ends_with(" GMT"));

    // A change through the API, then three made "in Google".
    insert(&emu, &access, &sample_event(Some("seen00001"))).await;
    let edit = EventEdit {
        summary: Some("Moved".into()),
        ..EventEdit::default()
    };
    emu.edit_event("primary", "seen00001", edit).unwrap();
    let created = emu
        .create_event(
            emu.default_user(),
            EventEdit {
                summary: Some("Made on a phone".into()),
                start: Some(EventDateTime::all_day("2030-05-03")),
                end: Some(EventDateTime::all_day("2030-05-04")),
                ..EventEdit::default()
            },
        )
        .unwrap();
    emu.delete_event("primary", &created.id).unwrap();

    let all = receiver.wait_for(5).await;
    let states: Vec<&str> = all
        .iter()
        .map(|(h, _)| h["x-goog-resource-state"].as_str())
        .collect();
    assert_eq!(states, ["sync", "exists", "exists", "exists", "exists"]);
    let numbers: Vec<u64> = all
        .iter()
        .map(|(h, _)| h["x-goog-message-number"].parse().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "{numbers:?}"
    );
    assert!(
        all.iter()
            .all(|(h, _)| h["x-goog-resource-id"] == resource_id)
    );

    let log = notifications(&emu, 5).await;
    assert_eq!(log[0].resource_state, ResourceState::Sync);
    assert!(
        log.iter()
            .all(|sent| sent.outcome == DeliveryOutcome::Answered { status: 200 })
    );
    assert_eq!(emu.channels().len(), 1);
    receiver.stop().await;
}

#[tokio::test]
async fn stopped_and_expired_channels_get_nothing() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let receiver = Receiver::start(200).await;
    let resource =
        json_of(watch(&emu, &access, &channel("to-stop", &receiver.url, None)).await).await;
    let first = receiver.wait_for(1).await;
    assert!(
        !first[0].0.contains_key("x-goog-channel-token"),
        "no token given, none sent"
    );

    let stop = |id: &str, resource_id: &str| {
        http()
            .post(stop_url(&emu))
            .bearer_auth(&access)
            .json(&json!({ "id": id, "resourceId": resource_id }))
    };
    let resource_id = resource["resourceId"].as_str().unwrap();
    let stopped = send(stop("to-stop", resource_id)).await;
    assert_eq!(stopped.status(), 204);
    assert!(stopped.bytes().await.unwrap().is_empty());
    assert_eq!(
        send(stop("to-stop", resource_id)).await.status(),
        404,
        "already stopped"
    );
    let unknown = send(stop("never-opened", resource_id)).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(reason(&json_of(unknown).await), "notFound");
    assert!(emu.channels().is_empty());

    // A channel id may be reused once its channel is gone; it can expire.
    watch(&emu, &access, &channel("to-stop", &receiver.url, None)).await;
    receiver.wait_for(2).await;
    let duplicate = watch(&emu, &access, &channel("to-stop", &receiver.url, None)).await;
    assert_eq!(duplicate.status(), 400);
    assert_eq!(reason(&json_of(duplicate).await), "channelIdNotUnique");
    emu.expire_all_channels();
    insert(&emu, &access, &sample_event(Some("unheard01"))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2, "only the two sync messages");
    assert!(emu.channels().is_empty());
    receiver.stop().await;
}

#[tokio::test]
async fn watch_checks_the_request_like_google() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let refused = watch(
        &emu,
        &access,
        &channel("plain", "http://phantom.example.com/hook", None),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let body = json_of(refused).await;
    assert_eq!(reason(&body), "push.webhookUrlNotHttps");

    for body in [
        json!({ "type": "web_hook", "address": "https://phantom.example.com/hook" }),
        json!({ "id": "x", "type": "carrier_pigeon", "address": "https://phantom.example.com/hook" }),
        json!({ "id": "x", "type": "web_hook" }),
        json!({ "id": "x", "type": "web_hook", "address": "https://a.example/h", "params": { "ttl": "soon" } }),
        json!({ "id": "with space", "type": "web_hook", "address": "https://a.example/h" }),
    ] {
        assert_eq!(watch(&emu, &access, &body).await.status(), 400, "{body}");
    }
    let unauthenticated = send(http().post(watch_url(&emu)).json(&channel(
        "a",
        "https://a.example/h",
        None,
    )))
    .await;
    assert_eq!(unauthenticated.status(), 401);

    // https is what Google wants; the emulator accepts it but never leaves
    // the machine, so the delivery is recorded as skipped.
    let accepted = watch(
        &emu,
        &access,
        &channel("remote", "https://phantom.example.com/hook", None),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    let log = notifications(&emu, 1).await;
    assert!(
        matches!(log[0].outcome, DeliveryOutcome::Skipped { .. }),
        "{log:?}"
    );
}

#[tokio::test]
async fn failed_deliveries_are_recorded_and_not_retried() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let refusing = Receiver::start(500).await;
    watch(&emu, &access, &channel("refused", &refusing.url, None)).await;
    // Nothing listens on this one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    watch(&emu, &access, &channel("dead", &dead, None)).await;
    let log = notifications(&emu, 2).await;
    assert_eq!(log[0].outcome, DeliveryOutcome::Answered { status: 500 });
    assert!(
        matches!(log[1].outcome, DeliveryOutcome::Failed { .. }),
        "{log:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(refusing.received().len(), 1, "no retry");
    assert_eq!(emu.notifications().len(), 2);

    // The log over HTTP, and clearing it.
    let control = format!("{}/_emulator/notifications", emu.base_url());
    let listed: Value = json_of(send(http().get(&control)).await).await;
    assert_eq!(
        listed[0]["outcome"],
        json!({ "answered": { "status": 500 } })
    );
    assert_eq!(listed[0]["resource_state"], "sync");
    assert_eq!(send(http().delete(&control)).await.status(), 204);
    assert!(emu.notifications().is_empty());
    let channels: Value =
        json_of(send(http().get(format!("{}/_emulator/channels", emu.base_url()))).await).await;
    assert_eq!(channels.as_array().unwrap().len(), 2);
    send(http().post(format!("{}/_emulator/channels/expire", emu.base_url()))).await;
    assert!(emu.channels().is_empty());
    refusing.stop().await;
}
