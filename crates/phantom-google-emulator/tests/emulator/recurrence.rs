//! Recurring events: expansion in the series' zone, instance ids, changed and
//! cancelled instances, `events.instances`, `singleEvents`, and the controls.

use chrono::{DateTime, Utc};
use phantom_google_emulator::{EventDateTime, EventEdit, EventStatus};
use serde_json::{Value, json};

use crate::support::*;

/// A timed series of one hour starting at `start` (local) in `zone`.
fn series(id: &str, start: &str, end: &str, zone: &str, recurrence: &[&str]) -> Value {
    json!({
        "id": id,
        "summary": "Standup",
        "description": "Daily notes",
        "start": { "dateTime": start, "timeZone": zone },
        "end": { "dateTime": end, "timeZone": zone },
        "recurrence": recurrence,
    })
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("RFC 3339 instant")
}

async fn instances(
    emu: &phantom_google_emulator::Emulator,
    access: &str,
    id: &str,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let response = send(
        http()
            .get(format!("{}/instances", event_url(emu, id)))
            .query(query)
            .bearer_auth(access),
    )
    .await;
    (response.status().as_u16(), json_of(response).await)
}

async fn get(emu: &phantom_google_emulator::Emulator, access: &str, id: &str) -> (u16, Value) {
    let response = send(http().get(event_url(emu, id)).bearer_auth(access)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn field<'a>(items: &'a [Value], key: &str, sub: &str) -> Vec<&'a str> {
    items
        .iter()
        .map(|item| item[key][sub].as_str().expect("field"))
        .collect()
}

