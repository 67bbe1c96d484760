//! The web app as people use it (issue 21), in headless Chromium: all-day events, events
//! imported from Google, signing out, the month view, and the form's details. Every step is
//! checked against what the JSON API says.

use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use phantom_google_emulator::{EventDateTime, EventEdit, Fault, FaultAction, Match};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{
    Browser, api_get, connect_through_consent_page, emulator_with_consent_page, form_opens,
    open_event, shoot, signed_in, spawn_app_for_browser, week_days,
};
use crate::helpers::{PASSWORD, TestApp, TestUser, eventually, spawn_app};
use crate::web_app_browser_more::{
    api_answer, calendar_shows, category_id, event_on, instant, the_only_event,
};

/// A zone without daylight saving, nine hours ahead of UTC, so a local midnight is 15:00 UTC
/// the day before: a day taken from the wrong zone shows.
const TOKYO: &str = "Asia/Tokyo";

/// The instant of the local midnight that begins `day` (`YYYY-MM-DD`) in Tokyo.
fn tokyo_midnight(day: &str) -> DateTime<Utc> {
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a date");
    date.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - Days::hours(9)
}

/// Signs `username` in with the preferences' timezone set to Tokyo, and waits until the page
/// uses it.
async fn signed_in_in_tokyo(browser: &Browser, app: &TestApp, username: &str) -> TestUser {
    let user = signed_in(browser, app, username).await;
    let preferences = json!({"timezone": TOKYO, "default_event_duration": 60});
    let (status, answer) =
        api_answer(app, &user, Method::PUT, "/api/preferences/", &preferences).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    browser.goto(&format!("{}/", app.address)).await;
    browser
        .until(
            "the page uses Tokyo time",
            "return document.getElementById('who').textContent === 'Times in Asia/Tokyo'
                && document.querySelector('#calendar .fc-timegrid')",
            vec![],
        )
        .await;
    user
}

/// The dates (`YYYY-MM-DD`) of the all-day row's cells in the week view, left to right.
async fn all_day_cells(browser: &Browser) -> Vec<String> {
    let days = browser
        .until(
            "the week view has its all-day row",
            "return [...document.querySelectorAll('#calendar .fc-timegrid .fc-daygrid-day[data-date]')]
                .map(c => c.dataset.date);",
            vec![],
        )
        .await;
    serde_json::from_value(days).expect("a list of dates")
}

/// The form's all-day switch, and the type and value of Starts and Ends.
async fn form_times(browser: &Browser) -> Value {
    browser
        .run(
            "const f = document.getElementById('event-form').elements;
             return { all_day: f.all_day.checked, type: f.start_time.type,
                      start: f.start_time.value, end: f.end_time.value };",
            vec![],
        )
        .await
}

/// Waits until the API holds an event titled `title`, and returns it.
async fn event_titled(app: &TestApp, user: &TestUser, title: &str) -> Value {
    eventually("the event is made", Duration::from_secs(15), async || {
        let page = api_get(app, user, "/api/events/").await;
        page["results"]
            .as_array()
            .and_then(|all| all.iter().find(|e| e["title"] == title).cloned())
    })
    .await
}

/// Clicks the month view's cell of `day` near its lower left corner, where no event is.
async fn click_empty_part_of_cell(browser: &Browser, day: &str) {
    let at = browser
        .until(
            "the month cell can be measured",
            "const cell = document.querySelector(`#calendar .fc-daygrid-body td.fc-daygrid-day[data-date='${arguments[0]}']`);
             if (!cell) return null;
             const r = cell.getBoundingClientRect();
             return [r.left + 6, r.bottom - 4];",
            vec![json!(day)],
        )
        .await;
    let point = |i: usize| at[i].as_f64().expect("a coordinate");
    browser.drag((point(0), point(1)), (0.0, 0.0)).await;
}

