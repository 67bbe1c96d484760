use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use crate::error::{Cause, RepoError};
use crate::google::{
    ConnectionStatus, GoogleToken, OAuthState, PendingAuthorization, STATE_LIFETIME, Secret,
    StoredToken,
};
use crate::ids::UserId;
use crate::ports::{
    CalendarSync, Clock, OAuthError, OAuthProvider, OAuthStateStore, RevocationQueue, Sleeper,
    StateCodec, TokenStore,
};

/// Failures of connecting, using and disconnecting Google Calendar.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The server has no Google OAuth client configured.
    #[error("Google OAuth is not configured")]
    NotConfigured,
    /// The callback cannot be accepted; the message says why, in words for the user.
    #[error("{0}")]
    Refused(String),
    /// The user has not connected Google Calendar.
    #[error("Google Calendar is not connected")]
    NotConnected,
    /// Google refused the stored grant: the user must connect again.
    #[error("Google Calendar access was revoked or expired; reconnect Google Calendar")]
    NeedsReconnect,
    /// Google could not be reached or failed.
    #[error("Google is unavailable")]
    Unavailable(#[source] Cause),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

fn refused(message: &str) -> ConnectionError {
    ConnectionError::Refused(message.to_owned())
}

/// Where to send the user, and the nonce a browser-binding cookie carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStart {
    /// Google's consent screen.
    pub url: String,
    /// The state's nonce, for the cookie that ties the flow to this browser.
    pub nonce: String,
}

/// What arrives at the callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// `code` query parameter.
    pub code: Option<String>,
    /// `state` query parameter.
    pub state: Option<String>,
    /// `error` query parameter (`access_denied` when the user said no).
    pub error: Option<String>,
    /// The user of a Bearer token sent with the callback, if any.
    pub bearer_user: Option<UserId>,
    /// The nonce from the browser-binding cookie, if any.
    pub browser_nonce: Option<String>,
    /// Refuse a callback whose browser-binding cookie is missing or wrong.
    pub require_browser_binding: bool,
}

/// Connects, checks, uses and disconnects users' Google Calendar.
#[derive(Clone)]
pub struct ConnectionService {
    oauth: Arc<dyn OAuthProvider>,
    states: Arc<dyn OAuthStateStore>,
    codec: Arc<dyn StateCodec>,
    tokens: Arc<dyn TokenStore>,
    revocations: Arc<dyn RevocationQueue>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    /// Stops a disconnecting user's watch channels before their token is revoked.
    calendar: Option<Arc<dyn CalendarSync>>,
}

impl ConnectionService {
    /// Wires the service to its ports.
    pub fn new(
        oauth: Arc<dyn OAuthProvider>,
        states: Arc<dyn OAuthStateStore>,
        codec: Arc<dyn StateCodec>,
        tokens: Arc<dyn TokenStore>,
        revocations: Arc<dyn RevocationQueue>,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        Self {
            oauth,
            states,
            codec,
            tokens,
            revocations,
            clock,
            sleeper,
            calendar: None,
        }
    }

    /// Revocations stop the user's watch channels through `calendar` first (without it, the
    /// channels are forgotten and lapse at their expiry).
    pub fn stopping_channels_with(mut self, calendar: Arc<dyn CalendarSync>) -> Self {
        self.calendar = Some(calendar);
        self
    }

