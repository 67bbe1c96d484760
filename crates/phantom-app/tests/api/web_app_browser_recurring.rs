//! Recurring events in the web app, in headless Chromium with Google connected: a weekly
//! series made with "Repeat" on chosen days, one occurrence moved by dragging it ("This
//! event"), a split refused at the first occurrence in plain words, the title changed from an
//! occurrence on ("This and following events"), and a series deleted ("All events"). Every
//! step is checked against what the API answers and what the Google emulator holds.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use phantom_google_emulator::{EmulatedEvent, Emulator, EventStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{
    Browser, api_get, connect_through_consent_page, emulator_with_consent_page, form_opens, shoot,
    signed_in, spawn_app_for_browser, week_days,
};
use crate::helpers::{TestApp, TestUser, eventually};

const PATIENCE: Duration = Duration::from_secs(30);

/// Sets the value of the field `css` and tells the page, as a picker does.
async fn pick(browser: &Browser, css: &str, value: &str) {
    browser
        .run(
            "const field = document.querySelector(arguments[0]);
             field.value = arguments[1];
             field.dispatchEvent(new Event('input', { bubbles: true }));
             field.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await;
}

/// RRULE's code of the day `ymd` (`YYYY-MM-DD`), and its place in a Monday-first week.
fn weekday(ymd: &str) -> (&'static str, u32) {
    const CODES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    let day = NaiveDate::parse_from_str(ymd, "%Y-%m-%d").expect("a date");
    let index = day.weekday().num_days_from_monday();
    (CODES[index as usize], index)
}

/// `2026-12-08` → `20261208`.
fn compact(ymd: &str) -> String {
    ymd.replace('-', "")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// When a Google event starts; a local date-time is in UTC, the zone of these users.
fn google_start(event: &EmulatedEvent) -> DateTime<Utc> {
    let start = event.start.as_ref().expect("a start");
    let text = start.date_time.as_deref().expect("a dateTime");
    DateTime::parse_from_rfc3339(text).map_or_else(
        |_| {
            assert_eq!(start.time_zone.as_deref(), Some("UTC"), "{event:?}");
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .expect("a local date-time")
                .and_utc()
        },
        |t| t.with_timezone(&Utc),
    )
}

/// Waits until `check` holds of the emulator's event `id` (an instance id works too).
async fn google_has(
    emulator: &Emulator,
    what: &str,
    id: &str,
    check: impl Fn(&EmulatedEvent) -> bool,
) -> EmulatedEvent {
    eventually(what, PATIENCE, async || {
        emulator
            .event(emulator.default_user(), id)
            .filter(|e| check(e))
    })
    .await
}

/// Waits until the API stores `count` events (series count once), and returns them.
async fn stored(app: &TestApp, user: &TestUser, count: usize) -> Vec<Value> {
    eventually("the API stores the events", PATIENCE, async || {
        let page = api_get(app, user, "/api/events/").await;
        let all = page["results"].as_array().cloned().unwrap_or_default();
        (all.len() == count && all.iter().all(|e| e["sync_status"] == "synced")).then_some(all)
    })
    .await
}

/// Waits until the calendar's box of `id` is there; its text.
async fn box_shows(browser: &Browser, what: &str, id: &str, text: &str) -> Value {
    browser
        .until(
            what,
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             return box && box.textContent.includes(arguments[1]) && box.textContent;",
            vec![json!(id), json!(text)],
        )
        .await
}

/// Opens the occurrence `id` in the form, by a click on its box.
async fn open_occurrence(browser: &Browser, id: &str) {
    browser
        .run(
            "document.querySelector(`#calendar [data-event-id='${arguments[0]}']`).click();",
            vec![json!(id)],
        )
        .await;
    form_opens(browser).await;
}

/// Waits for the question "which events?" and answers with the button `answer`.
async fn answer_scope(browser: &Browser, answer: &str) {
    let open = "return document.getElementById('scope-dialog').open
        && document.activeElement?.closest('#scope-dialog') !== null";
    browser
        .until("the page asks which events", open, vec![])
        .await;
    browser.click(answer).await;
}

#[tokio::test]
async fn a_weekly_series_is_made_moved_split_and_deleted_from_the_page() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    let app = spawn_app_for_browser(&emulator, |_| {}).await;
    let user = signed_in(&browser, &app, "rhea").await;
    let zone = api_get(&app, &user, "/api/preferences/").await["timezone"].clone();
    assert_eq!(zone, json!("UTC"));
    connect_through_consent_page(&browser, "#google-connect").await;
    let days = week_days(&browser).await;
    let (first, second) = (&days[1], &days[3]);
    let ((first_code, a), (second_code, b)) = (weekday(first), weekday(second));
    let by_day = if a < b {
        format!("{first_code},{second_code}")
    } else {
        format!("{second_code},{first_code}")
    };

    // 1. "New event", 09:00 on the second day shown, "Weekly on chosen days": the start's day
    // is on already; the fourth day's toggle adds it.
    browser.click("#new-event").await;
    form_opens(&browser).await;
    browser.fill("#event-title", "Standup").await;
    pick(&browser, "#event-start", &format!("{first}T09:00")).await;
    pick(&browser, "#event-repeat", "weekly").await;
    let pressed = browser
        .until(
            "the start's day is on",
            "return [...document.querySelectorAll('#event-repeat-days [aria-pressed=true]')]
                .map(b => b.dataset.day).join(',')",
            vec![],
        )
        .await;
    assert_eq!(pressed, json!(first_code));
    browser
        .click(&format!(
            "#event-repeat-days button[data-day='{second_code}']"
        ))
        .await;
    shoot(&browser, "web-app-repeat.png").await;
    browser.click("#event-save").await;

    let series = stored(&app, &user, 1).await.remove(0);
    let id = series["id"].as_i64().expect("an integer id");
    assert_eq!(
        series["recurrence"],
        json!([format!("RRULE:FREQ=WEEKLY;BYDAY={by_day}")])
    );
    assert_eq!(series["timezone"], zone);
    assert_eq!(series["start_time"], json!(format!("{first}T09:00:00Z")));
    let google_id = series["google_calendar_id"]
        .as_str()
        .expect("a Google id")
        .to_owned();
    let rule = series["recurrence"].clone();
    google_has(&emulator, "Google holds the series", &google_id, |e| {
        e.recurrence.as_ref().map(|r| json!(r)) == Some(rule.clone())
            && e.summary.as_deref() == Some("Standup")
    })
    .await;

    // Both occurrences of the week are in the API's range and on the page, with the mark.
    let occurrence = |day: &str| format!("{id}_{}T090000Z", compact(day));
    let (monday, wednesday) = (occurrence(first), occurrence(second));
    let range = api_get(
        &app,
        &user,
        &format!(
            "/api/events/range/?start={}T00:00:00Z&end={}T23:59:59Z",
            days[0], days[6]
        ),
    )
    .await;
    let ids: Vec<&Value> = range
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&json!(monday), &json!(wednesday)], "{range}");
    for occurrence in [&monday, &wednesday] {
        box_shows(&browser, "the occurrence is shown", occurrence, "Standup").await;
    }
    let marks = browser
        .run(
            "return document.querySelectorAll(`#calendar [data-recurring-event-id='${arguments[0]}'] .repeat-mark`).length",
            vec![json!(id)],
        )
        .await;
    assert_eq!(marks, json!(2));
    shoot(&browser, "web-app-recurring-week.png").await;

    // 2. Drag the first occurrence an hour down; "This event".
    let at = browser
        .until(
            "the occurrence and the grid can be measured",
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             const lane = (t) => document.querySelector(`#calendar td.fc-timegrid-slot-lane[data-time='${t}']`);
             if (!box) return null;
             box.scrollIntoView({ block: 'center' });
             const b = box.getBoundingClientRect();
             return { x: b.left + b.width / 2, top: b.top,
                      slot: lane('10:30:00').getBoundingClientRect().top - lane('10:00:00').getBoundingClientRect().top };",
            vec![json!(monday)],
        )
        .await;
    let number = |key: &str| at[key].as_f64().expect("a number");
    let slot = number("slot");
    browser
        .drag((number("x"), number("top") + slot / 2.0), (0.0, 2.0 * slot))
        .await;
    answer_scope(&browser, "#scope-this").await;
    let moved = eventually("the occurrence moved", PATIENCE, async || {
        let now = api_get(&app, &user, &format!("/api/events/{monday}/")).await;
        (now["start_time"] != series["start_time"]).then_some(now)
    })
    .await;
    assert_eq!(moved["start_time"], json!(format!("{first}T10:00:00Z")));
    assert_eq!(moved["end_time"], json!(format!("{first}T11:00:00Z")));
    assert_eq!(moved["original_start_time"], series["start_time"]);
    let unchanged = api_get(&app, &user, &format!("/api/events/{id}/")).await;
    assert_eq!(unchanged["start_time"], series["start_time"]);
    let expected = utc(&format!("{first}T10:00:00Z"));
    google_has(
        &emulator,
        "Google holds the moved instance",
        &format!("{google_id}_{}T090000Z", compact(first)),
        |e| e.start.is_some() && google_start(e) == expected,
    )
    .await;

    // The first occurrence cannot be split from: the page says why, in plain words.
    open_occurrence(&browser, &monday).await;
    browser.fill("#event-title", "Standup moved").await;
    browser.click("#event-save").await;
    answer_scope(&browser, "#scope-following").await;
    let refused = browser
        .until(
            "the refusal is shown",
            "return document.querySelector('#event-form [data-error-for=non_field_errors]').textContent",
            vec![],
        )
        .await;
    assert_eq!(
        refused,
        json!(
            "This is the first event of the series, so there are no earlier events to keep apart: choose “All events” instead."
        )
    );
    browser.click("#event-cancel").await;
    assert_eq!(stored(&app, &user, 1).await[0]["title"], "Standup");

    // 3. From the second occurrence on, a new title: "This and following events". The form
    // shows the series' rule as the Repeat choice and its days.
    open_occurrence(&browser, &wednesday).await;
    let shown = browser
        .run(
            "return [document.getElementById('event-repeat').value,
                     [...document.querySelectorAll('#event-repeat-days [aria-pressed=true]')].map(b => b.dataset.day).join(',')]",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(["weekly", by_day]));
    browser.fill("#event-title", "Standup, new room").await;
    browser.click("#event-save").await;
    answer_scope(&browser, "#scope-following").await;
    let both = stored(&app, &user, 2).await;
    let old = both.iter().find(|e| e["id"] == id).expect("the old series");
    let new = both.iter().find(|e| e["id"] != id).expect("the new series");
    let old_rule = old["recurrence"][0].as_str().expect("a rule").to_owned();
    assert!(old_rule.contains("UNTIL="), "{old}");
    assert_eq!(old["title"], "Standup");
    assert_eq!(new["title"], "Standup, new room");
    assert_eq!(new["start_time"], json!(format!("{second}T09:00:00Z")));
    assert_eq!(new["recurrence"], rule);
    let new_id = new["id"].as_i64().expect("an integer id");
    let new_google = new["google_calendar_id"]
        .as_str()
        .expect("a Google id")
        .to_owned();
    box_shows(
        &browser,
        "the new title is shown",
        &format!("{new_id}_{}T090000Z", compact(second)),
        "Standup, new room",
    )
    .await;
    box_shows(
        &browser,
        "the moved one keeps its title",
        &monday,
        "Standup",
    )
    .await;
    google_has(
        &emulator,
        "Google holds the old series' end",
        &google_id,
        |e| {
            e.recurrence
                .as_ref()
                .is_some_and(|r| r.iter().any(|l| l.contains("UNTIL=")))
        },
    )
    .await;
    google_has(&emulator, "Google holds the new series", &new_google, |e| {
        e.summary.as_deref() == Some("Standup, new room") && e.recurrence.is_some()
    })
    .await;

    // 4. Delete the new series from its occurrence: "All events".
    open_occurrence(&browser, &format!("{new_id}_{}T090000Z", compact(second))).await;
    browser.click("#event-delete").await;
    answer_scope(&browser, "#scope-all").await;
    let left = stored(&app, &user, 1).await;
    assert_eq!(left[0]["id"], id);
    let gone = app
        .get(&format!("/api/events/{new_id}/"), &user.access)
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    browser
        .until(
            "the deleted series leaves the page",
            "return !document.querySelector(`#calendar [data-recurring-event-id='${arguments[0]}']`)",
            vec![json!(new_id)],
        )
        .await;
    box_shows(&browser, "the old series stays", &monday, "Standup").await;
    google_has(
        &emulator,
        "Google cancels the new series",
        &new_google,
        |e| e.status == EventStatus::Cancelled,
    )
    .await;
    browser.close().await;
}