/// Item 1: selecting in the week view's all-day row or in a month cell makes an all-day event
/// (dates in the form, `all_day: true` in the API, midnights in the user's timezone), the
/// form's "All day" switch turns a timed event into one, and all-day events are drawn in the
/// all-day row.
#[tokio::test]
async fn all_day_events_are_made_from_the_all_day_row_a_month_cell_and_the_switch() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in_in_tokyo(&browser, &app, "alma").await;
    let days = all_day_cells(&browser).await;

    // A click in the all-day row: the form proposes that day, all day.
    browser
        .click(&format!(
            "#calendar .fc-timegrid .fc-daygrid-day[data-date='{}']",
            days[2]
        ))
        .await;
    form_opens(&browser).await;
    let times = form_times(&browser).await;
    assert_eq!(
        times,
        json!({"all_day": true, "type": "date", "start": days[2], "end": days[2]})
    );
    browser.fill("#event-title", "Conference").await;
    browser.click("#event-save").await;
    let made = the_only_event(&app, &user).await;
    assert_eq!(made["all_day"], true, "{made}");
    assert_eq!(
        instant(&made, "start_time"),
        tokyo_midnight(&days[2]),
        "{made}"
    );
    assert_eq!(
        instant(&made, "end_time"),
        tokyo_midnight(&days[3]),
        "{made}"
    );
    let drawn = browser
        .until(
            "the event is drawn in the all-day row, on its day",
            "const box = document.querySelector(`#calendar .fc-timegrid .fc-daygrid-body [data-event-id='${arguments[0]}']`);
             return box && box.closest('td[data-date]').dataset.date;",
            vec![made["id"].clone()],
        )
        .await;
    assert_eq!(drawn, json!(days[2]));
    let in_hours = browser
        .run(
            "return document.querySelectorAll('#calendar .fc-timegrid-body [data-event-id]').length",
            vec![],
        )
        .await;
    assert_eq!(in_hours, json!(0), "no block over the hours");

    // The switch: "New event" proposes a time; "All day" turns it into that day.
    browser.click("#new-event").await;
    form_opens(&browser).await;
    let proposed = form_times(&browser).await;
    assert_eq!(proposed["type"], "datetime-local", "{proposed}");
    browser.click("#event-all-day").await;
    let switched = form_times(&browser).await;
    let day = proposed["start"].as_str().expect("start")[..10].to_owned();
    assert_eq!(
        switched,
        json!({"all_day": true, "type": "date", "start": day, "end": day})
    );
    browser.fill("#event-title", "Holiday").await;
    browser.click("#event-save").await;
    let holiday = event_titled(&app, &user, "Holiday").await;
    assert_eq!(holiday["all_day"], true, "{holiday}");
    assert_eq!(instant(&holiday, "start_time"), tokyo_midnight(&day));
    let next =
        (NaiveDate::parse_from_str(&day, "%Y-%m-%d").expect("date") + Days::days(1)).to_string();
    assert_eq!(instant(&holiday, "end_time"), tokyo_midnight(&next));

    // A click in a month cell: an all-day event; two days long once its end is moved.
    browser.click("#calendar .fc-dayGridMonth-button").await;
    click_empty_part_of_cell(&browser, &days[4]).await;
    form_opens(&browser).await;
    let times = form_times(&browser).await;
    assert_eq!(
        times,
        json!({"all_day": true, "type": "date", "start": days[4], "end": days[4]})
    );
    browser.fill("#event-title", "Trip").await;
    browser
        .run(
            "document.getElementById('event-end').value = arguments[0];",
            vec![json!(days[5])],
        )
        .await;
    browser.click("#event-save").await;
    let trip = event_titled(&app, &user, "Trip").await;
    assert_eq!(trip["all_day"], true, "{trip}");
    assert_eq!(instant(&trip, "start_time"), tokyo_midnight(&days[4]));
    assert_eq!(instant(&trip, "end_time"), tokyo_midnight(&days[6]));
    browser.close().await;
}

/// `#RRGGBB` as the browser's computed style writes it.
fn rgb(hex: &str) -> String {
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("a hex colour");
    format!("rgb({}, {}, {})", channel(1), channel(3), channel(5))
}

/// Item 2: an event made in Google comes in with the import category, which the page did not
/// know when it loaded: the page learns it (the colour, the filter), shows it in the form, and
/// a change made in the form saves without touching the category.
#[tokio::test]
async fn an_event_imported_from_google_has_its_category_and_can_be_saved() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    let app = spawn_app_for_browser(&emulator, |_| {}).await;
    let user = signed_in(&browser, &app, "gail").await;
    let days = week_days(&browser).await;
    let at = |time: &str| EventDateTime::timed(format!("{}T{time}:00Z", days[3]), None);
    let edit = EventEdit {
        summary: Some("Dinner with Sam".into()),
        start: Some(at("18:00")),
        end: Some(at("20:00")),
        ..EventEdit::default()
    };
    emulator
        .create_event("primary", edit)
        .expect("made in Google");
    // Connecting reads the calendar: the event is imported, in a category made for it.
    connect_through_consent_page(&browser, "#google-connect").await;
    let imported = the_only_event(&app, &user).await;
    assert_eq!(imported["origin"], "google", "{imported}");
    let category = api_get(
        &app,
        &user,
        &format!("/api/categories/{}/", imported["category"]),
    )
    .await;
    assert_eq!(category["name"], "Google Calendar", "{category}");

    let shown = browser
        .until(
            "the imported event is drawn in its category's colour",
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             return box && getComputedStyle(box).backgroundColor === arguments[1];",
            vec![
                imported["id"].clone(),
                json!(rgb(category["color"].as_str().expect("colour"))),
            ],
        )
        .await;
    assert_eq!(shown, json!(true));
    let in_filter = browser
        .until(
            "the filter offers the import category",
            "return [...document.getElementById('category-filter').options]
                .some(o => o.value === String(arguments[0]) && o.text === 'Google Calendar');",
            vec![imported["category"].clone()],
        )
        .await;
    assert_eq!(in_filter, json!(true));

    open_event(&browser, "Dinner with Sam").await;
    let chosen = browser
        .run(
            "const c = document.getElementById('event-category');
             return { value: c.value, text: c.selectedOptions[0]?.text ?? null };",
            vec![],
        )
        .await;
    assert_eq!(
        chosen,
        json!({"value": imported["category"].to_string(), "text": "Google Calendar"})
    );
    browser
        .fill("#event-title", "Dinner with Sam and Kim")
        .await;
    browser.click("#event-save").await;
    let path = format!("/api/events/{}/", imported["id"]);
    let saved = eventually("the change is saved", Duration::from_secs(15), async || {
        let now = api_get(&app, &user, &path).await;
        (now["title"] == "Dinner with Sam and Kim").then_some(now)
    })
    .await;
    assert_eq!(saved["category"], imported["category"], "{saved}");
    assert_eq!(saved["start_time"], imported["start_time"], "{saved}");
    let closed = browser
        .until(
            "the form closes",
            "return !document.getElementById('event-dialog').open",
            vec![],
        )
        .await;
    assert_eq!(closed, json!(true));
    browser.close().await;
}

