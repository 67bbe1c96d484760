//! The storage limit: the insert a `POST /api/events/` does, in a loop inside this process,
//! through the real repository on the same `Database::connect` (so the same pools and pragmas).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use diesel::prelude::*;
use phantom_adapters::db::schema::{sync_outbox, users};
use phantom_adapters::db::{Database, DieselEventRepository, DieselUserRepository};
use phantom_domain::error::RepoError;
use phantom_domain::event::{EventDraft, NewEvent, Origin};
use phantom_domain::ids::{CategoryId, UserId};
use phantom_domain::ports::{EventRepository, UserRepository};
use phantom_domain::sync::GoogleEventId;
use phantom_domain::timezone::TimeZoneName;
use phantom_domain::user::{NewUser, Preferences};

/// Inserts single events for `duration` from `concurrency` tasks into the fresh database at
/// `url`; returns rows per second.
pub async fn insert_loop(url: &str, duration: Duration, concurrency: usize) -> anyhow::Result<f64> {
    let db = open(url, true).await?;
    let user = DieselUserRepository::new(db.clone())
        .create(NewUser {
            username: "storage-loop".to_owned(),
            email: String::new(),
            name: String::new(),
            preferences: Preferences::default(),
            password_hash: "not-a-hash".to_owned(),
            created_at: Utc::now(),
        })
        .await?;
    let events = DieselEventRepository::new(db);
    let rows = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let events = events.clone();
        let rows = rows.clone();
        let user = user.id;
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let n = rows.load(Ordering::Relaxed);
                let start = Utc::now();
                events
                    .create(new_event(user, format!("Loop {n}"), start)?)
                    .await?;
                rows.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(rows.load(Ordering::Relaxed) as f64 / elapsed)
}

/// The database at `url` through the server's own `Database::connect` (same pools and
/// pragmas), migrated first when `migrate`.
pub async fn open(url: &str, migrate: bool) -> anyhow::Result<Database> {
    let owned = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let db = Database::connect(&owned)?;
        if migrate {
            db.run_migrations()?;
        }
        anyhow::Ok(db)
    })
    .await
    .context("database set-up task failed")?
}

/// A 30-minute event starting at `start`, validated as the HTTP path validates it (which
/// also truncates times to microseconds).
fn new_event(
    user: UserId,
    title: String,
    start: chrono::DateTime<Utc>,
) -> anyhow::Result<NewEvent> {
    Ok(NewEvent {
        user_id: user,
        draft: EventDraft {
            title,
            description: String::new(),
            category: CategoryId(1),
            start_time: start,
            end_time: start + chrono::Duration::minutes(30),
            is_flexible: true,
            is_completed: false,
            all_day: false,
            recurrence: None,
            timezone: None,
            series_end: None,
        }
        .validate(TimeZoneName::UTC)
        .map_err(|e| anyhow::anyhow!("invalid draft: {e:?}"))?,
        google_event_id: GoogleEventId::generate(),
        origin: Origin::Phantom,
        created_at: Utc::now(),
    })
}

/// The ids of the users whose names start with `prefix`, in id order.
pub async fn user_ids(db: &Database, prefix: &str) -> anyhow::Result<Vec<UserId>> {
    let pattern = format!("{prefix}%");
    let ids = db
        .read(move |c| {
            users::table
                .filter(users::username.like(pattern))
                .order(users::id)
                .select(users::id)
                .load::<i64>(c)
                .map_err(RepoError::storage)
        })
        .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// Rows queued in the outbox right now.
pub async fn outbox_depth(db: &Database) -> anyhow::Result<u64> {
    let n = db
        .read(|c| {
            sync_outbox::table
                .count()
                .get_result::<i64>(c)
                .map_err(RepoError::storage)
        })
        .await?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// Creates `per_user` events for each of `users` through the repository the API uses
/// (`DieselEventRepository::create`: the event, its outbox row and the user's due mark, in
/// one transaction each), from `concurrency` tasks. Titles are `{prefix} {user} {n}`.
pub async fn seed(
    db: &Database,
    users: &[UserId],
    per_user: usize,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<()> {
    let events = DieselEventRepository::new(db.clone());
    let jobs: Arc<Vec<(UserId, usize)>> = Arc::new(
        (0..per_user)
            .flat_map(|n| users.iter().map(move |u| (*u, n)))
            .collect(),
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let events = events.clone();
        let jobs = jobs.clone();
        let next = next.clone();
        let prefix = prefix.to_owned();
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&(user, n)) = jobs.get(i) else {
                    break;
                };
                // Spread over 2027 like the API's events: day and hour vary with n.
                let start = chrono::DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")?
                    .with_timezone(&Utc)
                    + chrono::Duration::hours(i64::try_from(n % (28 * 23)).unwrap_or(0));
                events
                    .create(new_event(user, format!("{prefix} {} {n}", user.0), start)?)
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}
