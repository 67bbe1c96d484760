//! List pages against history: the first page of `GET /api/events/` for users holding 1,000,
//! 10,000 and 100,000 events, a window of one week at the end of each history, and a late
//! page, all on one server and one database, so the figures compare as ratios.
//!
//! The histories are seeded straight into the database with one `INSERT … SELECT` per user
//! (a generated series), through the server's own database after it has migrated it; the
//! `event_stats` triggers count them as they count every write.

use std::path::Path;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use phantom_adapters::db::AnyConnection;
use phantom_domain::error::RepoError;
use phantom_google_emulator::{Emulator, EmulatorConfig};

use crate::api::Api;
use crate::report::{ms, rate, ratio};
use crate::run::{Plan, ensure_clean};
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::wrk::{self, WrkReport};

/// Where every seeded history ends (exclusive): its events are one an hour before it.
const HISTORY_END: &str = "2027-01-01 00:00:00";
/// The window figure's window: the last week of every history (168 events each).
const WINDOW: &str = "start=2026-12-25T00:00:00Z&end=2027-01-01T00:00:00Z";
/// The history sizes, smallest first (`--quick` too: seeding them takes seconds).
pub const HISTORIES: [usize; 3] = [1_000, 10_000, 100_000];
/// Page size of every figure.
const PAGE_SIZE: u32 = 50;
/// The late page.
const LATE_PAGE: u32 = 1_000;

/// One measured URL.
#[derive(Debug, Clone)]
pub struct ListFigure {
    /// `wrk`'s report.
    pub report: WrkReport,
}

/// Every list figure of one backend.
#[derive(Debug, Clone)]
pub struct Lists {
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    /// The first page per history size, smallest history first.
    pub first: Vec<ListFigure>,
    /// The last week's first page per history size, smallest history first.
    pub window: Vec<ListFigure>,
    /// `page=1000` of the largest history.
    pub late: Option<ListFigure>,
}

/// Runs the list figures on a fresh database of `backend`.
pub async fn run(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<Lists> {
    let script = scripts.join("get.lua");
    let db = ScratchDb::create(backend, "lists")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let database = crate::storage::open(&db.url(), false).await?;

    let mut users = Vec::new();
    for events in HISTORIES {
        let name = format!("bench-history-{events}");
        api.user(&name).await?;
        let id = crate::storage::user_ids(&database, &name)
            .await?
            .first()
            .copied()
            .context("the user just registered")?;
        eprintln!("seeding {events} events for {name}");
        seed(&database, id.0, events).await?;
        users.push((name, events));
    }
    settle(&database).await?;

    let load = plan.load;
    let base = server.base_url.clone();
    let get = |name: &str, events: usize, query: String| {
        let api = api.clone();
        let name = name.to_owned();
        let url = format!("{base}/api/events/?{query}");
        let script = script.clone();
        async move {
            // A fresh token: the seeding may have outlived the first one (5 minutes).
            let token = api.login(&name).await?.access;
            eprintln!("GET {url} ({events} events)");
            let report = tokio::task::spawn_blocking(move || {
                wrk::run(&url, load, Some(&script), Some(&token))
            })
            .await
            .context("wrk task failed")??;
            ensure_clean(&format!("GET /api/events/?{query}"), &report)?;
            anyhow::Ok(ListFigure { report })
        }
    };
    let mut first = Vec::new();
    let mut window = Vec::new();
    for (name, events) in &users {
        first.push(get(name, *events, format!("page_size={PAGE_SIZE}")).await?);
        window.push(get(name, *events, format!("page_size={PAGE_SIZE}&{WINDOW}")).await?);
    }
    let late = match users.last() {
        Some((name, events)) if *events > (LATE_PAGE as usize - 1) * PAGE_SIZE as usize => Some(
            get(
                name,
                *events,
                format!("page_size={PAGE_SIZE}&page={LATE_PAGE}"),
            )
            .await?,
        ),
        _ => None,
    };
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);
    Ok(Lists {
        backend: backend.label(),
        first,
        window,
        late,
    })
}

