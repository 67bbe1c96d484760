//! Argon2id password hashing, off the async executor, a bounded number at a time.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use phantom_domain::error::Cause;
use phantom_domain::ports::PasswordHasher;

/// Argon2id with OWASP's first recommended setting: 19 MiB of memory, 2 passes, 1 lane.
///
/// Each hash or verification allocates its `m` KiB for its whole run, so at most
/// [`Argon2Hasher::limit`] of them run at once (one per core by default; the others wait their
/// turn without holding a thread): N concurrent logins cost `limit × 19 MiB`, not `N × 19 MiB`.
/// Clones share the limit.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that an
    /// unknown username costs the same time as a wrong password.
    decoy: Arc<OnceLock<String>>,
    /// One permit per hash allowed to run (and hold its memory) at once.
    permits: Arc<Semaphore>,
    limit: usize,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Argon2Hasher {
    /// m = 19456 KiB, t = 2, p = 1.
    pub fn new() -> Self {
        Self::with_params(Params::DEFAULT)
    }

    /// Explicit parameters (stored in each PHC string, so old hashes keep verifying), at most
    /// one hash per core at once.
    pub fn with_params(params: Params) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_limit(params, cores)
    }

    /// Explicit parameters, at most `limit` hashes or verifications at once (at least one).
    pub fn with_limit(params: Params, limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            params,
            decoy: Arc::new(OnceLock::new()),
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// How many hashes or verifications may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `work` on the blocking pool once a permit is free, holding it until `work` ends.
    async fn limited<T, F>(&self, work: F) -> Result<T, Cause>
    where
        F: FnOnce() -> Result<T, Cause> + Send + 'static,
        T: Send + 'static,
    {
        // Never closed: the semaphore lives as long as any clone of the hasher.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| Cause::from(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop(permit);
            done
        })
        .await?
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_now(&self, password: &str) -> Result<String, Cause> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Cause::from(e.to_string()))?;
        Ok(hash.to_string())
    }

    fn verify_now(&self, password: &str, hash: Option<&str>) -> Result<bool, Cause> {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => {
                let decoy = match self.decoy.get() {
                    Some(d) => d.clone(),
                    None => {
                        let fresh = self.hash_now(&uuid::Uuid::new_v4().to_string())?;
                        self.decoy.get_or_init(|| fresh).clone()
                    }
                };
                (decoy, false)
            }
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| Cause::from(e.to_string()))?;
        let matches = self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: String) -> Result<String, Cause> {
        let this = self.clone();
        self.limited(move || this.hash_now(&password)).await
    }

    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Cause> {
        let this = self.clone();
        self.limited(move || this.verify_now(&password, hash.as_deref()))
            .await
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
                    .limited(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        barrier.wait();
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            });
        }
        while let Some(done) = jobs.join_next().await {
            done.expect("join").expect("job");
        }
        most.load(Ordering::SeqCst)
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
        assert_eq!(hasher.permits.available_permits(), 1, "a permit leaked");
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
