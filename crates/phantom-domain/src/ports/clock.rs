use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The current time, swappable in tests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Whole microseconds, so a stored time reads back equal on every database.
    fn now(&self) -> DateTime<Utc> {
        crate::event::to_micros(Utc::now())
    }
}

/// Waiting, swappable in tests so that retry delays run in virtual time.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}
