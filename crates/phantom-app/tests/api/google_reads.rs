//! The Calendar adapter's read side and its `patch`, against the emulator: what two-way sync
//! reads back (`events.list` with sync tokens, deletions, all-day and recurring events, the
//! `410` of an expired token) and how it writes to events made in Google.

use chrono::{NaiveDate, TimeZone, Utc};
use phantom_adapters::db::DieselTokenStore;
use phantom_adapters::google::GoogleCalendar;
use phantom_domain::calendar::{CalendarError, CalendarEvent};
use phantom_domain::google::{Secret, StoredToken};
use phantom_domain::google_changes::{FieldSet, GoogleEvent, GoogleTime};
use phantom_domain::ids::UserId;
use phantom_domain::ports::{CalendarSync, TokenStore};
use phantom_domain::sync::GoogleEventId;
use phantom_google_emulator::{Emulator, EmulatorConfig, EventDateTime, EventEdit};

use crate::helpers::{TestApp, connect_google, spawn_app_with, test_settings, use_emulator};

/// A connected user's access token, as the server stored it.
async fn access_token(app: &TestApp, user: i64) -> Secret {
    let cipher = phantom_app::startup::token_cipher(&test_settings(&app.db.url()));
    let store = DieselTokenStore::new(app.database().await, cipher);
    match store.load(UserId(user)).await.expect("load") {
        StoredToken::Present(token) => token.access_token,
        _ => panic!("no token stored"),
    }
}

fn edit(summary: &str, start: EventDateTime, end: EventDateTime) -> EventEdit {
    EventEdit {
        summary: Some(summary.to_owned()),
        start: Some(start),
        end: Some(end),
        ..EventEdit::default()
    }
}

fn find<'a>(items: &'a [GoogleEvent], id: &str) -> &'a GoogleEvent {
    items.iter().find(|i| i.id == id).expect("listed")
}

#[tokio::test]
async fn incremental_reads_list_changes_deletions_and_expire_with_410() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let token = access_token(&app, user.id).await;
    let owner = emulator.default_user().to_owned();
    let timed = |h: u32| EventDateTime::timed(format!("2026-11-24T{h:02}:00:00Z"), None);
    let dentist = emulator
        .create_event(&owner, edit("Dentist", timed(9), timed(10)))
        .expect("created");
    let holiday = emulator
        .create_event(
            &owner,
            edit(
                "Holiday",
                EventDateTime::all_day("2026-11-25"),
                EventDateTime::all_day("2026-11-27"),
            ),
        )
        .expect("created");
    let weekly = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY".to_owned()]),
                ..edit(
                    "Standup",
                    EventDateTime::timed("2026-11-24T08:00:00Z", Some("UTC")),
                    EventDateTime::timed("2026-11-24T08:15:00Z", Some("UTC")),
                )
            },
        )
        .expect("created");
    let calendar = GoogleCalendar::new(&emulator.calendar_api_url(), "primary");

    // The first read has no token: everything, and a token to continue from.
    let full = calendar
        .list_changes(&token, None, None)
        .await
        .expect("full read");
    assert_eq!(full.items.len(), 3);
    assert!(full.next_page_token.is_none());
    let sync_token = full.next_sync_token.clone().expect("a sync token");
    let d = find(&full.items, &dentist.id);
    assert_eq!(d.summary.as_deref(), Some("Dentist"));
    assert_eq!(
        d.start,
        Some(GoogleTime::At(
            Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
        ))
    );
    assert!(d.updated.is_some() && !d.cancelled && !d.is_recurring());
    let h = find(&full.items, &holiday.id);
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).expect("date");
    assert_eq!(
        (h.start, h.end),
        (
            Some(GoogleTime::Day(day(25))),
            Some(GoogleTime::Day(day(27)))
        )
    );
    let w = find(&full.items, &weekly.id);
    assert!(w.is_recurring());
    assert_eq!(w.recurrence.rules, ["RRULE:FREQ=WEEKLY"]);
    assert_eq!(w.time_zone.as_deref(), Some("UTC"));
    assert_eq!(full.time_zone.as_deref(), Some("UTC"));

    // Changes since: the edit and the deletion, nothing else.
    emulator
        .edit_event(
            &owner,
            &dentist.id,
            EventEdit {
                summary: Some("Dentist (moved)".to_owned()),
                ..EventEdit::default()
            },
        )
        .expect("edited");
    emulator.delete_event(&owner, &holiday.id).expect("deleted");
    let changes = calendar
        .list_changes(&token, Some(sync_token.clone()), None)
        .await
        .expect("incremental read");
    assert_eq!(changes.items.len(), 2);
    assert_eq!(
        find(&changes.items, &dentist.id).summary.as_deref(),
        Some("Dentist (moved)")
    );
    assert!(find(&changes.items, &holiday.id).cancelled);
    assert!(changes.next_sync_token.is_some());

    // Google expired the token: 410, which the domain reads as "read everything again".
    emulator.invalidate_sync_tokens();
    assert_eq!(
        calendar
            .list_changes(&token, Some(sync_token), None)
            .await
            .unwrap_err(),
        CalendarError::Gone
    );
}

