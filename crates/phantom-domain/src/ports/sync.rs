use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::event::EventView;
use crate::google::Secret;
use crate::google_changes::{
    ChangePage, ChannelRequest, FieldSet, GoogleEvent, OpenChannel, ReadRules,
};
use crate::ids::{EventId, UserId};
use crate::recurrence::OriginalStart;
use crate::sync::GoogleEventId;
use crate::timezone::TimeZoneName;

/// Google Calendar's events API, one call at a time (no retries inside). A write answers
/// Google's `etag` of the event as written, when Google sent one.
///
/// Updates, patches and deletes take `if_match`: the etag of the event as Phantom last saw it.
/// Given, the write is conditional (`If-Match`), and Google refuses it with
/// [`CalendarError::PreconditionFailed`] when the event changed there since; `None` writes
/// unconditionally.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CalendarSync: Send + Sync {
    /// `events.insert` with our id.
    async fn insert(
        &self,
        token: &Secret,
        event: &CalendarEvent,
    ) -> Result<Option<String>, CalendarError>;
    /// `events.update` (full replacement).
    async fn update(
        &self,
        token: &Secret,
        event: &CalendarEvent,
        if_match: Option<String>,
    ) -> Result<Option<String>, CalendarError>;
    /// `events.delete`.
    async fn delete(
        &self,
        token: &Secret,
        id: &GoogleEventId,
        if_match: Option<String>,
    ) -> Result<(), CalendarError>;
    /// `events.patch` of `fields` only (never `colorId`): how Phantom writes to events
    /// created in Google.
    async fn patch(
        &self,
        token: &Secret,
        event: &CalendarEvent,
        fields: FieldSet,
        if_match: Option<String>,
    ) -> Result<Option<String>, CalendarError>;
    /// `events.get`: the event as Google holds it now (a deleted one comes back cancelled,
    /// or as [`CalendarError::Gone`]).
    async fn get(&self, token: &Secret, id: &GoogleEventId) -> Result<GoogleEvent, CalendarError>;
    /// One page of `events.list` with `showDeleted`: the changes since `sync_token`, or
    /// everything without one; `page_token` continues a listing. An expired sync token is
    /// [`CalendarError::Gone`] (Google's `410 fullSyncRequired`).
    async fn list_changes(
        &self,
        token: &Secret,
        sync_token: Option<String>,
        page_token: Option<String>,
    ) -> Result<ChangePage, CalendarError>;
    /// `events.watch`: opens a push channel on the calendar.
    async fn watch(
        &self,
        token: &Secret,
        channel: &ChannelRequest,
    ) -> Result<OpenChannel, CalendarError>;
    /// `channels.stop`; an unknown channel ([`CalendarError::Gone`]) is stopped already.
    async fn stop_channel(
        &self,
        token: &Secret,
        channel: &OpenChannel,
    ) -> Result<(), CalendarError>;
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
    /// The event (may be deleted by now, for a delete); for an instance row, its series.
    pub event_id: EventId,
    /// Its Google Calendar id; for an instance row, the instance's
    /// (`<series google id>_<original start>`).
    pub google_event_id: GoogleEventId,
    /// Set on the row of one occurrence of a series (Google's instance of it): a patch of
    /// the changed occurrence, or a delete of the cancelled one.
    pub occurrence: Option<OriginalStart>,
    /// What to do.
    pub operation: SyncOperation,
    /// Bumped by every change queued for the event; a result only settles this version.
    pub version: i32,
    /// For an upsert of an event made in Google: the fields changed through the API since
    /// Google last had them (every field otherwise).
    pub fields: FieldSet,
    /// Rounds that failed so far.
    pub attempts: u32,
    /// Google's etag of the event as Phantom last wrote or read it (of a deleted event, as it
    /// was when it was deleted); `None` while Google has not held it in this connection. The
    /// write is conditional on it.
    pub etag: Option<String>,
}

/// How a delivery ended, for [`SyncQueue::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Google Calendar holds the change; `etag` is Google's for the event as written (kept,
    /// so that reading that version back is known as the echo it is).
    Delivered {
        /// `None`: no write was needed, or Google sent none; the kept one stays.
        etag: Option<String>,
    },
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

