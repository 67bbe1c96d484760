//! Fidelity check: Google's generated `google-calendar3` client, which
//! Phantom Scheduler uses, must accept the emulator's answers.

use google_calendar3::CalendarHub;
use google_calendar3::api::{Event, EventDateTime};

use crate::support::*;

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
