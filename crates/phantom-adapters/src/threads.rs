//! A fixed set of named threads for blocking work (Argon2 hashes, database queries), each with
//! state of its own that it keeps from one job to the next.
//!
//! Not tokio's blocking pool: that one starts a thread whenever none is idle at the instant a
//! task is spawned, and wakes its idle threads in turn, so under steady load its thread count
//! ratchets up (47 threads after 24 s of `wrk -c16`) and none ever idles long enough to end;
//! each keeps its stack and its allocator heap. Here the number of threads is the number of
//! jobs that can usefully run at once (one per Argon2 memory block, one per pooled connection),
//! and waiting jobs wait in a queue, not on a thread.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

/// How long a thread keeps its state without work before resetting it to its default (a
/// hashing thread frees its Argon2 memory then): a burst of work reuses it, an idle server
/// gives it back.
const KEEP_IDLE: Duration = Duration::from_secs(10);

/// The threads are gone (a job panicked, or they were never started).
#[derive(Debug, thiserror::Error)]
#[error("the {0} threads stopped before answering")]
pub struct Stopped(&'static str);

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// `count` threads taking jobs from one queue, each with its own `S`. Cloning shares the
/// threads; they end when the last clone is dropped.
pub(crate) struct Threads<S> {
    queue: Sender<Job<S>>,
    count: usize,
    name: &'static str,
}

impl<S> Clone for Threads<S> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            count: self.count,
            name: self.name,
        }
    }
}

impl<S> std::fmt::Debug for Threads<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threads")
            .field("name", &self.name)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl<S: Default + 'static> Threads<S> {
    /// Starts `count` threads (at least one) named `phantom-{name}-{n}`.
    pub(crate) fn start(name: &'static str, count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let (queue, jobs) = crossbeam_channel::unbounded::<Job<S>>();
        for n in 0..count {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("phantom-{name}-{n}"))
                .spawn(move || serve(&jobs))?;
        }
        Ok(Self { queue, count, name })
    }

    /// How many jobs may run at once.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Runs `work` on one of the threads with that thread's state, waiting (without holding
    /// an executor thread) for a free one.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, Stopped>
    where
        F: FnOnce(&mut S) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job<S> = Box::new(move |state| {
            // The caller may have gone (request cancelled): nothing to answer then.
            let _ = reply.send(work(state));
        });
        self.queue.send(job).map_err(|_| Stopped(self.name))?;
        answer.await.map_err(|_| Stopped(self.name))
    }
}

fn serve<S: Default>(jobs: &Receiver<Job<S>>) {
    let mut state = S::default();
    loop {
        match jobs.recv_timeout(KEEP_IDLE) {
            Ok(job) => {
                // A panicking job fails its caller (its reply is dropped), not the thread.
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job(&mut state);
                }));
                if ran.is_err() {
                    state = S::default();
                }
            }
            Err(RecvTimeoutError::Timeout) => state = S::default(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_thread_keeps_its_state_from_one_job_to_the_next() {
        let threads = Threads::<Vec<u32>>::start("test", 1).expect("start");
        for n in 1..=3 {
            threads.run(move |seen| seen.push(n)).await.expect("run");
        }
        let seen = threads.run(|seen| seen.clone()).await.expect("run");
        assert_eq!(seen, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_the_thread_goes_on() {
        let threads = Threads::<()>::start("test", 1).expect("start");
        let failed = threads.run(|_| -> u32 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(threads.run(|_| 7).await.expect("run"), 7);
    }

    #[tokio::test]
    async fn jobs_run_on_the_named_threads_at_most_count_at_once() {
        use std::collections::HashSet;
        let threads = Threads::<()>::start("names", 3).expect("start");
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..24 {
            let threads = threads.clone();
            jobs.spawn(async move {
                threads
                    .run(|_| {
                        std::thread::sleep(Duration::from_millis(5));
                        std::thread::current().name().map(str::to_owned)
                    })
                    .await
            });
        }
        let mut names = HashSet::new();
        while let Some(done) = jobs.join_next().await {
            names.insert(done.expect("join").expect("run"));
        }
        assert!(names.len() <= 3, "{names:?}");
        assert!(
            names.iter().all(|n| n
                .as_deref()
                .is_some_and(|n| n.starts_with("phantom-names-"))),
            "{names:?}"
        );
    }

    #[test]
    fn at_least_one_thread() {
        assert_eq!(Threads::<()>::start("test", 0).expect("start").count(), 1);
    }
}
