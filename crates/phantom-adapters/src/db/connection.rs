//! Connecting to SQLite or PostgreSQL by URL, pooling, and running diesel off the executor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use phantom_domain::error::RepoError;

use super::error::storage;
use super::group_commit::{GroupCommitStats, GroupWriter};
use crate::threads::Threads;

/// One connection type for both backends; `match` on it only where SQL really differs.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// Production database.
    Postgresql(PgConnection),
    /// Embedded default.
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string, passed to libpq as given.
    Postgres(String),
}

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error(
        "DATABASE_URL must start with sqlite:// or postgres:// (got {0:?}); for example sqlite://phantom.db"
    )]
    UnsupportedUrl(String),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder for the SQLite database {path}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No connection could be opened.
    #[error("cannot connect to the database")]
    Connect(#[source] r2d2::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The SQLite writer thread could not be started.
    #[error("cannot start the SQLite writer thread")]
    Writer(#[source] std::io::Error),
    /// The threads that run queries could not be started.
    #[error("cannot start the database threads")]
    Threads(#[source] std::io::Error),
}

/// How SQLite commits writes (`PHANTOM_SQLITE_GROUP_COMMIT`). PostgreSQL always commits each
/// write on its own: it groups concurrent commits' WAL flushes itself (`commit_delay`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteCommit {
    /// Concurrent writes share one transaction and one fsync (see `docs/design.md`).
    #[default]
    Group,
    /// One transaction, so one fsync, per write.
    PerWrite,
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` (relative or absolute) or `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else {
            // Never echo a full URL: it may carry a password.
            let scheme = url.split(':').next().unwrap_or_default();
            Err(DbError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }
}

/// SQLite settings for every connection: WAL so readers never block the writer, FULL sync so
/// a `201` survives power loss, enforced foreign keys, and a wait instead of `SQLITE_BUSY`
/// when another process (a separate `phantom worker`) holds the write lock.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;";

/// The page cache of each SQLite read connection, in KiB (SQLite's default is 2,000). In WAL
/// mode a reader's cache is dropped whenever another connection has written since its last
/// read, so under write load a large one buys little; but each fills towards its size as the
/// database grows, and with four readers at the default the server's memory crept up ~8 MiB
/// over a million requests (`docs/design.md`, "Memory"). The writer keeps the default.
const SQLITE_READ_CACHE_KIB: u32 = 512;

/// Opens connections of the backend the URL names.
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
    /// SQLite's `cache_size` for these connections, in KiB; `None` keeps SQLite's default.
    sqlite_cache_kib: Option<u32>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        // Chosen by scheme: `AnyConnection::establish` would turn any string into a SQLite file.
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => AnyConnection::Postgresql(
                PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?,
            ),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                if let Some(kib) = self.sqlite_cache_kib {
                    conn.batch_execute(&format!("PRAGMA cache_size = -{kib};"))
                        .map_err(diesel::r2d2::Error::QueryError)?;
                }
                AnyConnection::Sqlite(conn)
            }
        };
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

pub(crate) type Pool = r2d2::Pool<Manager>;

/// Idle connections a pool keeps open (r2d2 closes the others after its idle timeout).
const POOL_MIN_IDLE: u32 = 2;

/// Connection pools for one database.
///
/// SQLite has one writer at a time anyway, so writes go through a pool of one connection
/// (measured: same throughput as four, a quarter of the p99) while reads use several. On
/// PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Database {
    read: Pooled,
    write: Pooled,
    /// SQLite with group commit: the thread that runs every write.
    writer: Option<Arc<GroupWriter>>,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens pools for `url`, creating the SQLite file (and its folder) if needed; SQLite
    /// writes are group-committed.
    pub fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url, SqliteCommit::default())
    }

    /// Like [`Database::connect`], committing SQLite writes as `commit` says.
    pub fn connect_with(url: &str, commit: SqliteCommit) -> Result<Self, DbError> {
        let url = DatabaseUrl::parse(url)?;
        let build = |size: u32, sqlite_cache_kib: Option<u32>| {
            r2d2::Pool::builder()
                .max_size(size)
                // Open connections as load asks for them, not all at start: an idle process
                // (a fleet's spare worker, each test's server) holds two PostgreSQL
                // connections, not ten, of the server's `max_connections`.
                .min_idle(Some(size.min(POOL_MIN_IDLE)))
                .connection_timeout(Duration::from_secs(10))
                .build(Manager {
                    url: url.clone(),
                    sqlite_cache_kib,
                })
                .map_err(DbError::Connect)
        };
        let (read, write) = match &url {
            DatabaseUrl::Sqlite(path) => {
                create_parent_dir(path)?;
                // The writer first: it switches the file to WAL before readers open it.
                let write = Pooled::new(build(1, None)?, "db-write")?;
                let read = build(4, Some(SQLITE_READ_CACHE_KIB))?;
                (Pooled::new(read, "db-read")?, write)
            }
            DatabaseUrl::Postgres(_) => {
                let pool = Pooled::new(build(10, None)?, "db")?;
                (pool.clone(), pool)
            }
        };
        let writer = match (&url, commit) {
            (DatabaseUrl::Sqlite(_), SqliteCommit::Group) => Some(Arc::new(
                GroupWriter::start(write.pool.clone()).map_err(DbError::Writer)?,
            )),
            _ => None,
        };
        Ok(Self {
            read,
            write,
            writer,
            url,
        })
    }

    /// `"sqlite"` or `"postgresql"`.
    pub fn backend_name(&self) -> &'static str {
        match self.url {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgresql",
        }
    }

    /// Runs `f` on a pooled connection for reading, on one of the pool's threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        self.read.run(f).await
    }

    /// Runs `f` on the write connection, off the executor, and answers once its changes are
    /// committed. Wrap multi-statement writes in `conn.transaction(…)` inside `f`.
    ///
    /// With SQLite group commit, `f` runs inside a savepoint of a transaction shared with other
    /// writes: `conn.transaction(…)` nests as a savepoint, and an `Err` from `f` (or a panic)
    /// undoes only `f`'s changes. `f` must not open its own top-level transaction
    /// (`immediate_transaction`, raw `BEGIN`/`COMMIT`), change `PRAGMA`s or `VACUUM`: use
    /// [`Database::write_alone`] for that.
    pub async fn write<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(f, false).await,
            None => self.write.run(f).await,
        }
    }

    /// Like [`Database::write`], but `f` runs in no shared transaction, exactly as without
    /// group commit: for writes that open their own top-level transaction, and for long ones
    /// (the writes queued with them are answered first instead of waiting for them).
    pub async fn write_alone<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(f, true).await,
            None => self.write.run(f).await,
        }
    }

    /// How many transactions the SQLite group writer has run, and how many writes they held;
    /// `None` without group commit (PostgreSQL, or [`SqliteCommit::PerWrite`]).
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.writer.as_ref().map(|w| w.stats())
    }

    /// [`Self::group_commit_stats`] counted since the last call (for `/metrics`, whose
    /// counters add up the writers of every `Database` in the process).
    pub fn take_unreported_group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.writer.as_ref().map(|w| w.take_unreported())
    }

    #[cfg(test)]
    pub(crate) fn group_writer(&self) -> Option<&GroupWriter> {
        self.writer.as_deref()
    }

    /// The PostgreSQL connection string; `None` on SQLite.
    pub(crate) fn postgres_url(&self) -> Option<&str> {
        match &self.url {
            DatabaseUrl::Postgres(url) => Some(url),
            DatabaseUrl::Sqlite(_) => None,
        }
    }

    pub(crate) fn write_pool(&self) -> &Pool {
        &self.write.pool
    }
}

