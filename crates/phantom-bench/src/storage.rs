//! The storage limit: the insert a `POST /api/events/` does, in a loop inside this process,
//! through the real repository on the same `Database::connect` (so the same pools and pragmas).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use phantom_adapters::db::{Database, DieselEventRepository, DieselUserRepository};
use phantom_domain::event::{EventDraft, NewEvent, Origin};
use phantom_domain::ids::CategoryId;
use phantom_domain::ports::{EventRepository, UserRepository};
use phantom_domain::sync::GoogleEventId;
use phantom_domain::timezone::TimeZoneName;
use phantom_domain::user::{NewUser, Preferences};

/// Inserts single events for `duration` from `concurrency` tasks into the fresh database at
/// `url`; returns rows per second.
pub async fn insert_loop(url: &str, duration: Duration, concurrency: usize) -> anyhow::Result<f64> {
    let owned = url.to_owned();
    let db = tokio::task::spawn_blocking(move || {
        let db = Database::connect(&owned)?;
        db.run_migrations()?;
        anyhow::Ok(db)
    })
    .await
    .context("database set-up task failed")??;
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
                    .create(NewEvent {
                        user_id: user,
                        // Validated as the HTTP path does (it also truncates to microseconds).
                        draft: EventDraft {
                            title: format!("Loop {n}"),
                            description: String::new(),
                            category: CategoryId(1),
                            start_time: start,
                            end_time: start + chrono::Duration::minutes(30),
                            is_flexible: true,
                            is_completed: false,
                            all_day: false,
                        }
                        .validate(TimeZoneName::UTC)
                        .map_err(|e| anyhow::anyhow!("invalid draft: {e:?}"))?,
                        google_event_id: GoogleEventId::generate(),
                        origin: Origin::Phantom,
                        created_at: start,
                    })
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
