//! Background work that runs inside `phantom serve`.

use std::sync::Arc;
use std::time::Duration;

use phantom_domain::services::{ConnectionService, SyncService};
use tokio::sync::Notify;

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

/// Delivers the outbox: works batches while there are any, then waits for a wake-up after a
/// commit (or [`SYNC_POLL`], which also picks up rescheduled rows and other processes' work).
pub fn spawn_sync_worker(sync: SyncService, wakeup: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sync.run_once(SYNC_BATCH).await {
                Ok(0) => {
                    tokio::select! {
                        () = wakeup.notified() => {}
                        () = tokio::time::sleep(SYNC_POLL) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "the sync worker cannot reach the database");
                    tokio::time::sleep(SYNC_POLL).await;
                }
            }
        }
    })
}