    /// Starts a connection: a signed, expiring state and a PKCE verifier kept server-side.
    pub async fn connect(&self, user: UserId) -> Result<AuthorizationStart, ConnectionError> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let expires_at = self.clock.now() + STATE_LIFETIME;
        let state = self.codec.sign(&OAuthState {
            user,
            nonce: nonce.clone(),
            expires_at,
        });
        let request = self
            .oauth
            .authorization_request(&state)
            .map_err(from_oauth)?;
        let pending = PendingAuthorization {
            user,
            pkce_verifier: request.pkce_verifier,
            expires_at,
        };
        self.states.put(&nonce, pending).await?;
        Ok(AuthorizationStart {
            url: request.url,
            nonce,
        })
    }

    /// Completes a connection; returns the connected user. Every check happens before anything
    /// is stored, and the state is consumed (single use) before the code is exchanged.
    pub async fn callback(&self, callback: Callback) -> Result<UserId, ConnectionError> {
        let now = self.clock.now();
        let text = callback
            .state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| refused("The state parameter is missing. Start again from connect."))?;
        let state = self
            .codec
            .verify(&text)
            .ok_or_else(|| refused("The state parameter is invalid. Start again from connect."))?;
        if state.expires_at <= now {
            return Err(refused(
                "This connection request has expired (10 minutes). Start again from connect.",
            ));
        }
        let pending = self.states.take(&state.nonce).await?.ok_or_else(|| {
            refused(
                "This connection request was already used or is unknown. Start again from connect.",
            )
        })?;
        if pending.user != state.user {
            return Err(refused(
                "The state parameter is invalid. Start again from connect.",
            ));
        }
        if callback.require_browser_binding
            && callback.browser_nonce.as_deref() != Some(state.nonce.as_str())
        {
            return Err(refused(
                "This connection was started in another browser. Start again from connect in this browser.",
            ));
        }
        if callback.bearer_user.is_some_and(|u| u != state.user) {
            return Err(refused("This connection was started by another user."));
        }
        if let Some(error) = callback.error {
            return Err(if error == "access_denied" {
                refused(
                    "Google Calendar access was denied. Connect again and allow access to use sync.",
                )
            } else {
                ConnectionError::Refused(format!(
                    "Google answered with the error \"{}\". Start again from connect.",
                    sanitize(&error)
                ))
            });
        }
        let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| {
            refused("The authorization code is missing. Start again from connect.")
        })?;
        let grant = self
            .oauth
            .exchange_code(&code, &pending.pkce_verifier)
            .await
            .map_err(|e| match e {
                OAuthError::InvalidGrant => refused(
                    "Google refused the authorization code (expired or already used). Start again from connect.",
                ),
                other => from_oauth(other),
            })?;
        if !grant.grants_calendar() {
            // We will not keep a grant we cannot use; give it back.
            if let Err(e) = self.oauth.revoke(&grant.access_token).await {
                tracing::warn!(user_id = state.user.0, error = %e, "revoking an unusable grant failed");
            }
            return Err(refused(
                "Google Calendar permission was not granted. Connect again and tick the box that lets Phantom Scheduler manage your calendar events.",
            ));
        }
        let refresh_token = grant.refresh_token.ok_or_else(|| {
            refused("Google did not return a refresh token. Remove Phantom Scheduler from your Google account's third-party access and connect again.")
        })?;
        let token = GoogleToken {
            access_token: grant.access_token,
            refresh_token,
            expires_at: grant.expires_at,
            scopes: grant.scopes,
        };
        self.tokens.connect(state.user, &token, now).await?;
        Ok(state.user)
    }

    /// The user's connection.
    pub async fn status(&self, user: UserId) -> Result<ConnectionStatus, ConnectionError> {
        Ok(self.tokens.status(user).await?)
    }

    /// Forgets the user's token (queuing its revocation in the same transaction, which takes
    /// over the user's watch channels), then tries the revocation at once: the channels are
    /// stopped with the token first, while it still works, and then it is revoked. Once the token is forgotten the user is disconnected, whatever
    /// Google answers: a revocation that fails now is retried by [`Self::revoke_pending`].
    pub async fn disconnect(&self, user: UserId) -> Result<(), ConnectionError> {
        self.tokens.remove(user).await?;
        self.settle_revocations(Some(user)).await?;
        Ok(())
    }

    /// Works the revocation queue: what is due is revoked at Google, and what Google cannot
    /// take now is rescheduled with a growing delay. Returns how many were settled.
    pub async fn revoke_pending(&self) -> Result<usize, ConnectionError> {
        self.settle_revocations(None).await
    }

    async fn settle_revocations(&self, user: Option<UserId>) -> Result<usize, ConnectionError> {
        let now = self.clock.now();
        let mut settled = 0;
        for job in self.revocations.due(now, user, REVOCATION_BATCH).await? {
            if let Stopped::NotNow(error) = self.stop_channels(&job).await? {
                let at = now + revocation_backoff(job.attempts);
                tracing::warn!(user_id = job.user.0, attempts = job.attempts + 1, retry_at = %at, error, "stopping watch channels before a revocation failed; will retry");
                self.revocations.retry_at(job.id, at, &error).await?;
                continue;
            }
            // Revoking the refresh token also revokes the access tokens issued from it; an
            // already invalid token counts as revoked (the provider answers Ok).
            match self.oauth.revoke(&job.token).await {
                Ok(()) => {
                    self.revocations.done(job.id).await?;
                    settled += 1;
                }
                Err(OAuthError::Unavailable(e)) => {
                    let at = now + revocation_backoff(job.attempts);
                    tracing::warn!(user_id = job.user.0, attempts = job.attempts + 1, retry_at = %at, error = %e, "revoking a Google token failed; will retry");
                    self.revocations
                        .retry_at(job.id, at, &e.to_string())
                        .await?;
                }
                Err(e) => {
                    // Google refuses the request itself: retrying cannot help.
                    tracing::error!(user_id = job.user.0, error = %e, "Google refused a revocation; dropped");
                    self.revocations.done(job.id).await?;
                    settled += 1;
                }
            }
        }
        Ok(settled)
    }

    /// A usable access token, refreshed first when it expires within a minute. One refresh
    /// per user runs at a time, across processes: the others wait for its result. A refused
    /// refresh marks the user as needing to reconnect, so no further token calls are made.
    pub async fn access_token(&self, user: UserId) -> Result<Secret, ConnectionError> {
        self.token(user, None).await
    }

    /// A new access token after Google refused `rejected` (a `401`), even if it had not
    /// expired by the clock; if another process already replaced it, that token is used.
    pub async fn access_token_after_rejection(
        &self,
        user: UserId,
        rejected: &Secret,
    ) -> Result<Secret, ConnectionError> {
        self.token(user, Some(rejected)).await
    }

    async fn token(
        &self,
        user: UserId,
        rejected: Option<&Secret>,
    ) -> Result<Secret, ConnectionError> {
        let mut seen: Option<Secret> = rejected.cloned();
        for _ in 0..=REFRESH_WAIT_POLLS {
            let token = match self.tokens.load(user).await? {
                StoredToken::Missing => return Err(ConnectionError::NotConnected),
                StoredToken::NeedsReconnect => return Err(ConnectionError::NeedsReconnect),
                StoredToken::Present(token) => token,
            };
            let now = self.clock.now();
            // Fresh enough, or just refreshed by whoever held the lease while we waited.
            let replaced = seen.as_ref().is_some_and(|s| *s != token.access_token);
            if replaced || (rejected.is_none() && !token.expires_soon(now)) {
                return Ok(token.access_token);
            }
            if self
                .tokens
                .try_lease_refresh(user, now, now + REFRESH_LEASE)
                .await?
            {
                return self.refresh_under_lease(user, &token.access_token).await;
            }
            seen.get_or_insert(token.access_token);
            self.sleeper.sleep(REFRESH_POLL).await;
        }
        Err(ConnectionError::Unavailable(
            "a token refresh in another process did not finish".into(),
        ))
    }

    /// Holding the lease, reads the token again: another process may have refreshed it
    /// between our read and our lease (double-checked locking). Only if it is still the one we
    /// read is it refreshed. Every path gives the lease back.
    async fn refresh_under_lease(
        &self,
        user: UserId,
        read: &Secret,
    ) -> Result<Secret, ConnectionError> {
        let current = match self.tokens.load(user).await? {
            StoredToken::Present(current) if current.access_token == *read => current,
            other => {
                self.tokens.release_refresh(user).await?;
                return match other {
                    StoredToken::Present(replaced) => Ok(replaced.access_token),
                    StoredToken::Missing => Err(ConnectionError::NotConnected),
                    StoredToken::NeedsReconnect => Err(ConnectionError::NeedsReconnect),
                };
            }
        };
        self.refresh(user, current).await
    }

    /// Refreshes while holding the lease; every path gives the lease back.
    async fn refresh(&self, user: UserId, token: GoogleToken) -> Result<Secret, ConnectionError> {
        match self.oauth.refresh(&token.refresh_token).await {
            Ok(grant) => {
                let fresh = GoogleToken {
                    access_token: grant.access_token,
                    // Google rarely rotates refresh tokens; keep ours unless it sent a new one.
                    refresh_token: grant.refresh_token.unwrap_or(token.refresh_token),
                    expires_at: grant.expires_at,
                    scopes: if grant.scopes.is_empty() {
                        token.scopes
                    } else {
                        grant.scopes
                    },
                };
                self.tokens.update(user, &fresh).await?;
                Ok(fresh.access_token)
            }
            Err(error) => {
                if matches!(error, OAuthError::InvalidGrant) {
                    self.tokens.mark_needs_reconnect(user).await?;
                }
                self.tokens.release_refresh(user).await?;
                Err(match error {
                    OAuthError::InvalidGrant => ConnectionError::NeedsReconnect,
                    other => from_oauth(other),
                })
            }
        }
    }
}

