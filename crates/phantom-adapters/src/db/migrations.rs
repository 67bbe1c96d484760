//! Embedded migrations, one folder per backend with the same names.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::{AnyConnection, Database, DbError};

pub(super) const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub(super) const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations of several servers starting at once against one PostgreSQL.
const PG_MIGRATION_LOCK: i64 = 0x0050_4841_4e54_4f4d; // "PHANTOM"

impl Database {
    /// Applies pending migrations; returns the versions applied.
    pub fn run_migrations(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.write_pool().get().map_err(DbError::Connect)?;
        let migrate = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migrate(e.to_string());
        let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
            versions.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        match &mut *conn {
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE).map(names).map_err(migrate)
            }
            AnyConnection::Postgresql(c) => {
                let lock = |sql: &str, c: &mut diesel::PgConnection| {
                    c.batch_execute(&format!("SELECT {sql}({PG_MIGRATION_LOCK})"))
                        .map_err(|e| DbError::Migrate(e.to_string()))
                };
                lock("pg_advisory_lock", c)?;
                let result = c
                    .run_pending_migrations(POSTGRES)
                    .map(names)
                    .map_err(migrate);
                lock("pg_advisory_unlock", c)?;
                result
            }
        }
    }
}
