//! Real databases for the store's integration tests: a SQLite file in a temp
//! dir, or a fresh database on a private PostgreSQL server.
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]

pub mod postgres;

use std::path::PathBuf;
use std::sync::Arc;

use ferrohub_core::time::{self, Timestamp};
use ferrohub_store::{Dialect, Store};
use sqlx::AnyPool;

use self::postgres::PgServer;

/// One empty test database; keeps its file or server alive while in scope.
#[derive(Debug)]
pub struct TestDb {
    /// The JupyterHub-style `db_url` given to [`Store::connect`].
    pub db_url: String,
    /// The SQLite file, for SQLite.
    pub sqlite_path: Option<PathBuf>,
    _keep: Keep,
}

#[derive(Debug)]
enum Keep {
    Sqlite(
        #[allow(
            dead_code,
            reason = "only held, so the database lives as long as the fixture"
        )]
        tempfile::TempDir,
    ),
    Postgres(
        #[allow(
            dead_code,
            reason = "only held, so the database lives as long as the fixture"
        )]
        Arc<PgServer>,
    ),
}

impl TestDb {
    /// A new SQLite file (not created yet) in its own temp dir.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jupyterhub.sqlite");
        // An absolute path after `sqlite:///` gives upstream's `sqlite:////abs` form.
        Self {
            db_url: format!("sqlite:///{}", path.display()),
            sqlite_path: Some(path),
            _keep: Keep::Sqlite(dir),
        }
    }

    /// A new database `name` on the shared test PostgreSQL server.
    pub async fn postgres(name: &str) -> Self {
        let server = PgServer::shared();
        let db_url = server.create_database(name).await;
        Self {
            db_url,
            sqlite_path: None,
            _keep: Keep::Postgres(server),
        }
    }

    /// Which back end this is.
    pub fn dialect(&self) -> Dialect {
        if self.sqlite_path.is_some() {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// A store on this database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.db_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.db_url))
    }

    /// A plain sqlx pool on the same database, to look at tables directly.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.sqlite_path {
            Some(path) => format!("sqlite://{}", path.display()),
            None => self.db_url.clone(),
        };
        AnyPool::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
    }
}

/// Now, truncated to the microseconds the database keeps.
pub fn db_now() -> Timestamp {
    time::from_db(&time::to_db(&time::now())).expect("round trip")
}

/// `SELECT COUNT(*) ...` through the raw pool.
pub async fn count(raw: &AnyPool, sql: &'static str, bind: Option<i64>) -> i64 {
    let mut query = sqlx::query_scalar::<_, i64>(sql);
    if let Some(value) = bind {
        query = query.bind(value);
    }
    query
        .fetch_one(raw)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
