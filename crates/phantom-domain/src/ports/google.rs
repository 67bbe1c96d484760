use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Cause, RepoError};
use crate::google::{
    ConnectionStatus, GoogleToken, OAuthState, PendingAuthorization, Secret, StoredToken,
    TokenGrant,
};
use crate::google_changes::OpenChannel;
use crate::ids::UserId;

/// Why a call to Google's OAuth endpoints failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// No client id/secret is configured.
    #[error("Google OAuth is not configured")]
    NotConfigured,
    /// Google refused the code or refresh token (`invalid_grant`): expired, used or revoked.
    #[error("Google refused the grant (invalid_grant)")]
    InvalidGrant,
    /// Google answered with another error (`invalid_client`, `invalid_token`, …).
    #[error("Google refused the request: {0}")]
    Rejected(String),
    /// Google could not be reached or failed (network error, timeout, 5xx).
    #[error("Google is unavailable")]
    Unavailable(#[source] Cause),
}

/// The start of an authorization: where to send the user, and the PKCE verifier to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// Google's consent screen, with every parameter set.
    pub url: String,
    /// The PKCE verifier matching the challenge in `url`.
    pub pkce_verifier: Secret,
}

/// Google's OAuth 2.0 web-server flow.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OAuthProvider: Send + Sync {
    /// The consent-screen URL for `state`: offline access, the calendar-events scope only,
    /// PKCE S256.
    fn authorization_request(&self, state: &str) -> Result<AuthorizationRequest, OAuthError>;
    /// Exchanges an authorization code.
    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret,
    ) -> Result<TokenGrant, OAuthError>;
    /// Gets a new access token.
    async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, OAuthError>;
    /// Revokes a token (RFC 7009); an already invalid token counts as revoked.
    async fn revoke(&self, token: &Secret) -> Result<(), OAuthError>;
}

/// Signs and checks the OAuth `state` parameter.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait StateCodec: Send + Sync {
    /// A tamper-proof string carrying `state`.
    fn sign(&self, state: &OAuthState) -> String;
    /// The state, if `text` was signed by us (expiry is the caller's check).
    fn verify(&self, text: &str) -> Option<OAuthState>;
}

/// Keeps pending authorizations between `connect` and `callback`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    /// Stores `pending` under `nonce`.
    async fn put(&self, nonce: &str, pending: PendingAuthorization) -> Result<(), RepoError>;
    /// Removes and returns what is stored under `nonce`: a second call finds nothing.
    async fn take(&self, nonce: &str) -> Result<Option<PendingAuthorization>, RepoError>;
}

/// Keeps users' Google tokens, encrypted.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores the token of a new connection, made at `connected_at`, and in the same
    /// transaction queues every existing event of the user for Google Calendar (backfill).
    async fn connect(
        &self,
        user: UserId,
        token: &GoogleToken,
        connected_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// Replaces the token after a refresh, keeping the connection as it is, and releases the
    /// refresh lease.
    async fn update(&self, user: UserId, token: &GoogleToken) -> Result<(), RepoError>;
    /// Takes the user's refresh lease until `until` if nobody holds it: one refresh per user at
    /// a time across every process sharing the store. `false` when another holds it.
    async fn try_lease_refresh(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// Gives the refresh lease back without a new token (the refresh failed).
    async fn release_refresh(&self, user: UserId) -> Result<(), RepoError>;
    /// The user's token, if any and readable.
    async fn load(&self, user: UserId) -> Result<StoredToken, RepoError>;
    /// Forgets the token and, in the same transaction, queues its revocation at Google (see
    /// [`RevocationQueue`]); returns it if it was readable.
    async fn remove(&self, user: UserId) -> Result<Option<GoogleToken>, RepoError>;
    /// Keeps the user from being worked for until they connect again.
    async fn mark_needs_reconnect(&self, user: UserId) -> Result<(), RepoError>;
    /// What the status endpoint shows.
    async fn status(&self, user: UserId) -> Result<ConnectionStatus, RepoError>;
}

/// A token waiting to be revoked at Google.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRevocation {
    /// Queue entry id.
    pub id: i64,
    /// Whose token it was.
    pub user: UserId,
    /// The token to revoke.
    pub token: Secret,
    /// The last access token issued with it, and when it expires (to stop `channels` with).
    pub access: (Secret, DateTime<Utc>),
    /// The user's watch channels, to stop before the token is revoked (while it still works).
    pub channels: Vec<OpenChannel>,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Durable queue of revocations (filled by [`TokenStore::remove`] in its transaction).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RevocationQueue: Send + Sync {
    /// Up to `limit` revocations due at `now` (of `user` only, if given), oldest first.
    async fn due(
        &self,
        now: DateTime<Utc>,
        user: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PendingRevocation>, RepoError>;
    /// Google confirmed (or the token was already invalid): forget it.
    async fn done(&self, id: i64) -> Result<(), RepoError>;
    /// Try again at `at`, recording why this attempt failed.
    async fn retry_at(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), RepoError>;
    /// A channel of a revocation is stopped (or cannot be any more): forget it.
    async fn channel_stopped(&self, channel_id: &str) -> Result<(), RepoError>;
}
