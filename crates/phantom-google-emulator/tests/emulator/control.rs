//! The `/_emulator/` JSON endpoints that drive a separately running emulator.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn control_endpoints_drive_faults_consent_tokens_and_log() {
    let emu = emulator().await;
    let control = |path: &str| format!("{}/_emulator/{path}", emu.base_url());
    let tokens = sign_in(&emu).await;

    let fault = json!({
        "matcher": { "operation": "insert" },
        "times": 1,
        "action": { "status": { "code": 503, "retry_after": { "seconds": 2 } } },
    });
    assert_eq!(
        send(http().post(control("faults")).json(&fault))
            .await
            .status(),
        204
    );
    let delay =
        json!({ "matcher": { "operation": "list" }, "action": { "delay": 10 }, "times": 1 });
    assert_eq!(
        send(http().post(control("faults")).json(&delay))
            .await
            .status(),
        204
    );
    let faulted = insert(&emu, &tokens.access, &sample_event(Some("controlled1"))).await;
    assert_eq!(faulted.status(), 503);
    assert_eq!(faulted.headers()["retry-after"], "2");
    let lost = json!({ "action": "apply_then_503", "times": 1 });
    send(http().post(control("faults")).json(&lost)).await;
    assert_eq!(
        insert(&emu, &tokens.access, &sample_event(Some("controlled1")))
            .await
            .status(),
        503
    );
    send(http().delete(control("faults"))).await;

    let events: Value =
        json_of(send(http().get(control(&format!("events/{}", emu.default_user())))).await).await;
    assert_eq!(events[0]["id"], "controlled1");
    assert_eq!(events[0]["status"], "confirmed");

    let log: Value = json_of(send(http().get(control("log"))).await).await;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "insert");
    assert_eq!(last["status"], 503);
    assert!(last["at"].is_string());

    send(http().post(control("access-tokens/expire"))).await;
    assert_eq!(
        send(http().get(events_url(&emu)).bearer_auth(&tokens.access))
            .await
            .status(),
        401
    );
    send(
        http()
            .post(control("refresh-tokens/invalidate"))
            .json(&json!({})),
    )
    .await;
    let refresh = tokens.refresh.unwrap();
    let refused = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(json_of(refused).await["error"], "invalid_grant");

    send(
        http()
            .put(control("consent"))
            .json(&json!({ "grant_scopes": ["openid"] })),
    )
    .await;
    let params = redirect_params(&authorize(&emu, &[("scope", "openid email")]).await);
    assert_eq!(param(&params, "scope"), Some("openid"));
    send(http().put(control("consent")).json(&json!("deny"))).await;
    let params = redirect_params(&authorize(&emu, &[]).await);
    assert_eq!(param(&params, "error"), Some("access_denied"));
}

#[tokio::test]
async fn prompt_consent_shows_a_page_a_person_can_answer() {
    let emu = emulator().await;
    emu.set_consent(phantom_google_emulator::Consent::Prompt);
    let scope = format!("openid {CALENDAR_EVENTS}");
    let page = authorize(&emu, &[("scope", &scope)]).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let request_id = &html[start..start + html[start..].find('"').unwrap()];
    let answer = send(
        http()
            .post(format!("{}/o/oauth2/v2/consent", emu.base_url()))
            .form(&[
                ("request", request_id),
                ("scope", "openid"),
                ("decision", "allow"),
            ]),
    )
    .await;
    let params = redirect_params(&answer);
    assert_eq!(param(&params, "scope"), Some("openid"));
    assert!(param(&params, "code").is_some());
}

