//! More of the web app in headless Chromium: dragging and resizing in the week view, the month
//! view, the category filter, the settings dialog, disconnecting and reconnecting Google, and
//! the app at phone width.
//! Every step is checked against what the JSON API says, not only against the page.

use std::time::Duration;

use chrono::{DateTime, Utc};
use phantom_google_emulator::Operation;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{
    Browser, api_get, connect_through_consent_page, emulator_with_consent_page, form_opens, shoot,
    shown_event_ids, signed_in, spawn_app_for_browser, week_days,
};
use crate::helpers::{TestApp, TestUser, answers, body, eventually, spawn_app};

pub(crate) fn instant(event: &Value, field: &str) -> DateTime<Utc> {
    event[field]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("{field} of {event}"))
        .with_timezone(&Utc)
}

/// The id of the seeded category `name`.
pub(crate) async fn category_id(app: &TestApp, user: &TestUser, name: &str) -> i64 {
    let categories = api_get(app, user, "/api/categories/").await;
    categories
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("no category {name} in {categories}"))
}

/// Creates an event on `day` (`YYYY-MM-DD`) from `from` to `to` (`HH:MM`, UTC).
pub(crate) async fn event_on(
    app: &TestApp,
    user: &TestUser,
    title: &str,
    category: i64,
    day: &str,
    (from, to): (&str, &str),
) -> Value {
    let event = json!({
        "title": title, "category": category,
        "start_time": format!("{day}T{from}:00Z"), "end_time": format!("{day}T{to}:00Z"),
    });
    app.create_event(user, &event).await
}

/// Waits until the API lists one event of `user`, and returns it.
pub(crate) async fn the_only_event(app: &TestApp, user: &TestUser) -> Value {
    eventually("the event is made", Duration::from_secs(15), async || {
        let page = api_get(app, user, "/api/events/").await;
        (page["count"] == 1).then_some(page["results"][0].clone())
    })
    .await
}

