//! Incremental sync: `syncToken`, pages, tombstones, etags and `updated`,
//! all-day and recurring events, patch.

use phantom_google_emulator::{EventDateTime, EventEdit};
use serde_json::{Value, json};

use crate::support::*;

fn timed(summary: &str, day: u32) -> Value {
    json!({
        "summary": summary,
        "start": { "dateTime": format!("2030-02-{day:02}T09:00:00Z") },
        "end": { "dateTime": format!("2030-02-{day:02}T10:00:00Z") },
        "colorId": "3",
    })
}

async fn inserted_id(
    emu: &phantom_google_emulator::Emulator,
    access: &str,
    event: &Value,
) -> String {
    let response = insert(emu, access, event).await;
    assert_eq!(response.status(), 200);
    json_of(response).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn incremental_sync_returns_only_changes_including_deletions() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let mut created = Vec::new();
    for day in 1..=5 {
        created.push(inserted_id(&emu, &access, &timed(&format!("day {day}"), day)).await);
    }
    // A full read in pages of two: the token comes with the last page only.
    let (items, token) = list_all(&emu, &access, &[("maxResults", "2")])
        .await
        .unwrap();
    assert_eq!(
        ids(&items),
        created.iter().map(String::as_str).collect::<Vec<_>>()
    );

    let (nothing, same_point) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert!(nothing.is_empty(), "no change, no item: {nothing:?}");

    let edited = send(
        http()
            .patch(event_url(&emu, &created[1]))
            .bearer_auth(&access)
            .json(&json!({ "summary": "day 2 (moved)" })),
    )
    .await;
    assert_eq!(edited.status(), 200);
    let deleted = send(
        http()
            .delete(event_url(&emu, &created[3]))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let added = inserted_id(&emu, &access, &timed("day 6", 6)).await;

    let (changes, next) = list_all(
        &emu,
        &access,
        &[("syncToken", &same_point), ("maxResults", "1")],
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&changes),
        [created[1].as_str(), created[3].as_str(), added.as_str()]
    );
    assert_eq!(changes[0]["summary"], "day 2 (moved)");
    assert_eq!(
        changes[1]["status"], "cancelled",
        "deletions come without showDeleted"
    );
    assert_eq!(changes[2]["status"], "confirmed");

    // The same token can be used again; the new one sees nothing new.
    let (again, _) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    let (quiet, _) = list_all(&emu, &access, &[("syncToken", &next)])
        .await
        .unwrap();
    assert!(quiet.is_empty());

    // A full read hides the tombstone unless showDeleted=true.
    let (live, _) = list_all(&emu, &access, &[]).await.unwrap();
    assert_eq!(live.len(), 5);
    let (all, _) = list_all(&emu, &access, &[("showDeleted", "true")])
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
}

#[tokio::test]
async fn changes_made_while_paging_reach_the_next_incremental_read() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let first = inserted_id(&emu, &access, &timed("first", 1)).await;
    let second = inserted_id(&emu, &access, &timed("second", 2)).await;
    let page = json_of(
        send(
            http()
                .get(events_url(&emu))
                .query(&[("maxResults", "1")])
                .bearer_auth(&access),
        )
        .await,
    )
    .await;
    assert_eq!(page["items"][0]["id"], first.as_str());
    let page_token = page["nextPageToken"].as_str().unwrap().to_owned();
    assert!(page.get("nextSyncToken").is_none());

    // Someone edits the first event (already read) and the second (not yet).
    emu.edit_event(
        "primary",
        &first,
        EventEdit {
            summary: Some("first, edited".into()),
            ..EventEdit::default()
        },
    )
    .unwrap();
    emu.edit_event(
        "primary",
        &second,
        EventEdit {
            summary: Some("second, edited".into()),
            ..EventEdit::default()
        },
    )
    .unwrap();

    let last = json_of(
        send(
            http()
                .get(events_url(&emu))
                .query(&[("maxResults", "1"), ("pageToken", page_token.as_str())])
                .bearer_auth(&access),
        )
        .await,
    )
    .await;
    assert_eq!(
        last["items"][0]["summary"], "second",
        "pages show the listing's moment"
    );
    let token = last["nextSyncToken"].as_str().unwrap();
    let (changes, _) = list_all(&emu, &access, &[("syncToken", token)])
        .await
        .unwrap();
    assert_eq!(ids(&changes), [first.as_str(), second.as_str()]);
    assert_eq!(changes[0]["summary"], "first, edited");
}

