//! Reading a user's calendar back: the read job of the user's lane.

use std::time::Duration;

use tracing::Instrument;

use super::{Lane, SyncService, delta};
use crate::calendar::CalendarError;
use crate::error::RepoError;
use crate::google::Secret;
use crate::google_changes::{ChannelRequest, OpenChannel, ReadRules};
use crate::ports::Applied;
use crate::services::ConnectionError;

/// How users' calendars are read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSettings {
    /// Each connected user's calendar is read this long after the last read
    /// (`PHANTOM_GOOGLE_POLL_SECS`); `None`: only when asked (connecting, notifications).
    pub poll: Option<Duration>,
    /// Google events that ended more than this many days ago are not imported
    /// (`PHANTOM_GOOGLE_IMPORT_DAYS_BACK`).
    pub import_days_back: u32,
    /// Push notifications, when the server has a public address (`PHANTOM_PUBLIC_URL`).
    pub push: Option<PushSettings>,
}

impl Default for ReadSettings {
    fn default() -> Self {
        Self {
            poll: Some(Duration::from_secs(300)),
            import_days_back: 30,
            push: None,
        }
    }
}

/// Where Google sends push notifications, and for how long a channel is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSettings {
    /// The notifications route's public address.
    pub address: String,
    /// `PHANTOM_GOOGLE_CHANNEL_TTL_SECS`.
    pub ttl: Duration,
}

impl PushSettings {
    /// A channel is renewed once less than this is left of it: half its life, at most a day.
    pub fn renew_before(&self) -> Duration {
        (self.ttl / 2).min(Duration::from_secs(24 * 3600))
    }
}

/// How a read ended.
enum Ended {
    /// Every page applied; the next read starts from this token.
    Done(Option<String>),
    /// Try again later.
    Failed(String),
    /// The worker stopped or lost its lease: the read stays due.
    Interrupted,
    /// The user must reconnect (or disconnected): no read until then.
    NoAccess,
}

/// The user's watch channel after [`SyncService::keep_watching`].
struct Watching {
    /// When it must be renewed.
    renew_at: chrono::DateTime<chrono::Utc>,
    /// Whether it was opened just now.
    opened: bool,
}

impl SyncService {
    /// Reads the user's changes from Google, page by page under the user's pacing, applying
    /// each page in one transaction (none is held while Google answers). An expired sync
    /// token starts a full read; a read that fails is tried again later with the same
    /// backoff as writes.
    pub(super) async fn read(&self, lane: &Lane) -> Result<(), RepoError> {
        let span = tracing::info_span!("google_read", user_id = lane.user.0);
        self.read_in_span(lane).instrument(span).await
    }

    async fn read_in_span(&self, lane: &Lane) -> Result<(), RepoError> {
        let user = lane.user;
        let Some(state) = self.queue.read_state(user, self.clock.now()).await? else {
            return Ok(());
        };
        let rules = self.read_rules(state.zone);
        let mut total = Applied::default();
        let mut token = match self.connection.access_token(user).await {
            Ok(token) => Some(token),
            Err(ConnectionError::NeedsReconnect | ConnectionError::NotConnected) => None,
            Err(e) => {
                let retry_at = self.clock.now() + delta(self.policy.round_delay(0));
                tracing::warn!(error = %e, "no Google access token for the read; retrying later");
                return self.queue.retry_read(user, retry_at).await;
            }
        };
        let ended = match token.as_mut() {
            Some(token) => {
                self.read_pages(lane, token, state.sync_token.clone(), rules, &mut total)
                    .await?
            }
            None => Ended::NoAccess,
        };
        let now = self.clock.now();
        match ended {
            Ended::Done(sync_token) => {
                let mut next = self
                    .reads
                    .poll
                    .map(|every| now + delta(spread(every, user.0)));
                if let (Some(push), Some(token)) = (&self.reads.push, &token)
                    && let Some(watching) = self.keep_watching(lane, token, push).await?
                {
                    let renew_at = watching.renew_at;
                    next = Some(next.map_or(renew_at, |n| n.min(renew_at)));
                    if watching.opened {
                        // Changes made after this read's last page and before the new channel
                        // was on record reached no channel (or one we did not know yet): read
                        // once more now, from this read's sync token.
                        next = Some(now);
                    }
                }
                self.queue
                    .finish_read(user, state.due_at, sync_token, now, next)
                    .await?;
                tracing::info!(
                    updated = total.updated,
                    deleted = total.deleted,
                    imported = total.imported,
                    deleted_in_google = total.deleted_in_google,
                    unchanged = total.unchanged,
                    "read Google Calendar changes"
                );
            }
            Ended::Failed(why) => {
                let retry_at = now + delta(self.policy.round_delay(0));
                tracing::warn!(
                    reason = why,
                    "reading Google Calendar failed; retrying later"
                );
                self.queue.retry_read(user, retry_at).await?;
            }
            Ended::NoAccess => {
                self.queue
                    .finish_read(user, state.due_at, state.sync_token, now, None)
                    .await?;
            }
            Ended::Interrupted => {}
        }
        Ok(())
    }

