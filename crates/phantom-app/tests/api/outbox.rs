//! The outbox on a bare database (no server, so no other worker): users leased whole, leases
//! that lapse or are renewed, released users due again, paused users, concurrent workers.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use phantom_adapters::db::schema::{sync_outbox, users};
use phantom_adapters::db::{AnyConnection, Database, DieselSyncQueue};
use phantom_domain::error::RepoError;
use phantom_domain::ids::UserId;
use phantom_domain::ports::{Settlement, SyncQueue, WorkerId};

use crate::helpers::TestDb;

/// Connected users with `rows[i]` queued rows each, queued user after user a second apart
/// (so the oldest-due order is the seeding order); returns the user ids.
async fn seed(db: &Database, rows: &[usize]) -> Vec<i64> {
    let rows = rows.to_vec();
    let start = Utc::now().naive_utc() - TimeDelta::hours(1);
    db.write(move |c| {
        let mut ids = Vec::new();
        let mut event = 0i64;
        for (n, count) in rows.iter().enumerate() {
            let queued_at = start + TimeDelta::seconds(n as i64);
            let user: i64 = diesel::insert_into(users::table)
                .values((
                    users::username.eq(format!("worker-test-{n}")),
                    users::password_hash.eq("x"),
                    users::google_calendar_token.eq("sealed"),
                    users::created_at.eq(start),
                    users::sync_due_at.eq((*count > 0).then_some(queued_at)),
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
                        sync_outbox::available_at.eq(queued_at),
                        sync_outbox::created_at.eq(queued_at),
                        sync_outbox::updated_at.eq(queued_at),
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

/// Claims at `at` for `worker` with a ten-second lease; returns (user, rescued) pairs.
async fn claim(
    queue: &DieselSyncQueue,
    worker: &WorkerId,
    at: DateTime<Utc>,
    limit: u32,
) -> Vec<(i64, bool)> {
    queue
        .claim(worker, at, at + TimeDelta::seconds(10), limit)
        .await
        .expect("claim")
        .into_iter()
        .map(|c| (c.user.0, c.rescued))
        .collect()
}

/// The event ids of `user`'s rows due at `at`, in the order a lane works them.
async fn due(queue: &DieselSyncQueue, user: i64, at: DateTime<Utc>) -> Vec<i64> {
    queue
        .due(UserId(user), at, 20)
        .await
        .expect("due")
        .into_iter()
        .map(|e| e.event_id.0)
        .collect()
}

#[tokio::test]
async fn a_user_is_leased_whole_to_one_worker_until_the_lease_lapses() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[3, 1]).await;
    let (a, b) = (users[0], users[1]);
    let queue = DieselSyncQueue::new(database);
    let (one, two) = (WorkerId::generate(), WorkerId::generate());
    let now = Utc::now();

    assert_eq!(claim(&queue, &one, now, 1).await, [(a, false)]);
    assert_eq!(due(&queue, a, now).await, [1, 2, 3]);
    // a is held by worker one: the other worker gets b, then nothing.
    assert_eq!(claim(&queue, &two, now, 10).await, [(b, false)]);
    assert_eq!(claim(&queue, &two, now, 10).await, []);
    // Both workers died: once the leases lapse, both users are claimable, as rescued.
    let later = now + TimeDelta::seconds(11);
    assert_eq!(claim(&queue, &two, later, 10).await, [(a, true), (b, true)]);
}

#[tokio::test]
async fn a_renewed_lease_holds_and_a_released_user_is_due_again_at_once() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let a = seed(&database, &[2]).await[0];
    let queue = DieselSyncQueue::new(database);
    let (one, two) = (WorkerId::generate(), WorkerId::generate());
    let now = Utc::now();

    assert_eq!(claim(&queue, &one, now, 10).await, [(a, false)]);
    let renewed_until = now + TimeDelta::seconds(20);
    assert_eq!(queue.renew(&one, renewed_until).await.expect("renew"), 1);
    assert_eq!(queue.renew(&two, renewed_until).await.expect("renew"), 0);
    // Past the claim's lease but inside the renewal: still worker one's.
    assert_eq!(
        claim(&queue, &two, now + TimeDelta::seconds(15), 10).await,
        []
    );
    // One row delivered, then released: the other is still due, so a is claimable at once.
    let first = queue.due(UserId(a), now, 1).await.expect("due").remove(0);
    queue
        .settle(&first, Settlement::Delivered { etag: None })
        .await
        .expect("settle");
    queue.release(&one, UserId(a)).await.expect("release");
    assert_eq!(claim(&queue, &two, now, 10).await, [(a, false)]);
    // A worker that lost the user cannot release it from under the new holder.
    queue.release(&one, UserId(a)).await.expect("release");
    assert_eq!(claim(&queue, &one, now, 10).await, []);
}

#[tokio::test]
async fn users_with_nothing_due_or_paused_are_not_claimed() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[1, 1]).await;
    let (a, b) = (users[0], users[1]);
    let queue = DieselSyncQueue::new(database);
    let worker = WorkerId::generate();
    let now = Utc::now();

    assert_eq!(
        claim(&queue, &worker, now, 10).await,
        [(a, false), (b, false)]
    );
    // a's only row is delivered; b's is retried in a minute, and b's quota is spent.
    let row_a = queue.due(UserId(a), now, 10).await.expect("due").remove(0);
    queue
        .settle(&row_a, Settlement::Delivered { etag: None })
        .await
        .expect("settle");
    let row_b = queue.due(UserId(b), now, 10).await.expect("due").remove(0);
    let retry_at = now + TimeDelta::minutes(1);
    queue
        .settle(
            &row_b,
            Settlement::RetryAt {
                retry_at,
                error: "busy".into(),
            },
        )
        .await
        .expect("settle");
    queue
        .pause_user(UserId(b), now + TimeDelta::hours(6), "quota")
        .await
        .expect("pause");
    queue.release(&worker, UserId(a)).await.expect("release");
    queue.release(&worker, UserId(b)).await.expect("release");

    assert_eq!(claim(&queue, &worker, now, 10).await, []);
    assert_eq!(
        claim(&queue, &worker, retry_at, 10).await,
        [],
        "b is paused"
    );
    assert_eq!(
        claim(&queue, &worker, now + TimeDelta::hours(7), 10).await,
        [(b, false)]
    );
}

#[tokio::test]
async fn expiring_leases_frees_every_user_at_once() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[1, 1]).await;
    let queue = DieselSyncQueue::new(database);
    let (dead, next) = (WorkerId::generate(), WorkerId::generate());
    let now = Utc::now();

    assert_eq!(claim(&queue, &dead, now, 10).await.len(), 2);
    assert_eq!(queue.expire_leases(now).await.expect("expire"), 2);
    assert_eq!(
        claim(&queue, &next, now, 10).await,
        [(users[0], true), (users[1], true)]
    );
}

