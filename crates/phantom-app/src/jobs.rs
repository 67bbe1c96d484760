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

/// How long the sync worker sleeps when the queue is empty and nobody wakes it.
pub const SYNC_POLL: Duration = Duration::from_millis(500);
/// Rows the sync worker claims at a time.
const SYNC_BATCH: u32 = 20;
/// Users whose rows one worker delivers at the same time.
const SYNC_LANES: usize = 32;
/// Shortest time between two claims. Under a burst of writes every commit wakes the worker,
/// and a claim is a write that walks the due rows (all of a busy user's backlog, which it
/// skips): coalescing the wake-ups keeps it off the write path the requests need.
const SYNC_CLAIM_GAP: Duration = Duration::from_millis(20);

/// Delivers the outbox: claims due rows as one lane per user and works the lanes side by
/// side (a user sleeping out retries or pacing holds up nobody else), claiming more while
/// there are free lanes and due rows; otherwise waits for a wake-up after a commit, a lane
/// finishing, or [`SYNC_POLL`] (which also picks up rescheduled rows and other processes'
/// work).
pub fn spawn_sync_worker(sync: SyncService, wakeup: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lanes = JoinSet::new();
        let mut last_claim: Option<Instant> = None;
        loop {
            let mut claimed_any = false;
            if lanes.len() < SYNC_LANES {
                if let Some(gap) =
                    last_claim.and_then(|at| SYNC_CLAIM_GAP.checked_sub(at.elapsed()))
                {
                    tokio::time::sleep(gap).await;
                }
                last_claim = Some(Instant::now());
                match sync.claim(SYNC_BATCH).await {
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
            }
        }
    })
}

fn log_lane(done: Result<Result<usize, RepoError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(_)) => {}
        // The lane's rows stay leased and are claimed again when the lease ends.
        Ok(Err(e)) => tracing::error!(error = %e, "a sync lane could not record its results"),
        Err(e) => tracing::error!(error = %e, "a sync lane panicked"),
    }
}