/// Names one worker process in the leases it holds: a random id per process, so that a
/// restarted process never mistakes a dead life's leases for its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a heartbeat found and reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// Live workers, this one included.
    pub live: u32,
    /// This worker's share of the project's rate, in calls a minute (`0` while the others'
    /// shares leave nothing: it must not call Google yet).
    pub share: u32,
}

/// A worker's weight in the division of the project's rate: 1, plus 10 for each user it
/// holds, so that busy workers divide the rate by their work and an idle one keeps a little
/// (enough to start on a user it claims; its next heartbeat weighs that user).
pub fn weight(held: u64) -> u64 {
    held.saturating_mul(10).saturating_add(1)
}

/// The share of `rate` a worker of weight `mine` aims at among workers whose weights add up
/// to `total` (its own included): its part, rounded down, and at least 1 call a minute.
/// What it gets is also bounded by what the others' recorded shares leave.
pub fn share_of(rate: u32, mine: u64, total: u64) -> u32 {
    let part = u64::from(rate).saturating_mul(mine) / total.max(1);
    u32::try_from(part).unwrap_or(rate).clamp(1.min(rate), rate)
}

/// A user whose queue a claim leased to this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedUser {
    /// Whose queue.
    pub user: UserId,
    /// The user was last leased by a worker that died (its lease lapsed unreleased).
    pub rescued: bool,
    /// A read of the user's calendar is due.
    pub read_due: bool,
    /// The user's connection when claimed (its `connected_at`): what is read from Google in
    /// this lane is applied only while it is still the user's connection.
    pub connection: Option<DateTime<Utc>>,
}

/// Where a user's next read of their calendar starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadState {
    /// When the read became due; a read asked for after it (a notification during the read)
    /// stays due when this one ends.
    pub due_at: DateTime<Utc>,
    /// Where the incremental read starts; `None`: a full read.
    pub sync_token: Option<String>,
    /// The user's time zone.
    pub zone: TimeZoneName,
}

/// What applying one page of changes did, by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events that took Google's edit.
    pub updated: u32,
    /// Events deleted because they were deleted in Google.
    pub deleted: u32,
    /// Events created in Google and imported.
    pub imported: u32,
    /// Deletes queued for Google (deleted in Phantom, live in Google).
    pub deleted_in_google: u32,
    /// Items that changed nothing.
    pub unchanged: u32,
    /// The user disconnected (or connected again) since the lane was claimed: nothing was
    /// applied.
    pub disconnected: bool,
}

