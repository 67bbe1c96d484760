//! The group writer's promises, on a temp SQLite file. No timing: a write that holds the
//! writer until the test has queued the others makes a batch deterministic.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use tokio::task::JoinHandle;

use super::*;
use crate::db::{Database, SqliteCommit};

struct Fixture {
    db: Database,
    path: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = format!("{}/phantom.db", dir.path().display());
    let db = Database::connect(&format!("sqlite://{path}")).expect("connect");
    db.write(|c| {
        c.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY,
                 parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .map_err(storage)
    })
    .await
    .expect("schema");
    Fixture {
        db,
        path,
        _dir: dir,
    }
}

fn insert(c: &mut AnyConnection, id: i64) -> Result<(), RepoError> {
    c.batch_execute(&format!("INSERT INTO t (id) VALUES ({id})"))
        .map_err(storage)
}

impl Fixture {
    fn stats(&self) -> GroupCommitStats {
        self.db.group_commit_stats().expect("group commit is on")
    }

    /// The ids in `t`, read on a fresh connection of its own: only committed rows.
    fn committed(&self) -> Vec<i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let mut c = SqliteConnection::establish(&self.path).expect("reader");
        let rows: Vec<Row> = diesel::sql_query("SELECT id FROM t ORDER BY id")
            .load(&mut c)
            .expect("select");
        rows.into_iter().map(|r| r.id).collect()
    }

    /// Occupies the writer until the returned sender is used (or dropped), so that the writes
    /// queued meanwhile are taken together as the next batch.
    async fn hold(
        &self,
    ) -> (
        std::sync::mpsc::Sender<()>,
        JoinHandle<Result<(), RepoError>>,
    ) {
        let (started, is_running) = oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let db = self.db.clone();
        let held = tokio::spawn(async move {
            db.write(move |_| {
                let _ = started.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
        });
        is_running.await.expect("the holding write runs");
        (release, held)
    }

    /// Spawns `f` as a write.
    fn spawn<T, F>(&self, f: F) -> JoinHandle<Result<T, RepoError>>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        tokio::spawn(async move { db.write(f).await })
    }

    /// Waits until `n` writes are queued behind the held one.
    async fn until_queued(&self, n: usize) {
        let writer = self.db.group_writer().expect("group commit is on");
        while writer.queued() < n {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test]
async fn concurrent_writes_share_one_transaction() {
    let fx = fixture().await;
    let (release, held) = fx.hold().await;
    let before = fx.stats();
    let writes: Vec<_> = (1..=10)
        .map(|id| fx.spawn(move |c| insert(c, id)))
        .collect();
    fx.until_queued(10).await;
    drop(release);
    held.await.expect("join").expect("held write");
    for w in writes {
        w.await.expect("join").expect("write");
    }
    let after = fx.stats();
    // The held write's batch was counted before; the ten took exactly one more.
    assert_eq!(after.batches - before.batches, 1, "{before:?} → {after:?}");
    assert_eq!(after.writes - before.writes, 10);
    assert_eq!(fx.committed(), (1..=10).collect::<Vec<_>>());
}

/// What is taken as unreported is what was counted since the last take, each count once.
#[tokio::test]
async fn unreported_counts_are_taken_once() {
    let fx = fixture().await;
    let total = fx.stats();
    let first = fx.db.take_unreported_group_commit_stats().expect("on");
    assert_eq!(first, total, "nothing was taken before");
    for id in 1..=3 {
        fx.spawn(move |c| insert(c, id))
            .await
            .expect("join")
            .expect("write");
    }
    let second = fx.db.take_unreported_group_commit_stats().expect("on");
    assert_eq!(second.writes, 3);
    assert!((1..=3).contains(&second.batches), "{second:?}");
    assert_eq!(
        fx.db.take_unreported_group_commit_stats(),
        Some(GroupCommitStats::default())
    );
    assert_eq!(fx.stats().writes, total.writes + 3, "the totals stay whole");
}

#[tokio::test]
async fn a_failing_write_is_undone_alone_and_the_others_commit() {
    let fx = fixture().await;
    let (release, held) = fx.hold().await;
    let first = fx.spawn(|c| insert(c, 1));
    let failing = fx.spawn(|c| {
        insert(c, 2)?;
        // A nested transaction that fails, then the write fails as a whole.
        let nested: Result<(), diesel::result::Error> = c.transaction(|c| {
            c.batch_execute("INSERT INTO t (id) VALUES (4)")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(nested.is_err());
        insert(c, 5)?;
        Err::<(), _>(RepoError::Conflict("refused".to_owned()))
    });
    let duplicate = fx.spawn(|c| insert(c, 1)); // a unique violation, after `first`
    let last = fx.spawn(|c| insert(c, 3));
    fx.until_queued(4).await;
    let before = fx.stats();
    drop(release);
    held.await.expect("join").expect("held write");
    first.await.expect("join").expect("first write");
    assert!(matches!(
        failing.await.expect("join"),
        Err(RepoError::Conflict(_))
    ));
    assert!(duplicate.await.expect("join").is_err());
    last.await.expect("join").expect("last write");
    assert_eq!(fx.stats().batches - before.batches, 1);
    assert_eq!(fx.committed(), vec![1, 3]);
}

#[tokio::test]
async fn a_panicking_write_does_not_stop_the_writer() {
    let fx = fixture().await;
    let (release, held) = fx.hold().await;
    let first = fx.spawn(|c| insert(c, 1));
    let panicking = fx.spawn(|c| {
        insert(c, 2)?;
        // Panics two savepoints deep: the writer must unwind them all.
        c.transaction::<(), diesel::result::Error, _>(|c| {
            c.batch_execute("INSERT INTO t (id) VALUES (4)")?;
            panic!("injected");
        })
        .map_err(storage)
    });
    let last = fx.spawn(|c| insert(c, 3));
    fx.until_queued(3).await;
    drop(release);
    held.await.expect("join").expect("held write");
    first.await.expect("join").expect("first write");
    assert!(matches!(
        panicking.await.expect("join"),
        Err(RepoError::Storage(_))
    ));
    last.await.expect("join").expect("last write");
    assert_eq!(fx.committed(), vec![1, 3]);

    // Alone too, and the writer still answers afterwards.
    let alone = fx
        .db
        .write_alone(|c| {
            c.transaction::<(), diesel::result::Error, _>(|c| {
                c.batch_execute("INSERT INTO t (id) VALUES (6)")?;
                panic!("injected");
            })
            .map_err(storage)
        })
        .await;
    assert!(alone.is_err());
    fx.db.write(|c| insert(c, 7)).await.expect("later write");
    assert_eq!(fx.committed(), vec![1, 3, 7]);
}

#[tokio::test]
async fn a_write_is_answered_only_after_its_whole_batch_commits() {
    let fx = fixture().await;
    let (release, held) = fx.hold().await;
    let first = fx.spawn(|c| insert(c, 1));
    let second = fx.spawn(|c| insert(c, 2));
    fx.until_queued(2).await;
    drop(release);
    held.await.expect("join").expect("held write");
    first.await.expect("join").expect("first write");
    // The first write's answer came after the commit of the batch, second write included:
    // both are visible to a connection of its own before the second is even awaited.
    assert_eq!(fx.committed(), vec![1, 2]);
    second.await.expect("join").expect("second write");
}

#[tokio::test]
async fn a_batch_that_cannot_commit_fails_each_of_its_writes() {
    let fx = fixture().await;
    let (release, held) = fx.hold().await;
    let fine = fx.spawn(|c| insert(c, 1));
    // A deferred foreign key is only checked at COMMIT: the one case where one write can make
    // its batch fail (the schema has no deferred constraint; see docs/design.md).
    let dangling = fx.spawn(|c| {
        c.batch_execute("INSERT INTO child (id, parent) VALUES (1, 999)")
            .map_err(storage)
    });
    fx.until_queued(2).await;
    drop(release);
    held.await.expect("join").expect("held write");
    assert!(fine.await.expect("join").is_err());
    assert!(dangling.await.expect("join").is_err());
    assert!(fx.committed().is_empty());
    fx.db.write(|c| insert(c, 2)).await.expect("later write");
    assert_eq!(fx.committed(), vec![2]);
}

#[tokio::test]
async fn a_write_that_opens_its_own_transaction_must_run_alone() {
    let fx = fixture().await;
    let immediate = |c: &mut AnyConnection| match c {
        AnyConnection::Sqlite(c) => c
            .immediate_transaction(|c| c.batch_execute("INSERT INTO t (id) VALUES (1)"))
            .map_err(storage),
        AnyConnection::Postgresql(_) => unreachable!("a SQLite test"),
    };
    // Inside the shared transaction diesel refuses it, and the batch goes on.
    assert!(fx.db.write(immediate).await.is_err());
    fx.db.write_alone(immediate).await.expect("alone");
    assert_eq!(fx.committed(), vec![1]);
}

#[tokio::test]
async fn per_write_commit_runs_without_the_group_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/phantom.db", dir.path().display());
    let db = Database::connect_with(&url, SqliteCommit::PerWrite).expect("connect");
    assert!(db.group_commit_stats().is_none());
    db.write(|c| {
        c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .map_err(storage)
    })
    .await
    .expect("schema");
    db.write(|c| insert(c, 1)).await.expect("write");
}

#[tokio::test]
async fn dropping_the_database_closes_the_write_connection() {
    let fx = fixture().await;
    fx.db.write(|c| insert(c, 1)).await.expect("write");
    let wal = format!("{}-wal", fx.path);
    assert!(std::path::Path::new(&wal).exists());
    let Fixture { db, path, _dir } = fx;
    drop(db);
    // The last connection to close checkpoints and removes the WAL: none is left open, the
    // writer thread's included, once the last handle is dropped.
    assert!(!std::path::Path::new(&wal).exists());
    assert!(std::path::Path::new(&path).exists());
}