/// At phone width: a series whose rule none of the choices says shows that rule as it is and
/// keeps it through an edit of "All events"; the question is answered from the keyboard, and
/// Escape asks nothing to change.
#[tokio::test]
async fn a_rule_of_its_own_is_shown_and_kept_and_the_question_is_keyboard_reachable() {
    let Some(browser) = Browser::start(390, 844).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    let app = spawn_app_for_browser(&emulator, |_| {}).await;
    let user = signed_in(&browser, &app, "remy").await;
    // The day view (phone width) shows one day: the series starts on it.
    let day = week_days(&browser).await.remove(0);
    let exam = crate::web_app_browser_more::category_id(&app, &user, "Exam").await;
    let rule = json!(["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR,SA,SU"]);
    let series = app
        .create_event(
            &user,
            &json!({"title": "Lab", "category": exam, "recurrence": rule,
                    "start_time": format!("{day}T09:00:00Z"), "end_time": format!("{day}T10:00:00Z")}),
        )
        .await;
    let id = series["id"].as_i64().expect("an integer id");
    let occurrence = format!("{id}_{}T090000Z", compact(&day));
    box_shows(&browser, "the occurrence is shown", &occurrence, "Lab").await;

    open_occurrence(&browser, &occurrence).await;
    let shown = browser
        .run(
            "const repeat = document.getElementById('event-repeat');
             return [repeat.value, repeat.selectedOptions[0].textContent,
                     document.getElementById('event-repeat-days').hidden,
                     document.getElementById('event-repeat-rule').textContent];",
            vec![],
        )
        .await;
    assert_eq!(
        shown,
        json!([
            "custom",
            "Custom: FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR,SA,SU",
            true,
            "Repeats by its own rule: FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR,SA,SU"
        ])
    );
    shoot(&browser, "web-app-repeat-phone.png").await;

    // Delete asks which events: the first answer has the focus; Escape keeps everything.
    browser.click("#event-delete").await;
    let focused = browser
        .until(
            "the question has the focus",
            "return document.getElementById('scope-dialog').open && document.activeElement.id",
            vec![],
        )
        .await;
    assert_eq!(focused, json!("scope-this"));
    let fits = browser
        .run(
            "return [...document.querySelectorAll('#scope-dialog button:not([hidden])')]
                .every(b => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; })",
            vec![],
        )
        .await;
    assert_eq!(fits, json!(true));
    shoot(&browser, "web-app-scope-phone.png").await;
    browser
        .find("#scope-this")
        .await
        .send_keys("\u{E00C}")
        .await
        .expect("Escape");
    browser
        .until(
            "the question is gone",
            "return !document.getElementById('scope-dialog').open",
            vec![],
        )
        .await;
    api_get(&app, &user, &format!("/api/events/{occurrence}/")).await;

    // A new title for "All events", chosen with the keyboard: the rule is kept as it was.
    browser.fill("#event-title", "Lab, room 2").await;
    browser.click("#event-save").await;
    browser
        .until(
            "the question has the focus",
            "return document.getElementById('scope-dialog').open && document.activeElement.id === 'scope-this'",
            vec![],
        )
        .await;
    browser
        .find("#scope-this")
        .await
        .send_keys("\u{E004}\u{E004}\u{E007}")
        .await
        .expect("Tab, Tab, Enter");
    let saved = eventually("the series is renamed", PATIENCE, async || {
        let now = api_get(&app, &user, &format!("/api/events/{id}/")).await;
        (now["title"] == "Lab, room 2").then_some(now)
    })
    .await;
    assert_eq!(saved["recurrence"], rule);
    assert_eq!(saved["start_time"], series["start_time"]);
    box_shows(
        &browser,
        "the new title is shown",
        &occurrence,
        "Lab, room 2",
    )
    .await;
    browser.close().await;
}
