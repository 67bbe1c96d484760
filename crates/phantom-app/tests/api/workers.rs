//! The live sync workers, as the database counts them for sharing the project's rate of
//! Google calls (both backends).

use chrono::{TimeDelta, Utc};
use phantom_adapters::db::DieselSyncQueue;
use phantom_domain::ports::{SyncQueue, WorkerId};

use crate::helpers::TestDb;

/// Each heartbeat counts the workers heard of within a lease, itself included; a worker not
/// heard of since is forgotten, and its share goes to the others.
#[tokio::test]
async fn heartbeats_count_the_live_workers_and_forget_the_dead() {
    // A migrated database and no server, whose own worker would beat too.
    let db = TestDb::new();
    let url = db.url();
    let database = tokio::task::spawn_blocking(move || {
        let database = phantom_adapters::db::Database::connect(&url).expect("connect");
        database.run_migrations().expect("migrate");
        database
    })
    .await
    .expect("join");
    let queue = DieselSyncQueue::new(database);
    let (a, b, c) = (
        WorkerId::generate(),
        WorkerId::generate(),
        WorkerId::generate(),
    );
    let t0 = Utc::now();
    let lease = TimeDelta::seconds(10);
    let beat =
        async |worker: &WorkerId, at| queue.beat(worker, at, at - lease).await.expect("beat");
    assert_eq!(beat(&a, t0).await, 1);
    assert_eq!(beat(&b, t0 + TimeDelta::seconds(1)).await, 2);
    assert_eq!(beat(&c, t0 + TimeDelta::seconds(2)).await, 3);
    assert_eq!(beat(&a, t0 + TimeDelta::seconds(3)).await, 3);
    // B is not heard of again; a lease after its last beat it no longer counts.
    assert_eq!(beat(&c, t0 + TimeDelta::seconds(12)).await, 2);
    assert_eq!(beat(&a, t0 + TimeDelta::seconds(13)).await, 2);
}