#[tokio::test]
async fn expired_or_unknown_sync_tokens_need_a_full_sync() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    inserted_id(&emu, &access, &timed("one", 1)).await;
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();
    emu.invalidate_sync_tokens();
    let (status, body) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap_err();
    assert_eq!(status, 410);
    assert_eq!(
        body,
        json!({ "error": {
            "code": 410,
            "message": "Sync token is no longer valid, a full sync is required.",
            "errors": [{
                "domain": "global",
                "reason": "fullSyncRequired",
                "message": "Sync token is no longer valid, a full sync is required.",
            }],
        }})
    );
    let (status, _) = list_all(
        &emu,
        &access,
        &[("syncToken", "CPDAlvWDx70CEPDAlvWDx70CGAU=")],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 410);
    // A full read gives a token that works again.
    let (items, fresh) = list_all(&emu, &access, &[]).await.unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        list_all(&emu, &access, &[("syncToken", &fresh)])
            .await
            .unwrap()
            .0
            .is_empty()
    );

    // Over HTTP too.
    let control = format!("{}/_emulator/sync-tokens/invalidate", emu.base_url());
    assert_eq!(send(http().post(control)).await.status(), 204);
    let (status, _) = list_all(&emu, &access, &[("syncToken", &fresh)])
        .await
        .unwrap_err();
    assert_eq!(status, 410);
}

#[tokio::test]
async fn sync_token_refuses_filters_google_refuses() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();
    for (name, value) in [
        ("timeMin", "2030-01-01T00:00:00Z"),
        ("timeMax", "2030-01-01T00:00:00Z"),
        ("q", "dentist"),
        ("orderBy", "updated"),
        ("updatedMin", "2030-01-01T00:00:00Z"),
        ("iCalUID", "x@google.com"),
    ] {
        let (status, body) = list_all(&emu, &access, &[("syncToken", &token), (name, value)])
            .await
            .unwrap_err();
        assert_eq!(status, 400, "{name}");
        assert_eq!(reason(&body), "invalid");
    }
    let (status, _) = list_all(
        &emu,
        &access,
        &[("syncToken", &token), ("showDeleted", "true")],
    )
    .await
    .map(|_| (200, Value::Null))
    .unwrap_or_else(|error| error);
    assert_eq!(status, 200, "showDeleted is allowed");
}

