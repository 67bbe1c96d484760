//! Google Calendar connection: tokens, the OAuth state, and what a user's connection looks like.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::UserId;

/// The only scope we ask for: read and write events, nothing else of the user's calendars.
pub const CALENDAR_EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

/// How long a user has to come back from Google's consent screen.
pub const STATE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// An access token is treated as expired this long before Google says it is.
pub const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// A string that must never be logged or shown: its `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

/// What Google granted a user, as we keep it (encrypted at rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleToken {
    /// Bearer token for the Calendar API.
    pub access_token: Secret,
    /// Long-lived token to get new access tokens.
    pub refresh_token: Secret,
    /// When Google stops accepting `access_token`.
    pub expires_at: DateTime<Utc>,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

impl GoogleToken {
    /// True when the access token expires within [`EXPIRY_MARGIN`] of `now`.
    pub fn expires_soon(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - EXPIRY_MARGIN <= now
    }
}

/// What a token endpoint answered (a refresh usually carries no refresh token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// New access token.
    pub access_token: Secret,
    /// New refresh token, if Google sent one.
    pub refresh_token: Option<Secret>,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

impl TokenGrant {
    /// True when the calendar-events scope (or full calendar access) was granted.
    pub fn grants_calendar(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| s == CALENDAR_EVENTS_SCOPE || s == "https://www.googleapis.com/auth/calendar")
    }
}

/// What the signed `state` parameter carries through Google's consent screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// Who started the connection.
    pub user: UserId,
    /// Single-use random value; the server keeps the PKCE verifier under it.
    pub nonce: String,
    /// After this, the state is refused.
    pub expires_at: DateTime<Utc>,
}

/// What the server keeps between `connect` and `callback`, under the state's nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Who started the connection.
    pub user: UserId,
    /// The PKCE code verifier.
    pub pkce_verifier: Secret,
    /// After this, the callback is refused.
    pub expires_at: DateTime<Utc>,
}

/// A user's stored token, as far as the store can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredToken {
    /// Never connected, or disconnected.
    Missing,
    /// Connected.
    Present(GoogleToken),
    /// Google refused the refresh token, or the stored blob cannot be decrypted (a lost or
    /// rotated-away key): the user must connect again.
    NeedsReconnect,
}

/// A user's connection as the status endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// A usable token is stored.
    pub connected: bool,
    /// The user must connect again.
    pub needs_reconnect: bool,
    /// When the current connection was made.
    pub connected_at: Option<DateTime<Utc>>,
    /// How the user's events stand with Google Calendar.
    pub sync: SyncSummary,
    /// When a read of the user's calendar last completed.
    pub last_read_at: Option<DateTime<Utc>>,
    /// When the user's latest live watch channel expires; `None` without one.
    pub channel_expires_at: Option<DateTime<Utc>>,
}

/// How a user's events stand with Google Calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Events whose latest change is still on its way.
    pub pending: u64,
    /// Events whose latest change failed (being retried, or refused).
    pub failed: u64,
    /// Google's daily quota for the account is spent: nothing is sent before this time.
    pub paused_until: Option<DateTime<Utc>>,
    /// The `sync_error` of the most recently edited event that has one.
    pub last_error: Option<String>,
}