/// Revocations worked per call.
const REVOCATION_BATCH: u32 = 50;

/// One minute after the first failure, doubling, at most six hours apart.
fn revocation_backoff(attempts: u32) -> TimeDelta {
    let minutes = 1i64 << attempts.min(9);
    TimeDelta::minutes(minutes.min(6 * 60))
}

/// How long one refresh may hold the lease before another process may take over (a crashed
/// holder does not block the user for longer).
const REFRESH_LEASE: TimeDelta = TimeDelta::seconds(30);
/// How often a caller waiting for another's refresh looks again.
const REFRESH_POLL: Duration = Duration::from_millis(100);
/// How many times it looks before giving up: a little over one lease.
const REFRESH_WAIT_POLLS: u32 = 350;

fn from_oauth(e: OAuthError) -> ConnectionError {
    match e {
        OAuthError::NotConfigured => ConnectionError::NotConfigured,
        OAuthError::InvalidGrant => ConnectionError::NeedsReconnect,
        OAuthError::Rejected(reason) => ConnectionError::Refused(format!(
            "Google refused the request ({}). Start again from connect.",
            sanitize(&reason)
        )),
        OAuthError::Unavailable(cause) => ConnectionError::Unavailable(cause),
    }
}

/// Keeps only characters of an OAuth error code: nothing a caller sent is echoed raw.
fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

mod channel_stops;
use channel_stops::Stopped;
#[cfg(test)]
mod tests;
