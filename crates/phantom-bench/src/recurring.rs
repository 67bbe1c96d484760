//! Recurring events (issue 18): the expanded `GET /api/events/range/` of one week for a user
//! holding 1,000 weekly series, against the same week held as 1,000 single events and
//! against a user holding 10,000 series of which 1,000 meet the week; a 366-day window of a
//! daily series without end; and the first read of a Google calendar holding 500 series with
//! 2,000 changed or cancelled occurrences. Each part runs its own `phantom serve` on its own
//! fresh database (the peak memory is that part's).
//!
//! Phantom's events are made through the API (`POST /api/events/`, as a client makes them,
//! so they are stored exactly as the server stores series), Google's through the emulator's
//! controls, as a person makes them in Google Calendar.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use phantom_google_emulator::{Emulator, EmulatorConfig, EventDateTime, EventEdit};
use serde_json::{Value, json};

use crate::api::{Api, User};
use crate::report::{mib, ms, rate, ratio};
use crate::run::{Plan, ensure_clean};
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::stats::percentile;
use crate::wrk::{self, WrkReport};

/// The week every `range/` figure of the first part asks for (a Monday to a Monday).
const WEEK: (&str, &str) = ("2027-03-01T00:00:00Z", "2027-03-08T00:00:00Z");
/// Events (or series) meeting [`WEEK`] for every user of the first part.
const IN_WEEK: usize = 1_000;
/// Series of the user most of whose series miss [`WEEK`].
const MANY_SERIES: usize = 10_000;
/// The series' zone (no daylight-saving change near [`WEEK`] or the year's window start).
const ZONE: &str = "Europe/London";
/// The 366-day window of the daily series (the longest `range/` takes).
const YEAR: (&str, &str) = ("2027-01-01T00:00:00Z", "2028-01-02T00:00:00Z");
/// Occurrences of the daily series in [`YEAR`].
const YEAR_OCCURRENCES: usize = 366;
/// One request at a time for the year's latency.
const YEAR_REQUESTS: usize = 20;
/// Series made in Google for the first read.
const GOOGLE_SERIES: usize = 500;
/// Of each, instances changed (a new title, an hour later) and cancelled in Google.
const CHANGED_PER_SERIES: usize = 2;
/// See [`CHANGED_PER_SERIES`].
const CANCELLED_PER_SERIES: usize = 2;
/// Requests in flight while seeding.
const SEEDING: usize = 16;

/// Every recurring figure of one backend.
#[derive(Debug, Clone)]
pub struct Recurring {
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    /// `range/` of [`WEEK`], 1,000 single events in it.
    pub singles: WrkReport,
    /// The same, 1,000 weekly series each meeting it once.
    pub series: WrkReport,
    /// The same, 10,000 series of which the same 1,000 meet it.
    pub many_series: WrkReport,
    /// The 366-day window of a daily series without end.
    pub year: Year,
    /// The first read of the Google calendar full of series.
    pub import: Import,
}

/// `range/` of 366 days for a daily series without end.
#[derive(Debug, Clone, Copy)]
pub struct Year {
    /// Occurrences answered (checked: [`YEAR_OCCURRENCES`]).
    pub occurrences: usize,
    /// One request at a time: median and slowest of [`YEAR_REQUESTS`].
    pub p50: Duration,
    /// See `p50`.
    pub max: Duration,
    /// Under `wrk`.
    pub load: WrkReport,
    /// The server's `VmHWM` after both.
    pub peak_rss: u64,
}

/// The first read of a Google calendar holding series with changed and cancelled instances.
#[derive(Debug, Clone, Copy)]
pub struct Import {
    /// Series in the calendar.
    pub series: usize,
    /// Instances changed in Google.
    pub changed: usize,
    /// Instances cancelled in Google.
    pub cancelled: usize,
    /// From the callback's answer until the status shows the read done.
    pub took: Duration,
    /// `events.list` pages answered `200`.
    pub pages: usize,
    /// That server's `VmHWM` right after.
    pub peak_rss: u64,
}

fn at(text: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("bad instant {text}"))?
        .with_timezone(&Utc))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A 30-minute event (a series with `rule`, or a single event without) starting at `start`.
fn event_body(title: String, start: DateTime<Utc>, rule: Option<&str>) -> Value {
    let end = start + chrono::Duration::minutes(30);
    let mut body = json!({
        "title": title,
        "category": 1,
        "start_time": rfc3339(start),
        "end_time": rfc3339(end),
        "timezone": ZONE,
    });
    if let Some(rule) = rule {
        body["recurrence"] = json!([rule]);
    }
    body
}

/// The `range/` path of `[from, to)`.
fn range_path(window: (&str, &str)) -> String {
    format!("/api/events/range/?start={}&end={}", window.0, window.1)
}