/// Item 3: after Sign out nothing of the user is left in the page, also when the browser's
/// Back button brings back an earlier page of the session (the back-forward cache keeps a
/// page as it was left: here with the calendar and an event open in the form).
#[tokio::test]
async fn after_sign_out_the_back_button_shows_nothing_of_the_user() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "sven").await;
    let days = week_days(&browser).await;
    let exam = category_id(&app, &user, "Exam").await;
    let secret = event_on(
        &app,
        &user,
        "Secret interview",
        exam,
        &days[1],
        ("10:00", "11:00"),
    )
    .await;
    calendar_shows(
        &browser,
        "the event is shown",
        vec![secret["id"].as_i64().expect("id")],
    )
    .await;
    open_event(&browser, "Secret interview").await;

    // Elsewhere, then back to the app in a new page of the same tab (still signed in there).
    browser.goto(&format!("{}/healthz/", app.address)).await;
    browser.goto(&format!("{}/", app.address)).await;
    browser.find("#calendar [data-event-id]").await;
    browser.click("#sign-out").await;
    browser
        .until(
            "the sign-in form is back",
            "return !document.getElementById('auth').hidden",
            vec![],
        )
        .await;
    let left = browser
        .run(LEFT_OF_THE_USER, vec![json!("Secret interview")])
        .await;
    assert_eq!(left, json!([]), "left after Sign out");

    // Back twice: the health page, then the first page of the app.
    browser.client.back().await.expect("back");
    browser
        .until(
            "the health page is shown",
            "return location.pathname === '/healthz/'",
            vec![],
        )
        .await;
    browser.client.back().await.expect("back");
    browser
        .until(
            "the app's first page is back, asking to sign in",
            "return location.pathname === '/' && document.getElementById('auth')
                && !document.getElementById('auth').hidden",
            vec![],
        )
        .await;
    let left = browser
        .run(LEFT_OF_THE_USER, vec![json!("Secret interview")])
        .await;
    assert_eq!(left, json!([]), "left after Back");
    browser.close().await;
}

/// What the page still shows or holds of the signed-out user whose event is titled
/// `arguments[0]`: an empty list when nothing.
const LEFT_OF_THE_USER: &str = "const left = [];
    if (document.body.innerHTML.includes(arguments[0])) left.push('the event title in the DOM');
    if (document.querySelector('#calendar .fc-view')) left.push('a calendar');
    if (!document.getElementById('app').hidden) left.push('the app shown');
    if (document.querySelector('dialog[open]')) left.push('an open dialog');
    if (document.getElementById('category-filter').options.length > 1) left.push('categories');
    if (document.getElementById('google-state').textContent.includes('connected')) left.push('Google state');
    if (sessionStorage.getItem('phantom.tokens')) left.push('tokens');
    return left;";

/// Item 4: a full day of the month view: each event drawn stays inside its day's cell (its long
/// title cut, whole in its tooltip), in its category's colour, and the events that do not fit
/// are counted in "+N more".
#[tokio::test]
async fn the_month_view_keeps_events_in_their_cell_in_colour_with_more() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "mia").await;
    let days = week_days(&browser).await;
    let categories = api_get(&app, &user, "/api/categories/").await;
    let categories = categories.as_array().expect("a list");
    let mut made = Vec::new();
    for (hour, category) in (8..14).zip(categories.iter().cycle()) {
        let title = format!("Revision session {hour} for the algebra and geometry exam");
        let hours = (format!("{hour:02}:00"), format!("{hour:02}:45"));
        let id = category["id"].as_i64().expect("id");
        let event = event_on(&app, &user, &title, id, &days[3], (&hours.0, &hours.1)).await;
        made.push((event, category["color"].clone()));
    }
    // And an all-day event two days before, for the screenshot.
    let exam_week = json!({
        "title": "Exam week", "category": categories[0]["id"], "all_day": true,
        "start_time": format!("{}T00:00:00Z", days[1]), "end_time": format!("{}T00:00:00Z", days[3]),
    });
    app.create_event(&user, &exam_week).await;
    browser.click("#calendar .fc-dayGridMonth-button").await;
    browser.find("#calendar .fc-daygrid-more-link").await;
    shoot(&browser, "web-app-month.png").await;
    let cell = browser
        .until(
            "the day shows some events and a +N more link",
            "const cell = document.querySelector(`#calendar .fc-daygrid-body td[data-date='${arguments[0]}']`);
             const more = cell?.querySelector('.fc-daygrid-more-link');
             const boxes = [...(cell?.querySelectorAll('.fc-daygrid-event-harness:not(.fc-daygrid-event-harness-abs) [data-event-id]') ?? [])]
                .filter(b => b.getBoundingClientRect().width > 0 && b.offsetParent
                    && getComputedStyle(b.closest('.fc-daygrid-event-harness')).visibility !== 'hidden');
             if (!more || !boxes.length) return null;
             const c = cell.getBoundingClientRect();
             return { more: more.textContent, cell: [c.left, c.right, c.top, c.bottom],
                      boxes: boxes.map(b => { const r = b.getBoundingClientRect();
                          const title = b.querySelector('.event-title');
                          return { id: Number(b.dataset.eventId), tooltip: b.title,
                                   colour: getComputedStyle(b).backgroundColor,
                                   rect: [r.left, r.right, r.top, r.bottom],
                                   cut: title.scrollWidth > title.clientWidth }; }) };",
            vec![json!(days[3])],
        )
        .await;
    let boxes = cell["boxes"].as_array().expect("boxes");
    let hidden = made.len() - boxes.len();
    assert!(hidden > 0, "{cell}");
    assert_eq!(cell["more"], json!(format!("+{hidden} more")), "{cell}");
    let edge = |v: &Value, i: usize| v[i].as_f64().expect("a number");
    for shown in boxes {
        let (event, colour) = made
            .iter()
            .find(|(e, _)| e["id"] == shown["id"])
            .unwrap_or_else(|| panic!("{shown} is not one of the events"));
        let (r, c) = (&shown["rect"], &cell["cell"]);
        assert!(
            edge(r, 0) >= edge(c, 0) - 0.5 && edge(r, 1) <= edge(c, 1) + 0.5,
            "{shown} leaves its cell {c}"
        );
        assert_eq!(shown["cut"], json!(true), "a long title is cut: {shown}");
        let title = event["title"].as_str().expect("title");
        assert!(
            shown["tooltip"]
                .as_str()
                .expect("tooltip")
                .starts_with(title),
            "{shown}"
        );
        assert_eq!(
            shown["colour"],
            json!(rgb(colour.as_str().expect("colour"))),
            "{shown}"
        );
    }
    browser.close().await;
}

