use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::event::EventView;
use crate::google::Secret;
use crate::ids::{EventId, UserId};
use crate::sync::GoogleEventId;
use crate::timezone::TimeZoneName;

/// Google Calendar's events API, one call at a time (no retries inside).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CalendarSync: Send + Sync {
    /// `events.insert` with our id.
    async fn insert(&self, token: &Secret, event: &CalendarEvent) -> Result<(), CalendarError>;
    /// `events.update` (full replacement).
    async fn update(&self, token: &Secret, event: &CalendarEvent) -> Result<(), CalendarError>;
    /// `events.delete`.
    async fn delete(&self, token: &Secret, id: &GoogleEventId) -> Result<(), CalendarError>;
}

/// What Google Calendar must learn about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOperation {
    /// Create or update it with the event's current state.
    Upsert,
    /// Delete it.
    Delete,
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// Owner of the event.
    pub user: UserId,
    /// The event (may be deleted by now, for a delete).
    pub event_id: EventId,
    /// Its Google Calendar id.
    pub google_event_id: GoogleEventId,
    /// What to do.
    pub operation: SyncOperation,
    /// Bumped by every change queued for the event; a result only settles this version.
    pub version: i32,
    /// Rounds that failed so far.
    pub attempts: u32,
}

/// How a delivery ended, for [`SyncQueue::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Google Calendar holds the change.
    Delivered,
    /// Try again at `retry_at`; the event shows `failed` with `error` meanwhile.
    RetryAt {
        /// When.
        retry_at: DateTime<Utc>,
        /// Why, in words a user can act on.
        error: String,
    },
    /// Retrying cannot help: the row is dropped, the event shows `failed` with `error`
    /// until the next change to it.
    GiveUp {
        /// Why.
        error: String,
    },
}

/// The transactional outbox, seen from the worker.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SyncQueue: Send + Sync {
    /// Leases up to `limit` due rows of connected users until `lease_until`, in queue order.
    /// A row whose lease lapsed (a crashed worker) is due again. Skips users whose queue is
    /// paused, and users with a row leased to a worker now (one worker per user at a time).
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, RepoError>;
    /// The event's current state and its owner's time zone; `None` once it is deleted.
    async fn current(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<(EventView, TimeZoneName)>, RepoError>;
    /// Records the outcome. Only `entry.version` is settled: a change queued meanwhile keeps
    /// its row (and is delivered next).
    async fn settle(&self, entry: &OutboxEntry, outcome: Settlement) -> Result<(), RepoError>;
    /// Ends the lease on `entries` unworked: they are due again at once, no attempt counted.
    async fn release(&self, entries: &[OutboxEntry]) -> Result<(), RepoError>;
    /// Rests all of `user`'s queue until `until` (Google's quota for the account is spent).
    async fn pause_user(&self, user: UserId, until: DateTime<Utc>) -> Result<(), RepoError>;
}
