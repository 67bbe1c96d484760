use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Cause;
use crate::ids::UserId;

/// Hashes and checks passwords (slow and salted by design).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A PHC string for `password`.
    async fn hash(&self, password: String) -> Result<String, Cause>;
    /// True when `password` matches `hash`. With no hash (an unknown user) it does the same
    /// work against a decoy and answers `false`, so the two cases take the same time.
    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Cause>;
}

/// The two kinds of token a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, exchanged for access tokens; blacklisted on logout.
    Refresh,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// Whose token.
    pub user_id: UserId,
    /// Which kind.
    pub kind: TokenKind,
    /// Unique id of this token.
    pub jti: String,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A freshly issued access and refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

/// Issues and checks signed tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Issues a token of `kind` for `user`.
    fn issue(&self, user: UserId, kind: TokenKind) -> Result<String, Cause>;
    /// Checks signature, algorithm, expiry and kind; `None` for any invalid token.
    fn decode(&self, token: &str, kind: Option<TokenKind>) -> Option<TokenClaims>;
}
