//! Calendar API v3 events.

use phantom_google_emulator::EventStatus;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn event_lifecycle_insert_get_list_update_patch_delete() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;

    let inserted = insert(&emu, &access, &sample_event(Some("phantom0001"))).await;
    assert_eq!(inserted.status(), 200);
    let event = json_of(inserted).await;
    assert_eq!(event["kind"], "calendar#event");
    assert_eq!(event["id"], "phantom0001");
    assert_eq!(event["status"], "confirmed");
    assert_eq!(event["iCalUID"], "phantom0001@google.com");
    assert_eq!(event["start"]["timeZone"], "Europe/Paris");
    assert_eq!(event["colorId"], "5");
    for field in ["etag", "htmlLink", "created", "updated", "sequence"] {
        assert!(event.get(field).is_some(), "missing {field}: {event}");
    }

    let fetched = json_of(
        send(
            http()
                .get(event_url(&emu, "phantom0001"))
                .bearer_auth(&access),
        )
        .await,
    )
    .await;
    assert_eq!(fetched["summary"], "Dentist");

    let listed = json_of(send(http().get(events_url(&emu)).bearer_auth(&access)).await).await;
    assert_eq!(listed["kind"], "calendar#events");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let mut replacement = sample_event(None);
    replacement["summary"] = "Dentist (moved)".into();
    replacement["start"]["dateTime"] = "2030-05-02T10:00:00+02:00".into();
    replacement["end"]["dateTime"] = "2030-05-02T11:00:00+02:00".into();
    replacement.as_object_mut().unwrap().remove("description");
    let updated = send(
        http()
            .put(event_url(&emu, "phantom0001"))
            .bearer_auth(&access)
            .json(&replacement),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let updated = json_of(updated).await;
    assert_eq!(updated["summary"], "Dentist (moved)");
    assert!(
        updated.get("description").is_none(),
        "PUT replaces: {updated}"
    );
    assert_eq!(updated["sequence"], 1);
    assert_ne!(updated["etag"], event["etag"]);

    let patched = send(
        http()
            .patch(event_url(&emu, "phantom0001"))
            .bearer_auth(&access)
            .json(&json!({ "colorId": "11", "description": "new" })),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let patched = json_of(patched).await;
    assert_eq!(
        patched["summary"], "Dentist (moved)",
        "PATCH merges: {patched}"
    );
    assert_eq!(patched["colorId"], "11");

    let deleted = send(
        http()
            .delete(event_url(&emu, "phantom0001"))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());

    let gone = json_of(
        send(
            http()
                .get(event_url(&emu, "phantom0001"))
                .bearer_auth(&access),
        )
        .await,
    )
    .await;
    assert_eq!(gone["status"], "cancelled");
    let listed = json_of(send(http().get(events_url(&emu)).bearer_auth(&access)).await).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    let with_deleted = send(
        http()
            .get(events_url(&emu))
            .query(&[("showDeleted", "true")])
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(
        json_of(with_deleted).await["items"][0]["status"],
        "cancelled"
    );

    let held = emu.events(emu.default_user());
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, EventStatus::Cancelled);
    assert_eq!(held[0].summary.as_deref(), Some("Dentist (moved)"));
    assert_eq!(held[0].color_id.as_deref(), Some("11"));
}

#[tokio::test]
async fn ids_are_never_reusable() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let event = sample_event(Some("phantom0002"));
    assert_eq!(insert(&emu, &access, &event).await.status(), 200);
    let duplicate = insert(&emu, &access, &event).await;
    assert_eq!(duplicate.status(), 409);
    let body = json_of(duplicate).await;
    assert_eq!(reason(&body), "duplicate");
    assert_eq!(
        body["error"]["message"],
        "The requested identifier already exists."
    );

    send(
        http()
            .delete(event_url(&emu, "phantom0002"))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(insert(&emu, &access, &event).await.status(), 409);
}

#[tokio::test]
async fn cancelled_and_unknown_events() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    insert(&emu, &access, &sample_event(Some("phantom0003"))).await;
    let url = event_url(&emu, "phantom0003");
    assert_eq!(
        send(http().delete(&url).bearer_auth(&access))
            .await
            .status(),
        204
    );
    let again = send(http().delete(&url).bearer_auth(&access)).await;
    assert_eq!(again.status(), 410);
    assert_eq!(reason(&json_of(again).await), "deleted");
    let put = send(
        http()
            .put(&url)
            .bearer_auth(&access)
            .json(&sample_event(None)),
    )
    .await;
    assert_eq!(put.status(), 410);
    let patch = send(
        http()
            .patch(&url)
            .bearer_auth(&access)
            .json(&json!({"summary": "x"})),
    )
    .await;
    assert_eq!(patch.status(), 410);

    let unknown = event_url(&emu, "nosuchevent");
    for request in [
        http().get(&unknown),
        http().delete(&unknown),
        http().put(&unknown).json(&sample_event(None)),
        http().patch(&unknown).json(&json!({})),
    ] {
        let response = send(request.bearer_auth(&access)).await;
        assert_eq!(response.status(), 404);
        let body = json_of(response).await;
        assert_eq!(reason(&body), "notFound");
        assert_eq!(body["error"]["message"], "Not Found");
    }
}

