//! Background work that runs inside `phantom serve`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use phantom_domain::error::RepoError;
use phantom_domain::services::{ConnectionService, SyncService};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How often queued Google token revocations are retried.
pub const REVOCATION_INTERVAL: Duration = Duration::from_secs(60);

/// Works the revocation queue every `every`, for as long as the runtime lives.
pub fn spawn_revocation_retries(
    connection: ConnectionService,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match connection.revoke_pending().await {
                Ok(0) => {}
                Ok(settled) => tracing::info!(settled, "queued Google revocations settled"),
                Err(e) => tracing::warn!(error = %e, "working the revocation queue failed"),
            }
        }
    })
}

/// How often tombstones that can no longer matter are pruned.
pub const TOMBSTONE_PRUNING_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Prunes the tombstones that can no longer matter every `every`, the first time at once, for
/// as long as the runtime lives (see `SyncService::prune_tombstones`). Several processes on
/// one database may all run it: a pass finds what another left.
pub fn spawn_tombstone_pruning(sync: SyncService, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match sync.prune_tombstones().await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "tombstones past their retention pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning tombstones failed"),
            }
        }
    })
}

/// How long the sync worker sleeps when the queue is empty and nobody wakes it.
pub const SYNC_POLL: Duration = Duration::from_millis(500);
/// Users one worker delivers at the same time (one lane each).
const SYNC_LANES: usize = 64;
/// Shortest time between two claims. Under a burst of writes every commit wakes the worker;
/// coalescing the wake-ups keeps claims (writes) off the write path the requests need.
const SYNC_CLAIM_GAP: Duration = Duration::from_millis(20);
/// How long a stopping worker waits for its lanes to finish the calls in flight and release
/// their users. A Calendar call times out sooner; a lane still running then is dropped and
/// its lease lapses within one lease length.
pub const SYNC_STOP_GRACE: Duration = Duration::from_secs(8);

/// The running sync worker: [`SyncWorker::shutdown`] stops it gracefully.
pub struct SyncWorker {
    sync: SyncService,
    task: tokio::task::JoinHandle<()>,
}

impl SyncWorker {
    /// Stops claiming, lets each lane finish the call in flight (at most [`SYNC_STOP_GRACE`])
    /// and release its user, then returns.
    pub async fn shutdown(self) {
        self.sync.stop();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the sync worker ended abnormally");
        }
    }
}

/// Delivers the outbox: claims users with due rows, one lane each, and works the lanes side
/// by side (a user sleeping out retries or pacing holds up nobody else), claiming more while
/// there are free lanes and claimable users; otherwise waits for a wake-up after a commit, a
/// lane finishing, or [`SYNC_POLL`] (which also picks up rescheduled rows and other
/// processes' work). A heartbeat renews the worker's leases every third of a lease; the first
/// one runs before the first claim, and a worker that finds others live waits for them to
/// make room in the project's rate before it claims (`SyncService::joined`).
pub fn spawn_sync_worker(sync: SyncService, wakeup: Arc<Notify>) -> SyncWorker {
    let task = tokio::spawn(run_sync_worker(sync.clone(), wakeup));
    SyncWorker { sync, task }
}

async fn run_sync_worker(sync: SyncService, wakeup: Arc<Notify>) {
    // The first heartbeat before the first claim: it tells whether this worker may claim at
    // once (alone) or must let the others shrink their shares first.
    if let Err(e) = sync.heartbeat().await {
        tracing::warn!(error = %e, "the first sync heartbeat failed; retrying on the next");
    }
    let heartbeat = tokio::spawn(heartbeat(sync.clone()));
    let mut lanes = JoinSet::new();
    let mut last_claim: Option<Instant> = None;
    let mut last_beat = Instant::now();
    tracing::info!(worker = sync.worker().as_str(), "sync worker started");
    while !sync.is_stopping() {
        // Waiting to join: beat every poll, so that this worker joins as soon as the others
        // have made room in the project's rate (or died), not a heartbeat interval later.
        if !sync.joined() && last_beat.elapsed() >= SYNC_POLL {
            last_beat = Instant::now();
            if let Err(e) = sync.heartbeat().await {
                tracing::warn!(error = %e, "sync heartbeat failed");
            }
        }
        let mut claimed_any = false;
        // Not before the fleet has made room for this worker's share of the project's rate.
        if lanes.len() < SYNC_LANES && sync.joined() {
            if let Some(gap) = last_claim.and_then(|at| SYNC_CLAIM_GAP.checked_sub(at.elapsed())) {
                tokio::time::sleep(gap).await;
            }
            last_claim = Some(Instant::now());
            let free = u32::try_from(SYNC_LANES - lanes.len()).unwrap_or(1);
            match sync.claim(free).await {
                Ok(claimed) => {
                    claimed_any = !claimed.is_empty();
                    for lane in claimed {
                        let sync = sync.clone();
                        lanes.spawn(async move { sync.work(lane).await });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the sync worker cannot reach the database");
                }
            }
        }
        if claimed_any && lanes.len() < SYNC_LANES {
            continue;
        }
        tokio::select! {
            Some(done) = lanes.join_next(), if !lanes.is_empty() => log_lane(done),
            () = wakeup.notified(), if lanes.len() < SYNC_LANES => {}
            () = tokio::time::sleep(SYNC_POLL) => {}
            () = sync.stopped() => {}
        }
    }
    tracing::info!(lanes = lanes.len(), "sync worker stopping");
    let drained = tokio::time::timeout(SYNC_STOP_GRACE, async {
        while let Some(done) = lanes.join_next().await {
            log_lane(done);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            lanes = lanes.len(),
            "sync lanes still busy after the grace period; their leases will lapse"
        );
        lanes.abort_all();
    }
    heartbeat.abort();
    tracing::info!("sync worker stopped");
}

/// Renews the worker's leases every third of a lease, for as long as the worker runs.
async fn heartbeat(sync: SyncService) {
    let every = sync.heartbeat_interval();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = sync.heartbeat().await {
            tracing::warn!(error = %e, "sync heartbeat failed; lanes stop before their leases lapse");
        }
    }
}

fn log_lane(done: Result<Result<usize, RepoError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(_)) => {}
        // The lane's user stays leased until the lease lapses, then is claimed again.
        Ok(Err(e)) => tracing::error!(error = %e, "a sync lane could not record its results"),
        Err(e) => tracing::error!(error = %e, "a sync lane panicked"),
    }
}
