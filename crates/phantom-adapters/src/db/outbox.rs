//! The sync outbox, seen from the worker: claim with a lease, read the current state, settle.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::event::EventView;
use phantom_domain::ids::{EventId, UserId};
use phantom_domain::ports::{OutboxEntry, Settlement, SyncOperation, SyncQueue};
use phantom_domain::sync::{GoogleEventId, SyncStatus};
use phantom_domain::timezone::TimeZoneName;

use diesel::sql_types::{BigInt, Integer, Text, Timestamp};

use super::error::{from_diesel, storage};
use super::events::{into_view, load_view};
use super::schema::{events, sync_outbox as ob, users};
use super::time::to_db;
use super::{AnyConnection, Database};

/// [`SyncQueue`] over `sync_outbox`.
#[derive(Debug, Clone)]
pub struct DieselSyncQueue {
    db: Database,
}

impl DieselSyncQueue {
    /// A queue on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The claim, the one statement whose SQL differs by backend: placeholders (`$n` or `?n`),
/// and on PostgreSQL `SKIP LOCKED` so that workers pass over rows another is claiming.
/// Parameters: 1 the lease's end, 2 now, 3 the limit.
fn claim_sql(p: char, locking: &str) -> String {
    format!(
        "UPDATE sync_outbox SET leased_until = {p}1 \
         WHERE id IN (SELECT o.id FROM sync_outbox o JOIN users u ON u.id = o.user_id \
             WHERE o.available_at <= {p}2 \
               AND (o.leased_until IS NULL OR o.leased_until < {p}2) \
               AND u.google_calendar_token IS NOT NULL AND NOT u.google_needs_reconnect \
               AND (u.google_sync_paused_until IS NULL OR u.google_sync_paused_until <= {p}2) \
               AND NOT EXISTS (SELECT 1 FROM sync_outbox busy \
                   WHERE busy.user_id = o.user_id AND busy.leased_until >= {p}2) \
             ORDER BY o.id LIMIT {p}3 {locking}) \
           AND (leased_until IS NULL OR leased_until < {p}2) \
         RETURNING id, user_id, event_id, google_event_id, operation, version, attempts"
    )
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    google_event_id: String,
    #[diesel(sql_type = Text)]
    operation: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

impl ClaimedRow {
    fn into_entry(self) -> OutboxEntry {
        OutboxEntry {
            id: self.id,
            user: UserId(self.user_id),
            event_id: EventId(self.event_id),
            google_event_id: GoogleEventId::from_stored(self.google_event_id),
            operation: if self.operation == "delete" {
                SyncOperation::Delete
            } else {
                SyncOperation::Upsert
            },
            version: self.version,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
        }
    }
}

#[async_trait]
impl SyncQueue for DieselSyncQueue {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, RepoError> {
        let (now, until) = (to_db(now), to_db(lease_until));
        let limit = i64::from(limit);
        self.db
            .write(move |c| {
                // One statement: it takes the write lock before reading, so concurrent claimers
                // wait their turn instead of failing a lock upgrade. The lease condition is
                // repeated outside the subquery: PostgreSQL re-checks it on a row another
                // claimer just updated, so two workers never lease the same row.
                let mut rows: Vec<ClaimedRow> = match c {
                    AnyConnection::Sqlite(c) => diesel::sql_query(claim_sql('?', ""))
                        .bind::<Timestamp, _>(until)
                        .bind::<Timestamp, _>(now)
                        .bind::<BigInt, _>(limit)
                        .load(c),
                    AnyConnection::Postgresql(c) => {
                        diesel::sql_query(claim_sql('$', "FOR UPDATE OF o SKIP LOCKED"))
                            .bind::<Timestamp, _>(until)
                            .bind::<Timestamp, _>(now)
                            .bind::<BigInt, _>(limit)
                            .load(c)
                    }
                }
                .map_err(from_diesel)?;
                // RETURNING follows no ORDER BY: restore queue order.
                rows.sort_unstable_by_key(|row| row.id);
                Ok(rows.into_iter().map(ClaimedRow::into_entry).collect())
            })
            .await
    }

    async fn current(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<(EventView, TimeZoneName)>, RepoError> {
        let (user, event) = (entry.user, entry.event_id);
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
                Ok(Some((into_view(row)?, zone)))
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
                        Settlement::Delivered | Settlement::GiveUp { .. } => {
                            diesel::delete(this_version).execute(c)?
                        }
                        Settlement::RetryAt { retry_at, error } => diesel::update(this_version)
                            .set((
                                ob::attempts.eq(ob::attempts + 1),
                                ob::available_at.eq(to_db(*retry_at)),
                                ob::leased_until.eq(None::<chrono::NaiveDateTime>),
                                ob::last_error.eq(error),
                            ))
                            .execute(c)?,
                    };
                    if settled == 0 {
                        // A newer change was queued meanwhile: leave its row and status alone,
                        // only end our lease so it is worked next.
                        diesel::update(ob::table.find(entry.id))
                            .set(ob::leased_until.eq(None::<chrono::NaiveDateTime>))
                            .execute(c)?;
                    }
                    if entry.operation == SyncOperation::Upsert {
                        if let Settlement::Delivered = outcome {
                            // Google holds the event now, whatever is still queued.
                            diesel::update(mine)
                                .set(events::google_calendar_id.eq(entry.google_event_id.as_str()))
                                .execute(c)?;
                        }
                        if settled == 1 {
                            let (status, error) = match &outcome {
                                Settlement::Delivered => (SyncStatus::Synced, None),
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

    async fn release(&self, entries: &[OutboxEntry]) -> Result<(), RepoError> {
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        self.db
            .write(move |c| {
                diesel::update(ob::table.filter(ob::id.eq_any(ids)))
                    .set(ob::leased_until.eq(None::<chrono::NaiveDateTime>))
                    .execute(c)
                    .map(drop)
                    .map_err(from_diesel)
            })
            .await
    }

    async fn pause_user(&self, user: UserId, until: DateTime<Utc>) -> Result<(), RepoError> {
        let until = to_db(until);
        self.db
            .write(move |c| {
                diesel::update(users::table.find(user.0))
                    .set(users::google_sync_paused_until.eq(until))
                    .execute(c)
                    .map(drop)
                    .map_err(from_diesel)
            })
            .await
    }
}
