//! ferrohub's database: connection, schema migrations and every query.
//!
//! One [`Store`] serves SQLite (default) and PostgreSQL through sqlx's `Any`
//! driver. All SQL is portable: `$n` placeholders (SQLite reads them by
//! number too), TEXT timestamps in upstream's naive-UTC format, INTEGER 0/1
//! booleans, JSON in TEXT columns.
//!
//! Invariant: no other crate writes SQL; callers get plain Rust records.

mod db_url;
mod migrate;
mod models;
mod oauth;
mod spawners;
mod tokens;
mod users;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use thiserror::Error;

pub use db_url::{DbUrl, Dialect};
pub use migrate::{SCHEMA_VERSION, SchemaStatus};
pub use models::{
    OAuthClient, OAuthCode, ServerAddress, SpawnerRecord, TokenOwner, TokenRecord, UserRecord,
};
pub use oauth::BUILTIN_CLIENT;
pub use tokens::NewToken;

/// Errors from the database layer.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The `db_url` is not one we can use.
    #[error("unsupported database URL {0:?}: use sqlite:///FILE or postgresql://...")]
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
    /// Anything the driver reports.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// File-system errors (SQLite back-ups).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A connection pool plus the SQL dialect it speaks.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    url: DbUrl,
}

impl Store {
    /// Connects to the database named by a JupyterHub-style `db_url`
    /// (`sqlite:///relative.sqlite`, `sqlite:////abs.sqlite`, `sqlite:///:memory:`,
    /// `postgresql://user:pw@host/db`). Does not touch the schema.
    pub async fn connect(db_url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = DbUrl::parse(db_url)?;
        let max = if url.is_memory() { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(&url.sqlx_url())
            .await?;
        if url.dialect() == Dialect::Sqlite && !url.is_memory() {
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Self { pool, url })
    }

    /// The parsed URL (dialect, SQLite file path).
    #[must_use]
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Closes every connection (the SQLite file is then safe to copy).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::Conflict(what());
    }
    StoreError::Sqlx(err)
}

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
