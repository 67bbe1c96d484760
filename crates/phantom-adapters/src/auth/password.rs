//! Argon2id password hashing on a fixed number of dedicated threads, each reusing its memory.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use phantom_domain::error::Cause;
use phantom_domain::ports::PasswordHasher;

use crate::threads::Threads;

/// Argon2id with OWASP's first recommended setting: 19 MiB of memory, 2 passes, 1 lane.
///
/// Hashes and verifications run on [`Argon2Hasher::limit`] threads of their own (one by
/// default), each of which keeps one block of Argon2 memory and reuses it from one hash to the
/// next (see `Scratch`): N concurrent logins cost `limit × 19 MiB`, not `N × 19 MiB`, and
/// the others wait their turn without holding an executor thread. Clones share the threads.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that an
    /// unknown username costs the same time as a wrong password.
    decoy: Arc<OnceLock<String>>,
    threads: Threads<Scratch>,
}

/// A hashing thread's Argon2 memory: allocated by its first hash, reused by the next ones,
/// freed when the thread has been idle a while (`crate::threads`). So the memory hashing
/// takes is `threads × m` however many logins arrive, and does not depend on what the
/// allocator keeps of freed blocks.
#[derive(Debug, Default)]
struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// At least `count` blocks (their contents are whatever the last hash left: Argon2
    /// overwrites every block it uses before reading it).
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            // Free the old block first, so that two are never held at once.
            self.blocks = Vec::new();
            self.blocks = vec![Block::default(); count];
        }
        &mut self.blocks
    }
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Argon2Hasher {
    /// m = 19456 KiB, t = 2, p = 1, one hash at a time.
    pub fn new() -> Self {
        Self::with_threads(1)
    }

    /// m = 19456 KiB, t = 2, p = 1, at most `threads` hashes at once (at least one).
    pub fn with_threads(threads: usize) -> Self {
        Self::with_limit(Params::DEFAULT, threads)
    }

    /// Explicit parameters (stored in each PHC string, so old hashes keep verifying), at most
    /// `limit` hashes or verifications at once (at least one), each on its own thread.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub fn with_limit(params: Params, limit: usize) -> Self {
        #[allow(clippy::expect_used)] // as `std::thread::spawn` does: no server without them
        let threads = Threads::start("hash", limit).expect("start the password hashing threads");
        Self {
            params,
            decoy: Arc::new(OnceLock::new()),
            threads,
        }
    }

    /// How many hashes or verifications may run at once.
    pub fn limit(&self) -> usize {
        self.threads.count()
    }

    fn hash_now(&self, scratch: &mut Scratch, password: &str) -> Result<String, Cause> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = argon2id(
            scratch,
            self.params.clone(),
            password.as_bytes(),
            &salt,
            Version::V0x13,
        )?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(cause)?,
            salt: Some(salt.as_salt()),
            hash: Some(hash),
        }
        .to_string())
    }

    fn verify_now(
        &self,
        scratch: &mut Scratch,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, Cause> {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => {
                let decoy = match self.decoy.get() {
                    Some(d) => d.clone(),
                    None => {
                        let fresh = self.hash_now(scratch, &uuid::Uuid::new_v4().to_string())?;
                        self.decoy.get_or_init(|| fresh).clone()
                    }
                };
                (decoy, false)
            }
        };
        let stored = PasswordHash::new(&hash).map_err(cause)?;
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return Ok(false);
        };
        if Algorithm::try_from(stored.algorithm).map_err(cause)? != Algorithm::Argon2id {
            return Err(Cause::from(format!(
                "unsupported password hash algorithm {}",
                stored.algorithm
            )));
        }
        let version = stored
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .map_err(cause)?;
        let params = Params::try_from(&stored).map_err(cause)?;
        let computed = argon2id(scratch, params, password.as_bytes(), salt, version)?;
        // `Output`'s equality is constant-time.
        Ok(real && computed == expected)
    }
}

/// Argon2id of `password` with `salt`, in `scratch`'s memory, as `Argon2::hash_password` does
/// it with memory of its own.
fn argon2id<'a>(
    scratch: &mut Scratch,
    params: Params,
    password: &[u8],
    salt: impl Into<argon2::password_hash::Salt<'a>>,
    version: Version,
) -> Result<Output, Cause> {
    let salt = salt.into();
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(cause)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    Output::init_with(len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, scratch.blocks(blocks))
            .map_err(Into::into)
    })
    .map_err(cause)
}