#[tokio::test]
async fn a_patch_writes_the_fields_given_and_keeps_googles_colour() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let token = access_token(&app, user.id).await;
    let owner = emulator.default_user().to_owned();
    let made_in_google = emulator
        .create_event(
            &owner,
            EventEdit {
                color_id: Some("5".to_owned()),
                ..edit(
                    "Lunch",
                    EventDateTime::timed("2026-11-24T12:00:00Z", None),
                    EventDateTime::timed("2026-11-24T13:00:00Z", None),
                )
            },
        )
        .expect("created");
    let at = |h: u32| Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap();
    let event = CalendarEvent {
        id: GoogleEventId::from_stored(made_in_google.id.clone()),
        summary: "Long lunch".to_owned(),
        description: "with Ada".to_owned(),
        start: at(12),
        end: at(14),
        time_zone: "UTC".to_owned(),
        all_day: None,
        color_id: "11".to_owned(),
        recurrence: Vec::new(),
    };
    let calendar = GoogleCalendar::new(&emulator.calendar_api_url(), "primary");
    // Only the title: the rest stays as Google holds it.
    let patched = calendar
        .patch(&token, &event, FieldSet::TITLE, None)
        .await
        .expect("patched");
    let stored = emulator
        .event(&owner, &made_in_google.id)
        .expect("still there");
    assert_eq!(stored.summary.as_deref(), Some("Long lunch"));
    assert_eq!(stored.description, made_in_google.description);
    assert_eq!(stored.end, made_in_google.end);

    // On a revision Google no longer holds: refused, nothing written.
    let stale = Some(made_in_google.etag.clone());
    assert_eq!(
        calendar.patch(&token, &event, FieldSet::ALL, stale).await,
        Err(CalendarError::PreconditionFailed)
    );
    assert_eq!(
        emulator.event(&owner, &made_in_google.id).map(|e| e.end),
        Some(made_in_google.end.clone())
    );
    // On the revision the first patch answered: written.
    calendar
        .patch(&token, &event, FieldSet::ALL, patched)
        .await
        .expect("patched");
    let stored = emulator
        .event(&owner, &made_in_google.id)
        .expect("still there");
    assert_eq!(stored.summary.as_deref(), Some("Long lunch"));
    assert_ne!(stored.end, made_in_google.end);
    assert_eq!(stored.description.as_deref(), Some("with Ada"));
    assert_eq!(
        stored.color_id.as_deref(),
        Some("5"),
        "the colour was overwritten"
    );
}

/// Updates and deletes are conditional on the etag given, and `events.get` reads an event
/// back, also once it is deleted.
#[tokio::test]
async fn updates_and_deletes_on_a_stale_etag_are_refused_and_get_reads_the_event() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let token = access_token(&app, user.id).await;
    let owner = emulator.default_user().to_owned();
    let at = |h: u32| Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap();
    let mut event = CalendarEvent {
        id: GoogleEventId::generate(),
        summary: "Exam".to_owned(),
        description: String::new(),
        start: at(9),
        end: at(11),
        time_zone: "UTC".to_owned(),
        all_day: None,
        color_id: "11".to_owned(),
        recurrence: Vec::new(),
    };
    let calendar = GoogleCalendar::new(&emulator.calendar_api_url(), "primary");
    let inserted = calendar.insert(&token, &event).await.expect("inserted");
    event.summary = "Exam (room 4)".to_owned();
    let updated = calendar
        .update(&token, &event, inserted.clone())
        .await
        .expect("updated on the current etag");
    assert_ne!(updated, inserted);
    let read = calendar.get(&token, &event.id).await.expect("read");
    assert_eq!(
        (read.summary.as_deref(), read.etag.clone(), read.cancelled),
        (Some("Exam (room 4)"), updated.clone(), false)
    );

    event.summary = "Exam (stale)".to_owned();
    assert_eq!(
        calendar.update(&token, &event, inserted.clone()).await,
        Err(CalendarError::PreconditionFailed)
    );
    assert_eq!(
        calendar.delete(&token, &event.id, inserted).await,
        Err(CalendarError::PreconditionFailed)
    );
    let held = emulator.event(&owner, event.id.as_str()).expect("held");
    assert_eq!(held.summary.as_deref(), Some("Exam (room 4)"));

    calendar
        .delete(&token, &event.id, updated)
        .await
        .expect("deleted on the current etag");
    let read = calendar.get(&token, &event.id).await.expect("read");
    assert!(read.cancelled, "{read:?}");
    assert_eq!(
        calendar.get(&token, &GoogleEventId::generate()).await,
        Err(CalendarError::Gone)
    );
}

