//! Blacklisted refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::ids::UserId;
use phantom_domain::ports::RefreshTokenBlacklist;

use super::Database;
use super::error::from_diesel;
use super::schema::blacklisted_tokens as bt;
use super::time::to_db;

/// [`RefreshTokenBlacklist`] over the `blacklisted_tokens` table.
#[derive(Debug, Clone)]
pub struct DieselBlacklist {
    db: Database,
}

impl DieselBlacklist {
    /// A blacklist on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RefreshTokenBlacklist for DieselBlacklist {
    async fn blacklist(
        &self,
        jti: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let jti = jti.to_owned();
        self.db
            .write(move |c| {
                let now = to_db(Utc::now());
                c.transaction(|c| {
                    // A token past its expiry is refused anyway: its row can go.
                    diesel::delete(bt::table.filter(bt::expires_at.lt(now))).execute(c)?;
                    let already = bt::table.find(&jti).count().get_result::<i64>(c)? > 0;
                    if !already {
                        diesel::insert_into(bt::table)
                            .values((
                                bt::jti.eq(&jti),
                                bt::user_id.eq(user.0),
                                bt::expires_at.eq(to_db(expires_at)),
                                bt::blacklisted_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                })
                .map_err(from_diesel)
            })
            .await
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, RepoError> {
        let jti = jti.to_owned();
        self.db
            .read(move |c| {
                let n = bt::table
                    .find(jti)
                    .count()
                    .get_result::<i64>(c)
                    .map_err(from_diesel)?;
                Ok(n > 0)
            })
            .await
    }
}