/// The claim reads the users it returns through `users_sync_due`, not the outbox: a long
/// queue behind a busy user costs it nothing (SQLite's plan; docs/design.md has both).
#[tokio::test]
async fn the_claim_reads_users_through_the_due_index() {
    let db = TestDb::new();
    if db.is_postgres() {
        return; // PostgreSQL's planner picks a scan of tiny tables whatever the index.
    }
    let database = bare_database(&db).await;
    let plan: Vec<String> = database
        .read(|c| {
            #[derive(QueryableByName)]
            struct Step {
                #[diesel(sql_type = diesel::sql_types::Text)]
                detail: String,
            }
            let AnyConnection::Sqlite(c) = c else {
                unreachable!("checked above")
            };
            diesel::sql_query(
                "EXPLAIN QUERY PLAN SELECT id FROM users WHERE sync_due_at <= '2026-01-01' \
                 AND (sync_lease_until IS NULL OR sync_lease_until < '2026-01-01') \
                 AND google_calendar_token IS NOT NULL AND NOT google_needs_reconnect \
                 AND (google_sync_paused_until IS NULL OR google_sync_paused_until <= '2026-01-01') \
                 ORDER BY sync_due_at LIMIT 20",
            )
            .load::<Step>(c)
            .map(|steps| steps.into_iter().map(|s| s.detail).collect())
            .map_err(RepoError::storage)
        })
        .await
        .expect("plan");
    assert!(
        plan.iter().any(|step| step.contains("users_sync_due")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|step| step.contains("sync_outbox")),
        "{plan:?}"
    );
}

