//! Many connected users on one database: the drain rate of a queue spread over all of them
//! (Google healthy), then create load with and without a large queue behind it (Google
//! answering 503).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::{DateTime, Utc};
use phantom_google_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, Match};

use crate::api::Api;
use crate::run::{Plan, ensure_clean};
use crate::scratch::{Backend, ScratchDb};
use crate::server::{Server, Worker};
use crate::stats::peak_in_window;
use crate::wrk::{self, WrkReport};
use crate::{storage, sync};

/// Usernames of the fleet: `fleet-0`, `fleet-1`, …
const PREFIX: &str = "fleet-";
/// The two users whose creates `wrk` makes (connected, with nothing else queued).
const POSTER_EMPTY: &str = "poster-empty";
const POSTER_BACKLOG: &str = "poster-backlog";
/// Tasks seeding events through the repository.
const SEEDERS: usize = 16;

/// The drain of `users × per_user` queued changes, Google healthy.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Connected users with queued changes.
    pub users: usize,
    /// Changes queued per user.
    pub per_user: usize,
    /// Inserts Google accepted by the end of the measurement.
    pub delivered: usize,
    /// Whether all were delivered before the patience ran out.
    pub finished: bool,
    /// Calendar calls logged (any answer) from the first to the end of the measurement.
    pub calls: usize,
    /// From the first Calendar call to the last (finished) or to the end of the patience.
    pub span: Duration,
    /// From the server's spawn to the end of the measurement.
    pub since_start: Duration,
    /// Most Calendar calls in any 60 s window.
    pub peak_60s: usize,
}

impl Drain {
    /// Calendar calls per minute over the span.
    pub fn calls_per_minute(&self) -> f64 {
        let secs = self.span.as_secs_f64();
        if secs > 0.0 {
            self.calls as f64 * 60.0 / secs
        } else {
            0.0
        }
    }
}

/// Create load with an empty queue and with a backlog, Google answering 503 to everything.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    /// Users the backlog is spread over.
    pub users: usize,
    /// Rows seeded for them.
    pub seeded: usize,
    /// Outbox rows when the empty-queue load started.
    pub empty_depth: u64,
    /// The load with an (almost) empty queue.
    pub empty: WrkReport,
    /// Outbox rows when the backlog load started.
    pub loaded_depth: u64,
    /// The load with the backlog queued.
    pub loaded: WrkReport,
}

/// Each fleet server's peak resident memory (`VmHWM`, bytes), read just before it stops.
#[derive(Debug, Clone, Copy)]
pub struct Peaks {
    /// The server that registered and connected the users.
    pub setup: u64,
    /// The server that drained the queue, then took the empty-queue create load.
    pub drain: u64,
    /// The server that started with the backlog queued and took the create load.
    pub backlog: u64,
}

impl Peaks {
    /// The highest of the three.
    pub fn most(&self) -> u64 {
        self.setup.max(self.drain).max(self.backlog)
    }
}

