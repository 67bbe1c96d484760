use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;

use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::google::Secret;
use crate::ids::UserId;
use crate::ports::{
    CalendarSync, Clock, OutboxEntry, Settlement, Sleeper, SyncOperation, SyncQueue,
};
use crate::services::{ConnectionError, ConnectionService};

mod pacing;

pub use pacing::Pacer;

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

/// How long claimed rows stay leased to one worker, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

/// The longest wait a row sleeps through inside its round; a longer `Retry-After` ends the
/// round instead, rescheduling the row for then, so that no lease is held while waiting.
pub const MAX_IN_ROUND_WAIT: Duration = Duration::from_secs(60);

/// One user's claimed rows, delivered in order by one worker under the user's pacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// Whose rows.
    pub user: UserId,
    /// The rows, in queue order.
    pub entries: Vec<OutboxEntry>,
    /// When the lease on them ends.
    pub lease_until: DateTime<Utc>,
}

/// What a lane does after a row.
enum Next {
    /// Deliver the next row.
    Continue,
    /// Google's quota for the user is spent: rest the user's whole queue until then.
    PauseUser(DateTime<Utc>),
}

/// Delivers queued event changes to Google Calendar.
#[derive(Clone)]
pub struct SyncService {
    queue: Arc<dyn SyncQueue>,
    calendar: Arc<dyn CalendarSync>,
    connection: ConnectionService,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    policy: RetryPolicy,
    pacer: Arc<Pacer>,
    lease: Duration,
}

