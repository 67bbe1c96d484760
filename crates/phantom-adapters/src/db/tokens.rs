//! Google tokens, sealed with AES-256-GCM in `users.google_calendar_token`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::google::{ConnectionStatus, GoogleToken, Secret, StoredToken, SyncSummary};
use phantom_domain::ids::UserId;
use phantom_domain::ports::TokenStore;
use phantom_domain::recurrence::{OriginalStart, google_instance_id};
use phantom_domain::sync::SyncStatus;
use serde::{Deserialize, Serialize};

use super::AnyConnection;
use super::error::{from_diesel, storage};
use super::events::{Operation, enqueue, enqueue_for, mark_due};
use super::schema::{
    event_occurrences, events, google_channels, google_revocations, sync_outbox, users,
};
use super::time::{from_db, to_db};
use super::{Database, channels};
use crate::crypto::TokenCipher;

/// The JSON that is sealed: everything Google granted.
#[derive(Serialize, Deserialize)]
struct TokenJson {
    access_token: String,
    refresh_token: String,
    expires_at: DateTime<Utc>,
    scopes: Vec<String>,
}

/// Associated data: a sealed token opens only in its owner's row.
fn owner(user: UserId) -> Vec<u8> {
    format!("phantom user {}", user.0).into_bytes()
}

/// Opens a sealed token of `user`; `None` (logged) when it does not open.
pub(super) fn open_token(cipher: &TokenCipher, user: UserId, sealed: &str) -> Option<GoogleToken> {
    let opened = cipher
        .open(sealed, &owner(user))
        .map_err(
            |e| tracing::warn!(user_id = user.0, error = %e, "stored Google token does not open"),
        )
        .ok()?;
    let json: TokenJson = serde_json::from_slice(&opened).ok()?;
    Some(GoogleToken {
        access_token: Secret::new(json.access_token),
        refresh_token: Secret::new(json.refresh_token),
        expires_at: json.expires_at,
        scopes: json.scopes,
    })
}

/// [`TokenStore`] over the `users` table.
#[derive(Debug, Clone)]
pub struct DieselTokenStore {
    db: Database,
    cipher: Arc<TokenCipher>,
}

impl DieselTokenStore {
    /// A store on `db` sealing with `cipher`.
    pub fn new(db: Database, cipher: Arc<TokenCipher>) -> Self {
        Self { db, cipher }
    }

    fn seal(&self, user: UserId, token: &GoogleToken) -> Result<String, RepoError> {
        let json = serde_json::to_vec(&TokenJson {
            access_token: token.access_token.expose().to_owned(),
            refresh_token: token.refresh_token.expose().to_owned(),
            expires_at: token.expires_at,
            scopes: token.scopes.clone(),
        })
        .map_err(storage)?;
        self.cipher.seal(&json, &owner(user)).map_err(storage)
    }

    /// `None` when the blob does not open (a lost key, a copied row): the user must reconnect.
    fn open(&self, user: UserId, sealed: &str) -> Option<GoogleToken> {
        open_token(&self.cipher, user, sealed)
    }

    /// Re-seals every stored token under the current key; returns how many changed. Tokens
    /// that do not open are left alone (they already mean "needs reconnect").
    pub async fn reseal_all(&self) -> Result<usize, RepoError> {
        let rows: Vec<(i64, String)> = self
            .db
            .read(|c| {
                users::table
                    .filter(users::google_calendar_token.is_not_null())
                    .select((users::id, users::google_calendar_token.assume_not_null()))
                    .load(c)
                    .map_err(from_diesel)
            })
            .await?;
        let mut changed = 0;
        for (id, sealed) in rows {
            let user = UserId(id);
            if self.cipher.is_current(&sealed) {
                continue;
            }
            let Some(token) = self.open(user, &sealed) else {
                continue;
            };
            let resealed = self.seal(user, &token)?;
            let updated = self
                .db
                .write(move |c| {
                    // Only if nobody changed it meanwhile (a refresh, a disconnect).
                    diesel::update(
                        users::table
                            .find(id)
                            .filter(users::google_calendar_token.eq(sealed)),
                    )
                    .set(users::google_calendar_token.eq(resealed))
                    .execute(c)
                    .map_err(from_diesel)
                })
                .await?;
            changed += updated;
        }
        Ok(changed)
    }
}

