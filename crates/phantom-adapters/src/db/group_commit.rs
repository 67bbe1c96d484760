//! Group commit for the SQLite writer: concurrent writes share one transaction, so one fsync.
//!
//! One thread owns the write side. It takes the first queued write, then whatever else is
//! already queued (up to [`MAX_BATCH`], without waiting for more), and runs them in one
//! `BEGIN IMMEDIATE` transaction, each inside its own savepoint. A write whose closure fails or
//! panics has its savepoint rolled back, and only its own changes are undone. After the one
//! `COMMIT` every write gets its answer; none is answered before, so an `Ok` still means "on
//! disk" (`synchronous=FULL`). If the batch cannot be committed, every write of it that had
//! succeeded gets an error instead, and nothing of the batch is kept.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;
use phantom_domain::error::RepoError;
use tokio::sync::{mpsc, oneshot};

use super::connection::{AnyConnection, Pool};
use super::error::storage;

/// The most writes one transaction takes: bounds how long the first of them waits for the last.
pub(crate) const MAX_BATCH: usize = 64;

/// Writes queued for the writer at most; beyond, callers wait to queue (bounded memory).
const QUEUE_CAPACITY: usize = 1024;

/// The savepoint depth a write of a batch runs at: the batch's transaction, then its own.
const WRITE_DEPTH: u32 = 2;

/// Why a write failed in the writer rather than in its own closure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriterError {
    /// The closure panicked; its changes were rolled back.
    #[error("the database write panicked")]
    Panicked,
    /// The writer thread is gone (the process is stopping).
    #[error("the SQLite writer has stopped")]
    Stopped,
    /// The write connection could not be had.
    #[error("no SQLite write connection")]
    Connect(#[source] r2d2::Error),
    /// Beginning, a savepoint of, or committing the batch's transaction failed.
    #[error("the group transaction failed")]
    Transaction(#[source] DieselError),
    /// SQLite ended the transaction early (an I/O error, a full disk): nothing of it was kept.
    #[error("the group transaction was rolled back by SQLite")]
    Lost,
    /// The write succeeded, but the batch it was part of was not committed.
    #[error("the write's group commit failed")]
    Batch(#[source] Arc<WriterError>),
}

/// How many transactions the writer committed, and how many writes they held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed (or attempted): one per batch, and one per write run alone.
    pub batches: u64,
    /// Writes run, in batches or alone.
    pub writes: u64,
}

/// The writer's counts, and the part of them already reported: one lock, so that a reader never
/// sees a batch counted without its writes.
#[derive(Debug, Default)]
struct Counters {
    total: GroupCommitStats,
    reported: GroupCommitStats,
}

/// A queued write, its closure's type erased.
trait Job: Send {
    /// Whether it must run outside any group transaction.
    fn alone(&self) -> bool;
    /// Runs the closure (once) and keeps its result; false if it failed or panicked.
    fn run(&mut self, conn: &mut AnyConnection) -> bool;
    /// Sends the result; `failed` when the transaction that held it did not commit.
    fn answer(self: Box<Self>, failed: Option<&Arc<WriterError>>);
}

struct Write<T, F> {
    f: Option<F>,
    result: Option<Result<T, RepoError>>,
    reply: oneshot::Sender<Result<T, RepoError>>,
    alone: bool,
}

impl<T, F> Job for Write<T, F>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send,
    T: Send,
{
    fn alone(&self) -> bool {
        self.alone
    }

    fn run(&mut self, conn: &mut AnyConnection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        // The closure is consumed either way and the connection is cleaned up by the caller
        // (savepoints rolled back), so nothing observes state a panic left half-changed.
        let result = catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
            tracing::error!("a database write panicked; its changes are rolled back");
            Err(storage(WriterError::Panicked))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, failed: Option<&Arc<WriterError>>) {
        let result = match (self.result, failed) {
            // Its own error says more than the batch's.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(cause)) => Err(storage(WriterError::Batch(cause.clone()))),
            (None, None) => Err(storage(WriterError::Stopped)),
        };
        // The caller may have gone (a cancelled request): the write stands all the same.
        let _ = self.reply.send(result);
    }
}

/// The handle to the writer thread. Dropping it ends the thread and waits for it, so that the
/// write connection is closed when the last `Database` handle is gone (as it was without the
/// thread: a test, or a tool, may open the file again at once).
#[derive(Debug)]
pub(crate) struct GroupWriter {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    counters: Arc<Mutex<Counters>>,
}

impl Drop for GroupWriter {
    fn drop(&mut self) {
        // Without a sender the writer's queue ends once drained, and so does its loop.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl GroupWriter {
    /// Starts the writer thread over `pool` (SQLite; one connection, taken per batch so that
    /// migrations can still borrow it between batches).
    pub(crate) fn start(pool: Pool) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Mutex::new(Counters::default()));
        let mine = counters.clone();
        let thread = std::thread::Builder::new()
            .name("phantom-sqlite-writer".to_owned())
            .spawn(move || writer(&pool, jobs, &mine))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            counters,
        })
    }

    /// Queues `f` and waits for its answer, given once its transaction has committed.
    pub(crate) async fn submit<T, F>(&self, f: F, alone: bool) -> Result<T, RepoError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Write {
            f: Some(f),
            result: None,
            reply,
            alone,
        });
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| storage(WriterError::Stopped))?;
        queue
            .send(job)
            .await
            .map_err(|_| storage(WriterError::Stopped))?;
        answer.await.map_err(|_| storage(WriterError::Stopped))?
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        lock(&self.counters).total
    }

    /// What was counted since the last call: counters of several writers in one process (tests,
    /// tools) add up instead of overwriting each other.
    pub(crate) fn take_unreported(&self) -> GroupCommitStats {
        let mut counters = lock(&self.counters);
        let Counters { total, reported } = &mut *counters;
        let new = GroupCommitStats {
            batches: total.batches - reported.batches,
            writes: total.writes - reported.writes,
        };
        *reported = *total;
        new
    }

    /// Writes queued and not yet taken by the writer.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue
            .as_ref()
            .map_or(0, |q| q.max_capacity() - q.capacity())
    }
}

