//! Argon2id password hashing, off the async executor.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use phantom_domain::error::Cause;
use phantom_domain::ports::PasswordHasher;

/// Argon2id with OWASP's first recommended setting: 19 MiB of memory, 2 passes, 1 lane.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that an
    /// unknown username costs the same time as a wrong password.
    decoy: Arc<OnceLock<String>>,
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

    /// Explicit parameters (stored in each PHC string, so old hashes keep verifying).
    pub fn with_params(params: Params) -> Self {
        Self {
            params,
            decoy: Arc::new(OnceLock::new()),
        }
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
        tokio::task::spawn_blocking(move || this.hash_now(&password)).await?
    }

    async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Cause> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.verify_now(&password, hash.as_deref())).await?
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
