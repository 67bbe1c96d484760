//! Errors of the domain, one enum per area.

use crate::validation::FieldErrors;

/// A boxed cause, for failures the domain only passes along.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a repository (any storage adapter) can report.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A uniqueness rule was violated; the text names what collided.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The storage failed; a real fault, not the caller's.
    #[error("storage failure")]
    Storage(#[source] Cause),
}

impl RepoError {
    /// Wraps any storage error.
    pub fn storage(cause: impl Into<Cause>) -> Self {
        RepoError::Storage(cause.into())
    }
}

/// Failures of registering, logging in and handling tokens.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The input broke a rule; the fields say which.
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// Unknown user or wrong password (deliberately not told apart).
    #[error("no active account found with the given credentials")]
    InvalidCredentials,
    /// A token that is malformed, forged, expired, of the wrong type or blacklisted.
    #[error("token is invalid or expired")]
    InvalidToken,
    /// The user in a valid token no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Hashing or signing failed.
    #[error("credential processing failed")]
    Internal(#[source] Cause),
}

/// Failures of the category and event operations.
#[derive(Debug, thiserror::Error)]
pub enum SchedulingError {
    /// The input broke a rule; the fields say which.
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// No such object for this user (another user's object is reported the same way).
    #[error("not found")]
    NotFound,
    /// A page number past the last page.
    #[error("invalid page")]
    InvalidPage,
    /// The user sees the object but may not change it (a shared default category); the text
    /// says why.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request is well formed but refused as a whole (deleting a category that events
    /// still use); the text says why, in words the user can act on.
    #[error("refused: {0}")]
    Refused(String),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<FieldErrors> for SchedulingError {
    fn from(errors: FieldErrors) -> Self {
        SchedulingError::Validation(errors)
    }
}

impl From<FieldErrors> for AccountError {
    fn from(errors: FieldErrors) -> Self {
        AccountError::Validation(errors)
    }
}