/// Sets the form's field `css` to `value` and tells the page, as the browser's date picker does.
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

/// Item 6: moving an event by its start keeps its length: Ends follows Starts.
#[tokio::test]
async fn changing_the_start_moves_the_end_and_keeps_the_duration() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "ned").await;
    let days = week_days(&browser).await;
    let study = category_id(&app, &user, "Study").await;
    let made = event_on(&app, &user, "Reading", study, &days[2], ("10:00", "11:30")).await;
    calendar_shows(
        &browser,
        "the event is shown",
        vec![made["id"].as_i64().expect("id")],
    )
    .await;
    open_event(&browser, "Reading").await;
    pick(&browser, "#event-start", &format!("{}T14:15", days[3])).await;
    let end = browser
        .run("return document.getElementById('event-end').value", vec![])
        .await;
    assert_eq!(end, json!(format!("{}T15:45", days[3])));
    browser.click("#event-save").await;
    let path = format!("/api/events/{}/", made["id"]);
    let saved = eventually("the move is saved", Duration::from_secs(15), async || {
        let now = api_get(&app, &user, &path).await;
        (now["start_time"] != made["start_time"]).then_some(now)
    })
    .await;
    assert_eq!(
        instant(&saved, "start_time").to_rfc3339(),
        format!("{}T14:15:00+00:00", days[3])
    );
    assert_eq!(
        instant(&saved, "end_time") - instant(&saved, "start_time"),
        Days::minutes(90),
        "{saved}"
    );
    browser.close().await;
}

/// Item 5: Delete asks first ("Keep it" changes nothing), and after the delete the focus is in
/// the calendar, where the person was, not at the top of the page.
#[tokio::test]
async fn delete_asks_first_and_leaves_the_focus_in_the_calendar() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "dana").await;
    let days = week_days(&browser).await;
    let social = category_id(&app, &user, "Social").await;
    let old = event_on(
        &app,
        &user,
        "Old plan",
        social,
        &days[2],
        ("09:00", "10:00"),
    )
    .await;
    let kept = event_on(
        &app,
        &user,
        "Keep this",
        social,
        &days[2],
        ("13:00", "14:00"),
    )
    .await;
    let ids = |e: &Value| e["id"].as_i64().expect("id");
    calendar_shows(
        &browser,
        "both events are shown",
        vec![ids(&old), ids(&kept)],
    )
    .await;
    let path = format!("/api/events/{}/", old["id"]);

    open_event(&browser, "Old plan").await;
    browser.click("#event-delete").await;
    let asked = browser
        .until(
            "the form asks, the focus on Keep it",
            "return !document.getElementById('event-confirm').hidden
                && document.activeElement.id === 'event-confirm-keep'
                && document.getElementById('event-confirm-text').textContent;",
            vec![],
        )
        .await;
    assert_eq!(asked, json!("Delete “Old plan”?"));
    api_get(&app, &user, &path).await;

    browser.click("#event-confirm-keep").await;
    browser
        .until(
            "the question is gone, the focus back on Delete",
            "return document.getElementById('event-confirm').hidden
                && document.getElementById('event-dialog').open
                && document.activeElement.id === 'event-delete';",
            vec![],
        )
        .await;
    api_get(&app, &user, &path).await;

    browser.click("#event-delete").await;
    browser.click("#event-confirm-delete").await;
    calendar_shows(&browser, "only the kept event is shown", vec![ids(&kept)]).await;
    let gone = app.get(&path, &user.access).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let focus = browser
        .until(
            "the focus is in the calendar",
            "return !document.getElementById('event-dialog').open
                && document.getElementById('calendar').contains(document.activeElement);",
            vec![],
        )
        .await;
    assert_eq!(focus, json!(true));
    browser.close().await;
}

