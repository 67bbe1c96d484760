//! One backend's run: storage loop, then the server under HTTP load, then the sync figures.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use phantom_google_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, Match};

use crate::api::Api;
use crate::report::Figures;
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::sync;
use crate::wrk::{self, Load, WrkReport};

/// Counts and durations of one bench.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Every `wrk` run, and the in-process loop's duration and concurrency.
    pub load: Load,
    /// Events of the listing user.
    pub list_events: usize,
    /// Events timed for sync lag.
    pub lag_events: usize,
    /// Events made before connecting, for the backfill.
    pub backfill_events: usize,
    /// How long a backfill may take before the bench gives up.
    pub backfill_patience: Duration,
    /// Events stranded by each kill in the recovery figures.
    pub recovery_events: usize,
    /// How long to wait for the first call after a kill before reporting "none".
    pub recovery_patience: Duration,
    /// Connected users of the drain and backlog figures.
    pub fleet_users: usize,
    /// Changes queued per fleet user for the drain.
    pub drain_per_user: usize,
    /// How long the drain is watched (from the server's start) before it is measured as is.
    pub drain_patience: Duration,
    /// Rows queued per fleet user for the backlog.
    pub backlog_per_user: usize,
    /// Edits made in Google and timed until Phantom shows them.
    pub read_lag_edits: usize,
    /// `PHANTOM_GOOGLE_POLL_SECS` for the read lag.
    pub read_lag_poll: Duration,
    /// How long all the read lag's edits may take before the figure is taken as is.
    pub read_lag_patience: Duration,
    /// Connected users for the idle cost.
    pub idle_users: usize,
    /// `PHANTOM_GOOGLE_POLL_SECS` for the idle cost.
    pub idle_poll: Duration,
    /// How long the idle calls are counted.
    pub idle_window: Duration,
    /// `PHANTOM_GOOGLE_POLL_SECS` of the servers with notifications: far longer than their
    /// run, so polling is effectively off.
    pub push_poll: Duration,
    /// With notifications, the pauses before the read lag's edits are spread over this.
    pub push_lag_spread: Duration,
    /// `PHANTOM_GOOGLE_CHANNEL_TTL_SECS` for the idle cost with notifications: short, so the
    /// window sees renewals (the figure is scaled to the default lifetime).
    pub idle_channel_ttl: Duration,
    /// Events made in Google before the first read of a large calendar.
    pub large_events: usize,
    /// How long that first read may take before the bench gives up.
    pub large_patience: Duration,
    /// The memory soak (`--soak-requests` overrides its count).
    pub soak: crate::memory::SoakPlan,
}

impl Plan {
    /// The figures `docs/benchmarks.md` records.
    pub fn full() -> Self {
        Self {
            load: Load {
                connections: 16,
                duration: Duration::from_secs(10),
            },
            list_events: 10_000,
            lag_events: 200,
            backfill_events: 1_000,
            backfill_patience: Duration::from_secs(600),
            recovery_events: 5,
            recovery_patience: Duration::from_secs(120),
            fleet_users: 1_000,
            drain_per_user: 20,
            drain_patience: Duration::from_secs(240),
            backlog_per_user: 100,
            read_lag_edits: 20,
            read_lag_poll: Duration::from_secs(2),
            read_lag_patience: Duration::from_secs(120),
            idle_users: 20,
            idle_poll: Duration::from_secs(5),
            idle_window: Duration::from_secs(30),
            push_poll: Duration::from_secs(86_400),
            push_lag_spread: Duration::from_secs(1),
            idle_channel_ttl: Duration::from_secs(10),
            large_events: 5_000,
            large_patience: Duration::from_secs(600),
            soak: crate::memory::SoakPlan {
                requests: 1_000_000,
                chunk: Load {
                    connections: 16,
                    duration: Duration::from_secs(10),
                },
                login_every: 200,
                list_events: 1_000,
            },
        }
    }

    /// A smoke run of a minute or so.
    pub fn quick() -> Self {
        Self {
            load: Load {
                connections: 16,
                duration: Duration::from_secs(2),
            },
            list_events: 1_000,
            lag_events: 20,
            backfill_events: 100,
            backfill_patience: Duration::from_secs(120),
            recovery_events: 3,
            recovery_patience: Duration::from_secs(60),
            fleet_users: 100,
            drain_per_user: 20,
            drain_patience: Duration::from_secs(60),
            backlog_per_user: 100,
            read_lag_edits: 5,
            read_lag_poll: Duration::from_secs(2),
            read_lag_patience: Duration::from_secs(60),
            idle_users: 5,
            idle_poll: Duration::from_secs(5),
            idle_window: Duration::from_secs(10),
            push_poll: Duration::from_secs(86_400),
            push_lag_spread: Duration::from_secs(1),
            idle_channel_ttl: Duration::from_secs(10),
            large_events: 1_000,
            large_patience: Duration::from_secs(120),
            soak: crate::memory::SoakPlan {
                requests: 20_000,
                chunk: Load {
                    connections: 16,
                    duration: Duration::from_secs(2),
                },
                login_every: 200,
                list_events: 200,
            },
        }
    }

