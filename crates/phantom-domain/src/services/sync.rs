use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::{Either, join_all, select};
use tokio::sync::watch;
use tracing::Instrument;

use crate::calendar::{CalendarError, CalendarEvent};
use crate::error::RepoError;
use crate::event::Origin;
use crate::google::Secret;
use crate::google_changes::FieldSet;
use crate::ids::UserId;
use crate::ports::{
    CalendarSync, ClaimedUser, Clock, OutboxEntry, Settlement, Sleeper, SyncOperation, SyncQueue,
    WorkerId,
};
use crate::services::{ConnectionError, ConnectionService};

mod conflict;
mod pacing;
mod read;

use conflict::{MAX_CONFLICTS, Resolution, Write};

pub use pacing::{Pacer, Pacing};
pub use read::{PushSettings, ReadSettings};

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

/// How long a claimed user stays leased to one worker without a heartbeat, by default: a
/// dead worker's users are claimable again this long after its last heartbeat.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How long a tombstone (the Google id of an event deleted in Phantom, or in Google) is kept
/// once Google confirmed the deletion: Google keeps a deleted event in its trash for 30 days,
/// and one restored from there within this time is recognised and deleted again.
pub const TOMBSTONE_RETENTION: TimeDelta = TimeDelta::days(60);

/// How long a tombstone whose deletion Google never confirmed (deleted while disconnected; a
/// reconnection's first read deletes it in Google) is kept: a user who reconnects later than
/// this may see such an event come back from Google.
pub const UNCONFIRMED_TOMBSTONE_RETENTION: TimeDelta = TimeDelta::days(365);

/// Rows a lane reads from its user's queue at a time.
pub const LANE_BATCH: u32 = 20;

/// The longest wait a row sleeps through inside its round; a longer `Retry-After` ends the
/// round instead, rescheduling the row for then, so that no lease is held while waiting.
pub const MAX_IN_ROUND_WAIT: Duration = Duration::from_secs(60);

/// One claimed user, whose due rows one worker delivers in order under the user's pacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// Whose queue.
    pub user: UserId,
    /// When the lease taken by the claim ends, unless the heartbeat renews it.
    pub lease_until: DateTime<Utc>,
    /// Taken over from a worker that died.
    pub rescued: bool,
    /// A read of the user's calendar is due: it runs before the user's rows.
    pub read_due: bool,
    /// The user's connection when claimed ([`ClaimedUser::connection`]).
    pub connection: Option<DateTime<Utc>>,
}

/// What a lane does after a row.
enum Next {
    /// Deliver the next row.
    Continue,
    /// Google's quota for the user is spent: rest the user's whole queue until then.
    PauseUser(DateTime<Utc>),
}

/// How a row's delivery ended.
enum Delivery {
    /// Record this and go on as `Next` says.
    Done(Settlement, Next),
    /// The worker is stopping or lost its lease: the row stays as it is, due for the next
    /// worker.
    Interrupted,
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
    reads: ReadSettings,
    worker: WorkerId,
    /// Until when the last heartbeat extended every lease this worker holds.
    renewed_until: Arc<Mutex<Option<DateTime<Utc>>>>,
    /// `true` once the worker is stopping: lanes start no row and sleep no more.
    stopping: Arc<watch::Sender<bool>>,
    /// Whether this worker's last heartbeat reserved it a share of the project's rate (or the
    /// project is unpaced): it claims only then.
    joined: Arc<std::sync::atomic::AtomicBool>,
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
            reads: ReadSettings::default(),
            worker: WorkerId::generate(),
            renewed_until: Arc::new(Mutex::new(None)),
            stopping: Arc::new(watch::Sender::new(false)),
            joined: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// At most so many Google Calendar calls per minute, per user and in all.
    #[must_use]
    pub fn with_pacing(mut self, pacing: Pacing) -> Self {
        self.pacer = Arc::new(Pacer::new(pacing));
        self
    }

    /// Leases claimed users for `lease`; [`SyncService::heartbeat`] must run more often than
    /// that. A lane starts no row in the last half of its lease.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How the users' calendars are read back.
    #[must_use]
    pub fn with_reads(mut self, reads: ReadSettings) -> Self {
        self.reads = reads;
        self
    }