/// Waits until the calendar shows exactly the events `ids` (in any order).
pub(crate) async fn calendar_shows(browser: &Browser, what: &str, mut ids: Vec<i64>) {
    ids.sort_unstable();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut shown = shown_event_ids(browser).await;
        shown.sort_unstable();
        if shown == ids {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}: shows {shown:?}, expected {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the event box of `id` is, and the week grid's column width and slot height.
async fn geometry(browser: &Browser, id: i64) -> Value {
    browser
        .until(
            "the event box and the grid can be measured",
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             const cols = [...document.querySelectorAll('#calendar td.fc-timegrid-col[data-date]')];
             const lane = (t) => document.querySelector(`#calendar td.fc-timegrid-slot-lane[data-time='${t}']`);
             if (!box || cols.length < 3) return null;
             const b = box.getBoundingClientRect();
             return { x: b.left + b.width / 2, top: b.top, bottom: b.bottom,
                      column: cols[2].getBoundingClientRect().left - cols[1].getBoundingClientRect().left,
                      slot: lane('10:30:00').getBoundingClientRect().top - lane('10:00:00').getBoundingClientRect().top };",
            vec![json!(id)],
        )
        .await
}

fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// Waits until the API's copy of the event differs from `before`, and returns it.
async fn changed(app: &TestApp, user: &TestUser, before: &Value) -> Value {
    let path = format!("/api/events/{}/", before["id"]);
    eventually(
        "the API has the change",
        Duration::from_secs(15),
        async || {
            let now = api_get(app, user, &path).await;
            (now["start_time"] != before["start_time"] || now["end_time"] != before["end_time"])
                .then_some(now)
        },
    )
    .await
}

#[tokio::test]
async fn dragging_an_event_moves_it_and_dragging_its_end_resizes_it() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "dora").await;
    let days = week_days(&browser).await;
    let exam = category_id(&app, &user, "Exam").await;
    let created = event_on(&app, &user, "Lab", exam, &days[1], ("10:00", "11:00")).await;
    let id = created["id"].as_i64().expect("id");
    calendar_shows(&browser, "the event is in the week", vec![id]).await;

    // Grab it in its first half-hour, one column to the right and two slots (an hour) down.
    let at = geometry(&browser, id).await;
    let slot = number(&at, "slot");
    browser
        .drag(
            (number(&at, "x"), number(&at, "top") + slot / 2.0),
            (number(&at, "column"), 2.0 * slot),
        )
        .await;
    let moved = changed(&app, &user, &created).await;
    let shift = chrono::Duration::days(1) + chrono::Duration::hours(1);
    assert_eq!(
        instant(&moved, "start_time"),
        instant(&created, "start_time") + shift,
        "{moved}"
    );
    assert_eq!(
        instant(&moved, "end_time"),
        instant(&created, "end_time") + shift,
        "{moved}"
    );
    let column = browser
        .until(
            "the event is drawn in its new column",
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             return box?.closest('td[data-date]')?.dataset.date === arguments[1];",
            vec![json!(id), json!(days[2])],
        )
        .await;
    assert_eq!(column, json!(true));

    // Its lower edge, two slots down: an hour longer, the start unchanged.
    let at = geometry(&browser, id).await;
    let slot = number(&at, "slot");
    browser
        .drag(
            (number(&at, "x"), number(&at, "bottom") - 2.0),
            (0.0, 2.0 * slot),
        )
        .await;
    let resized = changed(&app, &user, &moved).await;
    assert_eq!(resized["start_time"], moved["start_time"], "{resized}");
    assert_eq!(
        instant(&resized, "end_time"),
        instant(&moved, "end_time") + chrono::Duration::hours(1),
        "{resized}"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_month_view_shows_the_event_on_its_day() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "mona").await;
    let days = week_days(&browser).await;
    let gym = category_id(&app, &user, "Gym").await;
    let created = event_on(&app, &user, "Climbing", gym, &days[3], ("18:00", "19:30")).await;

    browser.click("#calendar .fc-dayGridMonth-button").await;
    browser.find("#calendar .fc-daygrid-body").await;
    let shown = browser
        .until(
            "the month view shows the event",
            "const box = document.querySelector(`#calendar .fc-daygrid-body [data-event-id='${arguments[0]}']`);
             return box && { day: box.closest('td[data-date]').dataset.date, text: box.textContent };",
            vec![created["id"].clone()],
        )
        .await;
    let start = instant(&created, "start_time").date_naive().to_string();
    assert_eq!(shown["day"], json!(start), "{shown}");
    assert!(
        shown["text"].as_str().expect("text").contains("Climbing"),
        "{shown}"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_category_filter_hides_the_events_of_other_categories() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "fern").await;
    let days = week_days(&browser).await;
    let (exam, gym) = (
        category_id(&app, &user, "Exam").await,
        category_id(&app, &user, "Gym").await,
    );
    let exam_event = event_on(&app, &user, "Physics", exam, &days[2], ("09:00", "10:00")).await;
    let gym_event = event_on(&app, &user, "Swim", gym, &days[2], ("12:00", "13:00")).await;
    let (exam_id, gym_id) = (
        exam_event["id"].as_i64().expect("id"),
        gym_event["id"].as_i64().expect("id"),
    );
    calendar_shows(&browser, "both events are shown", vec![exam_id, gym_id]).await;

    browser
        .find("#category-filter")
        .await
        .select_by_value(&gym.to_string())
        .await
        .expect("choose Gym");
    calendar_shows(&browser, "only the gym event is shown", vec![gym_id]).await;
    // Hidden, not gone: the API still has both, and the one shown is the Gym one.
    let range = format!(
        "/api/events/range/?start={}T00:00:00Z&end={}T23:59:59Z",
        days[2], days[2]
    );
    let listed = api_get(&app, &user, &range).await;
    let categories: Vec<(i64, i64)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().expect("id"),
                e["category"].as_i64().expect("category"),
            )
        })
        .collect();
    assert_eq!(categories, vec![(exam_id, exam), (gym_id, gym)]);

    browser
        .find("#category-filter")
        .await
        .select_by_value("")
        .await
        .expect("choose all");
    calendar_shows(&browser, "both are shown again", vec![exam_id, gym_id]).await;
    browser.close().await;
}

/// The text beside the field `name` of the form `form`, once there is some.
pub(crate) async fn error_beside(browser: &Browser, form: &str, name: &str) -> Value {
    browser
        .until(
            &format!("{form} shows an error beside {name}"),
            "return document.querySelector(`#${arguments[0]} [data-error-for='${arguments[1]}']`).textContent",
            vec![json!(form), json!(name)],
        )
        .await
}

/// What the API answers `method path` with `request`: its status and body.
pub(crate) async fn api_answer(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    request: &Value,
) -> (StatusCode, Value) {
    let response = app
        .send(method, path, Some(&user.access), Some(request))
        .await;
    (response.status(), body(response).await)
}

