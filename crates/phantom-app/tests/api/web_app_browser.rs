//! The web app in a real headless Chromium against the real server and the Google emulator:
//! what a person does, step by step. `PHANTOM_SCREENSHOT_DIR=docs` also saves screenshots.

use std::time::Duration;

use phantom_google_emulator::{Fault, FaultAction, Match, Operation};
use serde_json::{Value, json};

use crate::browser::{
    Browser, connect_through_consent_page, emulator_with_consent_page, event_shows, form_opens,
    open_event, shoot, spawn_app_for_browser,
};
use crate::helpers::PASSWORD;

async fn save_form(browser: &Browser) {
    browser.click("#event-save").await;
}

#[tokio::test]
async fn a_person_signs_in_plans_a_week_and_watches_it_sync_in_headless_chromium() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    // Short-lived access tokens: the app must refresh them on its own.
    let app = spawn_app_for_browser(&emulator, |s| {
        s.access_token_ttl = Duration::from_secs(40);
    })
    .await;

    // Register (which signs in).
    browser.goto(&format!("{}/", app.address)).await;
    browser.fill("#register-username", "ada").await;
    browser.fill("#register-password", PASSWORD).await;
    browser.fill("#register-timezone", "America/New_York").await;
    shoot(&browser, "web-app-sign-in.png").await;
    browser.click("#register-form button[type=submit]").await;
    // Registering signs in.
    browser.find("#calendar .fc-timegrid").await;
    let first_access = browser
        .run(
            "return JSON.parse(sessionStorage.getItem('phantom.tokens')).access",
            vec![],
        )
        .await;

    // Select 10:00 mid-week in the week view (a click on the row selects one slot there): the
    // form opens with that range.
    browser
        .click("#calendar td.fc-timegrid-slot-lane[data-time='10:00:00']")
        .await;
    form_opens(&browser).await;
    browser.fill("#event-title", "Algebra exam").await;
    save_form(&browser).await;
    let shown = event_shows(
        &browser,
        "the event is in the week view",
        "Algebra exam",
        "not_connected",
    )
    .await;
    // Before Google is connected the event says nothing about syncing.
    assert_eq!(shown, json!("Algebra exam"));

    // A bad input: the API's message beside the field, and nothing saved.
    open_event(&browser, "Algebra exam").await;
    browser
        .run(
            "const f = document.getElementById('event-form').elements;
             f.end_time.value = f.start_time.value.replace(/T\\d\\d:/, 'T00:');
             f.start_time.value = f.start_time.value.replace(/T\\d\\d:/, 'T23:');",
            vec![],
        )
        .await;
    save_form(&browser).await;
    let message = browser
        .until(
            "the end time's error is shown",
            "return document.querySelector('#event-form [data-error-for=end_time]').textContent",
            vec![],
        )
        .await;
    assert_eq!(message, json!("Ends must be after Starts."));
    let invalid = browser
        .run(
            "return document.getElementById('event-end').getAttribute('aria-invalid')",
            vec![],
        )
        .await;
    assert_eq!(invalid, json!("true"));
    browser.click("#event-cancel").await;

    // Edit it: a new title, and 90 minutes instead of the one slot selected.
    open_event(&browser, "Algebra exam").await;
    browser.fill("#event-title", "Algebra exam, room 4").await;
    browser
        .run(
            "const f = document.getElementById('event-form').elements;
             f.end_time.value = f.start_time.value.replace('T10:00', 'T11:30');",
            vec![],
        )
        .await;
    save_form(&browser).await;
    event_shows(&browser, "the edit is shown", "room 4", "not_connected").await;

    // Connect Google: the consent page, then back to the app through the callback's 302.
    connect_through_consent_page(&browser, "#google-connect").await;
    event_shows(&browser, "the event shows synced", "room 4", "synced").await;
    shoot(&browser, "web-app-week.png").await;

    // Google refuses the next change: the event shows failed, with the reason.
    for write in [Operation::Insert, Operation::Update, Operation::Patch] {
        emulator.push_fault(Fault::always(
            Match::operation(write),
            FaultAction::BadRequest {
                reason: "invalid".into(),
                message: "Invalid start time.".into(),
            },
        ));
    }
    open_event(&browser, "room 4").await;
    browser.fill("#event-title", "Algebra exam, room 5").await;
    save_form(&browser).await;
    let failed = event_shows(&browser, "the event shows failed", "room 5", "failed").await;
    assert!(
        failed.as_str().expect("tooltip").contains("failed: "),
        "{failed}"
    );
    browser
        .until(
            "the header counts the failure",
            "return document.getElementById('google-counts').textContent.includes('1 failed')
                && document.getElementById('google-error').textContent",
            vec![],
        )
        .await;
    open_event(&browser, "room 5").await;
    let in_form = browser
        .run(
            "return document.getElementById('event-sync').textContent",
            vec![],
        )
        .await;
    assert!(
        in_form
            .as_str()
            .expect("text")
            .starts_with("Google Calendar: failed — "),
        "{in_form}"
    );
    shoot(&browser, "web-app-failed.png").await;

    // Healed: the next save goes through.
    emulator.clear_faults();
    save_form(&browser).await;
    event_shows(&browser, "the event shows synced again", "room 5", "synced").await;

    // Delete it in the form.
    open_event(&browser, "room 5").await;
    browser.click("#event-delete").await;
    browser.click("#event-confirm-delete").await;
    browser
        .until(
            "the calendar is empty",
            "return document.querySelectorAll('#calendar [data-event-id]').length === 0",
            vec![],
        )
        .await;

    // A forged access token: the next call is answered 401, refreshed and retried, unseen.
    browser
        .run(
            "const t = JSON.parse(sessionStorage.getItem('phantom.tokens'));
             t.access = t.access.slice(0, -4) + 'AAAA';
             sessionStorage.setItem('phantom.tokens', JSON.stringify(t));",
            vec![],
        )
        .await;
    let refreshed = browser
        .until(
            "the access token is replaced",
            "const t = JSON.parse(sessionStorage.getItem('phantom.tokens'));
             return t && !t.access.endsWith('AAAA') && t.access !== arguments[0] && t.access;",
            vec![first_access.clone()],
        )
        .await;
    assert_ne!(refreshed, first_access);
    let signed_in = browser
        .run("return !document.getElementById('app').hidden", vec![])
        .await;
    assert_eq!(signed_in, json!(true), "the user noticed nothing");

    // Sign out: the tokens are gone and the sign-in form is back.
    browser.click("#sign-out").await;
    browser
        .until(
            "the sign-in form is back",
            "return !document.getElementById('auth').hidden
                && sessionStorage.getItem('phantom.tokens') === null",
            vec![],
        )
        .await;
    let tokens: Value = browser.run("return sessionStorage.length", vec![]).await;
    assert_eq!(tokens, json!(0));
    browser.close().await;
}
