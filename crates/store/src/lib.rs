//! ferrohub's database: connection, schema migrations and every query.
//!
//! One [`Store`] serves SQLite (default), PostgreSQL and MySQL/MariaDB
//! through sqlx's `Any` driver, on upstream JupyterHub's schema and column
//! types in each. The SQL is written once, in PostgreSQL's dialect:
//! `$n` placeholders (SQLite reads them by number too), timestamps bound in
//! upstream's naive-UTC text format as `CAST($n AS TIMESTAMP)` and read as
//! `CAST(col AS TEXT)`, booleans bound as `bool` and read as
//! `CAST(col AS INTEGER)`, JSON in TEXT columns; `dialect` translates it for
//! SQLite and MySQL.
//!
//! Invariant: no other crate writes SQL; callers get plain Rust records.

mod db_url;
mod dialect;
mod groups;
pub mod hashing;
mod migrate;
mod models;
mod oauth;
mod roles;
mod services;
mod shares;
mod spawners;
mod tokens;
mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrohub_core::time::{self, Timestamp};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, Executor, Row};
use thiserror::Error;

pub use db_url::{DbUrl, Dialect};
use dialect::{Db, Tx};
pub use migrate::{SCHEMA_VERSION, SchemaStatus};
pub use models::{
    GroupRecord, OAuthClient, OAuthCode, RoleHolder, RoleKind, RoleMembers, RoleRecord,
    ServerAddress, ServiceRecord, ShareCodeRecord, ShareRecord, ShareTarget, SpawnerRecord,
    TokenOwner, TokenRecord, UserRecord,
};
pub use oauth::BUILTIN_CLIENT;
pub use services::NewService;
pub use shares::ShareGrants;
pub use tokens::NewToken;
pub use users::{ServerState, UserQuery, UserSort, Visibility};

/// Errors from the database layer.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The `db_url` is not one we can use.
    #[error("unsupported database URL {0:?}: use sqlite:///FILE, postgresql://... or mysql://...")]
    BadUrl(String),
    /// The database schema is older than this hub and must be upgraded first.
    #[error(
        "database schema version {found} is older than this ferrohub's {expected}; back up your database and run `ferrohub upgrade-db` (or start with --upgrade-db)"
    )]
    NeedsUpgrade {
        /// Version found in the database.
        found: i64,
        /// Version this binary expects.
        expected: i64,
    },
    /// An upstream JupyterHub database older than 6.1.1 (5.x, a 6.0
    /// pre-release): `upgrade-db` brings it to 6.1.1's schema.
    #[error(
        "JupyterHub database at alembic revision {revision} (JupyterHub 5.x or a 6.0 pre-release); back up your database and run `ferrohub upgrade-db` (or start with --upgrade-db) to bring it to JupyterHub 6.1.1's schema"
    )]
    UpstreamNeedsUpgrade {
        /// The alembic revision found.
        revision: &'static str,
    },
    /// The database was written by a newer ferrohub.
    #[error(
        "database schema version {found} is newer than this ferrohub's {expected}; use a newer ferrohub"
    )]
    TooNew {
        /// Version found in the database.
        found: i64,
        /// Version this binary expects.
        expected: i64,
    },
    /// A uniqueness rule was violated (e.g. the user already exists).
    #[error("{0} already exists")]
    Conflict(String),
    /// Stored JSON could not be read.
    #[error("corrupt {what} in the database: {reason}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The parse error.
        reason: String,
    },
    /// The database server cannot be reached right now (down, restarting,
    /// connection lost, no connection free within the pool's timeout): the
    /// same request may succeed later, so the hub answers 503, not 500.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else the driver reports.
    #[error("database error: {0}")]
    Sqlx(#[source] sqlx::Error),
    /// File-system errors (SQLite back-ups).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A token could not be hashed because the runtime is shutting down.
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// The SQLite file is not one the hub may use (a planted symlink, another
    /// user's file, ...).
    #[error("database file {0}")]
    DatabaseFile(#[from] ferrohub_files::PrivateFileError),
}

/// How long a request waits for a connection to a database server before it
/// fails (PostgreSQL, MySQL): long enough for a busy pool, short enough that
/// an outage is reported at once instead of hanging every request.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sorts driver errors: losing the server is [`StoreError::Unavailable`].
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Sqlx(err)
        }
    }
}