/// Item 8: "New event" proposes a time on the days being looked at: two weeks ahead, 09:00 on
/// the first day shown, not a time today.
#[tokio::test]
async fn new_event_proposes_a_time_on_the_days_looked_at() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "noor").await;
    let this_week = week_days(&browser).await;
    for _ in 0..2 {
        browser.click("#calendar .fc-next-button").await;
    }
    let days = browser
        .until(
            "the calendar shows the week after next",
            "const days = [...document.querySelectorAll('#calendar td.fc-timegrid-col[data-date]')]
                .map(c => c.dataset.date);
             return days[0] !== arguments[0] && days.length === 7 && days;",
            vec![json!(this_week[0])],
        )
        .await;
    let days: Vec<String> = serde_json::from_value(days).expect("dates");
    assert!(days[0] > this_week[6], "{days:?} after {this_week:?}");

    browser.click("#new-event").await;
    form_opens(&browser).await;
    let times = form_times(&browser).await;
    assert_eq!(
        times["start"],
        json!(format!("{}T09:00", days[0])),
        "{times}"
    );
    browser.fill("#event-title", "Planning").await;
    browser.click("#event-save").await;
    let made = the_only_event(&app, &user).await;
    assert_eq!(
        instant(&made, "start_time").to_rfc3339(),
        format!("{}T09:00:00+00:00", days[0]),
        "{made}"
    );
    browser.close().await;
}

/// Item 7: what the API refuses is said beside the field in a person's words, naming the
/// field as the form labels it, while the API keeps its own words.
#[tokio::test]
async fn error_texts_name_the_fields_as_the_form_labels_them() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "erin").await;
    let days = week_days(&browser).await;
    let gym = category_id(&app, &user, "Gym").await;
    let made = event_on(&app, &user, "Run", gym, &days[2], ("10:00", "11:00")).await;
    calendar_shows(
        &browser,
        "the event is shown",
        vec![made["id"].as_i64().expect("id")],
    )
    .await;
    let path = format!("/api/events/{}/", made["id"]);
    let error = |name: &str| {
        format!("return document.querySelector('#event-form [data-error-for={name}]').textContent")
    };

    // Ends before Starts.
    open_event(&browser, "Run").await;
    pick(&browser, "#event-end", &format!("{}T09:00", days[2])).await;
    browser.click("#event-save").await;
    let shown = browser
        .until("the end's error", &error("end_time"), vec![])
        .await;
    assert_eq!(shown, json!("Ends must be after Starts."));
    let before = json!({"end_time": format!("{}T09:00:00Z", days[2])});
    let (status, api) = api_answer(&app, &user, Method::PATCH, &path, &before).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api["end_time"][0], "end_time must be after start_time.");

    // No title.
    pick(&browser, "#event-end", &format!("{}T11:00", days[2])).await;
    pick(&browser, "#event-title", "").await;
    browser.click("#event-save").await;
    let shown = browser
        .until("the title's error", &error("title"), vec![])
        .await;
    assert_eq!(shown, json!("Title cannot be empty."));
    let (status, api) = api_answer(&app, &user, Method::PATCH, &path, &json!({"title": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api["title"][0], "This field may not be blank.", "{api}");

    // No start.
    pick(&browser, "#event-title", "Run").await;
    pick(&browser, "#event-start", "").await;
    browser.click("#event-save").await;
    let shown = browser
        .until("the start's error", &error("start_time"), vec![])
        .await;
    assert_eq!(shown, json!("Starts needs a date and time."));
    let no_start = json!({"start_time": ""});
    let (status, api) = api_answer(&app, &user, Method::PATCH, &path, &no_start).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        api["start_time"][0]
            .as_str()
            .expect("text")
            .contains("RFC 3339"),
        "{api}"
    );
    let unchanged = api_get(&app, &user, &path).await;
    assert_eq!(unchanged["title"], "Run");
    browser.close().await;
}

/// The sync badge of the event `arguments[0]` (its text), or `null` when it has none.
const BADGE: &str = "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
    return box ? { badge: box.querySelector('.sync-badge')?.textContent ?? null, tooltip: box.title } : null;";

/// Waits until the event `id` is drawn with the badge `badge` (`None`: without one).
async fn badge_is(browser: &Browser, what: &str, id: &Value, badge: Option<&str>) -> Value {
    let script = "const b = (() => { CODE })(); return b && b.badge === arguments[1] && b;"
        .replace("CODE", BADGE);
    browser
        .until(what, &script, vec![id.clone(), json!(badge)])
        .await
}

