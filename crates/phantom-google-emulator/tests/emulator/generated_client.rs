//! Fidelity check: Google's generated `google-calendar3` client, which
//! Phantom Scheduler uses, must accept the emulator's answers.

use google_calendar3::api::{Channel, Event, EventDateTime};
use google_calendar3::{CalendarHub, Error};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use phantom_google_emulator::{Emulator, EventEdit};

use crate::support::*;

type Hub = CalendarHub<HttpsConnector<HttpConnector>>;

/// The generated client, pointed at the emulator with a fresh access token.
async fn hub(emu: &Emulator) -> Hub {
    let access = sign_in(emu).await.access;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .expect("native roots")
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let mut hub = CalendarHub::new(client, access);
    hub.base_url(emu.calendar_api_url());
    hub.root_url(format!("{}/", emu.base_url()));
    hub
}

#[tokio::test]
async fn generated_client_inserts_patches_gets_and_deletes() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .expect("native roots")
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let mut hub = CalendarHub::new(client, access);
    hub.base_url(emu.calendar_api_url());
    hub.root_url(format!("{}/", emu.base_url()));

    let at = |rfc3339: &str| EventDateTime {
        date_time: Some(rfc3339.parse().unwrap()),
        time_zone: Some("Europe/Berlin".into()),
        ..EventDateTime::default()
    };
    let event = Event {
        id: Some("generated0001".into()),
        summary: Some("Standup".into()),
        start: Some(at("2030-03-04T09:00:00Z")),
        end: Some(at("2030-03-04T09:15:00Z")),
        color_id: Some("2".into()),
        ..Event::default()
    };
    let (_, inserted) = hub
        .events()
        .insert(event.clone(), "primary")
        .doit()
        .await
        .unwrap();
    assert_eq!(inserted.id.as_deref(), Some("generated0001"));
    assert_eq!(inserted.status.as_deref(), Some("confirmed"));
    assert!(inserted.created.is_some() && inserted.updated.is_some());
    assert_eq!(
        inserted.start.unwrap().date_time,
        Some("2030-03-04T09:00:00Z".parse().unwrap())
    );

    let duplicate = hub.events().insert(event, "primary").doit().await;
    assert!(duplicate.is_err(), "409 must surface as an error");

    let change = Event {
        summary: Some("Standup (short)".into()),
        ..Event::default()
    };
    let (_, patched) = hub
        .events()
        .patch(change, "primary", "generated0001")
        .doit()
        .await
        .unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Standup (short)"));
    assert_eq!(patched.color_id.as_deref(), Some("2"));

    let (_, fetched) = hub
        .events()
        .get("primary", "generated0001")
        .doit()
        .await
        .unwrap();
    assert_eq!(fetched.summary.as_deref(), Some("Standup (short)"));
    assert_eq!(
        fetched.i_cal_uid.as_deref(),
        Some("generated0001@google.com")
    );

    let (_, listed) = hub
        .events()
        .list("primary")
        .max_results(10)
        .doit()
        .await
        .unwrap();
    assert_eq!(listed.items.unwrap().len(), 1);

    let response = hub
        .events()
        .delete("primary", "generated0001")
        .doit()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, cancelled) = hub
        .events()
        .get("primary", "generated0001")
        .doit()
        .await
        .unwrap();
    assert_eq!(cancelled.status.as_deref(), Some("cancelled"));
}

/// Reads every page of an incremental (or full) read with the generated
/// client; returns the event ids and the `nextSyncToken`.
async fn read_all(hub: &Hub, sync_token: Option<&str>) -> Result<(Vec<Event>, String), Error> {
    let mut items = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut call = hub
            .events()
            .list("primary")
            .max_results(2)
            .show_deleted(true);
        if let Some(token) = sync_token {
            call = call.sync_token(token);
        }
        if let Some(token) = &page_token {
            call = call.page_token(token);
        }
        let (_, page) = call.doit().await?;
        items.extend(page.items.unwrap_or_default());
        match page.next_page_token {
            Some(next) => {
                assert!(page.next_sync_token.is_none());
                page_token = Some(next);
            }
            None => return Ok((items, page.next_sync_token.expect("nextSyncToken"))),
        }
    }
}