#[tokio::test]
async fn client_ids_must_be_base32hex_of_5_to_1024_chars() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let too_long = "a".repeat(1025);
    for bad in [
        "abcd",
        "ABCDEF1",
        "event-with-dash",
        "wxyz12345",
        too_long.as_str(),
    ] {
        let response = insert(&emu, &access, &sample_event(Some(bad))).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body = json_of(response).await;
        assert_eq!(reason(&body), "invalid");
        assert_eq!(body["error"]["message"], "Invalid resource id value.");
    }
    let generated = json_of(insert(&emu, &access, &sample_event(None)).await).await;
    let id = generated["id"].as_str().unwrap();
    assert!(
        id.len() >= 5 && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9')),
        "{id}"
    );
}

#[tokio::test]
async fn event_bodies_are_validated_like_google() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let mut no_end = sample_event(None);
    no_end.as_object_mut().unwrap().remove("end");
    let mut backwards = sample_event(None);
    backwards["end"]["dateTime"] = "2030-05-01T09:00:00+02:00".into();
    let mut bad_color = sample_event(None);
    bad_color["colorId"] = "12".into();
    let mut bad_zone = sample_event(None);
    bad_zone["start"]["timeZone"] = "Mars/Olympus_Mons".into();
    let mut mixed = sample_event(None);
    mixed["end"] = json!({ "date": "2030-05-02" });
    for (body, expected_reason, message) in [
        (no_end, "required", Some("Missing end time.")),
        (
            backwards,
            "timeRangeEmpty",
            Some("The specified time range is empty."),
        ),
        (bad_color, "invalid", None),
        (bad_zone, "invalid", None),
        (mixed, "invalid", None),
    ] {
        let response = insert(&emu, &access, &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer = json_of(response).await;
        assert_eq!(reason(&answer), expected_reason, "{answer}");
        assert_eq!(answer["error"]["code"], 400);
        if let Some(message) = message {
            assert_eq!(answer["error"]["message"], message);
        }
    }
    let all_day = json!({ "summary": "Holiday", "start": { "date": "2030-07-01" }, "end": { "date": "2030-07-02" } });
    assert_eq!(insert(&emu, &access, &all_day).await.status(), 200);

    let malformed = send(
        http()
            .post(events_url(&emu))
            .bearer_auth(&access)
            .header("Content-Type", "application/json")
            .body("{\"summary\": "),
    )
    .await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(reason(&json_of(malformed).await), "parseError");
}

