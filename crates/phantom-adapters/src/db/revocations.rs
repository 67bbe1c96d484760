//! Revocations waiting for Google, queued by [`super::DieselTokenStore`] on disconnect.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::ids::UserId;
use phantom_domain::ports::{PendingRevocation, RevocationQueue};

use super::error::from_diesel;
use super::schema::google_revocations as gr;
use super::time::to_db;
use super::tokens::open_token;
use super::{Database, channels};
use crate::crypto::TokenCipher;

/// [`RevocationQueue`] over the `google_revocations` table.
#[derive(Debug, Clone)]
pub struct DieselRevocationQueue {
    db: Database,
    cipher: Arc<TokenCipher>,
}

impl DieselRevocationQueue {
    /// A queue on `db`, opening tokens with `cipher`.
    pub fn new(db: Database, cipher: Arc<TokenCipher>) -> Self {
        Self { db, cipher }
    }
}

#[async_trait]
impl RevocationQueue for DieselRevocationQueue {
    async fn due(
        &self,
        now: DateTime<Utc>,
        user: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PendingRevocation>, RepoError> {
        let rows: Vec<(i64, i64, String, i32)> = self
            .db
            .read(move |c| {
                let mut query = gr::table
                    .filter(gr::available_at.le(to_db(now)))
                    .select((gr::id, gr::user_id, gr::token, gr::attempts))
                    .order(gr::id)
                    .limit(i64::from(limit))
                    .into_boxed();
                if let Some(user) = user {
                    query = query.filter(gr::user_id.eq(user.0));
                }
                query.load(c).map_err(from_diesel)
            })
            .await?;
        let mut due = Vec::new();
        for (id, user, sealed, attempts) in rows {
            let user = UserId(user);
            match open_token(&self.cipher, user, &sealed) {
                Some(token) => due.push(PendingRevocation {
                    id,
                    user,
                    token: token.refresh_token,
                    access: (token.access_token, token.expires_at),
                    channels: self
                        .db
                        .read(move |c| channels::of_revocation(c, id).map_err(from_diesel))
                        .await?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                }),
                // Sealed under a key we no longer have: nothing can ever revoke it.
                None => self.done(id).await?,
            }
        }
        Ok(due)
    }

    async fn done(&self, id: i64) -> Result<(), RepoError> {
        self.db
            .write(move |c| {
                diesel::delete(gr::table.find(id))
                    .execute(c)
                    .map_err(from_diesel)
                    .map(drop)
            })
            .await
    }

    async fn channel_stopped(&self, channel_id: &str) -> Result<(), RepoError> {
        let id = channel_id.to_owned();
        self.db
            .write(move |c| channels::forget(c, &id).map_err(from_diesel))
            .await
    }

    async fn retry_at(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), RepoError> {
        let error = error.chars().take(500).collect::<String>();
        self.db
            .write(move |c| {
                diesel::update(gr::table.find(id))
                    .set((
                        gr::attempts.eq(gr::attempts + 1),
                        gr::available_at.eq(to_db(at)),
                        gr::last_error.eq(error),
                    ))
                    .execute(c)
                    .map_err(from_diesel)
                    .map(drop)
            })
            .await
    }
}