    /// Keeps one watch channel open for the user: a new one when none is left or the newest
    /// is in the last part of its life, opened before the others are stopped so no change
    /// goes unnotified. Returns when the channel must be renewed (the next read is due then at
    /// the latest) and whether a new one was opened. A failure is logged and tried again at the
    /// next read.
    async fn keep_watching(
        &self,
        lane: &Lane,
        token: &Secret,
        push: &PushSettings,
    ) -> Result<Option<Watching>, RepoError> {
        let user = lane.user;
        let renew_before = delta(push.renew_before());
        let mut channels = self.queue.channels(user).await?;
        let now = self.clock.now();
        let fresh = channels
            .iter()
            .rposition(|c| c.expires_at - renew_before > now);
        let (keep, opened) = match fresh {
            Some(i) => (channels.remove(i), false),
            None => {
                if !self.pace(user).await {
                    return Ok(None);
                }
                let request = ChannelRequest {
                    id: uuid::Uuid::new_v4().simple().to_string(),
                    address: push.address.clone(),
                    token: Secret::new(format!(
                        "{}{}",
                        uuid::Uuid::new_v4().simple(),
                        uuid::Uuid::new_v4().simple()
                    )),
                    ttl: push.ttl,
                };
                match self.calendar.watch(token, &request).await {
                    Ok(open) => {
                        if !self.queue.keep_channel(user, &open, &request.token).await? {
                            // Disconnected while it opened: nobody would stop it later.
                            self.stop_channel(token, &open).await?;
                            return Ok(None);
                        }
                        tracing::info!(channel_id = open.id, expires_at = %open.expires_at, "watch channel opened");
                        (open, true)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "opening a watch channel failed; polling meanwhile");
                        return Ok(None);
                    }
                }
            }
        };
        // The older ones go once the new one is open.
        for old in channels {
            if !self.pace(user).await {
                break;
            }
            self.stop_channel(token, &old).await?;
        }
        Ok(Some(Watching {
            renew_at: keep.expires_at - renew_before,
            opened,
        }))
    }

    /// `channels.stop`, then the channel is forgotten (also when Google knows it no more); a
    /// failure is logged and the channel kept, to be stopped at the next try.
    async fn stop_channel(&self, token: &Secret, channel: &OpenChannel) -> Result<(), RepoError> {
        match self.calendar.stop_channel(token, channel).await {
            Ok(()) | Err(CalendarError::Gone) => self.queue.forget_channel(&channel.id).await,
            Err(e) => {
                tracing::warn!(channel_id = channel.id, error = %e, "stopping a watch channel failed");
                Ok(())
            }
        }
    }

    /// A push notification from Google: `exists` and `not_exists` on a live channel with its
    /// exact token ask for a read of the channel's user; anything else changes nothing.
    /// Returns whether a read was asked for.
    pub async fn notified(
        &self,
        channel_id: &str,
        token: &str,
        state: &str,
    ) -> Result<bool, RepoError> {
        if !matches!(state, "exists" | "not_exists") {
            return Ok(false);
        }
        let now = self.clock.now();
        let Some(user) = self.queue.channel_owner(channel_id, token, now).await? else {
            return Ok(false);
        };
        self.queue.request_read(user, now).await?;
        Ok(true)
    }

    async fn read_pages(
        &self,
        lane: &Lane,
        token: &mut Secret,
        mut sync_token: Option<String>,
        rules: ReadRules,
        total: &mut Applied,
    ) -> Result<Ended, RepoError> {
        let user = lane.user;
        let (mut page, mut refreshed, mut restarted, mut retry) = (None, false, false, 0);
        loop {
            if !self.may_start(lane) || !self.pace(user).await {
                return Ok(Ended::Interrupted);
            }
            match self
                .calendar
                .list_changes(token, sync_token.clone(), page.clone())
                .await
            {
                Ok(changes) => {
                    retry = 0;
                    let applied = self
                        .queue
                        .apply_changes(
                            user,
                            lane.connection,
                            &changes.items,
                            ReadRules {
                                calendar_zone: changes
                                    .time_zone
                                    .as_deref()
                                    .and_then(|z| z.parse().ok()),
                                ..rules
                            },
                            self.clock.now(),
                        )
                        .await?;
                    if applied.disconnected {
                        // Disconnected (or connected anew) meanwhile: this read is no longer
                        // the user's. It ends as it is; a new connection has its own read due.
                        tracing::info!("disconnected during the read; nothing applied");
                        return Ok(Ended::Interrupted);
                    }
                    add(total, applied);
                    match changes.next_page_token {
                        Some(next) => page = Some(next),
                        None => return Ok(Ended::Done(changes.next_sync_token)),
                    }
                }
                Err(CalendarError::Gone) if sync_token.is_some() && !restarted => {
                    // 410 fullSyncRequired: read everything again; what was applied stays,
                    // and applying it again changes nothing.
                    tracing::info!("sync token expired; reading the whole calendar");
                    (sync_token, page, restarted) = (None, None, true);
                }
                Err(CalendarError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    *token = match self
                        .connection
                        .access_token_after_rejection(user, token)
                        .await
                    {
                        Ok(token) => token,
                        Err(_) => return Ok(Ended::NoAccess),
                    };
                }
                Err(CalendarError::Retryable {
                    reason,
                    retry_after,
                }) if retry < self.policy.max_retries => {
                    let wait = self.policy.delay(retry, retry_after);
                    if wait > super::MAX_IN_ROUND_WAIT {
                        return Ok(Ended::Failed(reason));
                    }
                    retry += 1;
                    if !self.wait(wait).await {
                        return Ok(Ended::Interrupted);
                    }
                }
                Err(other) => return Ok(Ended::Failed(other.to_string())),
            }
        }
    }
}

fn add(total: &mut Applied, page: Applied) {
    total.updated += page.updated;
    total.deleted += page.deleted;
    total.imported += page.imported;
    total.deleted_in_google += page.deleted_in_google;
    total.unchanged += page.unchanged;
}

/// `every`, shifted by up to a tenth of it by the user's id, so that users connected at the
/// same moment (a restart, a migration) are not all read at the same moment ever after.
fn spread(every: Duration, user: i64) -> Duration {
    let tenth = every.as_millis() / 10;
    let shift = u64::try_from(user.unsigned_abs() as u128 * 7919 % tenth.max(1)).unwrap_or(0);
    every + Duration::from_millis(shift)
}