/// The counters; a poisoned lock still holds whole counts (they are changed in one step).
fn lock(counters: &Mutex<Counters>) -> MutexGuard<'_, Counters> {
    counters.lock().unwrap_or_else(PoisonError::into_inner)
}

fn writer(pool: &Pool, mut jobs: mpsc::Receiver<Box<dyn Job>>, counters: &Mutex<Counters>) {
    let mut next: Option<Box<dyn Job>> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.blocking_recv() {
                Some(job) => job,
                None => return,
            },
        };
        let mut batch = vec![first];
        let alone = batch[0].alone();
        if !alone {
            // What is already queued, and no more: no write waits for company.
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) if job.alone() => {
                        next = Some(job);
                        break;
                    }
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        {
            let total = &mut lock(counters).total;
            total.batches += 1;
            total.writes += batch.len() as u64;
        }
        // Each closure's panic is caught where it runs; this is for a panic of the writer's
        // own code. The batch's answers are then dropped, which its callers see as an error,
        // and the connection, returned mid-transaction, is discarded by r2d2. The thread lives.
        let processed = catch_unwind(AssertUnwindSafe(|| process(pool, batch, alone)));
        if processed.is_err() {
            tracing::error!("the SQLite writer panicked; the writes of its batch failed");
        }
    }
}

/// Runs a batch (or one write alone) and answers each of its writes.
fn process(pool: &Pool, mut batch: Vec<Box<dyn Job>>, alone: bool) {
    let failed = match pool.get() {
        Err(e) => Some(WriterError::Connect(e)),
        Ok(mut conn) if alone => {
            run_alone(&mut conn, &mut batch);
            None
        }
        Ok(mut conn) => run_batch(&mut conn, &mut batch).err(),
    };
    if let Some(e) = &failed {
        tracing::error!(error = ?e, writes = batch.len(), "a SQLite group commit failed");
    }
    let failed = failed.map(Arc::new);
    for job in batch {
        job.answer(failed.as_ref());
    }
}

type Tm = <AnyConnection as diesel::Connection>::TransactionManager;

fn depth(conn: &mut AnyConnection) -> Option<u32> {
    match Tm::transaction_manager_status_mut(conn).transaction_depth() {
        Ok(depth) => Some(depth.map_or(0, std::num::NonZeroU32::get)),
        Err(_) => None,
    }
}

/// Rolls back every transaction level above `level`; false if that failed (then the connection
/// is broken, and r2d2 drops it when it is returned).
fn unwind_to(conn: &mut AnyConnection, level: u32) -> bool {
    loop {
        match depth(conn) {
            Some(d) if d > level => {
                if Tm::rollback_transaction(conn).is_err() {
                    return false;
                }
            }
            Some(d) => return d == level,
            None => return false,
        }
    }
}

/// A write that must not share a transaction (it opens its own `BEGIN IMMEDIATE`, or is long),
/// run exactly as without group commit.
fn run_alone(conn: &mut AnyConnection, batch: &mut [Box<dyn Job>]) {
    for job in batch {
        job.run(conn);
        // A panic inside `conn.transaction(…)` leaves it open.
        unwind_to(conn, 0);
    }
}

/// Runs `batch` in one transaction, each write in its own savepoint, and commits it.
fn run_batch(conn: &mut AnyConnection, batch: &mut [Box<dyn Job>]) -> Result<(), WriterError> {
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Err(WriterError::Transaction(
            DieselError::BrokenTransactionManager,
        ));
    };
    // IMMEDIATE: the write lock first, so that another process writing the file makes this
    // wait (busy_timeout) rather than fail a lock upgrade half-way through the batch.
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        .map_err(WriterError::Transaction)?;
    for job in batch.iter_mut() {
        if let Err(e) = Tm::begin_transaction(conn) {
            unwind_to(conn, 0);
            return Err(WriterError::Transaction(e));
        }
        let ok = job.run(conn);
        // Savepoints a closure left open (it panicked inside `conn.transaction(…)`) go first.
        let settled = unwind_to(conn, WRITE_DEPTH)
            && if ok {
                Tm::commit_transaction(conn).is_ok()
            } else {
                Tm::rollback_transaction(conn).is_ok()
            };
        // Anything else than the batch's transaction left open means SQLite ended it (its
        // failing statements end the whole transaction on I/O errors or a full disk).
        if !settled || depth(conn) != Some(1) {
            unwind_to(conn, 0);
            return Err(WriterError::Lost);
        }
    }
    // On failure diesel rolls the transaction back.
    Tm::commit_transaction(conn).map_err(WriterError::Transaction)
}

#[cfg(test)]
mod tests;
