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
    /// MySQL or MariaDB.
    MySql,
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
    /// file name, `postgresql[+driver]://...`, `postgres://...`,
    /// `mysql[+driver]://...` or `mariadb[+driver]://...` (SQLAlchemy's
    /// drivers: `pymysql`, `mysqldb`, `mysqlconnector`, `mariadbconnector`,
    /// ...; pymysql's `unix_socket=` query parameter names a socket file).
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
            if matches!(base, "mysql" | "mariadb") && !rest.is_empty() {
                return Ok(Self {
                    dialect: Dialect::MySql,
                    sqlite_path: None,
                    raw: format!("mysql://{}", mysql_query(rest)),
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
            (Dialect::Postgres | Dialect::MySql, _) => self.raw.clone(),
        }
    }
}

/// SQLAlchemy's MySQL drivers spell sqlx's `socket=` as `unix_socket=`;
/// other parameters (`charset=utf8mb4`, ...) pass through.
fn mysql_query(rest: &str) -> String {
    let Some((base, query)) = rest.split_once('?') else {
        return rest.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.strip_prefix("unix_socket=") {
            Some(path) => format!("socket={path}"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
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
        for (url, sqlx) in [
            ("mysql://u:p@h/db", "mysql://u:p@h/db"),
            ("mysql+pymysql://u:p@h:3306/db", "mysql://u:p@h:3306/db"),
            (
                "mysql+mysqldb://u@h/db?charset=utf8mb4",
                "mysql://u@h/db?charset=utf8mb4",
            ),
            ("mariadb+mariadbconnector://u@h/db", "mysql://u@h/db"),
            (
                "mysql+pymysql://u@localhost/db?unix_socket=/run/mysqld/mysqld.sock",
                "mysql://u@localhost/db?socket=/run/mysqld/mysqld.sock",
            ),
        ] {
            let parsed = DbUrl::parse(url).unwrap();
            assert_eq!(parsed.dialect(), Dialect::MySql, "{url}");
            assert_eq!(parsed.sqlx_url(), sqlx, "{url}");
        }
        assert!(DbUrl::parse("mssql://x").is_err());
        assert!(DbUrl::parse("mysql://").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }
}