#[tokio::test]
async fn weekly_series_keeps_local_time_across_dst_both_ways() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = series(
        "london001",
        "2026-03-16T09:00:00",
        "2026-03-16T10:00:00",
        "Europe/London",
        &["RRULE:FREQ=WEEKLY;BYDAY=MO"],
    );
    assert_eq!(insert(&emu, &access, &body).await.status(), 200);

    // Spring forward on 29 March 2026: 09:00 GMT, then 09:00 BST = 08:00Z.
    let (status, page) = instances(
        &emu,
        &access,
        "london001",
        &[
            ("timeMin", "2026-03-20T00:00:00Z"),
            ("timeMax", "2026-04-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        ids(items),
        ["london001_20260323T090000Z", "london001_20260330T080000Z"]
    );
    assert_eq!(
        field(items, "start", "dateTime"),
        ["2026-03-23T09:00:00+00:00", "2026-03-30T09:00:00+01:00"]
    );
    assert_eq!(
        field(items, "end", "dateTime")[1],
        "2026-03-30T10:00:00+01:00"
    );
    assert_eq!(items[1]["recurringEventId"], "london001");
    assert_eq!(items[1]["originalStartTime"]["timeZone"], "Europe/London");
    assert_eq!(items[1]["summary"], "Standup");
    assert!(items[1].get("recurrence").is_none());
    assert_eq!(items[1]["iCalUID"], "london001@google.com");

    // Fall back on 25 October 2026: 08:00Z, then 09:00Z.
    let (items, _) = list_all(
        &emu,
        &access,
        &[
            ("singleEvents", "true"),
            ("timeMin", "2026-10-15T00:00:00Z"),
            ("timeMax", "2026-10-30T00:00:00Z"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&items),
        ["london001_20261019T080000Z", "london001_20261026T090000Z"]
    );
    assert_eq!(
        field(&items, "start", "dateTime"),
        ["2026-10-19T09:00:00+01:00", "2026-10-26T09:00:00+00:00"]
    );
}

#[tokio::test]
async fn all_day_series_with_exdate_by_date() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = json!({
        "id": "alldate01",
        "summary": "Holiday",
        "start": { "date": "2026-12-07" },
        "end": { "date": "2026-12-08" },
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20261209"],
    });
    assert_eq!(insert(&emu, &access, &body).await.status(), 200);
    let (items, _) = list_all(&emu, &access, &[("singleEvents", "true")])
        .await
        .unwrap();
    assert_eq!(
        ids(&items),
        [
            "alldate01_20261207",
            "alldate01_20261208",
            "alldate01_20261210",
            "alldate01_20261211"
        ]
    );
    assert_eq!(items[2]["start"]["date"], "2026-12-10");
    assert_eq!(items[2]["end"]["date"], "2026-12-11");
    assert_eq!(
        items[2]["originalStartTime"],
        json!({ "date": "2026-12-10" })
    );
    let (status, excluded) = get(&emu, &access, "alldate01_20261209").await;
    assert_eq!(status, 200);
    assert_eq!(excluded["status"], "cancelled");
    assert_eq!(
        get(&emu, &access, "alldate01_20261212").await.0,
        404,
        "past COUNT"
    );
    assert_eq!(
        get(&emu, &access, "alldate01_20261207T000000Z").await.0,
        404,
        "timed form"
    );
    let (_, with_deleted) = instances(&emu, &access, "alldate01", &[("showDeleted", "true")]).await;
    assert_eq!(with_deleted["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn exdate_with_tzid_and_in_utc_and_a_start_off_the_rule() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    // 1 May 2030 is a Wednesday: the start is not a Monday, yet it is the
    // first instance, as Google shows it.
    let body = series(
        "paris0001",
        "2030-05-01T10:00:00",
        "2030-05-01T11:00:00",
        "Europe/Paris",
        &[
            "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20300527",
            "EXDATE;TZID=Europe/Paris:20300513T100000",
            "EXDATE:20300520T080000Z",
        ],
    );
    assert_eq!(insert(&emu, &access, &body).await.status(), 200);
    let (_, page) = instances(&emu, &access, "paris0001", &[]).await;
    assert_eq!(
        ids(page["items"].as_array().unwrap()),
        [
            "paris0001_20300501T080000Z",
            "paris0001_20300506T080000Z",
            "paris0001_20300527T080000Z"
        ]
    );
    let (_, page) = instances(&emu, &access, "paris0001", &[("showDeleted", "true")]).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[2]["id"], "paris0001_20300513T080000Z");
    assert_eq!(items[2]["status"], "cancelled");
    assert_eq!(items[3]["status"], "cancelled");
}

#[tokio::test]
async fn instance_ids_are_exact() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = series(
        "idcase001",
        "2026-12-01T09:00:00",
        "2026-12-01T09:30:00",
        "UTC",
        &["RRULE:FREQ=WEEKLY;COUNT=4"],
    );
    insert(&emu, &access, &body).await;
    let (status, instance) = get(&emu, &access, "idcase001_20261208T090000Z").await;
    assert_eq!(status, 200);
    assert_eq!(instance["status"], "confirmed");
    assert_eq!(instance["recurringEventId"], "idcase001");
    for wrong in [
        "idcase001_20261208t090000z",
        "idcase001_20261208T090000z",
        "idcase001_20261208T100000Z",
        "idcase001_20261208T0900Z",
        "idcase001_20261208",
        "idcase001_20261229T090000Z",
        "idcase002_20261208T090000Z",
    ] {
        assert_eq!(get(&emu, &access, wrong).await.0, 404, "{wrong}");
    }
}

#[tokio::test]
async fn timed_series_needs_a_time_zone_and_rules_must_parse() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = json!({
        "start": { "dateTime": "2026-12-01T09:00:00Z" },
        "end": { "dateTime": "2026-12-01T10:00:00Z" },
        "recurrence": ["RRULE:FREQ=WEEKLY"],
    });
    let refused = insert(&emu, &access, &body).await;
    assert_eq!(refused.status(), 400);
    let refused = json_of(refused).await;
    assert_eq!(reason(&refused), "required");
    assert_eq!(
        refused["error"]["message"],
        "Missing time zone definition for start time."
    );
    let bad = series(
        "bad000001",
        "2026-12-01T09:00:00",
        "2026-12-01T10:00:00",
        "UTC",
        &["RRULE:FREQ=FORTNIGHTLY"],
    );
    assert_eq!(insert(&emu, &access, &bad).await.status(), 400);
}