#[tokio::test]
async fn generated_client_syncs_incrementally_and_watches() {
    let emu = emulator().await;
    let hub = hub(&emu).await;
    let day = |date: &str| EventDateTime {
        date: Some(date.parse().unwrap()),
        ..EventDateTime::default()
    };
    for (id, date) in [
        ("gen0001", "2030-06-01"),
        ("gen0002", "2030-06-02"),
        ("gen0003", "2030-06-03"),
    ] {
        let next = format!("2030-06-0{}", date[9..].parse::<u8>().unwrap() + 1);
        let event = Event {
            id: Some(id.into()),
            summary: Some(format!("All day {id}")),
            start: Some(day(date)),
            end: Some(day(&next)),
            color_id: Some("4".into()),
            ..Event::default()
        };
        let (_, inserted) = hub.events().insert(event, "primary").doit().await.unwrap();
        assert_eq!(inserted.start.unwrap().date, Some(date.parse().unwrap()));
    }
    let (all, token) = read_all(&hub, None).await.unwrap();
    assert_eq!(all.len(), 3, "two pages of two");

    // Patch keeps the colour; a change "in Google" and a delete follow.
    let (_, patched) = hub
        .events()
        .patch(
            Event {
                summary: Some("Renamed".into()),
                ..Event::default()
            },
            "primary",
            "gen0001",
        )
        .doit()
        .await
        .unwrap();
    assert_eq!(patched.color_id.as_deref(), Some("4"));
    assert_ne!(patched.etag, all[0].etag);
    assert!(patched.updated > all[0].updated);
    emu.edit_event(
        "primary",
        "gen0002",
        EventEdit {
            description: Some("from the phone".into()),
            ..EventEdit::default()
        },
    )
    .unwrap();
    hub.events()
        .delete("primary", "gen0003")
        .doit()
        .await
        .unwrap();

    let (changes, next) = read_all(&hub, Some(&token)).await.unwrap();
    let ids: Vec<_> = changes
        .iter()
        .map(|event| event.id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["gen0001", "gen0002", "gen0003"]);
    assert_eq!(changes[1].description.as_deref(), Some("from the phone"));
    assert_eq!(changes[2].status.as_deref(), Some("cancelled"));
    assert!(read_all(&hub, Some(&next)).await.unwrap().0.is_empty());

    emu.invalidate_sync_tokens();
    match read_all(&hub, Some(&next)).await {
        Err(Error::BadRequest(body)) => {
            assert_eq!(body["error"]["code"], 410);
            assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
        }
        other => panic!("expected 410 fullSyncRequired, got {other:?}"),
    }

    let receiver = Receiver::start(200).await;
    let request = Channel {
        id: Some("generated-channel".into()),
        type_: Some("web_hook".into()),
        address: Some(receiver.url.clone()),
        token: Some("tok".into()),
        params: Some([("ttl".to_owned(), "3600".to_owned())].into()),
        ..Channel::default()
    };
    let (_, channel) = hub.events().watch(request, "primary").doit().await.unwrap();
    assert_eq!(channel.kind.as_deref(), Some("api#channel"));
    assert_eq!(channel.id.as_deref(), Some("generated-channel"));
    assert!(channel.expiration.unwrap() > chrono::Utc::now().timestamp_millis());
    assert!(channel.resource_id.is_some() && channel.resource_uri.is_some());
    receiver.wait_for(1).await;
    let response = hub.channels().stop(channel.clone()).doit().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        hub.channels().stop(channel).doit().await.is_err(),
        "404 once stopped"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn generated_client_reads_and_changes_instances() {
    let emu = emulator().await;
    let hub = hub(&emu).await;
    let local = |rfc3339: &str| EventDateTime {
        date_time: Some(rfc3339.parse().unwrap()),
        time_zone: Some("Europe/London".into()),
        ..EventDateTime::default()
    };
    let series = Event {
        id: Some("genseries1".into()),
        summary: Some("Weekly review".into()),
        start: Some(local("2026-10-12T09:00:00+01:00")),
        end: Some(local("2026-10-12T10:00:00+01:00")),
        recurrence: Some(vec![
            "RRULE:FREQ=WEEKLY;COUNT=4".into(),
            "EXDATE;TZID=Europe/London:20261102T090000".into(),
        ]),
        ..Event::default()
    };
    let (_, inserted) = hub.events().insert(series, "primary").doit().await.unwrap();
    assert_eq!(inserted.recurrence.unwrap().len(), 2);

    // Across the end of summer time: 08:00Z, then 09:00Z.
    let (_, page) = hub
        .events()
        .instances("primary", "genseries1")
        .time_min("2026-10-01T00:00:00Z".parse().unwrap())
        .time_max("2026-12-01T00:00:00Z".parse().unwrap())
        .doit()
        .await
        .unwrap();
    let items = page.items.unwrap();
    let ids: Vec<_> = items
        .iter()
        .map(|event| event.id.clone().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "genseries1_20261012T080000Z",
            "genseries1_20261019T080000Z",
            "genseries1_20261026T090000Z"
        ]
    );
    assert_eq!(items[0].recurring_event_id.as_deref(), Some("genseries1"));
    assert_eq!(
        items[2].original_start_time.as_ref().unwrap().date_time,
        Some("2026-10-26T09:00:00Z".parse().unwrap())
    );

    let (_, patched) = hub
        .events()
        .patch(
            Event {
                summary: Some("Review (moved room)".into()),
                ..Event::default()
            },
            "primary",
            "genseries1_20261019T080000Z",
        )
        .doit()
        .await
        .unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Review (moved room)"));
    assert_eq!(patched.recurring_event_id.as_deref(), Some("genseries1"));
    let (_, fetched) = hub
        .events()
        .get("primary", "genseries1_20261019T080000Z")
        .doit()
        .await
        .unwrap();
    assert_eq!(fetched.summary.as_deref(), Some("Review (moved room)"));
    assert_eq!(fetched.i_cal_uid.as_deref(), Some("genseries1@google.com"));
    let (_, excluded) = hub
        .events()
        .get("primary", "genseries1_20261102T090000Z")
        .doit()
        .await
        .unwrap();
    assert_eq!(excluded.status.as_deref(), Some("cancelled"));
    assert!(
        hub.events()
            .get("primary", "genseries1_20261019t080000z")
            .doit()
            .await
            .is_err(),
        "404 for a lower-case instance id"
    );

    let (_, single) = hub
        .events()
        .list("primary")
        .single_events(true)
        .order_by("startTime")
        .time_min("2026-10-01T00:00:00Z".parse().unwrap())
        .time_max("2026-12-01T00:00:00Z".parse().unwrap())
        .doit()
        .await
        .unwrap();
    assert!(single.next_sync_token.is_none());
    let summaries: Vec<_> = single
        .items
        .unwrap()
        .into_iter()
        .map(|event| event.summary.unwrap())
        .collect();
    assert_eq!(
        summaries,
        ["Weekly review", "Review (moved room)", "Weekly review"]
    );

    // singleEvents=false: the series once, its changed instance beside it;
    // a cancelled instance parses though it carries only ids.
    hub.events()
        .delete("primary", "genseries1_20261026T090000Z")
        .doit()
        .await
        .unwrap();
    let (_, listed) = hub
        .events()
        .list("primary")
        .show_deleted(true)
        .doit()
        .await
        .unwrap();
    let items = listed.items.unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0].recurrence.is_some());
    assert_eq!(items[2].status.as_deref(), Some("cancelled"));
    assert!(items[2].summary.is_none() && items[2].original_start_time.is_some());
}
