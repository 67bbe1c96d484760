//! The outbox claim on a bare database (no server, so no other worker): leases, users held
//! by one worker at a time, paused users, concurrent workers.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use phantom_adapters::db::schema::{sync_outbox, users};
use phantom_adapters::db::{Database, DieselSyncQueue};
use phantom_domain::error::RepoError;
use phantom_domain::ids::UserId;
use phantom_domain::ports::{Settlement, SyncQueue};

use crate::helpers::TestDb;

/// Connected users with `rows[i]` queued rows each, queued user after user; returns the ids.
async fn seed(db: &Database, rows: &[usize]) -> Vec<i64> {
    let rows = rows.to_vec();
    let now = Utc::now().naive_utc();
    db.write(move |c| {
        let mut ids = Vec::new();
        let mut event = 0i64;
        for (n, count) in rows.iter().enumerate() {
            let user: i64 = diesel::insert_into(users::table)
                .values((
                    users::username.eq(format!("worker-test-{n}")),
                    users::password_hash.eq("x"),
                    users::google_calendar_token.eq("sealed"),
                    users::created_at.eq(now),
                ))
                .returning(users::id)
                .get_result(c)
                .map_err(RepoError::storage)?;
            ids.push(user);
            for _ in 0..*count {
                event += 1;
                diesel::insert_into(sync_outbox::table)
                    .values((
                        sync_outbox::user_id.eq(user),
                        sync_outbox::event_id.eq(event),
                        sync_outbox::google_event_id.eq(format!("ev{event:08}")),
                        sync_outbox::operation.eq("upsert"),
                        sync_outbox::available_at.eq(now),
                        sync_outbox::created_at.eq(now),
                        sync_outbox::updated_at.eq(now),
                    ))
                    .execute(c)
                    .map_err(RepoError::storage)?;
            }
        }
        Ok(ids)
    })
    .await
    .expect("seed")
}

async fn bare_database(db: &TestDb) -> Database {
    phantom_app::startup::open_database(&db.url())
        .await
        .expect("db")
}

/// Claims at `at` with a five-minute lease; returns (user, event) pairs.
async fn claim(queue: &DieselSyncQueue, at: DateTime<Utc>, limit: u32) -> Vec<(i64, i64)> {
    queue
        .claim(at, at + TimeDelta::minutes(5), limit)
        .await
        .expect("claim")
        .into_iter()
        .map(|e| (e.user.0, e.event_id.0))
        .collect()
}

#[tokio::test]
async fn a_user_is_held_by_one_claim_until_its_lease_lapses() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[3, 1]).await;
    let (a, b) = (users[0], users[1]);
    let queue = DieselSyncQueue::new(database);
    let now = Utc::now();

    assert_eq!(claim(&queue, now, 2).await, [(a, 1), (a, 2)]);
    // User a's third row is due, but a worker holds a's rows: the next claim takes b's.
    assert_eq!(claim(&queue, now, 10).await, [(b, 4)]);
    assert_eq!(claim(&queue, now, 10).await, []);
    // The worker crashed: once its leases lapse, every row is claimable again.
    let later = now + TimeDelta::minutes(6);
    assert_eq!(
        claim(&queue, later, 10).await,
        [(a, 1), (a, 2), (a, 3), (b, 4)]
    );
}

#[tokio::test]
async fn a_released_row_is_due_at_once_and_a_paused_user_rests() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[2, 1]).await;
    let (a, b) = (users[0], users[1]);
    let queue = DieselSyncQueue::new(database);
    let now = Utc::now();

    let claimed = queue
        .claim(now, now + TimeDelta::minutes(5), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    queue.release(&claimed).await.expect("release");
    queue
        .pause_user(UserId(a), now + TimeDelta::hours(6))
        .await
        .expect("pause");

    assert_eq!(claim(&queue, now, 10).await, [(b, 3)], "a is paused");
    // Later still, a's rows are due again (and b's, whose lease from above lapsed).
    let after_pause = now + TimeDelta::hours(7);
    assert_eq!(
        claim(&queue, after_pause, 10).await,
        [(a, 1), (a, 2), (b, 3)]
    );
}

#[tokio::test]
async fn two_workers_never_claim_the_same_outbox_row() {
    // Twelve connected users with five queued rows each, worked by two pools at once as two
    // processes would: claim, deliver (settle), claim again.
    let db = TestDb::new();
    let first = bare_database(&db).await;
    let second = bare_database(&db).await;
    seed(&first, &[5; 12]).await;

    let work_all = |db: Database| async move {
        let queue = DieselSyncQueue::new(db);
        let mut mine = Vec::new();
        let mut idle_rounds = 0;
        while idle_rounds < 20 {
            let now = Utc::now();
            let batch = queue
                .claim(now, now + TimeDelta::minutes(5), 3)
                .await
                .expect("claim");
            if batch.is_empty() {
                // The other worker may hold the last users; wait for it to settle them.
                idle_rounds += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            idle_rounds = 0;
            for entry in batch {
                mine.push(entry.id);
                tokio::task::yield_now().await;
                queue
                    .settle(&entry, Settlement::Delivered)
                    .await
                    .expect("settle");
            }
        }
        mine
    };
    let (a, b) = tokio::join!(
        tokio::spawn(work_all(first)),
        tokio::spawn(work_all(second))
    );
    let (a, b) = (a.expect("worker a"), b.expect("worker b"));
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a row was claimed by both workers");
    assert_eq!(all.len(), 60, "rows were left unworked");
}
