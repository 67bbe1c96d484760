//! The sync outbox, seen from the worker: claim with a lease, read the current state, settle.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::event::EventView;
use phantom_domain::google::Secret;
use phantom_domain::google_changes::{FieldSet, GoogleEvent, OpenChannel, ReadRules};
use phantom_domain::ids::{EventId, UserId};
use phantom_domain::ports::{
    Applied, Beat, ClaimedUser, OutboxEntry, ReadState, Settlement, SyncOperation, SyncQueue,
    WorkerId, share_of, weight,
};
use phantom_domain::recurrence::OriginalStart;
use phantom_domain::series::SeriesView;
use phantom_domain::sync::{GoogleEventId, SyncStatus};
use phantom_domain::timezone::TimeZoneName;

use diesel::sql_types::{BigInt, Bool, Text, Timestamp};

use super::error::{from_diesel, storage};
use super::events::{into_view, load_view};
use super::life::{self, Lives};
use super::schema::{
    event_occurrences as occ, events, google_tombstones as tombstones, sync_outbox as ob, users,
};
use super::time::from_db;
use super::time::to_db;
use super::{AnyConnection, Database};
use super::{channels, google_reads};

/// [`SyncQueue`] over `sync_outbox`.
///
/// On PostgreSQL each worker that claims or beats through it holds its life lock (see
/// the private `life` module) for as long as the queue lives, and a claim takes over at once the users
/// of a worker whose lock is free (it died).
#[derive(Debug, Clone)]
pub struct DieselSyncQueue {
    db: Database,
    lives: Lives,
}

impl DieselSyncQueue {
    /// A queue on `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            lives: Lives::default(),
        }
    }

    /// Makes sure `worker` holds its life lock (PostgreSQL; nothing on SQLite). With `check`,
    /// also checks that its connection is still there, taking the lock again if it was lost.
    async fn live(&self, worker: &WorkerId, check: bool) -> Result<(), RepoError> {
        let Some(url) = self.db.postgres_url() else {
            return Ok(());
        };
        if !check && self.lives.holds(worker.as_str()) {
            return Ok(());
        }
        let (lives, url, worker) = (
            self.lives.clone(),
            url.to_owned(),
            worker.as_str().to_owned(),
        );
        tokio::task::spawn_blocking(move || lives.hold(&url, &worker))
            .await
            .map_err(storage)?
            .map(drop)
    }
}

/// The users a claim may take, oldest due first, read through `users_sync_due`: a user with
/// a due row, connected, not paused, and not leased (a lapsed lease counts as not leased).
/// A leased user's mark is its lease's end and a paused user's the pause's end, so the
/// index range holds only users the claim can take. On PostgreSQL `SKIP LOCKED` passes over
/// users another claimer is taking.
/// Parameters: 1 now, 2 the limit.
fn claimable_sql(p: char, locking: &str) -> String {
    format!(
        "SELECT id, sync_worker IS NOT NULL AS rescued, \
             (google_read_due_at IS NOT NULL AND google_read_due_at <= {p}1) AS read_due, \
             google_connected_at \
         FROM users \
         WHERE sync_due_at <= {p}1 \
           AND (sync_lease_until IS NULL OR sync_lease_until < {p}1) \
           AND google_calendar_token IS NOT NULL AND NOT google_needs_reconnect \
           AND (google_sync_paused_until IS NULL OR google_sync_paused_until <= {p}1) \
         ORDER BY sync_due_at LIMIT {p}2 {locking}"
    )
}