#[tokio::test]
async fn edits_in_google_over_http_come_back_through_incremental_sync() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let control = |path: &str| format!("{}/_emulator/{path}", emu.base_url());
    insert(&emu, &access, &sample_event(Some("phantom0100"))).await;
    let (_, token) = list_all(&emu, &access, &[]).await.unwrap();

    // A person creates an all-day event on their phone...
    let created = send(
        http()
            .post(control("calendars/primary/events"))
            .json(&json!({
                "summary": "Conference",
                "start": { "date": "2030-09-01" },
                "end": { "date": "2030-09-03" },
            })),
    )
    .await;
    assert_eq!(created.status(), 200);
    let created: Value = json_of(created).await;
    let new_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "confirmed");
    assert_eq!(
        created["resource"]["start"],
        json!({ "date": "2030-09-01" })
    );
    // ... renames Phantom's event and moves it to all-day ...
    let event_control = control(&format!(
        "calendars/{}/events/phantom0100",
        emu.default_user()
    ));
    let edited = send(http().patch(&event_control).json(&json!({
        "summary": "Dentist (rescheduled)",
        "start": { "date": "2030-05-02" },
        "end": { "date": "2030-05-03" },
    })))
    .await;
    assert_eq!(edited.status(), 200);
    let edited: Value = json_of(edited).await;
    assert_eq!(edited["color_id"], "5", "what the edit does not name stays");
    assert_eq!(edited["description"], "Bring the forms");
    // ... and deletes the new one again.
    let deleted = send(http().delete(control(&format!("calendars/primary/events/{new_id}")))).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(json_of(deleted).await["status"], "cancelled");

    let (changes, _) = list_all(&emu, &access, &[("syncToken", &token)])
        .await
        .unwrap();
    assert_eq!(ids(&changes), ["phantom0100", new_id.as_str()]);
    assert_eq!(changes[0]["summary"], "Dentist (rescheduled)");
    assert_eq!(changes[0]["start"], json!({ "date": "2030-05-02" }));
    assert_eq!(changes[1]["status"], "cancelled");

    // The stored state, tombstones included.
    let read: Value =
        json_of(send(http().get(control(&format!("calendars/primary/events/{new_id}")))).await)
            .await;
    assert_eq!(read["status"], "cancelled");
    assert_eq!(read["summary"], "Conference");

    // Refusals: unknown 404, deleted 410, invalid 400.
    let unknown = control("calendars/primary/events/nosuchevent");
    assert_eq!(send(http().get(&unknown)).await.status(), 404);
    assert_eq!(
        send(http().patch(&unknown).json(&json!({}))).await.status(),
        404
    );
    let tombstone = control(&format!("calendars/primary/events/{new_id}"));
    assert_eq!(send(http().delete(&tombstone)).await.status(), 410);
    assert_eq!(
        send(http().patch(&tombstone).json(&json!({ "summary": "x" })))
            .await
            .status(),
        410
    );
    let backwards = send(http().patch(&event_control).json(&json!({
        "start": { "date": "2030-05-04" },
        "end": { "date": "2030-05-03" },
    })))
    .await;
    assert_eq!(backwards.status(), 400);
    assert!(
        json_of(backwards).await["error"]
            .as_str()
            .unwrap()
            .contains("time range is empty")
    );
    let half = send(
        http()
            .patch(&event_control)
            .json(&json!({ "start": { "dateTime": "2030-05-02T10:00:00Z" } })),
    )
    .await;
    assert_eq!(half.status(), 400, "all-day end with a timed start");
    let no_times = send(
        http()
            .post(control("calendars/primary/events"))
            .json(&json!({ "summary": "x" })),
    )
    .await;
    assert_eq!(no_times.status(), 400);
    let malformed = send(http().post(control("calendars/primary/events")).body("{")).await;
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn in_process_edits_report_why_they_were_refused() {
    use phantom_google_emulator::{EditError, EventDateTime, EventEdit};
    let emu = emulator().await;
    let when = EventEdit {
        summary: Some("Call".into()),
        start: Some(EventDateTime::timed("2030-01-01T10:00:00Z", None)),
        end: Some(EventDateTime::timed("2030-01-01T11:00:00Z", None)),
        ..EventEdit::default()
    };
    let created = emu.create_event("primary", when.clone()).unwrap();
    assert_eq!(created.created, created.updated);
    let cleared = emu
        .edit_event(
            "primary",
            &created.id,
            EventEdit {
                summary: Some(String::new()),
                ..EventEdit::default()
            },
        )
        .unwrap();
    assert_eq!(cleared.summary, None, "an empty string removes the field");
    assert!(cleared.updated > created.updated);
    assert_ne!(cleared.etag, created.etag);
    emu.delete_event("primary", &created.id).unwrap();
    assert_eq!(
        emu.delete_event("primary", &created.id),
        Err(EditError::Deleted(created.id.clone()))
    );
    assert!(matches!(
        emu.edit_event("primary", "nosuchevent", when),
        Err(EditError::NotFound { .. })
    ));
    assert_eq!(
        emu.event(emu.default_user(), &created.id).unwrap().id,
        created.id
    );
    assert!(emu.event("primary", "nosuchevent").is_none());
}