/// A channel whose `events.watch` answered after the user disconnected is not kept (the
/// reader stops it at once); the channels kept before are handed to the revocation and
/// count no more.
#[tokio::test]
async fn a_channel_opened_while_disconnecting_is_not_kept() {
    use phantom_adapters::db::DieselSyncQueue;
    use phantom_domain::google_changes::OpenChannel;
    use phantom_domain::ports::SyncQueue;

    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let queue = DieselSyncQueue::new(app.database().await);
    let channel = |id: &str| OpenChannel {
        id: id.to_owned(),
        resource_id: "resource".to_owned(),
        expires_at: Utc::now() + chrono::TimeDelta::hours(1),
    };
    let token = Secret::new("a-channel-token-of-at-least-32-bytes");
    let me = UserId(user.id);
    assert!(
        queue
            .keep_channel(me, &channel("before"), &token)
            .await
            .expect("keep")
    );
    assert_eq!(queue.channels(me).await.expect("channels").len(), 1);

    let answer = app
        .post(
            "/api/integrations/google-calendar/disconnect/",
            Some(&user.access),
            &serde_json::json!({}),
        )
        .await;
    assert!(answer.status().is_success());
    assert!(queue.channels(me).await.expect("channels").is_empty());
    assert!(
        !queue
            .keep_channel(me, &channel("after"), &token)
            .await
            .expect("keep")
    );
    assert!(queue.channels(me).await.expect("channels").is_empty());
    let owner = queue
        .channel_owner("after", token.expose(), Utc::now())
        .await
        .expect("owner");
    assert_eq!(owner, None);
}

/// Two Phantom users invited to the same Google event hold the same Google id, each in their
/// own calendar: both import it, and an edit of one user's copy changes nothing for the other.
#[tokio::test]
async fn an_event_shared_by_two_users_is_imported_by_both_and_edited_apart() {
    use phantom_google_emulator::Operation;
    use serde_json::json;

    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| {
        use_emulator(s, &emulator);
        s.sync.poll = Some(std::time::Duration::from_secs(1));
        s.sync.retry_base = std::time::Duration::from_millis(20);
    })
    .await;
    let (ada, bo) = (app.user().await, app.user().await);
    emulator.set_signed_in_user("ada@example.com");
    connect_google(&app, &ada).await;
    emulator.set_signed_in_user("bo@example.com");
    connect_google(&app, &bo).await;

    // The invitation: one Google id, in each calendar.
    let shared = GoogleEventId::generate();
    let at = |h: u32| Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap();
    let invitation = CalendarEvent {
        id: shared.clone(),
        summary: "Study group".to_owned(),
        description: String::new(),
        start: at(15),
        end: at(16),
        time_zone: "UTC".to_owned(),
        all_day: None,
        color_id: "1".to_owned(),
        recurrence: Vec::new(),
    };
    let calendar = GoogleCalendar::new(&emulator.calendar_api_url(), "primary");
    for user in [&ada, &bo] {
        let token = access_token(&app, user.id).await;
        calendar.insert(&token, &invitation).await.expect("invited");
    }
    let imported = |user: &crate::helpers::TestUser| {
        let (app, access) = (&app, user.access.clone());
        async move {
            let page = crate::helpers::body(app.get("/api/events/", &access).await).await;
            page["results"].as_array().and_then(|r| r.first().cloned())
        }
    };
    let mut copies = Vec::new();
    for user in [&ada, &bo] {
        let copy = crate::helpers::eventually(
            "the invitation is imported",
            std::time::Duration::from_secs(15),
            async || imported(user).await.filter(|e| e["title"] == "Study group"),
        )
        .await;
        assert_eq!(copy["google_calendar_id"], shared.as_str());
        assert_eq!(copy["origin"], "google");
        copies.push(copy);
    }
    assert_ne!(copies[0]["id"], copies[1]["id"]);

    // Ada renames her copy: Bo's stays, in Phantom and in his calendar.
    let path = format!("/api/events/{}/", copies[0]["id"]);
    let renamed = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&ada.access),
            Some(&json!({"title": "Study group (Ada)"})),
        )
        .await;
    assert_eq!(renamed.status(), reqwest::StatusCode::OK);
    crate::helpers::eventually(
        "Ada's copy changes in her calendar",
        std::time::Duration::from_secs(15),
        async || {
            let e = emulator.event("ada@example.com", shared.as_str())?;
            (e.summary.as_deref() == Some("Study group (Ada)")).then_some(())
        },
    )
    .await;
    let reads = crate::helpers::answers(&emulator, Operation::List).len();
    crate::helpers::eventually(
        "more reads",
        std::time::Duration::from_secs(15),
        async || {
            (crate::helpers::answers(&emulator, Operation::List).len() >= reads + 4).then_some(())
        },
    )
    .await;
    let bos = emulator
        .event("bo@example.com", shared.as_str())
        .expect("Bo's copy");
    assert_eq!(bos.summary.as_deref(), Some("Study group"));
    assert_eq!(
        imported(&bo).await.expect("Bo's event")["title"],
        "Study group"
    );
}

