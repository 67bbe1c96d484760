//! Stopping a disconnecting user's watch channels with the token about to be revoked: Google
//! stops calling before the token stops working, even when it could not be reached at the
//! moment of disconnecting (the revocation waits, and retries, until they are stopped).

use super::ConnectionService;
use crate::calendar::CalendarError;
use crate::error::RepoError;
use crate::google::{EXPIRY_MARGIN, Secret};
use crate::ports::{OAuthError, PendingRevocation};

/// How stopping a revocation's channels ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stopped {
    /// None is left: each is stopped, unknown to Google, or beyond stopping.
    All,
    /// Google cannot be reached now; the rest is tried again with the revocation.
    NotNow(String),
}

impl ConnectionService {
    /// Stops each channel of `job` and forgets it once stopped (or unknown to Google). A
    /// channel that can never be stopped (the token is refused, or Google refuses the call)
    /// is forgotten too: it lapses at its expiry, and its notifications count no more.
    pub(super) async fn stop_channels(
        &self,
        job: &PendingRevocation,
    ) -> Result<Stopped, RepoError> {
        let Some(calendar) = &self.calendar else {
            return self.forget_channels(job, 0).await;
        };
        let (access, expires_at) = &job.access;
        let fresh = *expires_at - EXPIRY_MARGIN > self.clock.now();
        let mut token: Option<Secret> = fresh.then(|| access.clone());
        let mut refreshed = false;
        for (done, channel) in job.channels.iter().enumerate() {
            loop {
                let current = match &token {
                    Some(token) => token.clone(),
                    None => match self.oauth.refresh(&job.token).await {
                        Ok(grant) => {
                            refreshed = true;
                            token.insert(grant.access_token).clone()
                        }
                        Err(OAuthError::Unavailable(e)) => {
                            return Ok(Stopped::NotNow(e.to_string()));
                        }
                        Err(e) => {
                            tracing::warn!(user_id = job.user.0, error = %e, "the token cannot stop the watch channels; they lapse at their expiry");
                            return self.forget_channels(job, done).await;
                        }
                    },
                };
                match calendar.stop_channel(&current, channel).await {
                    Ok(()) | Err(CalendarError::Gone) => {}
                    Err(CalendarError::Unauthorized) if !refreshed => {
                        token = None;
                        continue;
                    }
                    Err(e @ CalendarError::Retryable { .. }) => {
                        return Ok(Stopped::NotNow(e.to_string()));
                    }
                    Err(e) => {
                        tracing::warn!(user_id = job.user.0, channel_id = channel.id, error = %e, "Google refused to stop a watch channel; it lapses at its expiry");
                    }
                }
                self.revocations.channel_stopped(&channel.id).await?;
                break;
            }
        }
        Ok(Stopped::All)
    }

    /// Forgets the channels of `job` from the `from`-th on.
    async fn forget_channels(
        &self,
        job: &PendingRevocation,
        from: usize,
    ) -> Result<Stopped, RepoError> {
        for channel in job.channels.iter().skip(from) {
            self.revocations.channel_stopped(&channel.id).await?;
        }
        Ok(Stopped::All)
    }
}
