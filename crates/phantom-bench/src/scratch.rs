//! Fresh databases for one bench run: a SQLite file in a temporary folder, or a scratch
//! PostgreSQL database created on the server `PHANTOM_TEST_PG_URL` names and dropped after.

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Which backend a set of figures is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// The PostgreSQL server of this admin URL (any database on it).
    Postgres(String),
}

impl Backend {
    /// The name in the report.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A database that exists until dropped.
pub enum ScratchDb {
    /// The file lives in this folder.
    Sqlite(tempfile::TempDir),
    /// A database of this name, reached through `admin`.
    Postgres {
        /// URL of the server's database used to create and drop it.
        admin: String,
        /// The scratch database.
        name: String,
    },
}

impl ScratchDb {
    /// A new, empty database on `backend`; `tag` keeps several of one run apart.
    pub fn create(backend: &Backend, tag: &str) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => Ok(ScratchDb::Sqlite(
                tempfile::Builder::new()
                    .prefix("phantom-bench-db")
                    .tempdir()?,
            )),
            Backend::Postgres(admin) => {
                let name = format!("phantom_bench_{}_{tag}", std::process::id());
                let mut conn = PgConnection::establish(admin)
                    .context("cannot connect to PHANTOM_TEST_PG_URL")?;
                // Two statements: one batch would run them in one (refused) transaction.
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .and_then(|()| conn.batch_execute(&format!("CREATE DATABASE {name}")))
                    .with_context(|| format!("cannot create the database {name}"))?;
                Ok(ScratchDb::Postgres {
                    admin: admin.clone(),
                    name,
                })
            }
        }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> String {
        match self {
            ScratchDb::Sqlite(dir) => format!("sqlite://{}/bench.db", dir.path().display()),
            ScratchDb::Postgres { admin, name } => with_database(admin, name),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let ScratchDb::Postgres { admin, name } = self
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// `url` with its database (the path) replaced by `name`, keeping any query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    // The authority ends at the first '/' after "scheme://".
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_and_keeps_the_rest() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:5432", "x"),
            "postgresql://h:5432/x"
        );
    }
}
