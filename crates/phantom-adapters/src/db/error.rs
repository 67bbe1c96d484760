//! Mapping diesel and pool errors into the domain's [`RepoError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use phantom_domain::error::RepoError;

/// Any failure the caller cannot fix.
pub(crate) fn storage(e: impl Into<phantom_domain::error::Cause>) -> RepoError {
    RepoError::storage(e)
}

/// A unique violation becomes [`RepoError::Conflict`]; anything else is a storage failure.
pub(crate) fn from_diesel(e: DieselError) -> RepoError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            RepoError::Conflict(info.message().to_owned())
        }
        other => storage(other),
    }
}
