//! Diesel repositories over SQLite and PostgreSQL from one code path.

mod blacklist;
mod categories;
mod channels;
mod connection;
mod error;
mod events;
mod google_reads;
mod group_commit;
pub mod health;
mod life;
mod migrations;
mod oauth_states;
mod outbox;
mod outbox_stats;
mod revocations;
pub mod schema;
mod series;
mod time;
mod tokens;
mod users;

pub use blacklist::DieselBlacklist;
pub use categories::DieselCategoryRepository;
pub use connection::{AnyConnection, Database, DatabaseUrl, DbError, SqliteCommit};
pub use events::DieselEventRepository;
pub use group_commit::GroupCommitStats;
pub use oauth_states::DieselOAuthStateStore;
pub use outbox::{DieselSyncQueue, GOOGLE_CHANGES_METRIC, RENEWALS_METRIC, RESCUED_METRIC};
pub use outbox_stats::OutboxStats;
pub use revocations::DieselRevocationQueue;
pub use tokens::DieselTokenStore;
pub use users::DieselUserRepository;

/// The first row of an `INSERT … RETURNING`.
///
/// Always read with `get_results`: on SQLite, `get_result` leaves the statement open and stops
/// the WAL auto-checkpoint (the WAL then grows without bound under load).
fn first<T>(rows: Vec<T>) -> diesel::QueryResult<T> {
    rows.into_iter()
        .next()
        .ok_or(diesel::result::Error::NotFound)
}