#[tokio::test]
async fn list_filters_orders_and_pages_like_google() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    for day in (1..=3).rev() {
        inserted_id(&emu, &access, &timed(&format!("Dentist {day}"), day)).await;
    }
    inserted_id(&emu, &access, &timed("Gym", 4)).await;
    let (found, _) = list_all(&emu, &access, &[("q", "dentist")]).await.unwrap();
    assert_eq!(found.len(), 3);
    let (by_start, _) = list_all(
        &emu,
        &access,
        &[("orderBy", "startTime"), ("singleEvents", "true")],
    )
    .await
    .unwrap();
    let summaries: Vec<&str> = by_start
        .iter()
        .map(|item| item["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["Dentist 1", "Dentist 2", "Dentist 3", "Gym"]);
    let (status, _) = list_all(&emu, &access, &[("orderBy", "startTime")])
        .await
        .unwrap_err();
    assert_eq!(status, 400, "startTime ordering needs singleEvents");
    let (status, _) = list_all(&emu, &access, &[("pageToken", "bogus")])
        .await
        .unwrap_err();
    assert_eq!(status, 400);

    // Default page size 250, and at most 2500 whatever is asked.
    for index in 0..247 {
        emu.create_event(
            "primary",
            EventEdit {
                summary: Some(format!("bulk {index}")),
                start: Some(EventDateTime::all_day("2030-03-01")),
                end: Some(EventDateTime::all_day("2030-03-02")),
                ..EventEdit::default()
            },
        )
        .unwrap();
    }
    let first = json_of(send(http().get(events_url(&emu)).bearer_auth(&access)).await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 250);
    assert!(first["nextPageToken"].is_string());
    let (everything, _) = list_all(&emu, &access, &[("maxResults", "9999")])
        .await
        .unwrap();
    assert_eq!(everything.len(), 251);
}

#[tokio::test]
async fn every_change_gets_a_new_etag_and_a_later_updated() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let first = json_of(insert(&emu, &access, &sample_event(Some("stamped001"))).await).await;
    let url = event_url(&emu, "stamped001");
    let millis = |value: &Value| {
        let raw = value.as_str().unwrap();
        assert_eq!(raw.len(), "2030-01-01T00:00:00.000Z".len(), "{raw}");
        assert!(raw.ends_with('Z') && raw.as_bytes()[19] == b'.', "{raw}");
        chrono::DateTime::parse_from_rfc3339(raw).unwrap()
    };
    assert_eq!(first["created"], first["updated"]);
    let mut previous = first;
    for change in [json!({ "summary": "a" }), json!({ "summary": "b" })] {
        let next = json_of(send(http().patch(&url).bearer_auth(&access).json(&change)).await).await;
        assert_ne!(next["etag"], previous["etag"]);
        assert!(next["etag"].as_str().unwrap().starts_with('"'));
        assert!(millis(&next["updated"]) > millis(&previous["updated"]));
        assert_eq!(next["created"], previous["created"]);
        previous = next;
    }
    send(http().delete(&url).bearer_auth(&access)).await;
    let tombstone = emu.event("primary", "stamped001").unwrap();
    assert_eq!(tombstone.resource["status"], "cancelled");
    assert_ne!(tombstone.resource["etag"], previous["etag"]);
    assert_eq!(tombstone.etag, tombstone.resource["etag"]);
    assert!(tombstone.updated > millis(&previous["updated"]));
    // Deleted: get still shows it (as Google does), a second delete is 410,
    // and the id stays taken.
    let got = json_of(send(http().get(&url).bearer_auth(&access)).await).await;
    assert_eq!(got["status"], "cancelled");
    assert_eq!(
        send(http().delete(&url).bearer_auth(&access))
            .await
            .status(),
        410
    );
    assert_eq!(
        insert(&emu, &access, &sample_event(Some("stamped001")))
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn all_day_events_round_trip_and_are_validated() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let holiday = json!({
        "id": "fete00001",
        "summary": "Holiday",
        "start": { "date": "2030-07-01" },
        "end": { "date": "2030-07-03" },
    });
    let answer = json_of(insert(&emu, &access, &holiday).await).await;
    assert_eq!(answer["start"], json!({ "date": "2030-07-01" }));
    assert_eq!(answer["end"], json!({ "date": "2030-07-03" }));
    let stored = emu.event("primary", "fete00001").unwrap();
    assert_eq!(stored.start, Some(EventDateTime::all_day("2030-07-01")));

    for (start, end) in [
        (
            json!({ "date": "2030-07-01" }),
            json!({ "date": "2030-07-01" }),
        ),
        (
            json!({ "date": "2030-07-02" }),
            json!({ "date": "2030-07-01" }),
        ),
        (
            json!({ "date": "2030-07-01" }),
            json!({ "dateTime": "2030-07-02T00:00:00Z" }),
        ),
        (
            json!({ "date": "2030-07-01", "dateTime": "2030-07-01T00:00:00Z" }),
            json!({ "date": "2030-07-02" }),
        ),
        (
            json!({ "date": "2030-13-01" }),
            json!({ "date": "2030-07-02" }),
        ),
    ] {
        let response = insert(&emu, &access, &json!({ "start": start, "end": end })).await;
        assert_eq!(response.status(), 400, "{start} {end}");
    }

    // Timed to all-day by patch: both boundaries change together.
    insert(&emu, &access, &sample_event(Some("fete00002"))).await;
    let moved = send(
        http()
            .patch(event_url(&emu, "fete00002"))
            .bearer_auth(&access)
            .json(&json!({ "start": { "date": "2030-05-01" }, "end": { "date": "2030-05-02" } })),
    )
    .await;
    assert_eq!(moved.status(), 200);
    let moved = json_of(moved).await;
    assert_eq!(moved["start"], json!({ "date": "2030-05-01" }));
    assert_eq!(moved["colorId"], "5", "patch keeps what it does not name");
    let half = send(
        http()
            .patch(event_url(&emu, "fete00002"))
            .bearer_auth(&access)
            .json(&json!({ "start": { "dateTime": "2030-05-01T10:00:00Z" } })),
    )
    .await;
    assert_eq!(half.status(), 400, "a date end with a dateTime start");
}

#[tokio::test]
async fn recurrence_and_recurring_event_id_are_kept() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let mut series = sample_event(Some("series0001"));
    series["recurrence"] = json!([
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "EXDATE;TZID=Europe/Paris:20300513T100000"
    ]);
    let answer = json_of(insert(&emu, &access, &series).await).await;
    assert_eq!(answer["recurrence"], series["recurrence"]);
    let stored = emu.event("primary", "series0001").unwrap();
    assert_eq!(stored.recurrence.unwrap().len(), 2);

    let mut instance = sample_event(Some("series000120300506"));
    instance["recurringEventId"] = "series0001".into();
    instance["originalStartTime"] =
        json!({ "dateTime": "2030-05-06T10:00:00+02:00", "timeZone": "Europe/Paris" });
    let answer = json_of(insert(&emu, &access, &instance).await).await;
    assert_eq!(answer["recurringEventId"], "series0001");
    assert_eq!(
        emu.event("primary", "series000120300506")
            .unwrap()
            .recurring_event_id
            .as_deref(),
        Some("series0001")
    );

    let mut bad = sample_event(None);
    bad["recurrence"] = json!(["FREQ=DAILY"]);
    assert_eq!(insert(&emu, &access, &bad).await.status(), 400);
    let mut no_zone = json!({
        "start": { "dateTime": "2030-05-01T10:00:00Z" },
        "end": { "dateTime": "2030-05-01T11:00:00Z" },
    });
    no_zone["recurrence"] = json!(["RRULE:FREQ=DAILY"]);
    let refused = insert(&emu, &access, &no_zone).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(reason(&json_of(refused).await), "required");
}