/// Whether `err` means the database server is out of reach rather than that
/// the statement failed: no connection within the acquire timeout, a broken
/// socket, or the server's own "connection exception" (SQLSTATE class 08,
/// which MySQL also uses for "server has gone away"/"shutdown in progress")
/// and PostgreSQL's shutdown codes (57P01..57P03).
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A connection pool plus the SQL dialect it speaks.
///
/// Queries never use the pool directly: reads go through [`Store::reader`],
/// writes through [`Store::writer`], which advances the [`Store::generation`]
/// once the write is done, so that anything the hub derived from the
/// database (a resolved credential and its scopes) can tell it may be stale.
/// Only activity timestamps use [`Store::activity_writer`], which does not;
/// it advances [`Store::activity_generation`] instead, so that views that show
/// activity times (cached user models) can tell too.
/// `tests/store_access.rs` checks that no query goes around them.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Arc<Db>,
    generation: Arc<AtomicU64>,
    activity_generation: Arc<AtomicU64>,
    url: DbUrl,
    /// Serialises share grants in this process: `shares` has no unique key on
    /// (server, target), so a read-then-write must not interleave with another.
    share_lock: Arc<tokio::sync::Mutex<()>>,
    /// The last `COUNT(*)` of a user listing (`users::CachedCount`).
    user_count: Arc<std::sync::Mutex<Option<users::CachedCount>>>,
}

impl Store {
    /// Connects to the database named by a JupyterHub-style `db_url`
    /// (`sqlite:///relative.sqlite`, `sqlite:////abs.sqlite`, `sqlite:///:memory:`,
    /// `postgresql://user:pw@host/db`, `mysql+pymysql://user:pw@host/db`).
    /// Does not touch the schema.
    pub async fn connect(db_url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = DbUrl::parse(db_url)?;
        if let Some(path) = url.sqlite_path() {
            create_sqlite_file(path)?;
        }
        let max = if url.is_memory() { 1 } else { 8 };
        // sqlx pings an idle connection before handing it out (to notice a
        // server that hung up). A SQLite connection is a file in this process:
        // the ping is a round trip to the connection's worker thread for
        // nothing, and it doubled the thread switches of every query.
        let ping = url.dialect() != Dialect::Sqlite;
        let mut options = AnyPoolOptions::new()
            .max_connections(max)
            .test_before_acquire(ping);
        if url.dialect() != Dialect::Sqlite {
            // A database server that is down must fail a request soon (the
            // hub answers 503) rather than hold it for sqlx's default 30 s.
            options = options.acquire_timeout(ACQUIRE_TIMEOUT);
        }
        if url.dialect() == Dialect::MySql {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    for statement in dialect::MYSQL_SESSION {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url.sqlx_url()).await?;
        if url.dialect() == Dialect::Sqlite && !url.is_memory() {
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Self {
            pool: Arc::new(Db::new(pool, url.dialect())),
            generation: Arc::default(),
            activity_generation: Arc::default(),
            url,
            share_lock: Arc::default(),
            user_count: Arc::default(),
        })
    }

    /// Changes every time a write (other than activity timestamps) completes
    /// through this store; equal values mean nothing was written in between.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Changes every time an activity write (`last_activity` stamps, a
    /// service's pid, a share code's use count) completes through this store:
    /// what a cached view showing those values must also be keyed on. Writes
    /// through [`Store::writer`] do not change it; pair it with
    /// [`Store::generation`].
    #[must_use]
    pub fn activity_generation(&self) -> u64 {
        self.activity_generation.load(Ordering::Acquire)
    }

    /// The pool, for queries that only read.
    fn reader(&self) -> &Db {
        &self.pool
    }

    /// The pool, for writes: the guard advances the generation when dropped,
    /// i.e. after the statement (or, bound to a variable, the transaction) ends.
    fn writer(&self) -> WriteGuard<'_> {
        WriteGuard { store: self }
    }

    /// The pool, for writes of activity timestamps only: the guard advances
    /// the activity generation (not the generation) when dropped.
    fn activity_writer(&self) -> ActivityGuard<'_> {
        ActivityGuard { store: self }
    }

    /// The parsed URL (dialect, SQLite file path).
    #[must_use]
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Closes every connection (the SQLite file is then safe to copy).
    pub async fn close(&self) {
        self.pool.any_pool().close().await;
    }
}

/// Access to the pool for a write; advances the store's generation on drop.
struct WriteGuard<'a> {
    store: &'a Store,
}

