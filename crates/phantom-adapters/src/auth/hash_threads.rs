//! The threads that run Argon2: a fixed number, each with one block of Argon2 memory that it
//! reuses from one hash to the next, so the memory hashing takes is `threads × m` however many
//! logins arrive at once, and does not depend on what the allocator keeps of freed blocks.

use std::time::Duration;

use argon2::Block;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use phantom_domain::error::Cause;
use tokio::sync::oneshot;

/// How long a hashing thread keeps its memory without work before freeing it: a burst of
/// logins reuses it, an idle server gives it back.
const KEEP_IDLE: Duration = Duration::from_secs(10);

/// One hashing thread's Argon2 memory: allocated by its first job, reused by the next ones,
/// freed after [`KEEP_IDLE`] without work.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// At least `count` blocks (their contents are whatever the last hash left: Argon2
    /// overwrites every block it uses before reading it).
    pub(crate) fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            // Free the old block first, so that two are never held at once.
            self.blocks = Vec::new();
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks
    }

    /// How many blocks this thread holds now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.blocks.len()
    }
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// A fixed set of named threads taking jobs from one queue. Cloning shares the threads; they
/// end when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct HashThreads {
    queue: Sender<Job>,
    count: usize,
}

impl HashThreads {
    /// Starts `count` threads (at least one).
    pub(crate) fn start(count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        for n in 0..count {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("phantom-hash-{n}"))
                .spawn(move || serve(&jobs))?;
        }
        Ok(Self { queue, count })
    }

    /// How many jobs may run at once.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Runs `work` on a hashing thread with that thread's memory, waiting (without holding an
    /// executor thread) for a free one.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, Cause>
    where
        F: FnOnce(&mut Scratch) -> Result<T, Cause> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |scratch| {
            // The caller may have gone (request cancelled): nothing to answer then.
            let _ = reply.send(work(scratch));
        });
        self.queue
            .send(job)
            .map_err(|_| Cause::from("the password hashing threads have stopped"))?;
        answer
            .await
            .map_err(|_| Cause::from("a password hashing thread stopped during a hash"))?
    }
}

fn serve(jobs: &Receiver<Job>) {
    let mut scratch = Scratch::default();
    loop {
        match jobs.recv_timeout(KEEP_IDLE) {
            Ok(job) => {
                // A panicking job must not take the thread (and its share of the queue) down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job(&mut scratch);
                }));
            }
            Err(RecvTimeoutError::Timeout) => scratch = Scratch::default(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_thread_reuses_its_memory_and_grows_it_only_when_asked_for_more() {
        let threads = HashThreads::start(1).expect("start");
        let first = threads
            .run(|s| Ok(s.blocks(8).as_ptr() as usize))
            .await
            .expect("run");
        let again = threads
            .run(|s| Ok((s.blocks(4).as_ptr() as usize, s.held())))
            .await
            .expect("run");
        assert_eq!(again, (first, 8), "a smaller hash reuses the same memory");
        let bigger = threads
            .run(|s| Ok((s.blocks(16).len(), s.held())))
            .await
            .expect("run");
        assert_eq!(bigger, (16, 16));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_the_thread_goes_on() {
        let threads = HashThreads::start(1).expect("start");
        let failed = threads
            .run(|_| -> Result<(), Cause> { panic!("boom") })
            .await;
        assert!(failed.is_err());
        assert_eq!(threads.run(|_| Ok(7)).await.expect("run"), 7);
    }

    #[test]
    fn at_least_one_thread() {
        assert_eq!(HashThreads::start(0).expect("start").count(), 1);
    }
}