#[tokio::test]
async fn changed_and_cancelled_instances_in_lists_and_sync() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = series(
        "morning01",
        "2026-12-01T09:00:00",
        "2026-12-01T10:00:00",
        "Europe/London",
        &["RRULE:FREQ=DAILY"],
    );
    insert(&emu, &access, &body).await;
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();

    let moved = send(
        http()
            .patch(event_url(&emu, "morning01_20261203T090000Z"))
            .bearer_auth(&access)
            .json(&json!({
                "summary": "Late standup",
                "start": { "dateTime": "2026-12-03T11:00:00Z", "timeZone": "Europe/London" },
                "end": { "dateTime": "2026-12-03T12:00:00Z", "timeZone": "Europe/London" },
            })),
    )
    .await;
    assert_eq!(moved.status(), 200);
    let moved = json_of(moved).await;
    assert_eq!(moved["id"], "morning01_20261203T090000Z");
    assert_eq!(moved["summary"], "Late standup");
    assert_eq!(
        moved["description"], "Daily notes",
        "the series' fields stay"
    );
    assert_eq!(
        moved["originalStartTime"]["dateTime"],
        "2026-12-03T09:00:00+00:00"
    );
    let deleted = send(
        http()
            .delete(event_url(&emu, "morning01_20261204T090000Z"))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let again = send(
        http()
            .delete(event_url(&emu, "morning01_20261204T090000Z"))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(again.status(), 410);

    // singleEvents=false: the series once, the changed instance, and the
    // cancelled one with only what names it.
    let (items, _) = list_all(&emu, &access, &[("showDeleted", "true")])
        .await
        .unwrap();
    assert_eq!(
        ids(&items),
        [
            "morning01",
            "morning01_20261203T090000Z",
            "morning01_20261204T090000Z"
        ]
    );
    assert_eq!(items[0]["recurrence"], json!(["RRULE:FREQ=DAILY"]));
    let mut keys: Vec<&str> = items[2]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["id", "originalStartTime", "recurringEventId", "status"]
    );
    let (live, _) = list_all(&emu, &access, &[]).await.unwrap();
    assert_eq!(ids(&live), ["morning01", "morning01_20261203T090000Z"]);

    // Incremental: exactly the instances changed since the token.
    let (changes, next) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert_eq!(
        ids(&changes),
        ["morning01_20261203T090000Z", "morning01_20261204T090000Z"]
    );
    emu.edit_event(
        "primary",
        "morning01_20261205T090000Z",
        EventEdit {
            description: Some("from the phone".into()),
            ..EventEdit::default()
        },
    )
    .unwrap();
    let (changes, _) = list_all(&emu, &access, &[("syncToken", &next)])
        .await
        .unwrap();
    assert_eq!(ids(&changes), ["morning01_20261205T090000Z"]);
    assert_eq!(changes[0]["description"], "from the phone");
    assert_eq!(changes[0]["summary"], "Standup");
    let (single, _) = list_all(
        &emu,
        &access,
        &[("syncToken", &next), ("singleEvents", "true")],
    )
    .await
    .unwrap();
    assert_eq!(ids(&single), ["morning01_20261205T090000Z"]);

    // singleEvents=true over a window: exceptions laid over, cancelled left out.
    let window = [
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("timeMin", "2026-12-02T00:00:00Z"),
        ("timeMax", "2026-12-06T00:00:00Z"),
    ];
    let (items, token) = list_all(&emu, &access, &window).await.unwrap();
    assert!(token.is_empty(), "no nextSyncToken with orderBy=startTime");
    assert_eq!(
        ids(&items),
        [
            "morning01_20261202T090000Z",
            "morning01_20261203T090000Z",
            "morning01_20261205T090000Z"
        ]
    );
    assert_eq!(items[1]["start"]["dateTime"], "2026-12-03T11:00:00Z");

    // Without timeMax an endless series is cut at 730 instances.
    let (items, _) = list_all(
        &emu,
        &access,
        &[("singleEvents", "true"), ("maxResults", "2500")],
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 729, "730 expanded, one cancelled");
}

#[tokio::test]
async fn a_new_until_cuts_the_series_and_its_exceptions() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = series(
        "split0001",
        "2026-12-01T09:00:00",
        "2026-12-01T10:00:00",
        "UTC",
        &["RRULE:FREQ=DAILY;COUNT=10"],
    );
    insert(&emu, &access, &body).await;
    emu.edit_event(
        "primary",
        "split0001_20261206T090000Z",
        EventEdit {
            summary: Some("Moved".into()),
            ..EventEdit::default()
        },
    )
    .unwrap();
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();
    // "This and following" from 4 December: the old series ends before it.
    let cut = send(
        http()
            .patch(event_url(&emu, "split0001"))
            .bearer_auth(&access)
            .json(&json!({ "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20261203T235959Z"] })),
    )
    .await;
    assert_eq!(cut.status(), 200);
    let (_, page) = instances(&emu, &access, "split0001", &[]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        get(&emu, &access, "split0001_20261205T090000Z").await.0,
        404
    );
    let (live, _) = list_all(&emu, &access, &[]).await.unwrap();
    assert_eq!(ids(&live), ["split0001"], "the exception is gone");
    let (changes, _) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert_eq!(ids(&changes), ["split0001", "split0001_20261206T090000Z"]);
    assert_eq!(changes[1]["status"], "cancelled");
}