#[tokio::test]
async fn series_and_instances_are_read_with_what_names_them() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let app = spawn_app_with(|s| use_emulator(s, &emulator)).await;
    let user = app.user().await;
    connect_google(&app, &user).await;
    let token = access_token(&app, user.id).await;
    let owner = emulator.default_user().to_owned();
    let weekly = emulator
        .create_event(
            &owner,
            EventEdit {
                recurrence: Some(vec!["RRULE:FREQ=WEEKLY;COUNT=5".to_owned()]),
                ..edit(
                    "Standup",
                    EventDateTime::timed("2026-11-24T08:00:00Z", Some("Europe/London")),
                    EventDateTime::timed("2026-11-24T08:15:00Z", Some("Europe/London")),
                )
            },
        )
        .expect("created");
    let calendar = GoogleCalendar::new(&emulator.calendar_api_url(), "primary");
    let full = calendar
        .list_changes(&token, None, None)
        .await
        .expect("full read");
    let series = find(&full.items, &weekly.id);
    assert_eq!(series.recurrence.rules, ["RRULE:FREQ=WEEKLY;COUNT=5"]);
    assert_eq!(series.time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(series.recurrence.recurring_event_id, None);
    let sync_token = full.next_sync_token.clone().expect("a sync token");

    // One instance moved, one cancelled: each read as an instance of the series.
    let moved = format!("{}_20261201T080000Z", weekly.id);
    let cancelled = format!("{}_20261208T080000Z", weekly.id);
    emulator
        .edit_event(
            &owner,
            &moved,
            edit(
                "Standup (late)",
                EventDateTime::timed("2026-12-01T10:00:00Z", None),
                EventDateTime::timed("2026-12-01T10:15:00Z", None),
            ),
        )
        .expect("moved");
    emulator
        .delete_event(&owner, &cancelled)
        .expect("cancelled");
    let changes = calendar
        .list_changes(&token, Some(sync_token), None)
        .await
        .expect("incremental read");
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
    let m = find(&changes.items, &moved);
    assert!(m.is_recurring() && !m.cancelled);
    assert_eq!(m.summary.as_deref(), Some("Standup (late)"));
    assert_eq!(m.start, Some(GoogleTime::At(at(1, 10))));
    assert_eq!(
        m.recurrence.recurring_event_id.as_deref(),
        Some(weekly.id.as_str())
    );
    assert_eq!(m.recurrence.original_start, Some(GoogleTime::At(at(1, 8))));
    // A cancelled instance carries only its ids, its status and its original start.
    let c = find(&changes.items, &cancelled);
    assert!(c.cancelled && c.is_recurring());
    assert_eq!((c.start, c.end, c.summary.as_deref()), (None, None, None));
    assert_eq!(
        c.recurrence.recurring_event_id.as_deref(),
        Some(weekly.id.as_str())
    );
    assert_eq!(c.recurrence.original_start, Some(GoogleTime::At(at(8, 8))));
}