#[tokio::test]
async fn the_settings_dialog_changes_preferences_and_adds_a_category() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "gus").await;
    browser.click("#open-settings").await;

    // An unknown timezone: the API's message beside the field, and nothing saved.
    browser.fill("#pref-timezone", "Mars/Olympus_Mons").await;
    browser.fill("#pref-duration", "45").await;
    browser.click("#preferences-form button[type=submit]").await;
    let shown = error_beside(&browser, "preferences-form", "timezone").await;
    let bad = json!({"timezone": "Mars/Olympus_Mons", "default_event_duration": 45});
    let (status, refused) = api_answer(&app, &user, Method::PUT, "/api/preferences/", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(shown, json!(refused["timezone"][0]));
    let unchanged = api_get(&app, &user, "/api/preferences/").await;
    assert_ne!(unchanged["timezone"], "Mars/Olympus_Mons");

    browser.fill("#pref-timezone", "Europe/Paris").await;
    browser.click("#preferences-form button[type=submit]").await;
    browser
        .until(
            "the dialog closes and the page uses the new timezone",
            "return !document.getElementById('settings-dialog').open
                && document.getElementById('who').textContent === 'Times in Europe/Paris'",
            vec![],
        )
        .await;
    let preferences = api_get(&app, &user, "/api/preferences/").await;
    assert_eq!(preferences["timezone"], "Europe/Paris", "{preferences}");
    assert_eq!(preferences["default_event_duration"], 45, "{preferences}");

    // A category of its own: name, priority and colour as chosen.
    browser.click("#open-settings").await;
    browser.fill("#category-name", "Piano").await;
    browser.fill("#category-priority", "7").await;
    browser
        .run(
            "const c = document.getElementById('category-color');
             c.value = '#123456';
             c.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await;
    browser.click("#category-form button[type=submit]").await;
    browser
        .until(
            "the list shows the new category",
            "return document.getElementById('category-list').textContent.includes('Piano (priority 7)')",
            vec![],
        )
        .await;
    let categories = api_get(&app, &user, "/api/categories/").await;
    let piano = categories
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == "Piano"))
        .unwrap_or_else(|| panic!("no Piano in {categories}"));
    assert_eq!(piano["priority_level"], 7, "{piano}");
    assert_eq!(
        piano["color"].as_str().map(str::to_lowercase).as_deref(),
        Some("#123456"),
        "{piano}"
    );
    let in_filter = browser
        .run(
            "return [...document.getElementById('category-filter').options]
                .some(o => o.value === String(arguments[0]) && o.text === 'Piano');",
            vec![piano["id"].clone()],
        )
        .await;
    assert_eq!(in_filter, json!(true));

    // The same name again: the API's refusal beside the name.
    browser.fill("#category-name", "Piano").await;
    browser.click("#category-form button[type=submit]").await;
    let shown = error_beside(&browser, "category-form", "name").await;
    let again = json!({"name": "Piano", "priority_level": 7});
    let (status, refused) = api_answer(&app, &user, Method::POST, "/api/categories/", &again).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(shown, json!(refused["name"][0]));
    browser.close().await;
}

#[tokio::test]
async fn google_is_disconnected_and_connected_again_from_the_header() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    let app = spawn_app_for_browser(&emulator, |_| {}).await;
    let user = signed_in(&browser, &app, "hal").await;
    let status = "/api/integrations/google-calendar/status/";
    let state = "return document.getElementById('google-state').dataset.state === arguments[0]
        && !document.querySelector(arguments[1]).hidden";

    browser
        .until(
            "the header offers to connect",
            state,
            vec![json!("not_connected"), json!("#google-connect")],
        )
        .await;
    connect_through_consent_page(&browser, "#google-connect").await;
    assert_eq!(api_get(&app, &user, status).await["connected"], true);

    // Disconnect: the header says so, the API agrees, and the tokens were revoked at Google.
    browser.click("#google-disconnect").await;
    browser
        .until(
            "the header says not connected",
            state,
            vec![json!("not_connected"), json!("#google-connect")],
        )
        .await;
    assert_eq!(api_get(&app, &user, status).await["connected"], false);
    assert_eq!(answers(&emulator, Operation::Revoke), vec![200]);

    // Connect again.
    connect_through_consent_page(&browser, "#google-connect").await;
    assert_eq!(api_get(&app, &user, status).await["connected"], true);

    // Google forgets the grant: the header asks for a reconnection, and its button does it.
    emulator.invalidate_all_refresh_tokens();
    emulator.expire_all_access_tokens();
    let days = week_days(&browser).await;
    let exam = category_id(&app, &user, "Exam").await;
    event_on(&app, &user, "Oral", exam, &days[1], ("10:00", "11:00")).await;
    browser
        .until(
            "the header asks to reconnect",
            state,
            vec![json!("needs_reconnect"), json!("#google-reconnect")],
        )
        .await;
    assert_eq!(api_get(&app, &user, status).await["needs_reconnect"], true);
    connect_through_consent_page(&browser, "#google-reconnect").await;
    let healed = api_get(&app, &user, status).await;
    assert_eq!(healed["connected"], true, "{healed}");
    assert_eq!(healed["needs_reconnect"], false, "{healed}");
    browser.close().await;
}