/// The transactional outbox, seen from the worker.
///
/// Leases are per user: a worker leases a user's whole queue, works its due rows in order
/// and releases the user. One worker at a time works a user, and a claim reads users, not
/// rows, so a long queue costs a claim nothing. Leases are short and renewed by the
/// worker's heartbeat while it lives ([`SyncQueue::renew`]).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SyncQueue: Send + Sync {
    /// Leases up to `limit` users to `worker` until `lease_until`: users with a due row who
    /// are connected, not paused, and not leased now (a lapsed lease counts as not leased,
    /// and so does a lease of a worker the store knows to be dead: on PostgreSQL, one whose
    /// life lock is free), the longest-waiting first.
    async fn claim(
        &self,
        worker: &WorkerId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedUser>, RepoError>;
    /// Up to `limit` of `user`'s rows due at `now`, in queue order (due time, then id).
    async fn due(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, RepoError>;
    /// Extends every lease `worker` holds to `lease_until`; returns how many it holds.
    async fn renew(&self, worker: &WorkerId, lease_until: DateTime<Utc>) -> Result<u64, RepoError>;
    /// Records that `worker` is alive at `now` and holds `held` users, forgets workers not
    /// heard of since `live_after` (and, where the store can tell, workers that died), and
    /// reserves the worker's share of the project's `rate` of Google calls (calls a minute):
    /// its part of the rate by weight (see [`share_of`]), but never more than the others'
    /// recorded shares leave, so that the shares on record never add up to more than the
    /// rate. Heartbeats run one at a time. Returns the share and how many workers are live.
    async fn beat(
        &self,
        worker: &WorkerId,
        now: DateTime<Utc>,
        live_after: DateTime<Utc>,
        held: u64,
        rate: u32,
    ) -> Result<Beat, RepoError>;
    /// Ends `worker`'s lease on `user`: the user is claimable again when its next row is due.
    async fn release(&self, worker: &WorkerId, user: UserId) -> Result<(), RepoError>;
    /// Ends every lease at once, whoever holds it, and forgets every worker's heartbeat: for a
    /// process that is the database's only worker (embedded SQLite), at start, so that what
    /// its previous life held is not waited for: they are claimable from `now`, and the
    /// project's rate is its own. Returns how many users were released.
    async fn expire_leases(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;
    /// The event's current state and its owner's time zone; `None` once it is deleted. For an
    /// instance row, the occurrence as changed (`None` once it is no live occurrence).
    async fn current(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<(EventView, TimeZoneName)>, RepoError>;
    /// Records the outcome. Only `entry.version` is settled: a change queued meanwhile keeps
    /// its row (and is delivered next).
    async fn settle(&self, entry: &OutboxEntry, outcome: Settlement) -> Result<(), RepoError>;
    /// The user's read state, if a read is due at `now`.
    async fn read_state(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<ReadState>, RepoError>;
    /// Applies one page of changes read from Google, in one transaction, as
    /// [`crate::google_changes::decide`] says; nothing applied is queued back to Google. The
    /// same transaction checks that `connection` is still the user's (see
    /// [`ClaimedUser::connection`]); if not, it applies nothing and says so
    /// ([`Applied::disconnected`]): after a disconnect has answered, nothing read from Google
    /// changes the user's events.
    async fn apply_changes(
        &self,
        user: UserId,
        connection: Option<DateTime<Utc>>,
        items: &[GoogleEvent],
        rules: ReadRules,
        now: DateTime<Utc>,
    ) -> Result<Applied, RepoError>;
    /// Ends a read: the next one starts at `sync_token` and is due at `next` (`None`: only
    /// when asked), unless another was asked for since the read became due at `seen_due`.
    async fn finish_read(
        &self,
        user: UserId,
        seen_due: DateTime<Utc>,
        sync_token: Option<String>,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), RepoError>;
    /// Puts a read that failed off until `at`.
    async fn retry_read(&self, user: UserId, at: DateTime<Utc>) -> Result<(), RepoError>;
    /// The user's watch channels that still count (not retired), soonest to expire first.
    async fn channels(&self, user: UserId) -> Result<Vec<OpenChannel>, RepoError>;
    /// Keeps a channel just opened; only a hash of its `token` is stored. `false`: the user
    /// disconnected meanwhile, and the channel was not kept (stop it).
    async fn keep_channel(
        &self,
        user: UserId,
        channel: &OpenChannel,
        token: &crate::google::Secret,
    ) -> Result<bool, RepoError>;
    /// Forgets a channel (stopped, or expired).
    async fn forget_channel(&self, id: &str) -> Result<(), RepoError>;
    /// The owner of a live channel whose token is `token` (compared in constant time);
    /// `None` for an unknown, expired or forged one.
    async fn channel_owner(
        &self,
        id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, RepoError>;
    /// Asks for a read of the user's calendar now (one more if one runs).
    async fn request_read(&self, user: UserId, now: DateTime<Utc>) -> Result<(), RepoError>;
    /// Forgets the tombstones that can no longer matter (see
    /// [`crate::services::TOMBSTONE_RETENTION`]): those whose deletion Google confirmed
    /// before `confirmed_before`, and unconfirmed ones made before `made_before`; never one
    /// whose delete is still queued. Returns how many went.
    async fn prune_tombstones(
        &self,
        confirmed_before: DateTime<Utc>,
        made_before: DateTime<Utc>,
    ) -> Result<u64, RepoError>;
    /// Rests all of `user`'s queue until `until` (Google's quota for the account is spent);
    /// every event with a queued change shows `failed` with `reason` meanwhile.
    async fn pause_user(
        &self,
        user: UserId,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), RepoError>;
}