impl SyncService {
    /// Wires the service to its ports: unpaced, with the [`DEFAULT_LEASE`].
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
            pacer: Arc::new(Pacer::unpaced()),
            lease: DEFAULT_LEASE,
        }
    }

    /// At most `calls_per_minute` Google Calendar calls per user (`0`: unpaced).
    #[must_use]
    pub fn with_pacing(mut self, calls_per_minute: u32) -> Self {
        self.pacer = Arc::new(Pacer::per_minute(calls_per_minute));
        self
    }

    /// Leases claimed rows for `lease`. A lane starts no row in the last half of its lease.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Claims up to `limit` due rows, as one lane per user in queue order.
    pub async fn claim(&self, limit: u32) -> Result<Vec<Lane>, RepoError> {
        let now = self.clock.now();
        let lease_until = now + delta(self.lease);
        let claimed = self.queue.claim(now, lease_until, limit).await?;
        let mut lanes: Vec<Lane> = Vec::new();
        for entry in claimed {
            match lanes.iter_mut().find(|lane| lane.user == entry.user) {
                Some(lane) => lane.entries.push(entry),
                None => lanes.push(Lane {
                    user: entry.user,
                    entries: vec![entry],
                    lease_until,
                }),
            }
        }
        Ok(lanes)
    }

    /// Delivers a lane's rows one after another; returns how many were settled. Rows it does
    /// not start (the lease is half spent) are released for the next claim.
    pub async fn work(&self, lane: Lane) -> Result<usize, RepoError> {
        let mut settled = 0;
        let mut rows = lane.entries.into_iter();
        let stop_starting = lane.lease_until - delta(self.lease / 2);
        while let Some(entry) = rows.next() {
            if self.clock.now() > stop_starting {
                tracing::info!(
                    user_id = lane.user.0,
                    "lease half spent; releasing the lane's other rows"
                );
                let unstarted: Vec<OutboxEntry> = std::iter::once(entry).chain(rows).collect();
                self.queue.release(&unstarted).await?;
                break;
            }
            let (outcome, next) = self.deliver(&entry).await?;
            self.queue.settle(&entry, outcome.clone()).await?;
            settled += 1;
            if let Next::PauseUser(until) = next {
                self.queue.pause_user(lane.user, until).await?;
                // The lane's other rows wait with it, and their events say why.
                for rest in rows {
                    self.queue.settle(&rest, outcome.clone()).await?;
                    settled += 1;
                }
                break;
            }
        }
        Ok(settled)
    }

    /// Claims up to `limit` due rows and works their lanes concurrently (users do not wait
    /// for each other); returns how many rows were settled.
    pub async fn run_once(&self, limit: u32) -> Result<usize, RepoError> {
        let lanes = self.claim(limit).await?;
        let mut settled = 0;
        for worked in join_all(lanes.into_iter().map(|lane| self.work(lane))).await {
            settled += worked?;
        }
        Ok(settled)
    }

    /// Waits for `user`'s next slot under the pacing.
    async fn pace(&self, user: UserId) {
        let wait = self.pacer.reserve(user, self.clock.now());
        if !wait.is_zero() {
            self.sleeper.sleep(wait).await;
        }
    }

    /// One row: the current state, with in-round retries and one token refresh on `401`.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(Settlement, Next), RepoError> {
        let span = tracing::info_span!(
            "sync",
            user_id = entry.user.0,
            event_id = entry.event_id.0,
            google_event_id = %entry.google_event_id,
        );
        let _entered = span.enter();
        let mut token = match self.connection.access_token(entry.user).await {
            Ok(token) => token,
            Err(e) => return Ok((self.without_token(entry, e), Next::Continue)),
        };
        let mut refreshed = false;
        let mut retry = 0;
        loop {
            match self.attempt(entry, &token).await? {
                Ok(()) => {
                    tracing::info!(operation = ?entry.operation, "synced to Google Calendar");
                    return Ok((Settlement::Delivered, Next::Continue));
                }
                Err(CalendarError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    token = match self
                        .connection
                        .access_token_after_rejection(entry.user, &token)
                        .await
                    {
                        Ok(token) => token,
                        Err(e) => return Ok((self.without_token(entry, e), Next::Continue)),
                    };
                }
                Err(CalendarError::Retryable {
                    reason,
                    retry_after,
                }) if retry < self.policy.max_retries => {
                    let delay = self.policy.delay(retry, retry_after);
                    if delay > MAX_IN_ROUND_WAIT {
                        // Google asks for a long rest: come back then, holding no lease.
                        tracing::warn!(
                            delay_s = delay.as_secs(),
                            reason,
                            "Google Calendar asked to retry later; rescheduled"
                        );
                        let error =
                            format!("Google Calendar is busy ({reason}); retrying automatically.");
                        let retry_at = self.clock.now() + delta(delay);
                        return Ok((Settlement::RetryAt { retry_at, error }, Next::Continue));
                    }
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
                self.pace(entry.user).await;
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
                self.pace(entry.user).await;
                match self.calendar.insert(token, &event).await {
                    // Created by an earlier try whose answer was lost: write the current data.
                    Err(CalendarError::AlreadyExists) => {
                        self.pace(entry.user).await;
                        self.calendar.update(token, &event).await
                    }
                    other => other,
                }
            }
        })
    }

    fn after_failure(&self, entry: &OutboxEntry, error: CalendarError) -> (Settlement, Next) {
        let now = self.clock.now();
        let at = |d: Duration| now + delta(d);
        let settlement = match error {
            CalendarError::QuotaExceeded => {
                tracing::warn!("Google Calendar quota exceeded; pausing the user's queue");
                let until = at(QUOTA_PARK);
                let settlement = Settlement::RetryAt {
                    retry_at: until,
                    error: "Google Calendar's daily limit for your account is reached; sync resumes in a few hours.".to_owned(),
                };
                return (settlement, Next::PauseUser(until));
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
        };
        (settlement, Next::Continue)
    }

    fn without_token(&self, entry: &OutboxEntry, error: ConnectionError) -> Settlement {
        let now = self.clock.now();
        match error {
            // The row stays (claims skip such users); reconnecting makes it due again.
            ConnectionError::NeedsReconnect | ConnectionError::NotConnected => {
                Settlement::RetryAt {
                    retry_at: now + delta(QUOTA_PARK),
                    error:
                        "Google Calendar access was revoked or expired: reconnect Google Calendar."
                            .to_owned(),
                }
            }
            other => {
                let delay = self.policy.round_delay(entry.attempts);
                tracing::warn!(error = %other, "no Google access token; rescheduled");
                Settlement::RetryAt {
                    retry_at: now + delta(delay),
                    error: "Google could not be reached; retrying automatically.".to_owned(),
                }
            }
        }
    }
}

/// Longest span a row is ever put off, whatever Google's `Retry-After` says.
const LONGEST_WAIT: TimeDelta = TimeDelta::days(7);

/// `d` as a chrono span, at most [`LONGEST_WAIT`] (so adding it to a time cannot overflow).
fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).map_or(LONGEST_WAIT, |d| d.min(LONGEST_WAIT))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod convergence_tests;

#[cfg(test)]
mod lane_tests;