fn cause(e: impl std::fmt::Display) -> Cause {
    Cause::from(e.to_string())
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: String) -> Result<String, Cause> {
        let this = self.clone();
        self.threads
            .run(move |scratch| this.hash_now(scratch, &password))
            .await
            .map_err(cause)?
    }

    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Cause> {
        let this = self.clone();
        self.threads
            .run(move |scratch| this.verify_now(scratch, &password, hash.as_deref()))
            .await
            .map_err(cause)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let hasher = Argon2Hasher::new();
        let a = hasher.hash("correct horse".into()).await.expect("hash");
        let b = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "same salt twice");
        assert!(
            hasher
                .verify("correct horse".into(), Some(a.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(a))
                .await
                .expect("verify")
        );
    }

    /// Runs `rounds × limit` jobs through `hasher`'s limit, each waiting at a barrier of
    /// `limit` (so each round of `limit` jobs must run together to get past it); returns the
    /// most that ran at once.
    async fn most_at_once(hasher: &Argon2Hasher, rounds: usize) -> usize {
        use std::sync::Barrier;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(hasher.limit()));
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..rounds * hasher.limit() {
            let hasher = hasher.clone();
            let (running, most, barrier) = (
                Arc::clone(&running),
                Arc::clone(&most),
                Arc::clone(&barrier),
            );
            jobs.spawn(async move {
                hasher
                    .threads
                    .run(move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        barrier.wait();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        while let Some(done) = jobs.join_next().await {
            done.expect("join").expect("job");
        }
        most.load(Ordering::SeqCst)
    }

    #[test]
    fn scratch_memory_is_reused_and_grown_only_when_asked_for_more() {
        let mut scratch = Scratch::default();
        let first = scratch.blocks(8).as_ptr();
        assert_eq!(
            scratch.blocks(4).as_ptr(),
            first,
            "a smaller hash reuses the memory"
        );
        assert_eq!(scratch.blocks(8).len(), 8);
        assert_eq!(scratch.blocks(16).len(), 16);
    }

    #[tokio::test]
    async fn no_more_hashes_run_at_once_than_the_limit() {
        for limit in [1, 3] {
            let hasher = Argon2Hasher::with_limit(Params::DEFAULT, limit);
            assert_eq!(hasher.limit(), limit);
            assert_eq!(most_at_once(&hasher, 4).await, limit, "limit {limit}");
        }
        assert_eq!(Argon2Hasher::with_limit(Params::DEFAULT, 0).limit(), 1);
        assert!(Argon2Hasher::new().limit() >= 1);
    }

    #[tokio::test]
    async fn clones_share_one_limit_and_waiting_hashes_still_finish() {
        let cheap = Params::new(64, 1, 1, None).expect("params");
        let hasher = Argon2Hasher::with_limit(cheap, 1);
        let hash = hasher.hash("pw-123456".into()).await.expect("hash");
        let mut checks = tokio::task::JoinSet::new();
        for i in 0..6 {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            checks.spawn(async move {
                let password = if i % 2 == 0 { "pw-123456" } else { "wrong-pw" };
                (i, hasher.verify(password.into(), Some(hash)).await)
            });
        }
        while let Some(done) = checks.join_next().await {
            let (i, matched) = done.expect("join");
            assert_eq!(matched.expect("verify"), i % 2 == 0, "check {i}");
        }
    }

    /// Hashes stored before the hashing threads (made by `argon2`'s own `hash_password`) still
    /// verify, and ours verify with `argon2`'s own `verify_password`.
    #[tokio::test]
    async fn hashes_are_the_argon2_crates_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let cheap = Params::new(256, 2, 1, None).expect("params");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap.clone());
        let hasher = Argon2Hasher::with_limit(cheap, 1);

        let salt = SaltString::generate(&mut OsRng);
        let stored = theirs
            .hash_password(b"pw-123456", &salt)
            .expect("hash")
            .to_string();
        assert!(
            hasher
                .verify("pw-123456".into(), Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("pw-654321".into(), Some(stored))
                .await
                .expect("verify")
        );

        let ours = hasher.hash("pw-123456".into()).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(theirs.verify_password(b"pw-123456", &parsed).is_ok());
        assert!(theirs.verify_password(b"pw-654321", &parsed).is_err());
    }

    /// A stored hash made with other parameters (more memory than the threads hold) verifies:
    /// the parameters come from the PHC string.
    #[tokio::test]
    async fn hashes_made_with_other_parameters_verify() {
        let small = Argon2Hasher::with_limit(Params::new(64, 1, 1, None).expect("params"), 1);
        let large = Argon2Hasher::with_limit(Params::new(512, 1, 1, None).expect("params"), 1);
        let hash = large.hash("pw-123456".into()).await.expect("hash");
        assert!(
            small
                .verify("pw-123456".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !small
                .verify("wrong-pw".into(), Some(hash))
                .await
                .expect("verify")
        );
        let garbage = small
            .verify("pw".into(), Some("not a PHC string".into()))
            .await;
        assert!(
            garbage.is_err(),
            "an unreadable stored hash is an error, not a match"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_matches() {
        let hasher = Argon2Hasher::new();
        assert!(
            !hasher
                .verify("anything".into(), None)
                .await
                .expect("verify")
        );
    }
}