/// The `#category-list` item of the category `id`, and a control in it.
fn in_category_item(id: &Value, control: &str) -> String {
    format!("#category-list li[data-category='{id}'] {control}")
}

/// Adds a category through the settings dialog's form (open); its id, from the API.
async fn add_category(browser: &Browser, app: &TestApp, user: &TestUser, name: &str) -> Value {
    browser.fill("#category-name", name).await;
    browser.fill("#category-priority", "2").await;
    browser.click("#category-form button[type=submit]").await;
    browser
        .until(
            "the list shows the new category",
            "return document.getElementById('category-list').textContent.includes(arguments[0])",
            vec![json!(format!("{name} (priority 2)"))],
        )
        .await;
    json!(category_id(app, user, name).await)
}

#[tokio::test]
async fn the_settings_dialog_edits_and_deletes_a_category() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "ida").await;
    browser.click("#open-settings").await;
    let piano = add_category(&browser, &app, &user, "Piano").await;
    let chess = add_category(&browser, &app, &user, "Chess").await;
    let path = |id: &Value| format!("/api/categories/{id}/");

    // Edit, from the keyboard: the form shows the category; a refused change shows the API's
    // message beside the field and changes nothing.
    let edit = browser
        .find(&in_category_item(&piano, ".category-edit"))
        .await;
    assert_eq!(
        edit.attr("aria-label").await.expect("label").as_deref(),
        Some("Edit Piano")
    );
    edit.send_keys("\u{E007}").await.expect("Enter on Edit");
    browser
        .until(
            "the form edits Piano, its name focused",
            "const name = document.getElementById('category-name');
             return name.value === 'Piano' && document.activeElement === name
                 && document.getElementById('category-submit').textContent === 'Save category';",
            vec![],
        )
        .await;
    browser.fill("#category-name", "Chess").await;
    browser.click("#category-form button[type=submit]").await;
    let shown = error_beside(&browser, "category-form", "name").await;
    let taken = json!({"name": "Chess"});
    let (status, refused) = api_answer(&app, &user, Method::PATCH, &path(&piano), &taken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(shown, json!(refused["name"][0]));

    browser.fill("#category-name", "Keyboard").await;
    browser.fill("#category-priority", "6").await;
    browser.click("#category-form button[type=submit]").await;
    browser
        .until(
            "the list shows the new name and priority",
            "return document.getElementById('category-list').textContent.includes('Keyboard (priority 6)')",
            vec![],
        )
        .await;
    let stored = api_get(&app, &user, &path(&piano)).await;
    assert_eq!(
        (&stored["name"], &stored["priority_level"]),
        (&json!("Keyboard"), &json!(6)),
        "{stored}"
    );
    let options = "return [...document.getElementById(arguments[0]).options].map(o => o.text);";
    let filter = browser.run(options, vec![json!("category-filter")]).await;
    assert!(
        filter
            .as_array()
            .expect("options")
            .contains(&json!("Keyboard")),
        "{filter}"
    );
    assert!(
        !filter
            .as_array()
            .expect("options")
            .contains(&json!("Piano")),
        "{filter}"
    );

    // A category an event uses: the API's refusal is shown, and nothing is deleted.
    let chess_id = chess.as_i64().expect("id");
    event_on(
        &app,
        &user,
        "Club night",
        chess_id,
        "2026-11-24",
        ("18:00", "20:00"),
    )
    .await;
    browser
        .click(&in_category_item(&chess, ".category-delete"))
        .await;
    let shown = error_beside(&browser, "category-form", "detail").await;
    let response = app
        .send(Method::DELETE, &path(&chess), Some(&user.access), None)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(shown, body(response).await["detail"]);
    api_get(&app, &user, &path(&chess)).await;

    // An unused one goes: from the list, the filter and the event form's choices.
    browser
        .click(&in_category_item(&piano, ".category-delete"))
        .await;
    browser
        .until(
            "the list no longer shows Keyboard",
            "return !document.getElementById('category-list').textContent.includes('Keyboard')",
            vec![],
        )
        .await;
    let gone = app.get(&path(&piano), &user.access).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let filter = browser.run(options, vec![json!("category-filter")]).await;
    assert!(
        !filter
            .as_array()
            .expect("options")
            .contains(&json!("Keyboard")),
        "{filter}"
    );
    browser.click("#settings-close").await;
    browser.click("#new-event").await;
    let choices = browser
        .until(
            "the event form offers categories",
            "return document.getElementById('event-dialog')?.open && [...document.getElementById('event-category').options].map(o => o.text);",
            vec![],
        )
        .await;
    let choices = choices.as_array().expect("options");
    assert!(choices.contains(&json!("Chess")) && !choices.contains(&json!("Keyboard")));
    browser.close().await;
}