/// The backfill of the series' occurrences changed or cancelled on their own (after the
/// series themselves, `existing`, so each instance write follows its series'): a patch of
/// each changed instance, a delete of each cancelled one. Their etags belong to the old
/// connection too.
fn backfill_occurrences(
    c: &mut AnyConnection,
    user: i64,
    existing: &[(i64, String)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let changed: Vec<(i64, String, bool)> =
        diesel::update(event_occurrences::table.filter(event_occurrences::user_id.eq(user)))
            .set(event_occurrences::google_etag.eq(None::<String>))
            .returning((
                event_occurrences::series_id,
                event_occurrences::original_start,
                event_occurrences::cancelled,
            ))
            .get_results(c)?;
    let series: HashMap<i64, &str> = existing
        .iter()
        .map(|(id, google_id)| (*id, google_id.as_str()))
        .collect();
    for (series_id, key, cancelled) in &changed {
        let (Some(google_id), Some(at)) =
            (series.get(series_id), OriginalStart::parse_id_suffix(key))
        else {
            continue;
        };
        let op = if *cancelled {
            Operation::Delete
        } else {
            Operation::UPSERT
        };
        let instance = google_instance_id(google_id, at);
        enqueue_for(c, user, *series_id, &instance, Some(key), op, None, now)?;
    }
    Ok(())
}

#[async_trait]
impl TokenStore for DieselTokenStore {
    async fn connect(
        &self,
        user: UserId,
        token: &GoogleToken,
        connected_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let sealed = self.seal(user, token)?;
        // Alone: the backfill queues every event of the user, a long write; the short writes
        // queued with it are answered first rather than after it.
        self.db
            .write_alone(move |c| {
                c.transaction(|c| {
                    // Backfill: every existing event is queued (collapsing into rows parked
                    // while the user had to reconnect, which are due again now). Events, then
                    // the user row, then outbox rows: the order every writer locks them in.
                    let now = to_db(connected_at);
                    let existing: Vec<(i64, String)> =
                        diesel::update(events::table.filter(events::user_id.eq(user.0)))
                            .set((
                                events::sync_status.eq(SyncStatus::Pending.as_str()),
                                events::sync_error.eq(None::<String>),
                                // An etag belongs to one connection (perhaps another
                                // account): the new one's first full read, which runs before
                                // these writes, learns again those Google still holds.
                                events::google_etag.eq(None::<String>),
                            ))
                            .returning((events::id, events::google_event_id))
                            .get_results(c)?;
                    diesel::update(users::table.find(user.0))
                        .set((
                            users::google_calendar_token.eq(sealed),
                            users::google_connected_at.eq(now),
                            users::google_needs_reconnect.eq(false),
                            // A new grant, perhaps another account: try its quota afresh.
                            users::google_sync_paused_until.eq(None::<NaiveDateTime>),
                            // And read its calendar from the start, at once.
                            users::google_sync_token.eq(None::<String>),
                            users::google_read_due_at.eq(now),
                        ))
                        .execute(c)?;
                    for (event, google_id) in &existing {
                        enqueue(c, user.0, *event, google_id, Operation::UPSERT, None, now)?;
                    }
                    backfill_occurrences(c, user.0, &existing, now)?;
                    mark_due(c, user.0, now)?;
                    Ok(())
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn update(&self, user: UserId, token: &GoogleToken) -> Result<(), RepoError> {
        let sealed = self.seal(user, token)?;
        self.db
            .write(move |c| {
                // A disconnect that happened meanwhile wins: never bring a token back.
                diesel::update(
                    users::table
                        .find(user.0)
                        .filter(users::google_calendar_token.is_not_null()),
                )
                .set((
                    users::google_calendar_token.eq(sealed),
                    users::google_refresh_lease_until.eq(None::<NaiveDateTime>),
                ))
                .execute(c)
                .map_err(from_diesel)
                .map(drop)
            })
            .await
    }

    async fn try_lease_refresh(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.db
            .write(move |c| {
                // One conditional UPDATE: atomic on PostgreSQL (row lock) and SQLite (one writer).
                let taken = diesel::update(
                    users::table
                        .find(user.0)
                        .filter(users::google_calendar_token.is_not_null())
                        .filter(
                            users::google_refresh_lease_until
                                .is_null()
                                .or(users::google_refresh_lease_until.lt(to_db(now))),
                        ),
                )
                .set(users::google_refresh_lease_until.eq(to_db(until)))
                .execute(c)
                .map_err(from_diesel)?;
                Ok(taken == 1)
            })
            .await
    }

    async fn release_refresh(&self, user: UserId) -> Result<(), RepoError> {
        self.db
            .write(move |c| {
                diesel::update(users::table.find(user.0))
                    .set(users::google_refresh_lease_until.eq(None::<NaiveDateTime>))
                    .execute(c)
                    .map_err(from_diesel)
                    .map(drop)
            })
            .await
    }

    async fn load(&self, user: UserId) -> Result<StoredToken, RepoError> {
        let row: Option<(Option<String>, bool)> = self
            .db
            .read(move |c| {
                users::table
                    .find(user.0)
                    .select((users::google_calendar_token, users::google_needs_reconnect))
                    .first(c)
                    .optional()
                    .map_err(from_diesel)
            })
            .await?;
        Ok(match row {
            None | Some((None, _)) => StoredToken::Missing,
            Some((Some(_), true)) => StoredToken::NeedsReconnect,
            Some((Some(sealed), false)) => self
                .open(user, &sealed)
                .map_or(StoredToken::NeedsReconnect, StoredToken::Present),
        })
    }

    async fn remove(&self, user: UserId) -> Result<Option<GoogleToken>, RepoError> {
        let sealed: Option<String> = self
            .db
            .write(move |c| {
                c.transaction(|c| {
                    let sealed = users::table
                        .find(user.0)
                        .select(users::google_calendar_token)
                        .first::<Option<String>>(c)
                        .optional()?
                        .flatten();
                    let mut revocation = None;
                    if let Some(sealed) = &sealed {
                        // Durable from the moment the token is forgotten: revoked even if
                        // Google is down now or the process dies before it tries.
                        let id = diesel::insert_into(google_revocations::table)
                            .values((
                                google_revocations::user_id.eq(user.0),
                                google_revocations::token.eq(sealed),
                                google_revocations::available_at.eq(to_db(Utc::now())),
                                google_revocations::created_at.eq(to_db(Utc::now())),
                            ))
                            .returning(google_revocations::id)
                            .get_results::<i64>(c)
                            .and_then(super::first)?;
                        revocation = Some(id);
                    }
                    // Queued syncs stop with the connection; the events say so. Events, then
                    // the user row, then outbox rows: the order every writer locks them in.
                    diesel::update(
                        events::table
                            .filter(events::user_id.eq(user.0))
                            .filter(events::sync_status.ne(SyncStatus::Synced.as_str())),
                    )
                    .set((
                        events::sync_status.eq(SyncStatus::NotConnected.as_str()),
                        events::sync_error.eq(None::<String>),
                    ))
                    .execute(c)?;
                    diesel::update(users::table.find(user.0))
                        .set((
                            users::google_calendar_token.eq(None::<String>),
                            users::google_connected_at.eq(None::<NaiveDateTime>),
                            users::google_needs_reconnect.eq(false),
                            users::sync_due_at.eq(None::<NaiveDateTime>),
                            users::google_sync_token.eq(None::<String>),
                            users::google_read_due_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(c)?;
                    diesel::delete(sync_outbox::table.filter(sync_outbox::user_id.eq(user.0)))
                        .execute(c)?;
                    // After the user row: a channel being kept meanwhile (which locks that
                    // row, see `channels::keep`) is either in by now or never kept.
                    if let Some(revocation) = revocation {
                        // Stopped by the revocation, with this token, before it is revoked.
                        channels::hand_over(c, user, revocation)?;
                    }
                    // Channels not handed over (no token to stop them with) lapse at their
                    // expiry; their notifications are ignored from now on.
                    diesel::delete(
                        google_channels::table
                            .filter(google_channels::user_id.eq(user.0))
                            .filter(google_channels::revocation_id.is_null()),
                    )
                    .execute(c)?;
                    Ok(sealed)
                })
                .map_err(from_diesel)
            })
            .await?;
        Ok(sealed.and_then(|s| self.open(user, &s)))
    }

    async fn mark_needs_reconnect(&self, user: UserId) -> Result<(), RepoError> {
        self.db
            .write(move |c| {
                // The user's queue waits for a new connection; claims stop looking at it.
                diesel::update(users::table.find(user.0))
                    .set((
                        users::google_needs_reconnect.eq(true),
                        users::sync_due_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(c)
                    .map_err(from_diesel)
                    .map(drop)
            })
            .await
    }

    async fn status(&self, user: UserId) -> Result<ConnectionStatus, RepoError> {
        type UserRow = (
            Option<String>,
            bool,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        );
        let (row, counts, last_error, channel_expires_at) = self
            .db
            .read(move |c| {
                // One snapshot, so the counts agree with each other.
                c.transaction(|c| {
                    let row: Option<UserRow> = users::table
                        .find(user.0)
                        .select((
                            users::google_calendar_token,
                            users::google_needs_reconnect,
                            users::google_connected_at,
                            users::google_sync_paused_until,
                            users::google_last_read_at,
                        ))
                        .first(c)
                        .optional()?;
                    let mine = || events::table.filter(events::user_id.eq(user.0));
                    let counts: Vec<(String, i64)> = mine()
                        .group_by(events::sync_status)
                        .select((events::sync_status, diesel::dsl::count_star()))
                        .load(c)?;
                    let last_error: Option<Option<String>> = mine()
                        .filter(events::sync_error.is_not_null())
                        .order(events::updated_at.desc())
                        .select(events::sync_error)
                        .first(c)
                        .optional()?;
                    let channel: Option<NaiveDateTime> = google_channels::table
                        .filter(google_channels::user_id.eq(user.0))
                        .filter(google_channels::expires_at.gt(to_db(Utc::now())))
                        .filter(google_channels::revocation_id.is_null())
                        .select(diesel::dsl::max(google_channels::expires_at))
                        .first(c)?;
                    Ok((row, counts, last_error.flatten(), channel))
                })
                .map_err(from_diesel)
            })
            .await?;
        let (sealed, refused, connected_at, paused_until, last_read_at) =
            row.unwrap_or((None, false, None, None, None));
        let count = |status: SyncStatus| {
            counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
        };
        let sync = SyncSummary {
            pending: count(SyncStatus::Pending),
            failed: count(SyncStatus::Failed),
            paused_until: paused_until.map(from_db),
            last_error,
        };
        // A token that no longer opens (a lost or rotated-away key) is as good as refused.
        let has_token = sealed.is_some();
        let usable = !refused && sealed.is_some_and(|s| self.open(user, &s).is_some());
        Ok(ConnectionStatus {
            connected: usable,
            needs_reconnect: has_token && !usable,
            connected_at: connected_at.map(from_db),
            sync,
            last_read_at: last_read_at.map(from_db),
            channel_expires_at: channel_expires_at.map(from_db),
        })
    }
}
