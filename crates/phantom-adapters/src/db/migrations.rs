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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use diesel_migrations::MigrationHarness;

    use super::SQLITE;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(c: &mut SqliteConnection, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(c)
            .expect("count")
            .n
    }

    /// The SQLite migration that makes Google ids unique per user rebuilds `events`: the rows,
    /// the indexes, the `event_stats` triggers and the rows that refer to events all survive,
    /// and the new rule holds (the same id for two users, never twice for one).
    #[test]
    fn google_ids_become_unique_per_user_and_existing_events_survive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let mut c = SqliteConnection::establish(path.to_str().expect("utf-8")).expect("open");
        c.batch_execute("PRAGMA foreign_keys = ON").expect("pragma");
        let pending = c.pending_migrations(SQLITE).expect("pending");
        let (before, after): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|m| m.name().to_string().as_str() < "2026-12-07-000014");
        assert!(
            after
                .first()
                .is_some_and(|m| m.name().to_string().starts_with("2026-12-07-000014")),
            "the rows are made before the rebuild"
        );
        for migration in &before {
            c.run_migration(migration).expect("an older migration");
        }
        c.batch_execute(
            "INSERT INTO users (id, username, email, name, password_hash, timezone, \
                 default_event_duration, created_at) \
                 VALUES (1, 'ada', '', '', 'x', 'UTC', 60, '2026-11-01 00:00:00'), \
                        (2, 'bo', '', '', 'x', 'UTC', 60, '2026-11-01 00:00:00'); \
             INSERT INTO events (user_id, category_id, title, start_time, end_time, \
                 google_event_id, google_etag, created_at, updated_at) \
                 VALUES (1, 1, 'Exam', '2026-11-24 09:00:00', '2026-11-24 11:00:00', \
                         'abc123', '\"e1\"', '2026-11-01 00:00:00', '2026-11-01 00:00:00'); \
             INSERT INTO sync_outbox (user_id, event_id, google_event_id, operation, \
                 available_at, created_at, updated_at) \
                 VALUES (1, 1, 'abc123', 'upsert', '2026-11-01 00:00:00', \
                         '2026-11-01 00:00:00', '2026-11-01 00:00:00');",
        )
        .expect("an older database's rows");
        for migration in &after {
            c.run_migration(migration).expect("a newer migration");
        }

        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) AS n FROM events \
                 WHERE id = 1 AND title = 'Exam' AND google_etag = '\"e1\"'"
            ),
            1
        );
        assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM sync_outbox"), 1);
        assert_eq!(
            count(&mut c, "SELECT COUNT(*) AS n FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE tbl_name = 'events' \
                 AND name IN ('events_user_start', 'events_user_category', \
                     'events_user_google', 'events_user_google_event', 'event_stats_insert', \
                     'event_stats_delete', 'event_stats_update')"
            ),
            7,
            "its four indexes and the three triggers"
        );
        // The same Google id for another user; the triggers still count.
        c.batch_execute(
            "INSERT INTO events (user_id, category_id, title, start_time, end_time, \
                 google_event_id, created_at, updated_at) \
                 VALUES (2, 1, 'Exam', '2026-11-24 09:00:00', '2026-11-24 11:00:00', \
                         'abc123', '2026-11-02 00:00:00', '2026-11-02 00:00:00')",
        )
        .expect("the same id, another user");
        assert_eq!(
            count(
                &mut c,
                "SELECT event_count AS n FROM event_stats WHERE user_id = 2"
            ),
            1
        );
        let twice = c.batch_execute(
            "INSERT INTO events (user_id, category_id, title, start_time, end_time, \
                 google_event_id, created_at, updated_at) \
                 VALUES (2, 1, 'Again', '2026-11-24 09:00:00', '2026-11-24 11:00:00', \
                         'abc123', '2026-11-02 00:00:00', '2026-11-02 00:00:00')",
        );
        assert!(twice.is_err(), "one user, one id");
        // Foreign keys are enforced again.
        let orphan = c.batch_execute(
            "INSERT INTO events (user_id, category_id, title, start_time, end_time, \
                 google_event_id, created_at, updated_at) \
                 VALUES (99, 1, 'Nobody', '2026-11-24 09:00:00', '2026-11-24 11:00:00', \
                         'zzz999', '2026-11-02 00:00:00', '2026-11-02 00:00:00')",
        );
        assert!(orphan.is_err(), "foreign keys are on again");
    }
}