    /// The lease length: the heartbeat must renew more often than this.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// This worker's id in the leases it holds.
    pub fn worker(&self) -> &WorkerId {
        &self.worker
    }

    /// Claims up to `limit` users with due rows, one lane each.
    pub async fn claim(&self, limit: u32) -> Result<Vec<Lane>, RepoError> {
        let now = self.clock.now();
        let lease_until = now + delta(self.lease);
        let claimed = self
            .queue
            .claim(&self.worker, now, lease_until, limit)
            .await?;
        Ok(claimed
            .into_iter()
            .map(
                |ClaimedUser {
                     user,
                     rescued,
                     read_due,
                     connection,
                 }| Lane {
                    user,
                    lease_until,
                    rescued,
                    read_due,
                    connection,
                },
            )
            .collect())
    }

    /// Extends every lease this worker holds by a lease length; returns how many users it
    /// holds. Run it every third of the lease: a worker whose heartbeats stop (a crash, a
    /// lost database) loses its users within one lease. It also reserves this worker's share
    /// of the project's rate of Google calls, weighed by the users it holds
    /// ([`crate::ports::SyncQueue::beat`]), and paces it: a worker that joins, dies or takes
    /// on users changes the shares within a heartbeat interval or two.
    pub async fn heartbeat(&self) -> Result<u64, RepoError> {
        let now = self.clock.now();
        let until = now + delta(self.lease);
        let held = self.queue.renew(&self.worker, until).await?;
        let rate = self.pacer.project_rate();
        let beat = self
            .queue
            .beat(&self.worker, now, now - delta(self.lease), held, rate)
            .await?;
        self.pacer.share_project(beat.share, self.clock.now());
        let joined = rate == 0 || beat.share > 0;
        let was = self
            .joined
            .swap(joined, std::sync::atomic::Ordering::SeqCst);
        if was != joined {
            tracing::info!(
                workers = beat.live,
                share_per_minute = beat.share,
                joined,
                "sync worker's share of the project rate"
            );
        }
        let mut renewed = self
            .renewed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *renewed = Some(renewed.map_or(until, |before| before.max(until)));
        Ok(held)
    }

    /// How often [`SyncService::heartbeat`] must run: a third of the lease.
    pub fn heartbeat_interval(&self) -> Duration {
        self.lease / 3
    }

