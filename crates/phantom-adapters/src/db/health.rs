//! Readiness: the database answers, and every embedded migration has been applied.

use diesel::connection::SimpleConnection;
use diesel_migrations::MigrationHarness;
use phantom_domain::error::RepoError;

use super::connection::{AnyConnection, Database};
use super::error::storage;
use super::migrations::{POSTGRES, SQLITE};

/// Why the database is not ready to serve requests.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    /// No connection could be had, or a trivial query failed. The cause may name the host,
    /// so show it to operators (logs) only, never to clients.
    #[error("the database does not answer")]
    Unavailable(#[source] RepoError),
    /// The database answers, but some of the migrations embedded in this binary have not been
    /// applied to it (run `phantom migrate`, or start `phantom serve`, which applies them).
    #[error("the database has pending migrations")]
    PendingMigrations,
}

impl Database {
    /// Checks that the database answers a trivial query and that no embedded migration is
    /// pending. Runs on a pooled read connection, off the executor.
    ///
    /// Listing the applied migrations uses diesel's harness, which creates its bookkeeping
    /// table if it is missing (`CREATE TABLE IF NOT EXISTS`, a no-op on a migrated database).
    pub async fn readiness(&self) -> Result<(), ReadinessError> {
        let pending = self
            .read(|conn| {
                conn.batch_execute("SELECT 1").map_err(storage)?;
                match conn {
                    AnyConnection::Sqlite(c) => c.has_pending_migration(SQLITE),
                    AnyConnection::Postgresql(c) => c.has_pending_migration(POSTGRES),
                }
                .map_err(storage)
            })
            .await
            .map_err(ReadinessError::Unavailable)?;
        if pending {
            Err(ReadinessError::PendingMigrations)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}/phantom.db", dir.path().display());
        Database::connect(&url).expect("connect")
    }

    #[tokio::test]
    async fn a_fresh_unmigrated_database_is_not_ready_until_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir);
        assert!(matches!(
            db.readiness().await,
            Err(ReadinessError::PendingMigrations)
        ));
        db.run_migrations().expect("migrate");
        assert!(db.readiness().await.is_ok());
    }

    #[tokio::test]
    async fn a_forgotten_migration_makes_it_unready_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir);
        db.run_migrations().expect("migrate");
        db.write(|conn| {
            conn.batch_execute(
                "DELETE FROM __diesel_schema_migrations \
                 WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
            )
            .map_err(storage)
        })
        .await
        .expect("delete");
        assert!(matches!(
            db.readiness().await,
            Err(ReadinessError::PendingMigrations)
        ));
    }

    #[tokio::test]
    async fn a_broken_database_is_unavailable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir);
        db.run_migrations().expect("migrate");
        // The bookkeeping table replaced by a view over a table that is then dropped: the
        // database still answers `SELECT 1`, but listing migrations fails.
        db.write(|conn| {
            conn.batch_execute(
                "CREATE TABLE gone (version TEXT, run_on TIMESTAMP);
                 DROP TABLE __diesel_schema_migrations;
                 CREATE VIEW __diesel_schema_migrations AS SELECT version, run_on FROM gone;
                 DROP TABLE gone;",
            )
            .map_err(storage)
        })
        .await
        .expect("break");
        let result = db.readiness().await;
        assert!(
            matches!(result, Err(ReadinessError::Unavailable(_))),
            "{result:?}"
        );
    }
}