#[tokio::test]
async fn calendar_calls_need_a_live_access_token() {
    let emu = emulator().await;
    let tokens = sign_in(&emu).await;
    let missing = send(http().get(events_url(&emu))).await;
    assert_eq!(missing.status(), 401);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let unknown = send(http().get(events_url(&emu)).bearer_auth("ya29.bogus")).await;
    assert_eq!(unknown.status(), 401);
    let body = json_of(unknown).await;
    assert_eq!(reason(&body), "authError");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["errors"][0]["message"], "Invalid Credentials");
    assert_eq!(body["error"]["errors"][0]["location"], "Authorization");

    emu.expire_all_access_tokens();
    let expired = send(http().get(events_url(&emu)).bearer_auth(&tokens.access)).await;
    assert_eq!(expired.status(), 401);

    let refresh = tokens.refresh.unwrap();
    let fresh = json_of(
        token(
            &emu,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    let access = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        send(http().get(events_url(&emu)).bearer_auth(access))
            .await
            .status(),
        200
    );

    let other_calendar = format!(
        "{}calendars/someone%40example.com/events",
        emu.calendar_api_url()
    );
    assert_eq!(
        send(http().get(other_calendar).bearer_auth(access))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn list_pages_and_filters_by_time() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    for day in 1..=5 {
        let event = json!({
            "summary": format!("day {day}"),
            "start": { "dateTime": format!("2030-01-0{day}T09:00:00Z") },
            "end": { "dateTime": format!("2030-01-0{day}T10:00:00Z") },
        });
        assert_eq!(insert(&emu, &access, &event).await.status(), 200);
    }
    let mut summaries = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut query = vec![("maxResults", "2".to_owned())];
        if let Some(token) = &page_token {
            query.push(("pageToken", token.clone()));
        }
        let page = json_of(
            send(
                http()
                    .get(events_url(&emu))
                    .query(&query)
                    .bearer_auth(&access),
            )
            .await,
        )
        .await;
        for item in page["items"].as_array().unwrap() {
            summaries.push(item["summary"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => page_token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(summaries, ["day 1", "day 2", "day 3", "day 4", "day 5"]);

    let window = send(
        http()
            .get(events_url(&emu))
            .query(&[
                ("timeMin", "2030-01-02T10:00:00Z"),
                ("timeMax", "2030-01-04T09:00:00Z"),
            ])
            .bearer_auth(&access),
    )
    .await;
    let items = json_of(window).await["items"].as_array().unwrap().len();
    assert_eq!(items, 1, "only day 3 overlaps");
}

/// Google's conditional modification: `If-Match` with the current etag (or `*`) writes, a
/// stale one answers `412 conditionNotMet` and changes nothing, for update, patch and delete.
#[tokio::test]
async fn writes_with_a_stale_if_match_are_refused_with_412() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    let first = json_of(insert(&emu, &access, &sample_event(Some("phantom0412"))).await).await;
    let stale = first["etag"].as_str().unwrap().to_owned();
    let url = event_url(&emu, "phantom0412");

    let patched = send(
        http()
            .patch(&url)
            .bearer_auth(&access)
            .header("If-Match", &stale)
            .json(&json!({ "summary": "Dentist (edited in Google)" })),
    )
    .await;
    assert_eq!(patched.status(), 200, "the current etag matches");
    let current = json_of(patched).await["etag"].as_str().unwrap().to_owned();
    assert_ne!(current, stale);

    let mut stale_write = sample_event(None);
    stale_write["summary"] = "Dentist (stale copy)".into();
    for request in [
        http().put(&url).json(&stale_write),
        http().patch(&url).json(&json!({ "summary": "stale" })),
        http().delete(&url),
    ] {
        let refused = send(request.bearer_auth(&access).header("If-Match", &stale)).await;
        assert_eq!(refused.status(), 412);
        let body = json_of(refused).await;
        assert_eq!(reason(&body), "conditionNotMet", "{body}");
        assert_eq!(body["error"]["errors"][0]["location"], "If-Match", "{body}");
    }
    let held = json_of(send(http().get(&url).bearer_auth(&access)).await).await;
    assert_eq!(held["summary"], "Dentist (edited in Google)");
    assert_eq!(
        held["etag"],
        current.as_str(),
        "a refused write changes nothing"
    );

    let any = send(
        http()
            .patch(&url)
            .bearer_auth(&access)
            .header("If-Match", "*")
            .json(&json!({ "description": "any revision" })),
    )
    .await;
    assert_eq!(any.status(), 200, "`*` matches any revision");
    let current = json_of(any).await["etag"].as_str().unwrap().to_owned();
    let deleted = send(
        http()
            .delete(&url)
            .bearer_auth(&access)
            .header("If-Match", &current),
    )
    .await;
    assert_eq!(deleted.status(), 204);
}
