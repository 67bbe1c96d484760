//! A worker's life on PostgreSQL: a session-level advisory lock keyed by the worker's id, held
//! on a connection of its own (not from the pool) for as long as the worker lives.
//!
//! PostgreSQL releases a session's locks the moment its connection closes, and the kernel
//! closes the connection the moment the process dies (a crash, `kill -9`, an OOM kill). So a
//! worker whose lock is free is gone, and what it had leased can be taken over at once
//! instead of when its lease lapses ([`reap_sql`]). A live worker, however slow, holds its
//! lock: its users stay its own. The lease stays the fallback for a worker cut off from the
//! database without dying (its lock is released only once PostgreSQL notices).
//!
//! The key is the two-`int4` form of advisory locks, whose key space is apart from the
//! one-`bigint` form the user locks and the migration lock use: `(hashtext(id),
//! hashtext(reverse(id)))`, computed by the server from the worker's id, so that any process
//! can test the lock of a worker it only knows by the id it left in `users.sync_worker`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use phantom_domain::error::RepoError;

use super::error::storage;

/// The lock key of the worker whose id is the SQL expression `id`.
pub(crate) fn key(id: &str) -> String {
    format!("hashtext({id}), hashtext(reverse({id}))")
}

/// Takes over the leases of every dead worker: a user leased by a worker other than `$2`
/// whose life lock is free (trying it succeeds, in this transaction only) is due at once
/// (`$1`, now). The worker stays named, so that the next claim counts the user as rescued.
/// A worker that never took a life lock (SQLite, or one cut off) keeps its leases until they
/// lapse. PostgreSQL only.
pub(crate) fn reap_sql() -> String {
    format!(
        "UPDATE users SET sync_lease_until = NULL, sync_due_at = $1 \
         WHERE sync_lease_until IS NOT NULL AND sync_worker IN ( \
             SELECT w FROM (SELECT DISTINCT sync_worker AS w FROM users \
                            WHERE sync_lease_until IS NOT NULL AND sync_worker <> $2) AS held \
             WHERE pg_try_advisory_xact_lock({}))",
        key("w")
    )
}

/// Forgets the heartbeats of dead workers (their life lock free): the live ones share the
/// project's rate from this heartbeat on, not a lease later. `$1`: this worker. PostgreSQL
/// only.
pub(crate) fn forget_dead_sql() -> String {
    format!(
        "DELETE FROM sync_workers WHERE id <> $1 AND pg_try_advisory_xact_lock({})",
        key("id")
    )
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

/// The life locks this process holds, one connection each, by worker id.
#[derive(Clone, Default)]
pub(crate) struct Lives {
    held: Arc<Mutex<HashMap<String, PgConnection>>>,
}

impl std::fmt::Debug for Lives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lives").finish_non_exhaustive()
    }
}

/// Opens a connection of its own and takes `worker`'s life lock on it.
fn acquire(url: &str, worker: &str) -> Result<PgConnection, RepoError> {
    let mut conn = PgConnection::establish(url).map_err(storage)?;
    let taken: Taken = diesel::sql_query(format!(
        "SELECT pg_try_advisory_lock({}) AS taken",
        key("$1")
    ))
    .bind::<Text, _>(worker)
    .get_result(&mut conn)
    .map_err(storage)?;
    if !taken.taken {
        // Held by another session: the same id in two processes, or this process's previous
        // lock connection not yet noticed gone by the server. Either way not this worker's.
        return Err(storage(
            "another session holds this sync worker's life lock",
        ));
    }
    Ok(conn)
}

impl Lives {
    /// Makes sure `worker` holds its life lock on `url`: takes it on a new connection the
    /// first time, and checks the connection is still there otherwise (a lost connection is
    /// opened again and the lock taken again; `Ok(true)` says so: meanwhile the worker looked
    /// dead, and others may have taken its users). Blocking: call it off the executor.
    pub(crate) fn hold(&self, url: &str, worker: &str) -> Result<bool, RepoError> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(conn) = held.get_mut(worker) {
            if diesel::sql_query("SELECT 1").execute(conn).is_ok() {
                return Ok(false);
            }
            held.remove(worker);
            tracing::warn!("the sync worker's life lock connection was lost; taking it again");
            let conn = acquire(url, worker)?;
            held.insert(worker.to_owned(), conn);
            return Ok(true);
        }
        let conn = acquire(url, worker)?;
        held.insert(worker.to_owned(), conn);
        Ok(false)
    }

    /// Whether `worker` holds its life lock here already (no database call).
    pub(crate) fn holds(&self, worker: &str) -> bool {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(worker)
    }
}