/// How many events `range/` of `window` answers `user`; fails unless it is `expected`.
async fn check_range(
    api: &Api,
    user: &User,
    window: (&str, &str),
    expected: usize,
    what: &str,
) -> anyhow::Result<Value> {
    let answer = api.get_json(user, &range_path(window)).await?;
    let got = answer.as_array().map_or(0, Vec::len);
    ensure!(
        got == expected,
        "range/ of {what} answered {got} events, not {expected}"
    );
    Ok(answer)
}

/// Runs the recurring figures on fresh databases of `backend`.
pub async fn run(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<Recurring> {
    let (singles, series, many_series) = week(plan, backend, binary, scripts)
        .await
        .context("the week of series")?;
    let year = year(plan, backend, binary, scripts)
        .await
        .context("the year of a daily series")?;
    let import = import(plan, backend, binary)
        .await
        .context("the first read of series made in Google")?;
    Ok(Recurring {
        backend: backend.label(),
        singles,
        series,
        many_series,
        year,
        import,
    })
}

/// `wrk` on `range/` of `window` as `name` (logged in afresh: seeding may outlive a token).
async fn load_range(
    plan: &Plan,
    api: &Api,
    name: &str,
    window: (&str, &str),
    scripts: &Path,
) -> anyhow::Result<WrkReport> {
    let token = api.login(name).await?.access;
    let path = range_path(window);
    let url = format!("{}{path}", api.base_url);
    let script = scripts.join("get.lua");
    let load = plan.load;
    eprintln!("GET {url} as {name}");
    let report =
        tokio::task::spawn_blocking(move || wrk::run(&url, load, Some(&script), Some(&token)))
            .await
            .context("wrk task failed")??;
    ensure_clean(&format!("GET {path} as {name}"), &report)?;
    Ok(report)
}

/// Three users on one server: 1,000 single events in [`WEEK`]; 1,000 weekly series without
/// end that started eight weeks before, each meeting it once; and those same 1,000 series
/// plus 4,500 that ended months before (`COUNT=10`) and 4,500 that start weeks after it
/// (without end), so the span index must pass over both kinds.
async fn week(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<(WrkReport, WrkReport, WrkReport)> {
    let db = ScratchDb::create(backend, "recweek")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let week_start = at(WEEK.0)?;
    let step = chrono::Duration::minutes(10);
    let n = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
    // Eight weeks before the week: its Monday 2027-01-04.
    let series_start = week_start - chrono::Duration::weeks(8);
    let meeting = |prefix: &str| -> Vec<Value> {
        (0..IN_WEEK)
            .map(|i| {
                event_body(
                    format!("{prefix} {i}"),
                    series_start + step * n(i),
                    Some("RRULE:FREQ=WEEKLY"),
                )
            })
            .collect()
    };
    let singles: Vec<Value> = (0..IN_WEEK)
        .map(|i| event_body(format!("Single {i}"), week_start + step * n(i), None))
        .collect();
    let missing = MANY_SERIES - IN_WEEK;
    let mut many = meeting("Meeting");
    let ended_start = week_start - chrono::Duration::weeks(25);
    let later_start = week_start + chrono::Duration::weeks(5);
    for i in 0..missing / 2 {
        many.push(event_body(
            format!("Ended {i}"),
            ended_start + step * n(i),
            Some("RRULE:FREQ=WEEKLY;COUNT=10"),
        ));
    }
    for i in missing / 2..missing {
        many.push(event_body(
            format!("Later {i}"),
            later_start + step * n(i),
            Some("RRULE:FREQ=WEEKLY"),
        ));
    }
    let users = [
        ("bench-rec-singles", singles),
        ("bench-rec-series", meeting("Series")),
        ("bench-rec-many", many),
    ];
    for (name, bodies) in users {
        let user = api.user(name).await?;
        eprintln!("recurring: {} events for {name}", bodies.len());
        let seeding = Instant::now();
        api.post_events(&user, bodies, SEEDING).await?;
        eprintln!(
            "recurring: seeded in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        check_range(&api, &user, WEEK, IN_WEEK, name).await?;
    }
    let singles = load_range(plan, &api, "bench-rec-singles", WEEK, scripts).await?;
    let series = load_range(plan, &api, "bench-rec-series", WEEK, scripts).await?;
    let many = load_range(plan, &api, "bench-rec-many", WEEK, scripts).await?;
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);
    Ok((singles, series, many))
}

/// One daily series without end, 09:00 in [`ZONE`] from the first day of [`YEAR`]; its
/// 366-day window one request at a time, then under `wrk`; the server's peak memory.
async fn year(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<Year> {
    let db = ScratchDb::create(backend, "recyear")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let name = "bench-rec-daily";
    let user = api.user(name).await?;
    let first = at(YEAR.0)? + chrono::Duration::hours(9);
    api.post_event(
        &user,
        &event_body("Daily".to_owned(), first, Some("RRULE:FREQ=DAILY")),
    )
    .await?;
    check_range(&api, &user, YEAR, YEAR_OCCURRENCES, "the year").await?;
    let mut times = Vec::with_capacity(YEAR_REQUESTS);
    for _ in 0..YEAR_REQUESTS {
        let asked = Instant::now();
        api.get_json(&user, &range_path(YEAR)).await?;
        times.push(asked.elapsed());
    }
    let load = load_range(plan, &api, name, YEAR, scripts).await?;
    let peak_rss = server.peak_rss()?;
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);
    Ok(Year {
        occurrences: YEAR_OCCURRENCES,
        p50: percentile(&times, 50.0).unwrap_or_default(),
        max: times.iter().max().copied().unwrap_or_default(),
        load,
        peak_rss,
    })
}

/// [`GOOGLE_SERIES`] weekly series made in Google (30 minutes, in [`ZONE`], the first 20
/// days ago, starts spread over a week), and in each the instances of weeks 1 and 2 changed
/// (a new title, an hour later) and those of weeks 3 and 4 cancelled; then the user connects.
/// The time from the callback's answer until the status shows the first read done, and the
/// server's peak memory. Checked after: every series held once, and the expanded five weeks
/// show the changes and not the cancelled instances.
async fn import(plan: &Plan, backend: &Backend, binary: &Path) -> anyhow::Result<Import> {
    let db = ScratchDb::create(backend, "recimport")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let account = "series@bench.example";
    // The whole hour 20 days ago.
    let base = (Utc::now() - chrono::Duration::days(20))
        .duration_trunc(chrono::Duration::hours(1))
        .context("truncating to the hour")?;
    let step = chrono::Duration::minutes(17);
    let (mut changed, mut cancelled) = (0, 0);
    for i in 0..GOOGLE_SERIES {
        let start = base + step * i32::try_from(i).unwrap_or(i32::MAX);
        let made = emulator
            .create_event(
                account,
                EventEdit {
                    summary: Some(format!("Google series {i}")),
                    start: Some(EventDateTime::timed(rfc3339(start), Some(ZONE))),
                    end: Some(EventDateTime::timed(
                        rfc3339(start + chrono::Duration::minutes(30)),
                        Some(ZONE),
                    )),
                    recurrence: Some(vec!["RRULE:FREQ=WEEKLY".to_owned()]),
                    ..EventEdit::default()
                },
            )
            .map_err(|e| anyhow::anyhow!("the emulator refused series {i}: {e:?}"))?;
        let instances = emulator
            .instances(account, &made.id, start, start + chrono::Duration::weeks(5))
            .map_err(|e| anyhow::anyhow!("no instances of series {i}: {e:?}"))?;
        ensure!(
            instances.len() == 5,
            "series {i} has {} instances in five weeks",
            instances.len()
        );
        for instance in &instances[1..=CHANGED_PER_SERIES] {
            let moved = |b: &Option<EventDateTime>| -> anyhow::Result<EventDateTime> {
                let t = b
                    .as_ref()
                    .and_then(EventDateTime::instant)
                    .context("an instance without its time")?;
                Ok(EventDateTime::timed(
                    rfc3339(t + chrono::Duration::hours(1)),
                    Some(ZONE),
                ))
            };
            emulator
                .edit_event(
                    account,
                    &instance.id,
                    EventEdit {
                        summary: Some(format!("Google series {i} changed")),
                        start: Some(moved(&instance.start)?),
                        end: Some(moved(&instance.end)?),
                        ..EventEdit::default()
                    },
                )
                .map_err(|e| anyhow::anyhow!("the emulator refused the change: {e:?}"))?;
            changed += 1;
        }
        for instance in
            &instances[1 + CHANGED_PER_SERIES..=CHANGED_PER_SERIES + CANCELLED_PER_SERIES]
        {
            emulator
                .delete_event(account, &instance.id)
                .map_err(|e| anyhow::anyhow!("the emulator refused the cancel: {e:?}"))?;
            cancelled += 1;
        }
    }
    let user = api.user("bench-rec-google").await?;
    emulator.clear_request_log();
    api.connect_google(&user, &emulator, account).await?;
    let connected = Instant::now();
    let deadline = connected + plan.large_patience;
    loop {
        let status = api
            .get_json(&user, "/api/integrations/google-calendar/status/")
            .await?;
        if !status["google_changes"]["last_read_at"].is_null() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the first read of {GOOGLE_SERIES} series was not done after {:?}",
                plan.large_patience
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = connected.elapsed();
    let peak_rss = server.peak_rss()?;
    let pages = emulator
        .request_log()
        .iter()
        .filter(|r| r.operation == phantom_google_emulator::Operation::List && r.status == 200)
        .count();
    // What the read left: each series once, and five weeks of occurrences as Google shows them.
    let held = api.get_json(&user, "/api/events/?page_size=1").await?;
    ensure!(
        held["count"].as_u64() == Some(GOOGLE_SERIES as u64),
        "{} events held after the read, not the {GOOGLE_SERIES} series",
        held["count"]
    );
    let (from, to) = (rfc3339(base), rfc3339(base + chrono::Duration::weeks(5)));
    let shown = check_range(
        &api,
        &user,
        (&from, &to),
        GOOGLE_SERIES * (5 - CANCELLED_PER_SERIES),
        "five weeks of the imported series",
    )
    .await?;
    let shown_changed = shown.as_array().map_or(0, |a| {
        a.iter()
            .filter(|e| e["title"].as_str().is_some_and(|t| t.ends_with(" changed")))
            .count()
    });
    ensure!(
        shown_changed == changed,
        "{shown_changed} changed occurrences shown, not {changed}"
    );
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);
    Ok(Import {
        series: GOOGLE_SERIES,
        changed,
        cancelled,
        took,
        pages,
        peak_rss,
    })
}

/// Marks the start of the recurring figures in `docs/benchmarks.md`.
pub const BEGIN: &str = "<!-- phantom-bench recurring: begin -->";
/// Marks their end.
pub const END: &str = "<!-- phantom-bench recurring: end -->";

/// The recurring figures as markdown: a line saying how they were run, then one table with a
/// column per backend.
pub fn table(header: &str, figures: &[Recurring]) -> String {
    let mut out = format!("{header}\n\n| figure |");
    for f in figures {
        out.push_str(&format!(" {} |", f.backend));
    }
    out.push_str("\n|---|");
    for _ in figures {
        out.push_str("---|");
    }
    out.push('\n');
    let mut row = |label: String, cell: &dyn Fn(&Recurring) -> String| {
        out.push_str(&format!("| {label} |"));
        for f in figures {
            out.push_str(&format!(" {} |", cell(f)));
        }
        out.push('\n');
    };
    let load = |r: &WrkReport| format!("{} req/s, p99 {}", rate(r.rps), ms(r.p99));
    let week = format!("`range/` of one week ({} to {})", WEEK.0, WEEK.1);
    row(
        format!("{week}: {} single events in it", rate(IN_WEEK as f64)),
        &|f| load(&f.singles),
    );
    row(
        format!(
            "{week}: {} weekly series, each meeting it once",
            rate(IN_WEEK as f64)
        ),
        &|f| load(&f.series),
    );
    row(
        format!(
            "**{} series / {} single events** (goal ≥ 0.5×)",
            rate(IN_WEEK as f64),
            rate(IN_WEEK as f64)
        ),
        &|f| ratio(f.series.rps, f.singles.rps),
    );
    row(
        format!(
            "{week}: {} series, the same {} meeting it, {} ended before it, {} starting after it",
            rate(MANY_SERIES as f64),
            rate(IN_WEEK as f64),
            rate(((MANY_SERIES - IN_WEEK) / 2) as f64),
            rate((MANY_SERIES - IN_WEEK - (MANY_SERIES - IN_WEEK) / 2) as f64)
        ),
        &|f| load(&f.many_series),
    );
    row(
        format!(
            "**{} series / {} series** (goal ≥ 0.8×)",
            rate(MANY_SERIES as f64),
            rate(IN_WEEK as f64)
        ),
        &|f| ratio(f.many_series.rps, f.series.rps),
    );
    row(
        format!(
            "`range/` of 366 days ({} to {}), a daily series without end: one request at a time, p50 / slowest of {YEAR_REQUESTS}",
            YEAR.0, YEAR.1
        ),
        &|f| {
            format!(
                "{} / {} ({} occurrences)",
                ms(f.year.p50),
                ms(f.year.max),
                f.year.occurrences
            )
        },
    );
    row("the same under load".to_owned(), &|f| load(&f.year.load));
    row(
        "the same: peak RSS of its own server (VmHWM)".to_owned(),
        &|f| mib(f.year.peak_rss),
    );
    row(
        "first read of a Google calendar holding weekly series with instances changed (a new title, an hour later) and cancelled in Google: callback → read done".to_owned(),
        &|f| {
            format!(
                "{:.1} s for {} series, {} changed and {} cancelled ({} `events.list` pages)",
                f.import.took.as_secs_f64(),
                rate(f.import.series as f64),
                rate(f.import.changed as f64),
                rate(f.import.cancelled as f64),
                f.import.pages
            )
        },
    );
    row(
        "**the same: peak RSS of its own server** (VmHWM; goal < 64 MB)".to_owned(),
        &|f| mib(f.import.peak_rss),
    );
    out
}