#[tokio::test]
async fn stale_etag_on_an_instance_is_412_and_deleting_the_series_cancels_all() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let body = series(
        "etag00001",
        "2026-12-01T09:00:00",
        "2026-12-01T10:00:00",
        "UTC",
        &["RRULE:FREQ=DAILY;COUNT=3"],
    );
    insert(&emu, &access, &body).await;
    let id = "etag00001_20261202T090000Z";
    let (_, first) = get(&emu, &access, id).await;
    let etag = first["etag"].as_str().unwrap().to_owned();
    let patch = |etag: &str| {
        http()
            .patch(event_url(&emu, id))
            .bearer_auth(&access)
            .header("If-Match", etag)
            .json(&json!({ "summary": "Changed" }))
    };
    let changed = json_of(send(patch(&etag)).await).await;
    assert_ne!(changed["etag"], first["etag"]);
    let stale = send(patch(&etag)).await;
    assert_eq!(stale.status(), 412);
    assert_eq!(reason(&json_of(stale).await), "conditionNotMet");
    assert_eq!(
        send(patch(changed["etag"].as_str().unwrap()))
            .await
            .status(),
        200
    );

    let deleted = send(
        http()
            .delete(event_url(&emu, "etag00001"))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    for instance in [id, "etag00001_20261203T090000Z"] {
        assert_eq!(get(&emu, &access, instance).await.1["status"], "cancelled");
    }
    let (items, _) = list_all(&emu, &access, &[("singleEvents", "true")])
        .await
        .unwrap();
    assert!(items.is_empty());
}

#[tokio::test]
async fn controls_make_a_series_in_google_and_change_one_instance() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let made = emu
        .create_event(
            "primary",
            EventEdit {
                summary: Some("Yoga".into()),
                start: Some(EventDateTime::timed(
                    "2026-12-01T09:00:00",
                    Some("Europe/London"),
                )),
                end: Some(EventDateTime::timed(
                    "2026-12-01T10:00:00",
                    Some("Europe/London"),
                )),
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".into()]),
                ..EventEdit::default()
            },
        )
        .unwrap();
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();
    let instance = format!("{}_20261208T090000Z", made.id);
    let edited = emu
        .edit_event(
            "primary",
            &instance,
            EventEdit {
                summary: Some("Yoga (hall B)".into()),
                ..EventEdit::default()
            },
        )
        .unwrap();
    assert_eq!(edited.recurring_event_id.as_deref(), Some(made.id.as_str()));
    assert_eq!(
        edited.original_start_time.unwrap().date_time.as_deref(),
        Some("2026-12-08T09:00:00+00:00")
    );
    let cancelled_id = format!("{}_20261215T090000Z", made.id);
    let cancelled = emu.delete_event("primary", &cancelled_id).unwrap();
    assert_eq!(cancelled.status, EventStatus::Cancelled);
    assert_eq!(
        emu.event("primary", &cancelled_id).unwrap().status,
        EventStatus::Cancelled
    );
    assert!(
        emu.event("primary", &format!("{}_20261209T090000Z", made.id))
            .is_none()
    );
    assert!(
        emu.edit_event("primary", &cancelled_id, EventEdit::default())
            .is_err()
    );

    let shown = emu
        .instances(
            "primary",
            &made.id,
            at("2026-12-01T00:00:00Z"),
            at("2026-12-23T00:00:00Z"),
        )
        .unwrap();
    let summaries: Vec<_> = shown
        .iter()
        .map(|event| event.summary.as_deref().unwrap())
        .collect();
    assert_eq!(summaries, ["Yoga", "Yoga (hall B)", "Yoga"]);
    assert_eq!(shown[2].id, format!("{}_20261222T090000Z", made.id));

    let (changes, _) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert_eq!(ids(&changes), [instance.as_str(), cancelled_id.as_str()]);

    // The same over the control endpoints.
    let url = format!(
        "{}/_emulator/calendars/primary/events/{}/instances",
        emu.base_url(),
        made.id
    );
    let response = send(http().get(&url).query(&[
        ("from", "2026-12-01T00:00:00Z"),
        ("to", "2026-12-23T00:00:00Z"),
    ]))
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_of(response).await.as_array().unwrap().len(), 3);
    let url = format!(
        "{}/_emulator/calendars/primary/events/{instance}",
        emu.base_url()
    );
    let response = send(
        http()
            .patch(&url)
            .json(&json!({ "description": "bring a mat" })),
    )
    .await;
    assert_eq!(json_of(response).await["description"], "bring a mat");
    let response = send(http().get(&url)).await;
    assert_eq!(json_of(response).await["summary"], "Yoga (hall B)");
}
