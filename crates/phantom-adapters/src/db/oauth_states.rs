//! Pending authorizations between `connect` and `callback`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::google::{PendingAuthorization, Secret};
use phantom_domain::ids::UserId;
use phantom_domain::ports::OAuthStateStore;

use super::Database;
use super::error::{from_diesel, storage};
use super::schema::oauth_states as st;
use super::time::{from_db, to_db};
use crate::crypto::TokenCipher;

/// [`OAuthStateStore`] over the `oauth_states` table; PKCE verifiers are sealed.
#[derive(Debug, Clone)]
pub struct DieselOAuthStateStore {
    db: Database,
    cipher: Arc<TokenCipher>,
}

impl DieselOAuthStateStore {
    /// A store on `db` sealing with `cipher`.
    pub fn new(db: Database, cipher: Arc<TokenCipher>) -> Self {
        Self { db, cipher }
    }
}

fn aad(nonce: &str) -> Vec<u8> {
    format!("phantom oauth state {nonce}").into_bytes()
}

#[async_trait]
impl OAuthStateStore for DieselOAuthStateStore {
    async fn put(&self, nonce: &str, pending: PendingAuthorization) -> Result<(), RepoError> {
        let verifier = self
            .cipher
            .seal(pending.pkce_verifier.expose().as_bytes(), &aad(nonce))
            .map_err(storage)?;
        let nonce = nonce.to_owned();
        self.db
            .write(move |c| {
                let now = to_db(Utc::now());
                c.transaction(|c| {
                    // Abandoned authorizations go when they can no longer be used.
                    diesel::delete(st::table.filter(st::expires_at.lt(now))).execute(c)?;
                    diesel::insert_into(st::table)
                        .values((
                            st::nonce.eq(nonce),
                            st::user_id.eq(pending.user.0),
                            st::pkce_verifier.eq(verifier),
                            st::expires_at.eq(to_db(pending.expires_at)),
                            st::created_at.eq(now),
                        ))
                        .execute(c)
                        .map(drop)
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn take(&self, nonce: &str) -> Result<Option<PendingAuthorization>, RepoError> {
        let key = nonce.to_owned();
        let rows: Vec<(i64, String, NaiveDateTime)> = self
            .db
            .write(move |c| {
                // One statement: of two concurrent callbacks with the same state, one wins.
                diesel::delete(st::table.find(key))
                    .returning((st::user_id, st::pkce_verifier, st::expires_at))
                    .get_results(c)
                    .map_err(from_diesel)
            })
            .await?;
        let Some((user, sealed, expires_at)) = rows.into_iter().next() else {
            return Ok(None);
        };
        let verifier = self.cipher.open(&sealed, &aad(nonce)).map_err(storage)?;
        let verifier = String::from_utf8(verifier).map_err(storage)?;
        Ok(Some(PendingAuthorization {
            user: UserId(user),
            pkce_verifier: Secret::new(verifier),
            expires_at: from_db(expires_at),
        }))
    }
}