    /// Whether this worker may claim users: once a heartbeat reserved it a share of the
    /// project's rate (at once for a worker alone; a newcomer among live workers gets one
    /// once they have counted it at their own heartbeats and shrunk their shares, within one
    /// heartbeat interval, since the shares on record never add up to more than the rate).
    pub fn joined(&self) -> bool {
        self.joined.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets the tombstones that can no longer matter ([`TOMBSTONE_RETENTION`],
    /// [`UNCONFIRMED_TOMBSTONE_RETENTION`]); returns how many went.
    pub async fn prune_tombstones(&self) -> Result<u64, RepoError> {
        let now = self.clock.now();
        self.queue
            .prune_tombstones(
                now - TOMBSTONE_RETENTION,
                now - UNCONFIRMED_TOMBSTONE_RETENTION,
            )
            .await
    }

    /// Ends every lease at once: for the only worker of an embedded database, at start.
    pub async fn expire_leases(&self) -> Result<u64, RepoError> {
        self.queue.expire_leases(self.clock.now()).await
    }

    /// Makes the worker stop: lanes start no further row, sleeps end at once, and each lane
    /// releases its user. A call already sent to Google is finished and recorded.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether [`SyncService::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Returns once [`SyncService::stop`] is called.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        // Err only if the sender is gone, and `self` holds it.
        let _ = stopping.wait_for(|stop| *stop).await;
    }

    /// Delivers the lane's user's due rows, batch after batch, until none is due, then
    /// releases the user; returns how many rows were settled. Stops early (leaving the rest
    /// due for the next claim) when the worker stops or its lease is at risk.
    pub async fn work(&self, lane: Lane) -> Result<usize, RepoError> {
        let span = tracing::info_span!("sync_lane", user_id = lane.user.0);
        if lane.rescued {
            span.in_scope(|| tracing::info!("took over the user's queue from a worker that died"));
        }
        let worked = self.work_rows(&lane).instrument(span).await;
        // Released whatever happened: a failed release only leaves the lease to lapse.
        let released = self.queue.release(&self.worker, lane.user).await;
        let settled = worked?;
        released?;
        Ok(settled)
    }

    async fn work_rows(&self, lane: &Lane) -> Result<usize, RepoError> {
        if lane.read_due && self.may_start(lane) {
            self.read(lane).await?;
        }
        let mut settled = 0;
        loop {
            if !self.may_start(lane) {
                return Ok(settled);
            }
            let rows = self
                .queue
                .due(lane.user, self.clock.now(), LANE_BATCH)
                .await?;
            if rows.is_empty() {
                return Ok(settled);
            }
            for entry in rows {
                if !self.may_start(lane) {
                    tracing::info!("stopping or lease at risk; the user's other rows stay due");
                    return Ok(settled);
                }
                let (outcome, next) = match self.deliver(lane, &entry).await? {
                    Delivery::Done(outcome, next) => (outcome, next),
                    Delivery::Interrupted => return Ok(settled),
                };
                self.queue.settle(&entry, outcome.clone()).await?;
                settled += 1;
                if let Next::PauseUser(until) = next {
                    let reason = match &outcome {
                        Settlement::RetryAt { error, .. } | Settlement::GiveUp { error } => {
                            error.as_str()
                        }
                        Settlement::Delivered { .. } => "",
                    };
                    self.queue.pause_user(lane.user, until, reason).await?;
                    return Ok(settled);
                }
            }
        }
    }

    /// A lane may start a row while the worker runs and more than half its lease is left
    /// (the claim's lease, or the last heartbeat's if later).
    fn may_start(&self, lane: &Lane) -> bool {
        if self.is_stopping() {
            return false;
        }
        let renewed = *self
            .renewed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held_until = renewed.map_or(lane.lease_until, |r| r.max(lane.lease_until));
        self.clock.now() < held_until - delta(self.lease / 2)
    }

    /// Claims up to `limit` users and works their lanes concurrently (users do not wait for
    /// each other); returns how many rows were settled.
    pub async fn run_once(&self, limit: u32) -> Result<usize, RepoError> {
        let lanes = self.claim(limit).await?;
        let mut settled = 0;
        for worked in join_all(lanes.into_iter().map(|lane| self.work(lane))).await {
            settled += worked?;
        }
        Ok(settled)
    }

    /// Sleeps for `duration` unless the worker stops first; `false` if it stopped.
    async fn wait(&self, duration: Duration) -> bool {
        if self.is_stopping() {
            return false;
        }
        let stopped = std::pin::pin!(self.stopped());
        let slept = std::pin::pin!(self.sleeper.sleep(duration));
        matches!(select(slept, stopped).await, Either::Left(_))
    }

    /// Waits for `user`'s next slot under the pacing; `false` if the worker stopped. Books
    /// again when this worker's share changes while it waits.
    async fn pace(&self, user: UserId) -> bool {
        loop {
            let mut changes = self.pacer.changes();
            let wait = self.pacer.reserve(user, self.clock.now());
            if wait.is_zero() {
                return true;
            }
            if self.is_stopping() {
                return false;
            }
            let stopped = std::pin::pin!(self.stopped());
            let slept = std::pin::pin!(self.sleeper.sleep(wait));
            let changed = std::pin::pin!(changes.changed());
            match select(slept, select(stopped, changed)).await {
                Either::Left(_) => return true,
                Either::Right((Either::Left(_), _)) => return false,
                Either::Right((Either::Right(_), _)) => {}
            }
        }
    }

    /// One row: the current state, with in-round retries and one token refresh on `401`.
    async fn deliver(&self, lane: &Lane, entry: &OutboxEntry) -> Result<Delivery, RepoError> {
        let span = tracing::info_span!(
            "sync",
            user_id = entry.user.0,
            event_id = entry.event_id.0,
            google_event_id = %entry.google_event_id,
        );
        self.deliver_in_span(lane, entry).instrument(span).await
    }

    async fn deliver_in_span(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
    ) -> Result<Delivery, RepoError> {
        let done = |settlement| Ok(Delivery::Done(settlement, Next::Continue));
        let mut token = match self.connection.access_token(entry.user).await {
            Ok(token) => token,
            Err(e) => return done(self.without_token(entry, e)),
        };
        let mut refreshed = false;
        let mut retry = 0;
        loop {
            let Some(answer) = self.attempt(lane, entry, &token).await? else {
                return Ok(Delivery::Interrupted);
            };
            match answer {
                Ok(etag) => {
                    tracing::info!(operation = ?entry.operation, "synced to Google Calendar");
                    return done(Settlement::Delivered { etag });
                }
                Err(CalendarError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    token = match self
                        .connection
                        .access_token_after_rejection(entry.user, &token)
                        .await
                    {
                        Ok(token) => token,
                        Err(e) => return done(self.without_token(entry, e)),
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
                        return done(Settlement::RetryAt { retry_at, error });
                    }
                    retry += 1;
                    tracing::warn!(
                        attempt = retry,
                        delay_ms = delay.as_millis() as u64,
                        reason,
                        "Google Calendar call failed; retrying"
                    );
                    if !self.wait(delay).await || !self.may_start(lane) {
                        return Ok(Delivery::Interrupted);
                    }
                }
                Err(error) => {
                    let (settlement, next) = self.after_failure(entry, error);
                    return Ok(Delivery::Done(settlement, next));
                }
            }
        }
    }

    /// One delivery of the row: a call in its pacing slot (two for an insert that turns into
    /// an update; more after a conflict, see [`SyncService::resolve_conflict`]); `None` when
    /// the worker stopped while waiting for a slot. Success carries the etag of what was
    /// written, if anything was.
    async fn attempt(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
    ) -> Result<Option<Result<Option<String>, CalendarError>>, RepoError> {
        match entry.operation {
            SyncOperation::Delete => self.delete_in_google(entry, token).await,
            SyncOperation::Upsert => self.upsert(lane, entry, token).await,
        }
    }

    /// Deletes the event in Google, on the revision Phantom last saw. A deletion is final: a
    /// `412` (edited in Google after it was deleted here) is answered by deleting it anyway.
    /// An instance whose series is not in Google yet is not "already gone": it appears with
    /// the series, so its delete waits and is tried again, never given up.
    async fn delete_in_google(
        &self,
        entry: &OutboxEntry,
        token: &Secret,
    ) -> Result<Option<Result<Option<String>, CalendarError>>, RepoError> {
        let mut if_match = entry.etag.clone();
        loop {
            if !self.pace(entry.user).await {
                return Ok(None);
            }
            let conditional = if_match.is_some();
            match self
                .calendar
                .delete(token, &entry.google_event_id, if_match.take())
                .await
            {
                Err(CalendarError::Gone) if entry.occurrence.is_some() => {
                    let series = OutboxEntry {
                        occurrence: None,
                        ..entry.clone()
                    };
                    let held = self.queue.current(&series).await?;
                    if held.is_some_and(|(view, _)| view.event.google_calendar_id.is_none()) {
                        return Ok(Some(Err(CalendarError::Retryable {
                            reason: "its series is not in Google Calendar yet".to_owned(),
                            retry_after: None,
                        })));
                    }
                    return Ok(Some(Ok(None)));
                }
                // Already gone is what we wanted.
                Ok(()) | Err(CalendarError::Gone) => return Ok(Some(Ok(None))),
                Err(CalendarError::PreconditionFailed) if conditional => {
                    tracing::info!("edited in Google after it was deleted here; deleting it there");
                }
                Err(e) => return Ok(Some(Err(e))),
            }
        }
    }

    /// Writes the event's current state to Google, conditional on the etag Phantom last saw.
    /// A `412` means Google changed it since: the conflict rule decides, and Phantom's version
    /// is written again (on Google's new revision) only if it is the later change.
    async fn upsert(
        &self,
        lane: &Lane,
        entry: &OutboxEntry,
        token: &Secret,
    ) -> Result<Option<Result<Option<String>, CalendarError>>, RepoError> {
        let (mut if_match, mut fields) = (entry.etag.clone(), entry.fields);
        for _ in 0..=MAX_CONFLICTS {
            let Some((view, zone)) = self.queue.current(entry).await? else {
                // Deleted since: the delete queued with it settles Google's side.
                return Ok(Some(Ok(None)));
            };
            let from_google = view.event.origin == Origin::Google;
            // An occurrence is a patch of Google's instance of it, whole.
            let instance = entry.occurrence.is_some();
            if from_google && fields.is_empty() && !instance {
                // Only what Google does not hold changed (a category, a completion).
                return Ok(Some(Ok(None)));
            }
            let series_in_google = view.event.google_calendar_id.is_some();
            // The first write of an instance Phantom holds no etag of: Google's instance may
            // carry a newer edit Phantom has not read, which a blind patch would overwrite.
            // It is fetched first, with its series ([`SyncService::check_unseen_instance`]).
            let unseen = instance && series_in_google && if_match.is_none();
            if !unseen {
                let event = CalendarEvent::from_view(&view, zone);
                let write = Write {
                    event: &event,
                    from_google: from_google || instance,
                    fields: if instance { FieldSet::ALL } else { fields },
                    if_match: if_match.clone(),
                };
                let Some(written) = self.write(entry.user, token, write).await else {
                    return Ok(None);
                };
                if instance && !series_in_google && matches!(written, Err(CalendarError::Gone)) {
                    // The series is not in Google yet (its insert is queued or failing): the
                    // instance appears with it. Wait and try again; never give up on it.
                    return Ok(Some(Err(CalendarError::Retryable {
                        reason: "its series is not in Google Calendar yet".to_owned(),
                        retry_after: None,
                    })));
                }
                // An instance Google answers `404`/`410` for (its series is in Google) was
                // cancelled there, or is no occurrence of the series' rule there any more:
                // settled like a `412` ([`SyncService::resolve_conflict`]).
                let refused = matches!(written, Err(CalendarError::PreconditionFailed))
                    || (instance && matches!(written, Err(CalendarError::Gone)));
                if !refused {
                    return Ok(Some(written));
                }
            }
            let resolution = if unseen {
                self.check_unseen_instance(lane, entry, token, &view, zone, fields)
                    .await?
            } else {
                self.resolve_conflict(lane, entry, token, &view, zone, fields)
                    .await?
            };
            match resolution {
                None => return Ok(None),
                Some(Ok(Resolution::GoogleWon)) => return Ok(Some(Ok(None))),
                Some(Ok(Resolution::PhantomWins { etag, fields: all })) => {
                    (if_match, fields) = (etag, all);
                }
                Some(Err(e)) => return Ok(Some(Err(e))),
            }
        }
        // Google's copy changed again between each read and write: a later round tries again.
        Ok(Some(Err(CalendarError::PreconditionFailed)))
    }

    /// One write of `write.event`, in its pacing slot; `None` when the worker stopped.
    async fn write(
        &self,
        user: UserId,
        token: &Secret,
        write: Write<'_>,
    ) -> Option<Result<Option<String>, CalendarError>> {
        let Write {
            event,
            from_google,
            fields,
            if_match,
        } = write;
        if !self.pace(user).await {
            return None;
        }
        if from_google {
            // Google made it and owns what Phantom does not map (its colour above all):
            // write only the fields changed through the API, so that an edit made in Google
            // to another field meanwhile survives.
            let conditional = if_match.is_some();
            let patched = self.calendar.patch(token, event, fields, if_match).await;
            // A conditional patch applied to the very revision Phantom holds, so Google's
            // answer is Phantom's version whole. An unconditional partial one may cover
            // fields Google changed meanwhile and Phantom has not read yet: no echo.
            let echo = conditional || fields == FieldSet::ALL;
            return Some(patched.map(|etag| etag.filter(|_| echo)));
        }
        if if_match.is_some() {
            // Google holds it: no insert needed.
            return Some(self.calendar.update(token, event, if_match).await);
        }
        match self.calendar.insert(token, event).await {
            // Created by an earlier try whose answer was lost: write the current data.
            Err(CalendarError::AlreadyExists) => {
                if !self.pace(user).await {
                    return None;
                }
                Some(self.calendar.update(token, event, None).await)
            }
            other => Some(other),
        }
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
                // Google's messages end with a full stop, or not.
                let message = message.trim_end_matches('.');
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
