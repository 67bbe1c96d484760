//! How much work waits in the sync outbox, for the metrics scrape: one aggregate statement.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamp};
use phantom_domain::error::RepoError;

use super::error::from_diesel;
use super::time::{from_db, to_db};
use super::{AnyConnection, Database};

/// A snapshot of `sync_outbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Every queued change.
    pub depth: u64,
    /// Available now and not leased: a worker may claim them (unless their user must reconnect).
    pub due: u64,
    /// Held by a worker's unexpired lease.
    pub leased: u64,
    /// Waiting for a retry time in the future.
    pub waiting: u64,
    /// When the oldest queued change was first queued; `None` when the outbox is empty.
    pub oldest_created_at: Option<DateTime<Utc>>,
}

impl OutboxStats {
    /// Seconds since the oldest queued change was first queued (0 when empty).
    pub fn oldest_age_seconds(&self, now: DateTime<Utc>) -> f64 {
        self.oldest_created_at
            .map(|t| (now - t).as_seconds_f64().max(0.0))
            .unwrap_or(0.0)
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    depth: i64,
    #[diesel(sql_type = BigInt)]
    leased: i64,
    #[diesel(sql_type = BigInt)]
    due: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    oldest: Option<NaiveDateTime>,
}

/// `now` is `?` (bound three times) on SQLite and `$1` on PostgreSQL. A row is leased when
/// its user is (leases are per user).
fn stats_sql(now: &str) -> String {
    let leased = format!("u.sync_lease_until IS NOT NULL AND u.sync_lease_until >= {now}");
    format!(
        "SELECT COUNT(*) AS depth, \
           COALESCE(SUM(CASE WHEN {leased} THEN 1 ELSE 0 END), 0) AS leased, \
           COALESCE(SUM(CASE WHEN NOT ({leased}) AND o.available_at <= {now} \
             THEN 1 ELSE 0 END), 0) AS due, \
           MIN(o.created_at) AS oldest \
         FROM sync_outbox o JOIN users u ON u.id = o.user_id"
    )
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Database {
    /// Counts the outbox by state as of `now`, on a pooled read connection.
    pub async fn outbox_stats(&self, now: DateTime<Utc>) -> Result<OutboxStats, RepoError> {
        let now = to_db(now);
        self.read(move |c| {
            let rows: Vec<Row> = match c {
                AnyConnection::Sqlite(c) => diesel::sql_query(stats_sql("?"))
                    .bind::<Timestamp, _>(now)
                    .bind::<Timestamp, _>(now)
                    .bind::<Timestamp, _>(now)
                    .load(c),
                AnyConnection::Postgresql(c) => diesel::sql_query(stats_sql("$1"))
                    .bind::<Timestamp, _>(now)
                    .load(c),
            }
            .map_err(from_diesel)?;
            let row = rows
                .into_iter()
                .next()
                .ok_or_else(|| RepoError::storage("the outbox count returned no row".to_owned()))?;
            let (depth, leased, due) = (count(row.depth), count(row.leased), count(row.due));
            Ok(OutboxStats {
                depth,
                due,
                leased,
                waiting: depth.saturating_sub(leased + due),
                oldest_created_at: row.oldest.map(from_db),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::{sync_outbox, users};
    use chrono::TimeDelta;

    async fn database(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}/phantom.db", dir.path().display());
        let db = Database::connect(&url).expect("connect");
        db.run_migrations().expect("migrate");
        db
    }

    #[tokio::test]
    async fn counts_by_state_and_ages_the_oldest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(&dir).await;
        let now = Utc::now();
        assert_eq!(
            db.outbox_stats(now).await.expect("stats"),
            OutboxStats::default()
        );

        let at = move |seconds: i64| to_db(now + TimeDelta::seconds(seconds));
        db.write(move |c| {
            // Users with no lease, with a live lease, and with a lapsed one.
            for (user, lease) in [(1, None), (2, Some(at(30))), (3, Some(at(-1)))] {
                diesel::insert_into(users::table)
                    .values((
                        users::id.eq(user),
                        users::username.eq(format!("user{user}")),
                        users::password_hash.eq("x"),
                        users::created_at.eq(at(-1000)),
                        users::sync_worker.eq(lease.map(|_| "w")),
                        users::sync_lease_until.eq(lease),
                    ))
                    .execute(c)
                    .map_err(from_diesel)?;
            }
            // (event, user, available_at, created_at): due, waiting for a retry, leased, and
            // due behind a lapsed lease.
            let rows = [
                (1, 1, at(-10), at(-90)),
                (2, 1, at(60), at(-10)),
                (3, 2, at(-5), at(-20)),
                (4, 3, at(-5), at(-30)),
            ];
            for (event, user, available, created) in rows {
                diesel::insert_into(sync_outbox::table)
                    .values((
                        sync_outbox::user_id.eq(user),
                        sync_outbox::event_id.eq(event),
                        sync_outbox::google_event_id.eq(format!("g{event}")),
                        sync_outbox::operation.eq("upsert"),
                        sync_outbox::available_at.eq(available),
                        sync_outbox::created_at.eq(created),
                        sync_outbox::updated_at.eq(created),
                    ))
                    .execute(c)
                    .map_err(from_diesel)?;
            }
            Ok(())
        })
        .await
        .expect("insert");

        let stats = db.outbox_stats(now).await.expect("stats");
        assert_eq!(
            (stats.depth, stats.due, stats.leased, stats.waiting),
            (4, 2, 1, 1)
        );
        let age = stats.oldest_age_seconds(now);
        assert!((89.0..=91.0).contains(&age), "{age}");
    }
}