/// Ends `worker`'s lease on a user and sets when the user is next due: its earliest row or
/// its next read, or the end of a pause if later; never while the user must reconnect.
/// Parameters: 1 the user, 2 the worker.
fn release_sql(p: char) -> String {
    let row = "(SELECT MIN(o.available_at) FROM sync_outbox o WHERE o.user_id = users.id)";
    let read = "google_read_due_at";
    let next = format!(
        "(CASE WHEN {row} IS NULL THEN {read} WHEN {read} IS NULL OR {row} <= {read} THEN {row} \
              ELSE {read} END)"
    );
    format!(
        "UPDATE users SET sync_worker = NULL, sync_lease_until = NULL, sync_due_at = CASE \
             WHEN google_calendar_token IS NULL OR google_needs_reconnect THEN NULL \
             WHEN google_sync_paused_until > {next} THEN google_sync_paused_until \
             ELSE {next} END \
         WHERE id = {p}1 AND sync_worker = {p}2"
    )
}

#[derive(QueryableByName)]
struct Claimable {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Bool)]
    rescued: bool,
    #[diesel(sql_type = Bool)]
    read_due: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamp>)]
    google_connected_at: Option<chrono::NaiveDateTime>,
}

/// An outbox row as a lane reads it.
#[derive(Queryable)]
struct DueRow {
    id: i64,
    user_id: i64,
    event_id: i64,
    google_event_id: String,
    operation: String,
    version: i32,
    fields: i32,
    attempts: i32,
    /// Of the live event (an upsert).
    event_etag: Option<String>,
    /// Of the deleted event (a delete).
    buried_etag: Option<String>,
    /// Set on an instance row.
    original_start: Option<String>,
    /// Of the instance (an instance row).
    instance_etag: Option<String>,
}

impl DueRow {
    fn into_entry(self) -> OutboxEntry {
        let occurrence = self
            .original_start
            .as_deref()
            .and_then(OriginalStart::parse_id_suffix);
        let (operation, etag) = match (self.operation == "delete", occurrence.is_some()) {
            (true, false) => (SyncOperation::Delete, self.buried_etag),
            (false, false) => (SyncOperation::Upsert, self.event_etag),
            (true, true) => (SyncOperation::Delete, self.instance_etag),
            (false, true) => (SyncOperation::Upsert, self.instance_etag),
        };
        OutboxEntry {
            id: self.id,
            user: UserId(self.user_id),
            event_id: EventId(self.event_id),
            google_event_id: GoogleEventId::from_stored(self.google_event_id),
            occurrence,
            operation,
            version: self.version,
            fields: FieldSet::from_bits(self.fields),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            etag,
        }
    }
}

