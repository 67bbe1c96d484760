//! Recovery after a crash: rows a dead process had claimed (and was retrying against a Google
//! answering 503) must reach Google soon after a new process is there, not when some long
//! retry or lease runs out.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use phantom_google_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, Match};

use crate::api::Api;
use crate::scratch::{Backend, ScratchDb};
use crate::server::{Server, Worker};
use crate::{storage, sync};

/// The recovery figures of one backend.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// Events created (and stranded) before each kill.
    pub stranded: usize,
    /// `kill -9` of `phantom serve`, then a new `phantom serve` on the same database: from its
    /// spawn to the first insert Google accepts. `None`: none within the patience.
    pub restart: Option<Duration>,
    /// PostgreSQL only: `kill -9` of the `phantom worker` holding the rows while a second
    /// worker runs: from the kill to the first insert Google accepts (outer `None` on SQLite).
    pub takeover: Option<Option<Duration>>,
    /// How long the bench waited for a first call before giving up.
    pub patience: Duration,
}

const ACCOUNT: &str = "recovery@bench.example";
const USERNAME: &str = "bench-recovery";

/// Google answers 503 to everything.
fn google_down(emulator: &Emulator) {
    emulator.push_fault(Fault::always(
        Match::any(),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    ));
}

/// Waits (at most 30 s) until Google has refused an insert since `since`: a lane holds the
/// rows and is sleeping out its retries.
async fn wait_until_stuck(emulator: &Emulator, since: DateTime<Utc>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sync::refused_insert_since(emulator, since) {
        if Instant::now() > deadline {
            bail!("no insert reached the (failing) emulator within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The first insert Google accepted at or after `since`, waiting at most `patience` from now.
async fn first_accepted(
    emulator: &Emulator,
    since: DateTime<Utc>,
    patience: Duration,
) -> Option<DateTime<Utc>> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(at) = sync::accepted_inserts(emulator)
            .into_iter()
            .filter(|at| *at >= since)
            .min()
        {
            return Some(at);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// Runs the restart case on `backend` (and, on PostgreSQL, the worker takeover case).
pub async fn run(
    backend: &Backend,
    binary: &Path,
    stranded: usize,
    patience: Duration,
) -> anyhow::Result<Recovery> {
    let db = ScratchDb::create(backend, "recovery")?;
    let url = db.url();
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let server = Server::start(binary, &url, &emulator).await?;
    let api = Api::new(&server.base_url)?;
    let user = api.user(USERNAME).await?;
    api.connect_google(&user, &emulator, ACCOUNT).await?;

    eprintln!("recovery: {stranded} events stranded by kill -9 of `phantom serve`, then restart");
    google_down(&emulator);
    let before = Utc::now();
    api.create_many(&user, "Stranded", stranded, 1).await?;
    wait_until_stuck(&emulator, before).await?;
    server.kill()?;
    // Google is healthy again by the time the new process starts.
    emulator.clear_faults();
    let server = Server::start(binary, &url, &emulator).await?;
    let restart = first_accepted(&emulator, server.spawned_at, patience)
        .await
        .map(|at| between(server.spawned_at, at));

    let takeover = match backend {
        Backend::Sqlite => {
            server.stop().await?;
            None
        }
        Backend::Postgres(_) => {
            // Let the restarted server deliver what is left, then leave the queue to workers.
            let deadline = Instant::now() + patience;
            while sync::live_events(&emulator, ACCOUNT) < stranded && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            server.stop().await?;
            Some(takeover(&emulator, binary, &url, stranded, patience).await?)
        }
    };
    emulator.shutdown().await;
    drop(db);
    Ok(Recovery {
        stranded,
        restart,
        takeover,
        patience,
    })
}

/// `phantom worker` W1 claims the user's new rows and retries them against a failing Google;
/// W2 is started; W1 is SIGKILLed and Google healed: from the kill to W2's first accepted
/// insert. No `phantom serve` runs meanwhile, so W1 and W2 are the only workers; the events
/// are made through the API's repository (`DieselEventRepository::create`).
async fn takeover(
    emulator: &Emulator,
    binary: &Path,
    url: &str,
    stranded: usize,
    patience: Duration,
) -> anyhow::Result<Option<Duration>> {
    eprintln!(
        "recovery: kill -9 of the `phantom worker` holding {stranded} rows, a second worker running"
    );
    google_down(emulator);
    let first = Worker::start(binary, url, emulator, Duration::from_millis(500)).await?;
    let store = storage::open(url, false).await?;
    let ids = storage::user_ids(&store, USERNAME).await?;
    ensure!(
        ids.len() == 1,
        "expected one recovery user, found {}",
        ids.len()
    );
    let before = Utc::now();
    storage::seed(&store, &ids, stranded, "Takeover", 1)
        .await
        .context("seeding the takeover events")?;
    wait_until_stuck(emulator, before).await?;
    let second = Worker::start(binary, url, emulator, Duration::from_millis(500)).await?;
    let killed_at = first.kill()?;
    emulator.clear_faults();
    let first_call = first_accepted(emulator, killed_at, patience).await;
    drop(second);
    Ok(first_call.map(|at| between(killed_at, at)))
}
