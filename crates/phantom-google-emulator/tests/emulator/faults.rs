//! Fault injection and the request log.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use phantom_google_emulator::{Fault, FaultAction, Match, Operation, RetryAfter};

use crate::support::*;

#[tokio::test]
async fn status_faults_carry_google_bodies_and_retry_after() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    emu.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 429,
            retry_after: Some(RetryAfter::Seconds(7)),
        },
    ));
    let at = Utc.with_ymd_and_hms(2030, 10, 21, 7, 28, 0).unwrap();
    emu.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::Status {
            code: 503,
            retry_after: Some(RetryAfter::HttpDate(at)),
        },
    ));

    let throttled = insert(&emu, &access, &sample_event(None)).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    let body = json_of(throttled).await;
    assert_eq!(reason(&body), "rateLimitExceeded");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");

    let unavailable = insert(&emu, &access, &sample_event(None)).await;
    assert_eq!(unavailable.status(), 503);
    assert_eq!(
        unavailable.headers()["retry-after"],
        "Mon, 21 Oct 2030 07:28:00 GMT"
    );
    assert_eq!(reason(&json_of(unavailable).await), "backendError");

    assert_eq!(
        insert(&emu, &access, &sample_event(None)).await.status(),
        200,
        "rules used up"
    );
    let statuses: Vec<u16> = emu
        .request_log()
        .iter()
        .rev()
        .take(3)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 503, 429]);
    assert!(
        emu.events(emu.default_user()).len() == 1,
        "faulted inserts stored nothing"
    );
}

#[tokio::test]
async fn forbidden_faults_use_googles_usage_limit_messages() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    for (reason_code, message) in [
        ("rateLimitExceeded", "Rate Limit Exceeded"),
        ("userRateLimitExceeded", "User Rate Limit Exceeded"),
        ("quotaExceeded", "Calendar usage limits exceeded."),
    ] {
        emu.push_fault(Fault::once(
            Match::any(),
            FaultAction::Forbidden {
                reason: reason_code.into(),
            },
        ));
        let response = send(http().get(events_url(&emu)).bearer_auth(&access)).await;
        assert_eq!(response.status(), 403);
        let body = json_of(response).await;
        assert_eq!(reason(&body), reason_code);
        assert_eq!(body["error"]["message"], message);
        assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    }
}

#[tokio::test]
async fn bad_request_faults_on_api_and_token_endpoints() {
    let emu = emulator().await;
    let tokens = sign_in(&emu).await;
    let fault = |operation| {
        Fault::once(
            Match::operation(operation),
            FaultAction::BadRequest {
                reason: "invalid_grant".into(),
                message: "Bad Request".into(),
            },
        )
    };
    emu.push_fault(fault(Operation::Refresh));
    emu.push_fault(fault(Operation::List));
    let refresh = tokens.refresh.unwrap();
    let refused = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(json_of(refused).await["error"], "invalid_grant");
    let listed = send(http().get(events_url(&emu)).bearer_auth(&tokens.access)).await;
    assert_eq!(listed.status(), 400);
    assert_eq!(reason(&json_of(listed).await), "invalid_grant");
}

#[tokio::test]
async fn delay_faults_hold_the_answer() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    emu.push_fault(Fault::once(
        Match::operation(Operation::List),
        FaultAction::Delay(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    let response = send(http().get(events_url(&emu)).bearer_auth(&access)).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// A held answer was made when the request came: a change made while it is held is not in it.
#[tokio::test]
async fn delay_answer_faults_hold_an_answer_made_at_once() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    emu.push_fault(Fault::once(
        Match::operation(Operation::List),
        FaultAction::DelayAnswer(Duration::from_millis(500)),
    ));
    let started = Instant::now();
    let listing = tokio::spawn(send(http().get(events_url(&emu)).bearer_auth(&access)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let made = insert(&emu, &access, &sample_event(Some("later000001"))).await;
    assert_eq!(made.status(), 200);
    let listed = listing.await.expect("join");
    assert_eq!(listed.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(json_of(listed).await["items"], serde_json::json!([]));
    assert_eq!(emu.events(emu.default_user()).len(), 1);
}

#[tokio::test]
async fn apply_then_503_loses_the_answer_but_keeps_the_event() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    emu.push_fault(Fault::once(
        Match::operation(Operation::Insert),
        FaultAction::ApplyThen503,
    ));
    let event = sample_event(Some("retried0001"));
    let lost = insert(&emu, &access, &event).await;
    assert_eq!(lost.status(), 503);
    assert_eq!(emu.events(emu.default_user())[0].id, "retried0001");
    let retried = insert(&emu, &access, &event).await;
    assert_eq!(
        retried.status(),
        409,
        "the retry must see the first attempt"
    );
}

#[tokio::test]
async fn rules_match_by_path_and_last_until_cleared() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    insert(&emu, &access, &sample_event(Some("fine000001"))).await;
    insert(&emu, &access, &sample_event(Some("broken0001"))).await;
    emu.push_fault(Fault::always(
        Match::any().path_contains("broken0001"),
        FaultAction::Status {
            code: 500,
            retry_after: None,
        },
    ));
    for _ in 0..3 {
        assert_eq!(
            send(
                http()
                    .get(event_url(&emu, "broken0001"))
                    .bearer_auth(&access)
            )
            .await
            .status(),
            500
        );
    }
    assert_eq!(
        send(
            http()
                .get(event_url(&emu, "fine000001"))
                .bearer_auth(&access)
        )
        .await
        .status(),
        200
    );
    emu.clear_faults();
    assert_eq!(
        send(
            http()
                .get(event_url(&emu, "broken0001"))
                .bearer_auth(&access)
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn request_log_records_timing_for_retry_measurements() {
    let emu = emulator().await;
    let access = sign_in(&emu).await.access;
    emu.clear_request_log();
    let before = Utc::now();
    send(
        http()
            .get(format!("{}?maxResults=5", events_url(&emu)))
            .bearer_auth(&access),
    )
    .await;
    send(
        http()
            .delete(event_url(&emu, "nosuchevent"))
            .bearer_auth(&access),
    )
    .await;
    send(
        http()
            .get(format!("{}?maxResults=5", events_url(&emu)))
            .bearer_auth("not-a-token"),
    )
    .await;
    let log = emu.request_log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/calendar/v3/calendars/primary/events");
    assert_eq!(log[0].operation, Operation::List);
    assert_eq!(log[1].operation, Operation::Delete);
    assert_eq!(log[1].status, 404);
    assert!(before <= log[0].at && log[0].at <= log[1].at);
    // Whose calendar each call was for: the token's account, none without a valid token.
    let account = Some(emu.default_user().to_owned());
    assert_eq!(log[0].account, account);
    assert_eq!(log[1].account, account);
    assert_eq!(log[2].status, 401);
    assert_eq!(log[2].account, None);
}

#[tokio::test]
async fn shutdown_makes_google_unreachable() {
    let emu = emulator().await;
    let url = emu.token_url();
    emu.shutdown().await;
    let error = http()
        .post(url)
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await;
    assert!(error.is_err(), "connection should be refused");
}