/// The controls (inputs, selects, text areas, buttons) a screen reader could not name: no
/// `<label>`, no `aria-label`/`aria-labelledby`, no `title`, and (for buttons) no text.
const UNNAMED_CONTROLS: &str =
    "return [...document.querySelectorAll('input, select, textarea, button')]
    .filter(c => c.type !== 'hidden')
    .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
        && !c.getAttribute('aria-labelledby') && !c.title
        && !(c.tagName === 'BUTTON' && c.textContent.trim()))
    .map(c => c.id || c.outerHTML.slice(0, 120));";

/// At phone width (390 × 844 CSS pixels) the page does not scroll sideways, every control
/// has a name, and an event can be made with the keyboard-reachable **New event** form.
#[tokio::test]
async fn at_phone_width_the_app_fits_and_every_control_is_named() {
    let Some(browser) = Browser::start(390, 844).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "pia").await;
    let sideways = "return document.documentElement.scrollWidth - window.innerWidth;";
    let overflow = browser.run(sideways, vec![]).await;
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "the week view scrolls sideways by {overflow} px"
    );
    assert_eq!(browser.run(UNNAMED_CONTROLS, vec![]).await, json!([]));

    browser.click("#new-event").await;
    form_opens(&browser).await;
    assert_eq!(browser.run(UNNAMED_CONTROLS, vec![]).await, json!([]));
    let overflow = browser.run(sideways, vec![]).await;
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "the form scrolls sideways by {overflow} px"
    );
    browser.fill("#event-title", "Phone call").await;
    browser.click("#event-save").await;
    let made = the_only_event(&app, &user).await;
    assert_eq!(made["title"], "Phone call", "{made}");
    browser.find("#calendar [data-event-id]").await;
    shoot(&browser, "web-app-phone.png").await;
    browser.close().await;
}

/// An event saved on a day the calendar does not show brings the calendar to that day, so the
/// person sees what they saved: here one made with **New event** and put a fortnight ahead in
/// the form. (At phone width the day view shows only today, and **New event** late in the
/// evening makes an event tomorrow.)
#[tokio::test]
async fn saving_an_event_on_a_day_not_shown_brings_the_calendar_there() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "otto").await;
    let weeks_before = week_days(&browser).await;

    browser.click("#new-event").await;
    form_opens(&browser).await;
    browser.fill("#event-title", "Dentist").await;
    browser
        .run(
            "const f = document.getElementById('event-form').elements;
             const later = (value) => {
               const at = new Date(`${value}Z`);
               at.setUTCDate(at.getUTCDate() + 14);
               return at.toISOString().slice(0, 16);
             };
             f.start_time.value = later(f.start_time.value);
             f.end_time.value = later(f.end_time.value);",
            vec![],
        )
        .await;
    browser.click("#event-save").await;
    let made = the_only_event(&app, &user).await;
    let day = instant(&made, "start_time").date_naive().to_string();
    assert!(!weeks_before.contains(&day), "{day} was shown already");

    let id = made["id"].as_i64().expect("id");
    calendar_shows(&browser, "the calendar shows the event", vec![id]).await;
    let shown_days = week_days(&browser).await;
    assert!(shown_days.contains(&day), "{day} is not in {shown_days:?}");
    browser.close().await;
}