impl std::ops::Deref for WriteGuard<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.store.pool
    }
}

impl WriteGuard<'_> {
    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails with "database is locked" when another write commits in between,
    /// instead of waiting its turn.
    async fn begin(&self) -> Result<Tx> {
        let pool = self.store.pool.any_pool();
        let dialect = self.store.pool.dialect();
        let tx: sqlx::Transaction<'static, Any> = match dialect {
            Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres | Dialect::MySql => pool.begin().await?,
        };
        Ok(Tx::new(tx, dialect))
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.store.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Access to the pool for an activity write; advances the store's activity
/// generation on drop.
struct ActivityGuard<'a> {
    store: &'a Store,
}

impl std::ops::Deref for ActivityGuard<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.store.pool
    }
}

impl Drop for ActivityGuard<'_> {
    fn drop(&mut self) {
        self.store
            .activity_generation
            .fetch_add(1, Ordering::AcqRel);
    }
}

/// Creates the SQLite file ourselves, 0600 and refusing a symlink, before the
/// driver opens it: the driver would create it with the umask's mode (token
/// hashes readable by all) and follow a link planted at the path. SQLite gives
/// its `-wal`, `-shm` and `-journal` files the database's mode; links planted
/// at those names are refused too.
fn create_sqlite_file(path: &std::path::Path) -> Result<()> {
    if ferrohub_files::ensure_private(path)? {
        tracing::info!("created database file {} (mode 0600)", path.display());
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = std::path::PathBuf::from(companion);
        if std::fs::symlink_metadata(&companion).is_ok_and(|meta| meta.file_type().is_symlink()) {
            return Err(ferrohub_files::PrivateFileError::Symlink(companion).into());
        }
    }
    Ok(())
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::Conflict(what());
    }
    StoreError::from(err)
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "callers hand over the owned column value straight from `try_get`"
)]
fn parse_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: Option<String>,
    default: T,
) -> Result<T> {
    match text.as_deref() {
        None | Some("") => Ok(default),
        Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            what,
            reason: e.to_string(),
        }),
    }
}

/// Serialises a JSON value for a TEXT column (serialising plain data cannot fail).
fn json_text<T: serde::Serialize + ?Sized>(value: &T, fallback: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| fallback.to_owned())
}

/// Reads a nullable timestamp column (selected with `CAST(.. AS TEXT)`).
fn opt_ts(row: &AnyRow, column: &str) -> Result<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<String>, _>(column)?
        .as_deref()
        .and_then(time::from_db))
}

/// Reads a NOT NULL timestamp column; a missing or unreadable value is corrupt data.
fn req_ts(row: &AnyRow, column: &str, what: &'static str) -> Result<Timestamp> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref()
        .and_then(time::from_db)
        .ok_or_else(|| StoreError::Corrupt {
            what,
            reason: format!("unreadable timestamp {text:?}"),
        })
}

/// Reads a boolean flag (selected with `CAST(.. AS INTEGER)`); NULL is false.
fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or(0) != 0)
}

/// A value bound to a query whose SQL is assembled from constant fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Int(i64),
    Text(String),
}

/// Binds `args` in order (they fill `$1..$n` of the assembled SQL).
fn bind_args<'q>(
    mut query: sqlx::query::Query<'q, Any, AnyArguments>,
    args: &[Arg],
) -> sqlx::query::Query<'q, Any, AnyArguments> {
    for arg in args {
        query = match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(value) => query.bind(value.clone()),
        };
    }
    query
}

/// `$first, $first+1, ...` (`count` of them): only numbers are formatted into SQL.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Clamps API paging to what both dialects accept (PostgreSQL rejects negative values).
/// `(1,2,3)` for `IN` lists of row ids: integers from the database itself, so
/// formatting them into the SQL cannot inject anything; `(NULL)` when empty.
fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "(NULL)".to_owned();
    }
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", items.join(","))
}

/// `(owner id, name)` rows grouped by owner, in row order.
fn names_by_owner(rows: &[AnyRow]) -> Result<std::collections::HashMap<i64, Vec<String>>> {
    let mut out: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for row in rows {
        let owner: i64 = row.try_get("owner")?;
        if let Some(name) = row.try_get::<Option<String>, _>("name")? {
            out.entry(owner).or_default().push(name);
        }
    }
    Ok(out)
}

fn page_bounds(offset: i64, limit: i64) -> (i64, i64) {
    (offset.max(0), limit.max(0))
}
