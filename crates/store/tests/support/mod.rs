//! Real databases for the store's integration tests: a SQLite file in a temp
//! dir, or a fresh database on a private PostgreSQL or MariaDB server.
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]

pub mod mysql;
pub mod postgres;

use std::path::PathBuf;
use std::sync::Arc;

use ferrohub_core::time::{self, Timestamp};
use ferrohub_store::{Dialect, Store};
use sqlx::AnyPool;

use self::mysql::MyServer;
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
    MySql(
        #[allow(
            dead_code,
            reason = "only held, so the database lives as long as the fixture"
        )]
        Arc<MyServer>,
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

    /// A new database `name` on the shared test MariaDB server.
    pub async fn mysql(name: &str) -> Self {
        let server = MyServer::shared();
        let db_url = server.create_database(name).await;
        Self {
            db_url,
            sqlite_path: None,
            _keep: Keep::MySql(server),
        }
    }

    /// Which back end this is.
    pub fn dialect(&self) -> Dialect {
        match self._keep {
            Keep::Sqlite(_) => Dialect::Sqlite,
            Keep::Postgres(_) => Dialect::Postgres,
            Keep::MySql(_) => Dialect::MySql,
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
            None => self.db_url.replacen("mysql+pymysql://", "mysql://", 1),
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

/// `sql` as the raw pool's server takes it: MySQL's placeholders are `?`
/// (the tests' own SQL uses each `$n` once, in order), and a timestamp
/// value's `CAST($n AS TIMESTAMP)` (which PostgreSQL's TIMESTAMP columns
/// need) is only `$n` on SQLite and MySQL, as in the store's own SQL.
pub fn sql(raw: &AnyPool, sql: &str) -> sqlx::AssertSqlSafe<String> {
    let mysql = is_mysql(raw);
    let postgres = raw
        .connect_options()
        .database_url
        .scheme()
        .starts_with("postgres");
    let mut sql = sql.to_owned();
    while !postgres && let Some(at) = sql.find("CAST($") {
        let end = sql[at..]
            .find(" AS TIMESTAMP)")
            .expect("CAST($n AS TIMESTAMP)")
            + at;
        sql = format!("{}{}{}", &sql[..at], &sql[at + 5..end], &sql[end + 14..]);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if mysql && c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    sqlx::AssertSqlSafe(out)
}

/// Whether the raw pool is on MySQL/MariaDB.
pub fn is_mysql(raw: &AnyPool) -> bool {
    raw.connect_options().database_url.scheme() == "mysql"
}

/// `SELECT COUNT(*) ...` through the raw pool.
pub async fn count(raw: &AnyPool, text: &'static str, bind: Option<i64>) -> i64 {
    let sql_text = text;
    let sql = sql(raw, text);
    // MySQL's `?` is bound once per use; `$1` once.
    let uses = if is_mysql(raw) {
        sql.0.matches('?').count()
    } else {
        1
    };
    let mut query = sqlx::query_scalar::<_, i64>(sql);
    if let Some(value) = bind {
        for _ in 0..uses {
            query = query.bind(value);
        }
    }
    query
        .fetch_one(raw)
        .await
        .unwrap_or_else(|e| panic!("{sql_text}: {e}"))
}
