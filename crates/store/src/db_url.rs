//! JupyterHub-style database URLs (SQLAlchemy spelling) and their sqlx form.

use std::path::PathBuf;

use crate::{Result, StoreError};

/// Which SQL dialect the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (file or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A parsed `db_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    dialect: Dialect,
    /// SQLite file (None for memory); PostgreSQL: unused.
    sqlite_path: Option<PathBuf>,
    raw: String,
}

impl DbUrl {
    /// Parses SQLAlchemy-style URLs: `sqlite:///rel.db` (relative to the working
    /// directory, as upstream), `sqlite:////abs.db`, `sqlite:///:memory:`, a bare
    /// file name, `postgresql[+driver]://...` or `postgres://...`.
    pub fn parse(url: &str) -> Result<Self> {
        let raw = url.to_owned();
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let path = rest.strip_prefix('/').unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::BadUrl(raw));
            }
            let sqlite_path = (path != ":memory:").then(|| PathBuf::from(path));
            return Ok(Self {
                dialect: Dialect::Sqlite,
                sqlite_path,
                raw,
            });
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let base = scheme.split('+').next().unwrap_or(scheme);
            if matches!(base, "postgresql" | "postgres") && !rest.is_empty() {
                return Ok(Self {
                    dialect: Dialect::Postgres,
                    sqlite_path: None,
                    raw: format!("postgres://{rest}"),
                });
            }
            return Err(StoreError::BadUrl(raw));
        }
        if url.is_empty() || url.contains(':') {
            return Err(StoreError::BadUrl(raw));
        }
        // Upstream treats a bare file name as SQLite.
        Ok(Self {
            dialect: Dialect::Sqlite,
            sqlite_path: Some(PathBuf::from(url)),
            raw,
        })
    }

    /// The dialect.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether this is an in-memory SQLite database.
    #[must_use]
    pub fn is_memory(&self) -> bool {
        self.dialect == Dialect::Sqlite && self.sqlite_path.is_none()
    }

    /// The SQLite file, if any (relative paths resolve from the working directory).
    #[must_use]
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    pub(crate) fn sqlx_url(&self) -> String {
        match (&self.dialect, &self.sqlite_path) {
            (Dialect::Sqlite, None) => "sqlite::memory:".to_owned(),
            (Dialect::Sqlite, Some(path)) => format!("sqlite://{}?mode=rwc", path.display()),
            (Dialect::Postgres, _) => self.raw.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_spellings() {
        let rel = DbUrl::parse("sqlite:///ferrohub.sqlite").unwrap();
        assert_eq!(
            rel.sqlite_path(),
            Some(std::path::Path::new("ferrohub.sqlite"))
        );
        let abs = DbUrl::parse("sqlite:////tmp/x.sqlite").unwrap();
        assert_eq!(
            abs.sqlite_path(),
            Some(std::path::Path::new("/tmp/x.sqlite"))
        );
        assert!(DbUrl::parse("sqlite:///:memory:").unwrap().is_memory());
        let pg = DbUrl::parse("postgresql+psycopg2://u:p@127.0.0.1:5432/db").unwrap();
        assert_eq!(pg.dialect(), Dialect::Postgres);
        assert_eq!(pg.sqlx_url(), "postgres://u:p@127.0.0.1:5432/db");
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }
}