fn google_down(emulator: &Emulator) {
    emulator.push_fault(Fault::always(
        Match::any(),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
}

/// Registers and connects the fleet, measures the drain, then the backlog.
pub async fn run(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<(Drain, Backlog, Peaks)> {
    let db = ScratchDb::create(backend, "fleet")?;
    let url = db.url();
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &url, &emulator).await?;
    let api = Api::new(&server.base_url)?;

    eprintln!(
        "fleet: registering and connecting {} users",
        plan.fleet_users
    );
    let started = Instant::now();
    // Each registration and login hashes a password: a few at a time keep both cores busy.
    let users = api.users(PREFIX, plan.fleet_users, 4).await?;
    // One at a time: the emulator's consent screen signs in one account at a time.
    for (i, user) in users.iter().enumerate() {
        api.connect_google(user, &emulator, &format!("{PREFIX}{i}@bench.example"))
            .await?;
    }
    for poster in [POSTER_EMPTY, POSTER_BACKLOG] {
        let user = api.user(poster).await?;
        api.connect_google(&user, &emulator, &format!("{poster}@bench.example"))
            .await?;
    }
    eprintln!("fleet: ready in {:.1} s", started.elapsed().as_secs_f64());
    let setup_peak = server.peak_rss()?;
    server.stop().await?;

    let store = storage::open(&url, false).await?;
    let ids = storage::user_ids(&store, PREFIX).await?;
    ensure!(
        ids.len() == plan.fleet_users,
        "expected {} fleet users, found {}",
        plan.fleet_users,
        ids.len()
    );

    // Drain: the changes are queued while no worker runs, so the drain starts with the server.
    let total = ids.len() * plan.drain_per_user;
    eprintln!("drain: seeding {total} changes, then starting the server");
    storage::seed(&store, &ids, plan.drain_per_user, "Drain", SEEDERS).await?;
    let depth = storage::outbox_depth(&store).await?;
    ensure!(
        depth == total as u64,
        "expected {total} queued rows, found {depth}"
    );
    emulator.clear_request_log();
    let server = Server::start(binary, &url, &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let drain = measure_drain(
        &emulator,
        server.spawned_at,
        ids.len(),
        plan.drain_per_user,
        plan.drain_patience,
    )
    .await;
    eprintln!(
        "drain: {} of {total} in {:.1} s, {:.0} calls/minute",
        drain.delivered,
        drain.since_start.as_secs_f64(),
        drain.calls_per_minute()
    );

    // Backlog: first the same create load with an empty queue, then with the backlog.
    let post = scripts.join("post.lua");
    let load = plan.load;
    google_down(&emulator);
    let empty_depth = storage::outbox_depth(&store).await?;
    eprintln!("backlog: create load, Google 503, queue of {empty_depth}");
    let poster = api.login(POSTER_EMPTY).await?;
    let empty = wrk::run_async(
        format!("{}/api/events/", server.base_url),
        load,
        Some(post.clone()),
        Some(poster.access),
    )
    .await?;
    ensure_clean("POST /api/events/ (empty queue, Google 503)", &empty)?;
    let drain_peak = server.peak_rss()?;
    server.stop().await?;

    let seeded = ids.len() * plan.backlog_per_user;
    eprintln!("backlog: seeding {seeded} rows over {} users", ids.len());
    let seeding = Instant::now();
    storage::seed(&store, &ids, plan.backlog_per_user, "Backlog", SEEDERS)
        .await
        .context("seeding the backlog")?;
    eprintln!(
        "backlog: seeded in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let loaded_depth = storage::outbox_depth(&store).await?;
    let server = Server::start(binary, &url, &emulator).await?;
    let api = Api::new(&server.base_url)?;
    // Let the worker take up the backlog (claims, lanes, the first refused calls).
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("backlog: create load, Google 503, queue of {loaded_depth}");
    let poster = api.login(POSTER_BACKLOG).await?;
    let loaded = wrk::run_async(
        format!("{}/api/events/", server.base_url),
        load,
        Some(post),
        Some(poster.access),
    )
    .await?;
    ensure_clean("POST /api/events/ (backlog, Google 503)", &loaded)?;
    let backlog_peak = server.peak_rss()?;
    server.stop().await?;
    emulator.clear_faults();
    emulator.shutdown().await;
    drop(store);
    drop(db);
    Ok((
        drain,
        Backlog {
            users: ids.len(),
            seeded,
            empty_depth,
            empty,
            loaded_depth,
            loaded,
        },
        Peaks {
            setup: setup_peak,
            drain: drain_peak,
            backlog: backlog_peak,
        },
    ))
}

/// Waits until Google holds all `users × per_user` inserts or `patience` has passed since the
/// server was spawned, then reads the emulator's request log.
async fn measure_drain(
    emulator: &Emulator,
    spawned_at: DateTime<Utc>,
    users: usize,
    per_user: usize,
    patience: Duration,
) -> Drain {
    let total = users * per_user;
    let deadline = spawned_at
        + chrono::Duration::from_std(patience).unwrap_or_else(|_| chrono::Duration::zero());
    let mut delivered = 0;
    while Utc::now() < deadline {
        delivered = sync::accepted_inserts(emulator).len();
        if delivered >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ended = Utc::now();
    let finished = delivered >= total;
    let mut calls = sync::calendar_calls(emulator);
    calls.retain(|at| *at <= ended);
    calls.sort_unstable();
    let first = calls.first().copied().unwrap_or(ended);
    let end = if finished {
        calls.last().copied().unwrap_or(ended)
    } else {
        ended
    };
    let between = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).to_std().unwrap_or_default();
    Drain {
        users,
        per_user,
        delivered: delivered.min(total),
        finished,
        calls: calls.len(),
        span: between(first, end),
        since_start: between(spawned_at, end),
        peak_60s: peak_in_window(&calls, Duration::from_secs(60)),
    }
}

/// The project rate of the workers' drain (`--only fleet --workers N`), calls a minute.
pub const WORKERS_RATE: u32 = 600;
/// Users of the workers' drain.
const WORKERS_USERS: usize = 50;
/// Changes queued per user for the workers' drain: with a read each, 1,050 calls, which take
/// 105 s at [`WORKERS_RATE`], so that 60 s windows lie wholly inside the drain.
const WORKERS_PER_USER: usize = 20;

/// The drain of one backlog by `workers` `phantom worker` processes sharing one project rate.
#[derive(Debug, Clone, Copy)]
pub struct WorkersDrain {
    /// How many workers drained it.
    pub workers: usize,
    /// The project rate they shared (calls a minute).
    pub rate: u32,
    /// The drain as measured from the first worker's start.
    pub drain: Drain,
}

impl WorkersDrain {
    /// The busiest 60 s of Calendar calls over the project rate (goal ≤ 1).
    pub fn peak_ratio(&self) -> f64 {
        self.drain.peak_60s as f64 / f64::from(self.rate)
    }

    /// The drain's calls a minute over the project rate (goal ≥ 0.9).
    pub fn rate_ratio(&self) -> f64 {
        self.drain.calls_per_minute() / f64::from(self.rate)
    }
}

/// `--only fleet --workers N` (PostgreSQL): [`WORKERS_USERS`] users connected through a
/// server that delivers nothing, [`WORKERS_PER_USER`] changes each queued while no worker
/// runs, then `workers` `phantom worker` processes started one after another with a project
/// rate of [`WORKERS_RATE`], and the drain watched until the queue is empty.
pub async fn workers_drain(
    backend: &Backend,
    binary: &Path,
    workers: usize,
    patience: Duration,
) -> anyhow::Result<WorkersDrain> {
    ensure!(
        matches!(backend, Backend::Postgres(_)),
        "`phantom worker` needs PostgreSQL"
    );
    let db = ScratchDb::create(backend, "workers")?;
    let url = db.url();
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let quiet = [("PHANTOM_SYNC_WORKER", "off".to_owned())];
    let server = Server::start_with(binary, &url, &emulator, &quiet).await?;
    let api = Api::new(&server.base_url)?;
    let users = api.users(PREFIX, WORKERS_USERS, 4).await?;
    for (i, user) in users.iter().enumerate() {
        api.connect_google(user, &emulator, &format!("{PREFIX}{i}@bench.example"))
            .await?;
    }
    let store = storage::open(&url, false).await?;
    let ids = storage::user_ids(&store, PREFIX).await?;
    storage::seed(&store, &ids, WORKERS_PER_USER, "Drain", SEEDERS).await?;
    emulator.clear_request_log();
    eprintln!(
        "fleet: {} changes of {} users, {workers} workers at {WORKERS_RATE} calls a minute",
        ids.len() * WORKERS_PER_USER,
        ids.len()
    );
    let env = [("PHANTOM_SYNC_PROJECT_RATE", WORKERS_RATE.to_string())];
    let started = Utc::now();
    let mut running = Vec::new();
    for _ in 0..workers {
        running.push(Worker::start_with(binary, &url, &emulator, Duration::ZERO, &env).await?);
    }
    let drain = measure_drain(&emulator, started, ids.len(), WORKERS_PER_USER, patience).await;
    drop(running);
    server.stop().await?;
    emulator.shutdown().await;
    drop(store);
    drop(db);
    Ok(WorkersDrain {
        workers,
        rate: WORKERS_RATE,
        drain,
    })
}