#[tokio::test]
async fn two_workers_never_work_the_same_user_at_once() {
    // Twelve connected users with five queued rows each, worked by two pools at once as two
    // processes would: claim users, deliver their due rows, release, claim again.
    let db = TestDb::new();
    let first = bare_database(&db).await;
    let second = bare_database(&db).await;
    seed(&first, &[5; 12]).await;
    let busy = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));

    let work_all = |db: Database| {
        let busy = busy.clone();
        async move {
            let queue = DieselSyncQueue::new(db);
            let worker = WorkerId::generate();
            let mut mine = Vec::new();
            let mut idle_rounds = 0;
            while idle_rounds < 20 {
                let now = Utc::now();
                let users = queue
                    .claim(&worker, now, now + TimeDelta::seconds(30), 3)
                    .await
                    .expect("claim");
                if users.is_empty() {
                    // The other worker may hold the last users; wait for it to release them.
                    idle_rounds += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
                idle_rounds = 0;
                for claimed in users {
                    let fresh = busy.lock().expect("lock").insert(claimed.user);
                    assert!(fresh, "user {} is worked by both workers", claimed.user);
                    for entry in queue.due(claimed.user, now, 2).await.expect("due") {
                        mine.push(entry.id);
                        tokio::task::yield_now().await;
                        queue
                            .settle(&entry, Settlement::Delivered { etag: None })
                            .await
                            .expect("settle");
                    }
                    busy.lock().expect("lock").remove(&claimed.user);
                    queue.release(&worker, claimed.user).await.expect("release");
                }
            }
            mine
        }
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
    assert_eq!(before, all.len(), "a row was delivered by both workers");
    assert_eq!(all.len(), 60, "rows were left unworked");
}

/// A worker's users stay its own while it lives, however long it takes; on PostgreSQL they
/// are taken over as soon as its process is gone (its life lock, held on a connection of
/// its own, is freed with that connection), long before its lease lapses, and its share of
/// the project's rate is forgotten at the next heartbeat. On SQLite the lease stays the only
/// way (the embedded server is the only worker).
#[tokio::test]
async fn a_dead_workers_users_are_taken_over_at_once_on_postgresql() {
    let db = TestDb::new();
    let database = bare_database(&db).await;
    let users = seed(&database, &[2, 1]).await;
    let now = Utc::now();
    let (dying, next) = (WorkerId::generate(), WorkerId::generate());
    // Two queues, as two processes have: each holds the life locks of its own workers.
    let dying_process = DieselSyncQueue::new(database.clone());
    let other_process = DieselSyncQueue::new(database);
    let lease = TimeDelta::seconds(10);
    let beat = async |queue: &DieselSyncQueue, worker: &WorkerId| {
        let beat = queue
            .beat(worker, now, now - lease, 0, 600)
            .await
            .expect("beat");
        (beat.live, beat.share)
    };
    assert_eq!(beat(&dying_process, &dying).await, (1, 600));
    assert_eq!(beat(&other_process, &next).await, (2, 0));
    assert_eq!(claim(&dying_process, &dying, now, 10).await.len(), 2);
    // Alive (and slow: it settles nothing): its users are not taken.
    assert_eq!(claim(&other_process, &next, now, 10).await, []);

    drop(dying_process); // its connections close, as a killed process's do
    if !db.is_postgres() {
        assert_eq!(claim(&other_process, &next, now, 10).await, []);
        let lapsed = now + TimeDelta::seconds(11);
        assert_eq!(claim(&other_process, &next, lapsed, 10).await.len(), 2);
        return;
    }
    // The server ends the closed session's backend within moments; the same instant as
    // before, so no lease has lapsed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let taken = loop {
        let taken = claim(&other_process, &next, now, 10).await;
        if !taken.is_empty() || std::time::Instant::now() > deadline {
            break taken;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(taken, [(users[0], true), (users[1], true)]);
    assert_eq!(
        beat(&other_process, &next).await,
        (1, 600),
        "the dead worker no longer shares the rate"
    );
}