#[async_trait]
impl SyncQueue for DieselSyncQueue {
    async fn claim(
        &self,
        worker: &WorkerId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedUser>, RepoError> {
        // Before any lease: a worker that leases holds its life lock, so that its death frees
        // what it leased at once.
        self.live(worker, false).await?;
        let (now, until) = (to_db(now), to_db(lease_until));
        let (worker, limit) = (worker.as_str().to_owned(), i64::from(limit));
        // Alone: on SQLite it opens its own IMMEDIATE transaction, which diesel refuses inside
        // the group commit's shared one. A claim is rare (a poll), so its own fsync costs little.
        let claimed = self
            .db
            .write_alone(move |c| {
                // Pick, then lease, in one transaction. The same statements on both backends;
                // a macro because they run on each backend's own connection type.
                macro_rules! pick_and_lease {
                    ($c:expr, $p:literal, $locking:literal) => {{
                        let picked: Vec<Claimable> = diesel::sql_query(claimable_sql($p, $locking))
                            .bind::<Timestamp, _>(now)
                            .bind::<BigInt, _>(limit)
                            .load($c)?;
                        let ids: Vec<i64> = picked.iter().map(|p| p.id).collect();
                        if !ids.is_empty() {
                            diesel::update(users::table.filter(users::id.eq_any(ids)))
                                .set((
                                    users::sync_worker.eq(&worker),
                                    users::sync_lease_until.eq(until),
                                    // Out of the claim's sight until the lease could lapse.
                                    users::sync_due_at.eq(until),
                                ))
                                .execute($c)?;
                        }
                        Ok(picked)
                    }};
                }
                match c {
                    // IMMEDIATE: the write lock before the read, so that concurrent claimers
                    // wait their turn instead of failing a lock upgrade.
                    AnyConnection::Sqlite(c) => {
                        c.immediate_transaction(|c| pick_and_lease!(c, '?', ""))
                    }
                    // NO KEY UPDATE: event writes hold KEY SHARE on their user (the foreign
                    // key) and must not make the claim skip that user. First the users of
                    // dead workers become due, so that this claim can take them.
                    AnyConnection::Postgresql(c) => c.transaction(|c| {
                        diesel::sql_query(life::reap_sql())
                            .bind::<Timestamp, _>(now)
                            .bind::<Text, _>(&worker)
                            .execute(c)?;
                        pick_and_lease!(c, '$', "FOR NO KEY UPDATE SKIP LOCKED")
                    }),
                }
                .map_err(from_diesel)
            })
            .await?;
        let rescued = claimed.iter().filter(|c| c.rescued).count();
        if rescued > 0 {
            metrics::counter!(RESCUED_METRIC).increment(rescued as u64);
        }
        Ok(claimed
            .into_iter()
            .map(|c| ClaimedUser {
                user: UserId(c.id),
                rescued: c.rescued,
                read_due: c.read_due,
                connection: c.google_connected_at.map(from_db),
            })
            .collect())
    }

    async fn due(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, RepoError> {
        let now = to_db(now);
        let rows: Vec<DueRow> = self
            .db
            .read(move |c| {
                // With the etag each write is conditional on: the live event's, or the one
                // its tombstone kept.
                ob::table
                    .left_join(events::table.on(events::id.eq(ob::event_id)))
                    .left_join(
                        tombstones::table.on(tombstones::user_id
                            .eq(ob::user_id)
                            .and(tombstones::google_event_id.eq(ob::google_event_id))),
                    )
                    .left_join(
                        occ::table.on(occ::series_id
                            .eq(ob::event_id)
                            .and(ob::original_start.eq(occ::original_start.nullable()))),
                    )
                    .filter(ob::user_id.eq(user.0))
                    .filter(ob::available_at.le(now))
                    .order((ob::available_at, ob::id))
                    .limit(i64::from(limit))
                    .select((
                        ob::id,
                        ob::user_id,
                        ob::event_id,
                        ob::google_event_id,
                        ob::operation,
                        ob::version,
                        ob::fields,
                        ob::attempts,
                        events::google_etag.nullable(),
                        tombstones::google_etag.nullable(),
                        ob::original_start,
                        occ::google_etag.nullable(),
                    ))
                    .load(c)
                    .map_err(from_diesel)
            })
            .await?;
        Ok(rows.into_iter().map(DueRow::into_entry).collect())
    }

    async fn renew(&self, worker: &WorkerId, lease_until: DateTime<Utc>) -> Result<u64, RepoError> {
        let (worker, until) = (worker.as_str().to_owned(), to_db(lease_until));
        let held = self
            .db
            .write(move |c| {
                diesel::update(users::table.filter(users::sync_worker.eq(worker)))
                    .set((
                        users::sync_lease_until.eq(until),
                        users::sync_due_at.eq(until),
                    ))
                    .execute(c)
                    .map_err(from_diesel)
            })
            .await?;
        metrics::counter!(RENEWALS_METRIC).increment(held as u64);
        Ok(held as u64)
    }

    async fn beat(
        &self,
        worker: &WorkerId,
        now: DateTime<Utc>,
        live_after: DateTime<Utc>,
        held: u64,
        rate: u32,
    ) -> Result<Beat, RepoError> {
        use super::schema::sync_workers as w;
        self.live(worker, true).await?;
        let (worker, now, live_after) = (worker.as_str().to_owned(), to_db(now), to_db(live_after));
        let held_now = i32::try_from(held).unwrap_or(i32::MAX);
        self.db
            .write(move |c| {
                c.transaction(|c| {
                    if let AnyConnection::Postgresql(c) = c {
                        // One heartbeat at a time: each reserves its share from what the
                        // others' recorded shares leave, so they never add up to more.
                        diesel::sql_query(BEATS_LOCK).execute(c)?;
                        // The dead are forgotten at once, not a lease after their last beat:
                        // their share goes to the living within one heartbeat.
                        diesel::sql_query(life::forget_dead_sql())
                            .bind::<Text, _>(&worker)
                            .execute(c)?;
                    }
                    diesel::delete(
                        w::table
                            .filter(w::heartbeat_at.lt(live_after))
                            .filter(w::id.ne(&worker)),
                    )
                    .execute(c)?;
                    let others: Vec<(i32, i32)> = w::table
                        .filter(w::id.ne(&worker))
                        .select((w::share_per_minute, w::users_held))
                        .load(c)?;
                    let count = |n: i32| u64::try_from(n).unwrap_or(0);
                    let mine = weight(held);
                    let total = others
                        .iter()
                        .fold(mine, |sum, (_, users)| sum + weight(count(*users)));
                    let taken: u64 = others.iter().map(|(share, _)| count(*share)).sum();
                    let left = u64::from(rate).saturating_sub(taken);
                    let share = if rate == 0 {
                        0
                    } else {
                        share_of(rate, mine, total).min(u32::try_from(left).unwrap_or(rate))
                    };
                    let recorded = i32::try_from(share).unwrap_or(i32::MAX);
                    let row = || {
                        (
                            w::heartbeat_at.eq(now),
                            w::share_per_minute.eq(recorded),
                            w::users_held.eq(held_now),
                        )
                    };
                    let mine = diesel::update(w::table.find(&worker))
                        .set(row())
                        .execute(c)?;
                    if mine == 0 {
                        diesel::insert_into(w::table)
                            .values((w::id.eq(&worker), row()))
                            .execute(c)?;
                    }
                    Ok(Beat {
                        live: u32::try_from(others.len() + 1).unwrap_or(u32::MAX),
                        share,
                    })
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn release(&self, worker: &WorkerId, user: UserId) -> Result<(), RepoError> {
        let worker = worker.as_str().to_owned();
        self.db
            .write(move |c| {
                c.transaction(|c| match c {
                    AnyConnection::Sqlite(c) => diesel::sql_query(release_sql('?'))
                        .bind::<BigInt, _>(user.0)
                        .bind::<Text, _>(&worker)
                        .execute(c),
                    AnyConnection::Postgresql(c) => {
                        // Waits for every event write of the user in flight (they hold this
                        // lock shared until they commit), so that the earliest row read next
                        // includes theirs: no change is left with its user marked idle.
                        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                            .bind::<BigInt, _>(user.0)
                            .execute(c)?;
                        diesel::sql_query(release_sql('$'))
                            .bind::<BigInt, _>(user.0)
                            .bind::<Text, _>(&worker)
                            .execute(c)
                    }
                })
                .map(drop)
                .map_err(from_diesel)
            })
            .await
    }

    async fn expire_leases(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        // Due at once (a release sets the real mark); the worker stays named, so that the
        // next claim counts the user as rescued.
        // Its previous life's heartbeat goes too: it no longer shares the project's rate.
        use super::schema::sync_workers as w;
        let now = to_db(now);
        let expired = self
            .db
            .write(move |c| {
                c.transaction(|c| {
                    diesel::delete(w::table).execute(c)?;
                    diesel::update(users::table.filter(users::sync_lease_until.is_not_null()))
                        .set((
                            users::sync_lease_until.eq(None::<chrono::NaiveDateTime>),
                            users::sync_due_at.eq(now),
                        ))
                        .execute(c)
                })
                .map_err(from_diesel)
            })
            .await?;
        Ok(expired as u64)
    }

    async fn current(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<(EventView, TimeZoneName)>, RepoError> {
        let (user, event, occurrence) = (entry.user, entry.event_id, entry.occurrence);
        self.db
            .read(move |c| {
                let Some(row) = load_view(c, user, event).map_err(from_diesel)? else {
                    return Ok(None);
                };
                let zone: String = users::table
                    .find(user.0)
                    .select(users::timezone)
                    .first(c)
                    .map_err(from_diesel)?;
                let zone = zone.parse().map_err(storage)?;
                let view = into_view(row)?;
                let Some(at) = occurrence else {
                    return Ok(Some((view, zone)));
                };
                let changes = super::series::changes_of(c, &[event.0]).map_err(from_diesel)?;
                let series = SeriesView {
                    view,
                    changes: changes.into_iter().map(|(_, change)| change).collect(),
                };
                Ok(phantom_domain::series::occurrence(&series, zone, at).map(|v| (v, zone)))
            })
            .await
    }

    async fn settle(&self, entry: &OutboxEntry, outcome: Settlement) -> Result<(), RepoError> {
        let entry = entry.clone();
        self.db
            .write(move |c| {
                c.transaction(|c| {
                    // The event first, then its outbox row: the order event writes lock them
                    // in (an edit updates the event, then queues), so that a settle and an
                    // edit never deadlock on PostgreSQL. SQLite has one writer at a time.
                    if let AnyConnection::Postgresql(c) = c {
                        diesel::sql_query("SELECT id FROM events WHERE id = $1 FOR UPDATE")
                            .bind::<BigInt, _>(entry.event_id.0)
                            .execute(c)?;
                    }
                    let this_version = ob::table
                        .filter(ob::id.eq(entry.id))
                        .filter(ob::version.eq(entry.version));
                    let mine = events::table
                        .filter(events::id.eq(entry.event_id.0))
                        .filter(events::user_id.eq(entry.user.0));
                    let settled = match &outcome {
                        Settlement::Delivered { .. } | Settlement::GiveUp { .. } => {
                            diesel::delete(this_version).execute(c)?
                        }
                        Settlement::RetryAt { retry_at, error } => diesel::update(this_version)
                            .set((
                                ob::attempts.eq(ob::attempts + 1),
                                ob::available_at.eq(to_db(*retry_at)),
                                ob::last_error.eq(error),
                            ))
                            .execute(c)?,
                    };
                    // settled == 0: a newer change was queued meanwhile; its row and status
                    // stay as they are, due now, and the lane delivers it next.
                    if let Some(at) = entry.occurrence {
                        return settle_instance(c, &entry, at, &outcome, settled);
                    }
                    if entry.operation == SyncOperation::Delete
                        && matches!(outcome, Settlement::Delivered { .. })
                    {
                        let (user, google_id) = (entry.user.0, entry.google_event_id.as_str());
                        google_reads::confirm(c, user, google_id, to_db(Utc::now()))?;
                    }
                    if entry.operation == SyncOperation::Upsert {
                        if let Settlement::Delivered { etag } = &outcome {
                            // Google holds the event now, whatever is still queued; reading
                            // this version back is the echo of this write.
                            let google_id = entry.google_event_id.as_str();
                            let written = match etag {
                                Some(etag) => diesel::update(mine)
                                    .set((
                                        events::google_calendar_id.eq(google_id),
                                        events::google_etag.eq(etag),
                                    ))
                                    .execute(c)?,
                                None => diesel::update(mine)
                                    .set(events::google_calendar_id.eq(google_id))
                                    .execute(c)?,
                            };
                            if let (0, Some(etag)) = (written, etag) {
                                // Deleted while this write was on its way: the delete queued
                                // since is conditional on the revision just written.
                                diesel::update(tombstones::table.find((entry.user.0, google_id)))
                                    .set(tombstones::google_etag.eq(etag))
                                    .execute(c)?;
                            }
                        }
                        if settled == 1 {
                            let (status, error) = match &outcome {
                                Settlement::Delivered { .. } => (SyncStatus::Synced, None),
                                Settlement::RetryAt { error, .. }
                                | Settlement::GiveUp { error } => {
                                    (SyncStatus::Failed, Some(error.clone()))
                                }
                            };
                            diesel::update(mine)
                                .set((
                                    events::sync_status.eq(status.as_str()),
                                    events::sync_error.eq(error),
                                ))
                                .execute(c)?;
                        }
                    }
                    Ok(())
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn read_state(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<ReadState>, RepoError> {
        let now = to_db(now);
        let row: Option<(Option<chrono::NaiveDateTime>, Option<String>, String)> = self
            .db
            .read(move |c| {
                users::table
                    .find(user.0)
                    .filter(users::google_calendar_token.is_not_null())
                    .select((
                        users::google_read_due_at,
                        users::google_sync_token,
                        users::timezone,
                    ))
                    .first(c)
                    .optional()
                    .map_err(from_diesel)
            })
            .await?;
        let Some((Some(due), sync_token, zone)) = row else {
            return Ok(None);
        };
        if due > now {
            return Ok(None);
        }
        Ok(Some(ReadState {
            due_at: from_db(due),
            sync_token,
            zone: zone.parse().map_err(storage)?,
        }))
    }

    async fn apply_changes(
        &self,
        user: UserId,
        connection: Option<DateTime<Utc>>,
        items: &[GoogleEvent],
        rules: ReadRules,
        now: DateTime<Utc>,
    ) -> Result<Applied, RepoError> {
        let items = items.to_vec();
        let connection = connection.map(to_db);
        // Alone: a page of a calendar (up to hundreds of events) is a long write; the short
        // writes queued with it are answered first rather than after it.
        let applied = self
            .db
            .write_alone(move |c| {
                c.transaction(|c| {
                    if !google_reads::still_connected(c, user, connection)? {
                        return Ok(Applied {
                            disconnected: true,
                            ..Applied::default()
                        });
                    }
                    google_reads::apply(c, user, &items, rules, now)
                })
                .map_err(from_diesel)
            })
            .await?;
        for (action, n) in [
            ("updated", applied.updated),
            ("deleted", applied.deleted),
            ("imported", applied.imported),
            ("deleted_in_google", applied.deleted_in_google),
            ("unchanged", applied.unchanged),
        ] {
            metrics::counter!(GOOGLE_CHANGES_METRIC, "action" => action).increment(u64::from(n));
        }
        Ok(applied)
    }

    async fn finish_read(
        &self,
        user: UserId,
        seen_due: DateTime<Utc>,
        sync_token: Option<String>,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), RepoError> {
        let (seen, now, next) = (to_db(seen_due), to_db(now), next.map(to_db));
        self.db
            .write(move |c| {
                google_reads::finish(c, user, seen, sync_token, now, next)
                    .map(drop)
                    .map_err(from_diesel)
            })
            .await
    }

    async fn retry_read(&self, user: UserId, at: DateTime<Utc>) -> Result<(), RepoError> {
        let at = to_db(at);
        self.db
            .write(move |c| {
                diesel::update(users::table.find(user.0))
                    .set(users::google_read_due_at.eq(at))
                    .execute(c)
                    .map(drop)
                    .map_err(from_diesel)
            })
            .await
    }

    async fn channels(&self, user: UserId) -> Result<Vec<OpenChannel>, RepoError> {
        self.db
            .read(move |c| channels::of_user(c, user).map_err(from_diesel))
            .await
    }

    async fn keep_channel(
        &self,
        user: UserId,
        channel: &OpenChannel,
        token: &Secret,
    ) -> Result<bool, RepoError> {
        let (channel, token) = (channel.clone(), token.clone());
        self.db
            .write(move |c| {
                c.transaction(|c| channels::keep(c, user, &channel, &token))
                    .map_err(from_diesel)
            })
            .await
    }

    async fn forget_channel(&self, id: &str) -> Result<(), RepoError> {
        let id = id.to_owned();
        self.db
            .write(move |c| channels::forget(c, &id).map_err(from_diesel))
            .await
    }

    async fn channel_owner(
        &self,
        id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, RepoError> {
        let (id, token, now) = (id.to_owned(), token.to_owned(), to_db(now));
        self.db
            .read(move |c| channels::owner(c, &id, &token, now).map_err(from_diesel))
            .await
    }

    async fn request_read(&self, user: UserId, now: DateTime<Utc>) -> Result<(), RepoError> {
        let now = to_db(now);
        self.db
            .write(move |c| {
                c.transaction(|c| channels::request_read(c, user, now))
                    .map_err(from_diesel)
            })
            .await
    }

    async fn prune_tombstones(
        &self,
        confirmed_before: DateTime<Utc>,
        made_before: DateTime<Utc>,
    ) -> Result<u64, RepoError> {
        let (confirmed, made) = (to_db(confirmed_before), to_db(made_before));
        self.db
            .write_alone(move |c| google_reads::prune(c, confirmed, made).map_err(from_diesel))
            .await
    }

    async fn pause_user(
        &self,
        user: UserId,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), RepoError> {
        let (until, reason) = (to_db(until), reason.to_owned());
        self.db
            .write(move |c| {
                c.transaction(|c| {
                    // Events before the user row: the order event writes lock them in.
                    let queued = ob::table
                        .filter(ob::user_id.eq(user.0))
                        .select(ob::event_id);
                    diesel::update(
                        events::table
                            .filter(events::user_id.eq(user.0))
                            .filter(events::id.eq_any(queued)),
                    )
                    .set((
                        events::sync_status.eq(SyncStatus::Failed.as_str()),
                        events::sync_error.eq(&reason),
                    ))
                    .execute(c)?;
                    diesel::update(users::table.find(user.0))
                        .set(users::google_sync_paused_until.eq(until))
                        .execute(c)
                        .map(drop)
                })
                .map_err(from_diesel)
            })
            .await
    }
}

/// Settles an instance row: the instance's etag is kept on its occurrence; the series shows
/// `failed` while an instance write fails, and `synced` once nothing is queued for it.
fn settle_instance(
    c: &mut AnyConnection,
    entry: &OutboxEntry,
    at: OriginalStart,
    outcome: &Settlement,
    settled: usize,
) -> QueryResult<()> {
    if let Settlement::Delivered { etag: Some(etag) } = outcome {
        diesel::update(
            occ::table
                .filter(occ::series_id.eq(entry.event_id.0))
                .filter(occ::original_start.eq(at.id_suffix())),
        )
        .set(occ::google_etag.eq(etag))
        .execute(c)?;
    }
    if settled == 0 {
        return Ok(());
    }
    let series = events::table
        .filter(events::id.eq(entry.event_id.0))
        .filter(events::user_id.eq(entry.user.0));
    match outcome {
        Settlement::Delivered { .. } => {
            let queued: i64 = ob::table
                .filter(ob::event_id.eq(entry.event_id.0))
                .count()
                .get_result(c)?;
            if queued == 0 {
                diesel::update(series)
                    .set((
                        events::sync_status.eq(SyncStatus::Synced.as_str()),
                        events::sync_error.eq(None::<String>),
                    ))
                    .execute(c)?;
            }
        }
        Settlement::RetryAt { error, .. } | Settlement::GiveUp { error } => {
            diesel::update(series)
                .set((
                    events::sync_status.eq(SyncStatus::Failed.as_str()),
                    events::sync_error.eq(error),
                ))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Serialises heartbeats on PostgreSQL (a two-`int4` advisory key: `phan`, `beat`).
const BEATS_LOCK: &str = "SELECT pg_advisory_xact_lock(1885888878, 1650811252)";

/// Counter of users taken over from a worker that died (its lease lapsed unreleased).
pub const RESCUED_METRIC: &str = "phantom_sync_lanes_rescued_total";
/// Counter of changes read from Google Calendar, by what they did (`action`).
pub const GOOGLE_CHANGES_METRIC: &str = "phantom_google_changes_total";
/// Counter of user leases extended by workers' heartbeats.
pub const RENEWALS_METRIC: &str = "phantom_sync_lease_renewals_total";
