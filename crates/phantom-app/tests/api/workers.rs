//! The live sync workers, as the database counts them for sharing the project's rate of
//! Google calls (both backends).

use chrono::{TimeDelta, Utc};
use phantom_adapters::db::DieselSyncQueue;
use phantom_domain::ports::{SyncQueue, WorkerId};

use crate::helpers::TestDb;

/// Each heartbeat counts the workers heard of within a lease, itself included, and reserves
/// the worker's share of the project's rate by the users it holds, from what the others'
/// recorded shares leave: the shares on record never add up to more than the rate, a
/// newcomer gets its share once the others have shrunk theirs, and a worker not heard of
/// within a lease is forgotten, its share going to the others.
#[tokio::test]
async fn heartbeats_share_the_rate_among_the_live_workers_and_forget_the_dead() {
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
    const RATE: u32 = 600;
    let beat = async |worker: &WorkerId, seconds, held| {
        let at = t0 + TimeDelta::seconds(seconds);
        let beat = queue
            .beat(worker, at, at - lease, held, RATE)
            .await
            .expect("beat");
        (beat.live, beat.share)
    };
    // A alone takes the whole rate; B, idle, gets what is left: nothing yet.
    assert_eq!(beat(&a, 0, 5).await, (1, 600));
    assert_eq!(beat(&b, 1, 0).await, (2, 0));
    // A counts B (weights 51 and 1) and shrinks; then B gets its part.
    assert_eq!(beat(&a, 2, 5).await, (2, 588));
    assert_eq!(beat(&b, 3, 0).await, (2, 11));
    // B took on five users: it aims at half, but only what A leaves until A shrinks.
    assert_eq!(beat(&b, 4, 5).await, (2, 12));
    assert_eq!(beat(&a, 5, 5).await, (2, 300));
    assert_eq!(beat(&b, 6, 5).await, (2, 300));
    // C joins busy; nothing is left until the others shrink.
    assert_eq!(beat(&c, 7, 5).await, (3, 0));
    assert_eq!(beat(&a, 8, 5).await, (3, 200));
    assert_eq!(beat(&b, 9, 5).await, (3, 200));
    assert_eq!(beat(&c, 10, 5).await, (3, 200));
    // B is not heard of again; a lease after its last beat it is forgotten, and its share
    // goes to the others.
    assert_eq!(beat(&a, 20, 5).await, (2, 300));
    assert_eq!(beat(&c, 21, 5).await, (2, 300));
}
