use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::google::Secret;
use crate::ports::{
    CalendarSync, Clock, OutboxEntry, Settlement, Sleeper, SyncOperation, SyncQueue,
};
use crate::services::{ConnectionError, ConnectionService};

/// When failed Google Calendar calls are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay; each next one doubles (1 s, 2 s, 4 s by default).
    pub base: Duration,
    /// Retries within one round, after the first try.
    pub max_retries: u32,
    /// Longest wait between rounds once a round's retries are spent.
    pub max_round_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max_retries: 3,
            max_round_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) of a round: `base × 2^retry`, or
    /// Google's `Retry-After` when that is longer.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.base.saturating_mul(1u32 << retry.min(20));
        retry_after.map_or(backoff, |hint| hint.max(backoff))
    }

    /// The wait before the next round after `rounds` failed rounds: it keeps doubling past
    /// the in-round delays, up to [`RetryPolicy::max_round_delay`].
    pub fn round_delay(&self, rounds: u32) -> Duration {
        let exponent = self.max_retries.saturating_add(rounds).min(20);
        self.base
            .saturating_mul(1u32 << exponent)
            .min(self.max_round_delay)
    }
}

/// How long a user's queue rests after Google reports the account's daily quota spent.
pub const QUOTA_PARK: Duration = Duration::from_secs(6 * 3600);

/// How long a claimed row stays leased to one worker.
const LEASE: TimeDelta = TimeDelta::minutes(5);

/// Delivers queued event changes to Google Calendar.
#[derive(Clone)]
pub struct SyncService {
    queue: Arc<dyn SyncQueue>,
    calendar: Arc<dyn CalendarSync>,
    connection: ConnectionService,
    clock: Arc<dyn crate::ports::Clock>,
    sleeper: Arc<dyn Sleeper>,
    policy: RetryPolicy,
}

impl SyncService {
    /// Wires the service to its ports.
    pub fn new(
        queue: Arc<dyn SyncQueue>,
        calendar: Arc<dyn CalendarSync>,
        connection: ConnectionService,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            queue,
            calendar,
            connection,
            clock,
            sleeper,
            policy,
        }
    }

    /// Claims up to `limit` due rows and delivers them; returns how many were worked.
    pub async fn run_once(&self, limit: u32) -> Result<usize, RepoError> {
        let now = self.clock.now();
        let claimed = self.queue.claim(now, now + LEASE, limit).await?;
        let count = claimed.len();
        for entry in claimed {
            let outcome = self.deliver(&entry).await?;
            self.queue.settle(&entry, outcome).await?;
        }
        Ok(count)
    }

    /// One row: the current state, with in-round retries and one token refresh on `401`.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<Settlement, RepoError> {
        let span = tracing::info_span!(
            "sync",
            user_id = entry.user.0,
            event_id = entry.event_id.0,
            google_event_id = %entry.google_event_id,
        );
        let _entered = span.enter();
        let mut token = match self.connection.access_token(entry.user).await {
            Ok(token) => token,
            Err(e) => return Ok(self.without_token(entry, e)),
        };
        let mut refreshed = false;
        let mut retry = 0;
        loop {
            match self.attempt(entry, &token).await? {
                Ok(()) => {
                    tracing::info!(operation = ?entry.operation, "synced to Google Calendar");
                    return Ok(Settlement::Delivered);
                }
                Err(CalendarError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    token = match self
                        .connection
                        .access_token_after_rejection(entry.user, &token)
                        .await
                    {
                        Ok(token) => token,
                        Err(e) => return Ok(self.without_token(entry, e)),
                    };
                }
                Err(CalendarError::Retryable {
                    reason,
                    retry_after,
                }) if retry < self.policy.max_retries => {
                    let delay = self.policy.delay(retry, retry_after);
                    retry += 1;
                    tracing::warn!(
                        attempt = retry,
                        delay_ms = delay.as_millis() as u64,
                        reason,
                        "Google Calendar call failed; retrying"
                    );
                    self.sleeper.sleep(delay).await;
                }
                Err(error) => return Ok(self.after_failure(entry, error)),
            }
        }
    }

    async fn attempt(
        &self,
        entry: &OutboxEntry,
        token: &Secret,
    ) -> Result<Result<(), CalendarError>, RepoError> {
        Ok(match entry.operation {
            SyncOperation::Delete => {
                match self.calendar.delete(token, &entry.google_event_id).await {
                    // Already gone is what we wanted.
                    Err(CalendarError::Gone) => Ok(()),
                    other => other,
                }
            }
            SyncOperation::Upsert => {
                let Some((view, time_zone)) = self.queue.current(entry).await? else {
                    // Deleted since: the delete queued with it settles Google's side.
                    return Ok(Ok(()));
                };
                let event = CalendarEvent::from_view(&view, time_zone);
                match self.calendar.insert(token, &event).await {
                    // Created by an earlier try whose answer was lost: write the current data.
                    Err(CalendarError::AlreadyExists) => self.calendar.update(token, &event).await,
                    other => other,
                }
            }
        })
    }

    fn after_failure(&self, entry: &OutboxEntry, error: CalendarError) -> Settlement {
        let now = self.clock.now();
        let at = |d: Duration| now + TimeDelta::from_std(d).unwrap_or(TimeDelta::hours(1));
        match error {
            CalendarError::QuotaExceeded => {
                tracing::warn!("Google Calendar quota exceeded; parking the user's queue");
                Settlement::RetryAt {
                    retry_at: at(QUOTA_PARK),
                    error: "Google Calendar's daily limit for your account is reached; sync resumes in a few hours.".to_owned(),
                }
            }
            CalendarError::Permanent { status, message } => {
                tracing::error!(status, message, "Google Calendar refused the event");
                Settlement::GiveUp {
                    error: format!(
                        "Google Calendar refused this event: {message}. Edit the event to try again."
                    ),
                }
            }
            CalendarError::Gone => {
                tracing::error!("the event was deleted in Google Calendar");
                Settlement::GiveUp {
                    error: "The event was deleted in Google Calendar; it will not be recreated."
                        .to_owned(),
                }
            }
            other => {
                let delay = self.policy.round_delay(entry.attempts);
                tracing::error!(error = %other, rounds = entry.attempts + 1, next_in_s = delay.as_secs(), "sync failed; rescheduled");
                Settlement::RetryAt {
                    retry_at: at(delay),
                    error: format!("{other}; retrying automatically."),
                }
            }
        }
    }

    fn without_token(&self, entry: &OutboxEntry, error: ConnectionError) -> Settlement {
        let now = self.clock.now();
        match error {
            // The row stays (claims skip such users); reconnecting makes it due again.
            ConnectionError::NeedsReconnect | ConnectionError::NotConnected => {
                Settlement::RetryAt {
                    retry_at: now + TimeDelta::from_std(QUOTA_PARK).unwrap_or(TimeDelta::hours(6)),
                    error:
                        "Google Calendar access was revoked or expired: reconnect Google Calendar."
                            .to_owned(),
                }
            }
            other => {
                let delay = self.policy.round_delay(entry.attempts);
                tracing::warn!(error = %other, "no Google access token; rescheduled");
                Settlement::RetryAt {
                    retry_at: now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1)),
                    error: "Google could not be reached; retrying automatically.".to_owned(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod convergence_tests;