    /// Fails early, with the fix, when `wrk` is missing.
    pub fn check_wrk(&self) -> anyhow::Result<()> {
        Command::new("wrk")
            .arg("--version")
            .output()
            .map(|_| ())
            .context("wrk is not installed: `apt-get install -y wrk` (or run `just bench`)")
    }
}

/// Runs every measurement on `backend`.
pub async fn backend(
    plan: &Plan,
    backend: &Backend,
    binary: &Path,
    scripts: &Path,
) -> anyhow::Result<Figures> {
    let load = plan.load;
    let concurrency = load.connections as usize;

    eprintln!("in-process insert loop ({:?})", load.duration);
    let loop_db = ScratchDb::create(backend, "loop")?;
    let insert_loop = crate::storage::insert_loop(&loop_db.url(), load.duration, concurrency)
        .await
        .context("insert loop")?;
    drop(loop_db);

    let db = ScratchDb::create(backend, "server")?;
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let base = server.base_url.clone();
    let post = scripts.join("post.lua");
    let get = scripts.join("get.lua");
    // wrk blocks: run it off the async threads (the emulator's requests are served elsewhere).
    let wrk = |url: String, script: Option<std::path::PathBuf>, token: Option<String>| async move {
        tokio::task::spawn_blocking(move || {
            wrk::run(&url, load, script.as_deref(), token.as_deref())
        })
        .await
        .context("wrk task failed")?
    };

    eprintln!("GET /healthz/");
    let healthz = wrk(format!("{base}/healthz/"), None, None).await?;

    eprintln!("POST /api/events/");
    let creator = api.user("bench-create").await?;
    let create = wrk(
        format!("{base}/api/events/"),
        Some(post.clone()),
        Some(creator.access.clone()),
    )
    .await?;
    ensure_clean("POST /api/events/", &create)?;

    eprintln!(
        "seeding {} events, then GET /api/events/?page_size=50",
        plan.list_events
    );
    let lister = api.user("bench-list").await?;
    api.create_many(&lister, "List", plan.list_events, concurrency)
        .await?;
    let list = wrk(
        format!("{base}/api/events/?page_size=50"),
        Some(get),
        Some(lister.access.clone()),
    )
    .await?;
    ensure_clean("GET /api/events/", &list)?;

    eprintln!("sync lag over {} events", plan.lag_events);
    // One pacing interval (plus a little) between events keeps the user within the per-user
    // rate, so this is the pipeline's lag, not the pacer's spacing.
    let pause =
        Duration::from_millis(60_000 / u64::from(crate::server::SYNC_USER_RATE.max(1)) + 10);
    let lag = sync::lag(&api, &emulator, plan.lag_events, pause).await?;

    eprintln!("backfill of {} events", plan.backfill_events);
    let backfill = sync::backfill(
        &api,
        &emulator,
        plan.backfill_events,
        concurrency,
        plan.backfill_patience,
    )
    .await?;

    eprintln!("create load for a connected user, Google healthy");
    let healthy = api.user("bench-healthy").await?;
    api.connect_google(&healthy, &emulator, "healthy@bench.example")
        .await?;
    let create_healthy = wrk(
        format!("{base}/api/events/"),
        Some(post.clone()),
        Some(healthy.access.clone()),
    )
    .await?;
    ensure_clean("POST /api/events/ (Google healthy)", &create_healthy)?;
    // Let that user's queue drain a little so the next load starts from a quieter worker.
    let settle = Instant::now() + load.duration;
    while Instant::now() < settle
        && (sync::live_events(&emulator, "healthy@bench.example") as u64) < create_healthy.requests
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    eprintln!("create load for a connected user, Google answering 503");
    let failing = api.user("bench-failing").await?;
    api.connect_google(&failing, &emulator, "failing@bench.example")
        .await?;
    emulator.push_fault(Fault::always(
        Match::any(),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
    let create_503 = wrk(
        format!("{base}/api/events/"),
        Some(post),
        Some(failing.access.clone()),
    )
    .await;
    emulator.clear_faults();
    let create_503 = create_503?;
    ensure_clean("POST /api/events/ (Google 503)", &create_503)?;

    let peak_rss = server.peak_rss()?;
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);

    let recovery = crate::recovery::run(
        backend,
        binary,
        plan.recovery_events,
        plan.recovery_patience,
    )
    .await
    .context("recovery")?;
    let (drain, backlog, fleet_peaks) = crate::fleet::run(plan, backend, binary, scripts)
        .await
        .context("drain and backlog")?;
    let reads = crate::reads::run(plan, backend, binary)
        .await
        .context("reads")?;
    Ok(Figures {
        backend: backend.label(),
        create,
        insert_loop,
        healthz,
        list,
        list_events: plan.list_events,
        lag,
        create_healthy,
        create_503,
        backfill,
        peak_rss,
        recovery,
        drain,
        backlog,
        fleet_peaks,
        reads,
    })
}

/// A load whose answers were errors measures the wrong thing: stop there.
pub fn ensure_clean(what: &str, report: &WrkReport) -> anyhow::Result<()> {
    ensure!(
        report.non_2xx == 0,
        "{what}: {} of {} answers were not 2xx",
        report.non_2xx,
        report.requests
    );
    Ok(())
}