/// A pool and one thread per connection in it, which run the queries: a query waits for a
/// free thread in a queue, on the executor, so the threads that ever run queries are exactly
/// these (see `crate::threads` for why not tokio's blocking pool).
#[derive(Clone)]
struct Pooled {
    pool: Pool,
    threads: Threads<()>,
}

impl Pooled {
    fn new(pool: Pool, name: &'static str) -> Result<Self, DbError> {
        let count = usize::try_from(pool.max_size()).unwrap_or(1);
        let threads = Threads::start(name, count).map_err(DbError::Threads)?;
        Ok(Self { pool, threads })
    }

    async fn run<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        self.threads
            .run(move |()| {
                let mut conn = pool.get().map_err(storage)?;
                f(&mut conn)
            })
            .await
            .map_err(storage)?
    }
}

fn create_parent_dir(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                path: dir.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://phantom.db").ok(),
            Some(DatabaseUrl::Sqlite("phantom.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/phantom/phantom.db").ok(),
            Some(DatabaseUrl::Sqlite("/var/lib/phantom/phantom.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        let err = DatabaseUrl::parse("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    /// However many queries wait, they run on no more threads than the pool has connections:
    /// 32 reads at once on SQLite's 4 read connections run on 4 threads, not 32.
    #[tokio::test]
    async fn waiting_queries_do_not_each_take_a_thread() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("gate.db").display());
        let db = Database::connect(&url).expect("connect");
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (db, threads) = (db.clone(), Arc::clone(&threads));
            reads.spawn(async move {
                db.read(move |_| {
                    if let Ok(mut seen) = threads.lock() {
                        seen.insert(std::thread::current().id());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    Ok(())
                })
                .await
            });
        }
        while let Some(done) = reads.join_next().await {
            done.expect("join").expect("read");
        }
        let used = threads.lock().map(|seen| seen.len()).unwrap_or(usize::MAX);
        assert!(
            (1..=8).contains(&used),
            "{used} blocking threads for 4 connections"
        );
    }

    /// The bundled SQLite is built with the options `.cargo/config.toml` gives it: the query
    /// planner stability guarantee (without it every `LIMIT ?` query is prepared again at each
    /// execution) and no memory statistics (a global mutex around each allocation).
    #[tokio::test]
    async fn the_bundled_sqlite_has_our_compile_options() {
        #[derive(QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("options.db").display());
        let db = Database::connect(&url).expect("connect");
        let options = db
            .read(|conn| {
                let AnyConnection::Sqlite(conn) = conn else {
                    return Err(storage("not SQLite"));
                };
                diesel::sql_query("PRAGMA compile_options")
                    .load::<CompileOption>(conn)
                    .map_err(storage)
            })
            .await
            .expect("read");
        let options: Vec<String> = options.into_iter().map(|o| o.compile_options).collect();
        for wanted in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} missing from {options:?}"
            );
        }
    }

    /// SQLite read connections use the smaller page cache; the writer keeps SQLite's default.
    #[tokio::test]
    async fn sqlite_readers_have_the_small_page_cache() {
        #[derive(QueryableByName)]
        struct CacheSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            cache_size: i64,
        }
        fn cache_size(conn: &mut AnyConnection) -> Result<i64, RepoError> {
            let AnyConnection::Sqlite(conn) = conn else {
                return Err(storage("not SQLite"));
            };
            diesel::sql_query("PRAGMA cache_size")
                .get_result::<CacheSize>(conn)
                .map(|c| c.cache_size)
                .map_err(storage)
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let db = Database::connect(&url).expect("connect");
        assert_eq!(db.read(cache_size).await.expect("read"), -512);
        assert_eq!(db.write_alone(cache_size).await.expect("write"), -2000);
    }
}
