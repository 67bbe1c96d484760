//! The domain's time ports over tokio.

use std::time::Duration;

use async_trait::async_trait;
use phantom_domain::ports::Sleeper;

/// [`Sleeper`] on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