/// `events` 30-minute events for `user`, one an hour, the last ending before
/// [`HISTORY_END`], in categories 1 to 5 in turn; one statement.
async fn seed(
    database: &phantom_adapters::db::Database,
    user: i64,
    events: usize,
) -> anyhow::Result<()> {
    database
        .write(move |c| {
            let sql = match c {
                AnyConnection::Sqlite(_) => format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {events}) \
                     INSERT INTO events (user_id, category_id, title, description, start_time, end_time, \
                         google_event_id, sync_status, created_at, updated_at) \
                     SELECT {user}, 1 + i % 5, 'History ' || i, '', \
                         datetime('{HISTORY_END}', '-' || i || ' hours'), \
                         datetime('{HISTORY_END}', '-' || i || ' hours', '+30 minutes'), \
                         'bench{user}x' || i, 'not_connected', '{HISTORY_END}', '{HISTORY_END}' FROM n"
                ),
                AnyConnection::Postgresql(_) => format!(
                    "INSERT INTO events (user_id, category_id, title, description, start_time, end_time, \
                         google_event_id, sync_status, created_at, updated_at) \
                     SELECT {user}, 1 + i % 5, 'History ' || i, '', \
                         TIMESTAMP '{HISTORY_END}' - i * INTERVAL '1 hour', \
                         TIMESTAMP '{HISTORY_END}' - i * INTERVAL '1 hour' + INTERVAL '30 minutes', \
                         'bench{user}x' || i, 'not_connected', TIMESTAMP '{HISTORY_END}', \
                         TIMESTAMP '{HISTORY_END}' FROM generate_series(1, {events}) AS i"
                ),
            };
            c.batch_execute(&sql).map_err(RepoError::storage)
        })
        .await
        .context("seeding the history")
}

/// PostgreSQL: vacuum and analyse what was seeded, as autovacuum would soon: statistics, the
/// visibility map an index-only scan needs, and the dead versions of the user's
/// `event_stats` row (one per seeded event: the row trigger updates it once per row, in one
/// transaction, so nothing could prune them). SQLite: nothing (the server never runs
/// `ANALYZE` either).
async fn settle(database: &phantom_adapters::db::Database) -> anyhow::Result<()> {
    database
        .write(|c| match c {
            AnyConnection::Postgresql(_) => c
                .batch_execute("VACUUM ANALYZE events, event_stats")
                .map_err(RepoError::storage),
            AnyConnection::Sqlite(_) => Ok(()),
        })
        .await
        .context("VACUUM ANALYZE")
}

/// Marks the start of the list figures in `docs/benchmarks.md`.
pub const BEGIN: &str = "<!-- phantom-bench lists: begin -->";
/// Marks their end.
pub const END: &str = "<!-- phantom-bench lists: end -->";

/// The list figures as markdown: a line saying how they were run, then one table with a
/// column per backend.
pub fn table(header: &str, lists: &[Lists]) -> String {
    let mut out = format!("{header}\n\n| figure |");
    for l in lists {
        out.push_str(&format!(" {} |", l.backend));
    }
    out.push_str("\n|---|");
    for _ in lists {
        out.push_str("---|");
    }
    out.push('\n');
    let mut row = |label: String, cell: &dyn Fn(&Lists) -> String| {
        out.push_str(&format!("| {label} |"));
        for l in lists {
            out.push_str(&format!(" {} |", cell(l)));
        }
        out.push('\n');
    };
    let figure = |f: Option<&ListFigure>| {
        f.map_or("n/a".to_owned(), |f| {
            format!("{} req/s, p99 {}", rate(f.report.rps), ms(f.report.p99))
        })
    };
    for (i, events) in HISTORIES.iter().enumerate() {
        row(
            format!(
                "first page, `?page_size={PAGE_SIZE}`, {} events",
                rate(*events as f64)
            ),
            &|l| figure(l.first.get(i)),
        );
    }
    row(
        format!(
            "**first page: {} events / {} events** (goal ≥ 0.8×)",
            rate(HISTORIES[2] as f64),
            rate(HISTORIES[0] as f64)
        ),
        &|l| match (l.first.last(), l.first.first()) {
            (Some(big), Some(small)) => ratio(big.report.rps, small.report.rps),
            _ => "n/a".to_owned(),
        },
    );
    for (i, events) in HISTORIES.iter().enumerate() {
        row(
            format!(
                "last week (`?start=&end=`, 168 events), {} events",
                rate(*events as f64)
            ),
            &|l| figure(l.window.get(i)),
        );
    }
    row(
        format!(
            "**last week: {} events / {} events**",
            rate(HISTORIES[2] as f64),
            rate(HISTORIES[0] as f64)
        ),
        &|l| match (l.window.last(), l.window.first()) {
            (Some(big), Some(small)) => ratio(big.report.rps, small.report.rps),
            _ => "n/a".to_owned(),
        },
    );
    row(
        format!(
            "late page, `?page_size={PAGE_SIZE}&page={LATE_PAGE}`, {} events",
            rate(HISTORIES[2] as f64)
        ),
        &|l| figure(l.late.as_ref()),
    );
    row(
        "**late page / first page** (same user)".to_owned(),
        &|l| match (&l.late, l.first.last()) {
            (Some(late), Some(first)) => ratio(late.report.rps, first.report.rps),
            _ => "n/a".to_owned(),
        },
    );
    out
}