/// Item 9: sync badges only while Google is connected; a failure Phantom retries on its own
/// reads "retrying"; the header shows an error only while something has failed.
#[tokio::test]
async fn sync_badges_show_only_while_connected_and_retrying_reads_retrying() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let emulator = emulator_with_consent_page().await;
    let app = spawn_app_for_browser(&emulator, |s| {
        s.sync.retry_base = Duration::from_millis(10);
        s.sync.max_retries = 1;
    })
    .await;
    let user = signed_in(&browser, &app, "sid").await;
    let days = week_days(&browser).await;
    let study = category_id(&app, &user, "Study").await;
    let made = event_on(&app, &user, "Essay", study, &days[2], ("10:00", "12:00")).await;
    let id = made["id"].clone();
    let path = format!("/api/events/{id}/");

    // Not connected: the API says not_connected, the page says nothing about syncing.
    let before = badge_is(&browser, "the event has no badge", &id, None).await;
    assert_eq!(before["tooltip"], "Essay", "{before}");
    assert_eq!(
        api_get(&app, &user, &path).await["sync_status"],
        "not_connected"
    );

    connect_through_consent_page(&browser, "#google-connect").await;
    badge_is(&browser, "the event shows synced", &id, Some("synced")).await;

    // Google is unavailable: Phantom retries on its own; the event reads "retrying".
    emulator.push_fault(Fault::always(
        Match::any(),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
    let (status, _) = api_answer(
        &app,
        &user,
        Method::PATCH,
        &path,
        &json!({"title": "Essay draft"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let shown = badge_is(&browser, "the event shows retrying", &id, Some("retrying")).await;
    let stored = api_get(&app, &user, &path).await;
    assert_eq!(stored["sync_status"], "failed", "{stored}");
    let reason = stored["sync_error"].as_str().expect("a reason");
    assert!(reason.contains("retrying automatically"), "{stored}");
    assert!(
        shown["tooltip"]
            .as_str()
            .expect("tooltip")
            .contains("retrying: "),
        "{shown}"
    );
    browser
        .until(
            "the header shows the error",
            "return document.getElementById('google-error').textContent.startsWith('Last error: ')",
            vec![],
        )
        .await;

    // Healed by the next change: no error left in the header.
    emulator.clear_faults();
    let (status, _) = api_answer(
        &app,
        &user,
        Method::PATCH,
        &path,
        &json!({"title": "Essay final"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    badge_is(
        &browser,
        "the event shows synced again",
        &id,
        Some("synced"),
    )
    .await;
    browser
        .until(
            "the header shows no error",
            "return document.getElementById('google-counts').textContent.includes('0 failed')
                && document.getElementById('google-error').textContent === ''",
            vec![],
        )
        .await;

    // Disconnected: the badges go ("synced" would be untrue now).
    browser.click("#google-disconnect").await;
    badge_is(&browser, "the event has no badge again", &id, None).await;
    browser.close().await;
}

/// Item 10: registering signs in; a wrong password keeps the focus in the password field; an
/// old notice or error does not stay beside a new one.
#[tokio::test]
async fn registering_signs_in_and_a_wrong_password_keeps_the_focus() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    browser.goto(&format!("{}/", app.address)).await;
    browser.fill("#register-username", "rita").await;
    browser.fill("#register-password", PASSWORD).await;
    browser.click("#register-form button[type=submit]").await;
    browser.find("#calendar .fc-timegrid").await;
    let notice = browser
        .run(
            "return document.getElementById('notice').textContent",
            vec![],
        )
        .await;
    assert_eq!(
        notice,
        json!("Welcome, rita: you are registered and signed in.")
    );
    // The page's tokens are the new user's: the API answers them.
    let access = browser
        .run(
            "return JSON.parse(sessionStorage.getItem('phantom.tokens')).access",
            vec![],
        )
        .await;
    let response = app
        .get("/api/preferences/", access.as_str().expect("a token"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    browser.click("#sign-out").await;
    browser.find("#sign-in-username").await;
    // The same name again: the API's refusal beside the name.
    browser.fill("#register-username", "rita").await;
    browser.fill("#register-password", PASSWORD).await;
    browser.click("#register-form button[type=submit]").await;
    browser
        .until(
            "the name is refused",
            "return document.querySelector('#register-form [data-error-for=username]').textContent",
            vec![],
        )
        .await;

    // A wrong password: said, the old notice gone, the focus in the empty password field.
    browser.fill("#sign-in-username", "rita").await;
    browser.fill("#sign-in-password", "not the password").await;
    browser.click("#sign-in-form button[type=submit]").await;
    let state = browser
        .until(
            "the sign-in form says the password is wrong",
            "const error = document.querySelector('#sign-in-form [data-error-for=non_field_errors]').textContent;
             return error && { error, focus: document.activeElement.id,
                 password: document.getElementById('sign-in-password').value,
                 notice: document.getElementById('notice').textContent };",
            vec![],
        )
        .await;
    assert_eq!(
        state,
        json!({"error": "Wrong username or password.", "focus": "sign-in-password",
               "password": "", "notice": ""})
    );
    let wrong = json!({"username": "rita", "password": "not the password"});
    let response = app.post("/api/auth/login/", None, &wrong).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The right one: in, and no error of either form is left.
    browser.fill("#sign-in-password", PASSWORD).await;
    browser.click("#sign-in-form button[type=submit]").await;
    browser.find("#calendar .fc-timegrid").await;
    let left = browser
        .run(
            "return [...document.querySelectorAll('#auth [data-error-for]')].map(e => e.textContent).join('');",
            vec![],
        )
        .await;
    assert_eq!(left, json!(""));
    browser.close().await;
}

/// Item 11: the shared default categories are marked as such, without the Edit and Delete
/// buttons the API would refuse; the user's own keep theirs.
#[tokio::test]
async fn shared_default_categories_are_marked_and_offer_no_edit_or_delete() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "cleo").await;
    let own = json!({"name": "Piano", "priority_level": 3});
    let (status, piano) = api_answer(&app, &user, Method::POST, "/api/categories/", &own).await;
    assert_eq!(status, StatusCode::CREATED, "{piano}");
    browser.goto(&format!("{}/", app.address)).await;
    browser.click("#open-settings").await;
    let categories = api_get(&app, &user, "/api/categories/").await;
    for category in categories.as_array().expect("a list") {
        let item = browser
            .until(
                "the category is listed",
                "const li = document.querySelector(`#category-list li[data-category='${arguments[0]}']`);
                 return li && { text: li.textContent, buttons: li.querySelectorAll('button').length };",
                vec![category["id"].clone()],
            )
            .await;
        let path = format!("/api/categories/{}/", category["id"]);
        let (status, _) = api_answer(&app, &user, Method::PATCH, &path, &json!({})).await;
        if category["id"] == piano["id"] {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(item["buttons"], 2, "{item}");
        } else {
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{category} is a shared default"
            );
            assert_eq!(item["buttons"], 0, "{item}");
            let text = item["text"].as_str().expect("text");
            assert!(text.contains("shared default"), "{item}");
        }
    }
    browser.close().await;
}

/// How the event `arguments[0]` is drawn: its title's line and its box's opacity.
const LOOK: &str =
    "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
    const title = box?.querySelector('.event-title');
    return title && { line: getComputedStyle(title).textDecorationLine,
                      opacity: Number(getComputedStyle(box).opacity) };";

/// Item 13: a completed event looks done (struck through and dimmed), also once ticked in the
/// form; the others do not.
#[tokio::test]
async fn completed_events_look_done() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "tess").await;
    let days = week_days(&browser).await;
    let study = category_id(&app, &user, "Study").await;
    let done = app
        .create_event(
            &user,
            &json!({"title": "Homework", "category": study, "is_completed": true,
                    "start_time": format!("{}T08:00:00Z", days[1]),
                    "end_time": format!("{}T09:00:00Z", days[1])}),
        )
        .await;
    let open = event_on(&app, &user, "Lecture", study, &days[1], ("11:00", "12:00")).await;
    assert_eq!(done["is_completed"], true);
    let look = browser
        .until("the done event is drawn", LOOK, vec![done["id"].clone()])
        .await;
    assert_eq!(look["line"], "line-through", "{look}");
    assert!(look["opacity"].as_f64().expect("opacity") < 0.8, "{look}");
    let look = browser
        .until("the other is drawn", LOOK, vec![open["id"].clone()])
        .await;
    assert_eq!(look, json!({"line": "none", "opacity": 1}));

    open_event(&browser, "Lecture").await;
    browser.click("#event-completed").await;
    browser.click("#event-save").await;
    let path = format!("/api/events/{}/", open["id"]);
    eventually("the API has it done", Duration::from_secs(15), async || {
        (api_get(&app, &user, &path).await["is_completed"] == true).then_some(())
    })
    .await;
    browser
        .until(
            "the event is drawn done",
            "const box = document.querySelector(`#calendar [data-event-id='${arguments[0]}']`);
             return box?.classList.contains('event-completed')
                 && getComputedStyle(box.querySelector('.event-title')).textDecorationLine === 'line-through';",
            vec![open["id"].clone()],
        )
        .await;
    browser.close().await;
}

/// The time texts of the week view: each event's time (by title) and the axis' labels.
const TIMES: &str = "const events = {};
    for (const box of document.querySelectorAll('#calendar [data-event-id]')) {
        const text = box.querySelector('.event-title').textContent;
        for (const title of arguments[0]) if (text.endsWith(title)) events[title] = text.slice(0, -title.length).trim();
    }
    const axis = [...document.querySelectorAll('#calendar .fc-timegrid-slot-label[data-time]')]
        .filter(l => ['00:00:00', '18:00:00'].includes(l.dataset.time))
        .map(l => l.textContent.trim());
    return Object.keys(events).length === arguments[0].length && { events, axis };";

/// Item 12: one way to write times, on the events and on the axis, with am/pm or on a 24-hour
/// clock as the browser's language does it; midnight is never a bare "12:00".
#[tokio::test]
async fn times_are_written_one_way_as_the_browsers_language_does() {
    let app = spawn_app().await;
    for (lang, expected) in [
        (
            "en-US",
            json!({"events": {"Night shift": "12:00am - 1:30am", "Dinner": "6:00pm - 7:30pm"},
                   "axis": ["12am", "6pm"]}),
        ),
        (
            "en-GB",
            json!({"events": {"Night shift": "00:00 - 01:30", "Dinner": "18:00 - 19:30"},
                   "axis": ["00:00", "18:00"]}),
        ),
    ] {
        let Some(browser) = Browser::start_in(1280, 900, lang).await else {
            return;
        };
        let user = signed_in(&browser, &app, &format!("tim-{lang}")).await;
        let days = week_days(&browser).await;
        let social = category_id(&app, &user, "Social").await;
        event_on(
            &app,
            &user,
            "Night shift",
            social,
            &days[2],
            ("00:00", "01:30"),
        )
        .await;
        event_on(&app, &user, "Dinner", social, &days[2], ("18:00", "19:30")).await;
        let times = browser
            .until(
                "both events are drawn",
                TIMES,
                vec![json!(["Night shift", "Dinner"])],
            )
            .await;
        assert_eq!(times, expected, "in {lang}");
        browser.close().await;
    }
}

/// Item 14: on a phone (390 × 844, touch) the header and toolbars leave most of the screen to
/// the calendar, and a tap on an empty slot opens "New event" there.
#[tokio::test]
async fn on_a_phone_the_calendar_has_the_screen_and_a_tap_makes_an_event() {
    let Some(browser) = Browser::start(390, 844).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "pim").await;
    let top = browser
        .until(
            "the day view is laid out",
            "const view = document.querySelector('#calendar .fc-view-harness');
             return view && { top: view.getBoundingClientRect().top, height: window.innerHeight };",
            vec![],
        )
        .await;
    let (top, height) = (
        top["top"].as_f64().expect("top"),
        top["height"].as_f64().expect("height"),
    );
    assert!(
        top < height * 0.3,
        "the calendar starts {top} px down a {height} px screen"
    );

    let at = browser
        .until(
            "the 10:00 slot can be tapped",
            "const lane = document.querySelector(`#calendar td.fc-timegrid-slot-lane[data-time='10:00:00']`);
             const col = document.querySelector('#calendar td.fc-timegrid-col[data-date]');
             if (!lane || !col) return null;
             lane.scrollIntoView({ block: 'center' });
             const l = lane.getBoundingClientRect(), c = col.getBoundingClientRect();
             return { x: c.left + c.width / 2, y: l.top + l.height / 2, day: col.dataset.date };",
            vec![],
        )
        .await;
    let day = at["day"].as_str().expect("day").to_owned();
    browser
        .tap((at["x"].as_f64().expect("x"), at["y"].as_f64().expect("y")))
        .await;
    form_opens(&browser).await;
    let times = form_times(&browser).await;
    assert_eq!(
        times,
        json!({"all_day": false, "type": "datetime-local",
               "start": format!("{day}T10:00"), "end": format!("{day}T11:00")})
    );
    browser.fill("#event-title", "Call the bank").await;
    browser.click("#event-save").await;
    let made = the_only_event(&app, &user).await;
    assert_eq!(
        instant(&made, "start_time").to_rfc3339(),
        format!("{day}T10:00:00+00:00"),
        "{made}"
    );
    browser.close().await;
}

/// Item 15: an agenda (a list of the week's events, by day) beside day, week and month, and a
/// date picker that brings the calendar to any day.
#[tokio::test]
async fn the_agenda_lists_the_week_and_the_date_picker_jumps_to_a_day() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "ana").await;
    let days = week_days(&browser).await;
    let exam = category_id(&app, &user, "Exam").await;
    let near = event_on(&app, &user, "Chemistry", exam, &days[1], ("09:00", "11:00")).await;
    let far_day = (NaiveDate::parse_from_str(&days[3], "%Y-%m-%d").expect("date") + Days::days(40))
        .to_string();
    let far = event_on(&app, &user, "Biology", exam, &far_day, ("13:00", "15:00")).await;

    browser.click("#calendar .fc-listWeek-button").await;
    browser.find("#calendar .fc-list").await;
    let week = format!(
        "/api/events/range/?start={}T00:00:00Z&end={}T23:59:59Z",
        days[0], days[6]
    );
    let listed: Vec<i64> = api_get(&app, &user, &week)
        .await
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, vec![near["id"].as_i64().expect("id")]);
    calendar_shows(&browser, "the agenda lists the week's event", listed).await;
    let row = browser
        .run(
            "const row = document.querySelector('#calendar .fc-list [data-event-id]');
             return { title: row.querySelector('.event-title').textContent,
                      time: row.querySelector('.fc-list-event-time').textContent };",
            vec![],
        )
        .await;
    assert_eq!(
        row,
        json!({"title": "Chemistry", "time": "9:00am - 11:00am"})
    );

    // The date picker: the agenda of the week of that day, then its month.
    let picked = browser
        .run("return document.getElementById('go-to-date').value", vec![])
        .await;
    assert!(
        days.contains(&picked.as_str().expect("a date").to_owned()),
        "{picked}"
    );
    pick(&browser, "#go-to-date", &far_day).await;
    calendar_shows(
        &browser,
        "the agenda lists the far event",
        vec![far["id"].as_i64().expect("id")],
    )
    .await;
    browser.click("#calendar .fc-dayGridMonth-button").await;
    let cell = browser
        .until(
            "the month shows the far event on its day",
            "const box = document.querySelector(`#calendar .fc-daygrid-body [data-event-id='${arguments[0]}']`);
             return box && box.closest('td[data-date]').dataset.date;",
            vec![far["id"].clone()],
        )
        .await;
    assert_eq!(cell, json!(far_day));
    browser.close().await;
}

/// A half-hour event in the week view shows its title on its one line beside the time (cut
/// with an ellipsis), not wrapped below the box where nobody can read it.
#[tokio::test]
async fn a_half_hour_event_shows_its_title_in_the_week_view() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let app = spawn_app().await;
    let user = signed_in(&browser, &app, "hana").await;
    let days = week_days(&browser).await;
    let study = category_id(&app, &user, "Study").await;
    let short = event_on(
        &app,
        &user,
        "Algebra revision",
        study,
        &days[2],
        ("09:00", "09:30"),
    )
    .await;
    let drawn = browser
        .until(
            "the half-hour event is drawn",
            "const box = document.querySelector(`#calendar [data-event-id=\"${arguments[0]}\"]`);
             const title = box && box.querySelector('.event-title');
             if (!title) return null;
             const b = box.getBoundingClientRect(), t = title.getBoundingClientRect();
             return {inside: t.bottom <= b.bottom + 1, text: title.textContent};",
            vec![short["id"].clone()],
        )
        .await;
    assert_eq!(drawn["inside"], true, "{drawn}");
    assert!(
        drawn["text"]
            .as_str()
            .is_some_and(|t| t.contains("Algebra revision")),
        "{drawn}"
    );
}
