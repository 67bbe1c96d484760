//! Background work that runs inside `phantom serve`.

use std::time::Duration;

use phantom_domain::services::ConnectionService;

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
