//! Versioned schema migrations, embedded in the binary.
//!
//! Version 1 is JupyterHub 6.1.1's schema, so an upstream database (alembic
//! head `f460b0348206`) is adopted as version 1 and upgraded from there; one
//! of JupyterHub 5.x or a 6.0 pre-release is first brought to that head by
//! upstream's own steps (`UPSTREAM_STEPS`).
//!
//! On PostgreSQL, ferrohub before schema version 3 created its own types
//! (BIGINT ids and flags, TEXT timestamps); version 3 converts such a database
//! to upstream's types and constraint names ([`to_upstream_postgres_types`]),
//! column by column where the type differs, so a database that already has
//! upstream's types (one adopted from upstream) passes through unchanged.

use std::path::{Path, PathBuf};

use sqlx::{AssertSqlSafe, Row};

use crate::{Dialect, Result, Store, StoreError};

/// One schema version: its SQL for SQLite (and the other dialects unless
/// they have their own: types, foreign keys, constraint names).
struct Migration {
    portable: &'static str,
    mysql: Option<&'static str>,
    postgres: Option<&'static str>,
    /// On PostgreSQL, also bring the columns to upstream's types
    /// ([`to_upstream_postgres_types`]).
    postgres_types: bool,
}

impl Migration {
    fn sql(&self, dialect: Dialect) -> &'static str {
        match (dialect, self.mysql, self.postgres) {
            (Dialect::MySql, Some(mysql), _) => mysql,
            (Dialect::Postgres, _, Some(postgres)) => postgres,
            _ => self.portable,
        }
    }
}

/// The migrations, oldest first; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[Migration] = &[
    Migration {
        portable: include_str!("migrations/0001_jupyterhub_schema.sql"),
        mysql: Some(include_str!("migrations/0001_jupyterhub_schema.mysql.sql")),
        postgres: Some(include_str!(
            "migrations/0001_jupyterhub_schema.postgres.sql"
        )),
        postgres_types: false,
    },
    Migration {
        portable: include_str!("migrations/0002_lookup_indexes.sql"),
        mysql: None,
        postgres: None,
        postgres_types: false,
    },
    // Upstream's types on PostgreSQL databases made by ferrohub before; no
    // SQL of its own.
    Migration {
        portable: "",
        mysql: None,
        postgres: None,
        postgres_types: true,
    },
];

/// The schema version this binary writes and expects.
#[allow(
    clippy::cast_possible_wrap,
    reason = "a handful of migrations; `try_from` is not available in a const"
)]
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Upstream JupyterHub 6.x's alembic head, equal to our version 1.
const UPSTREAM_HEAD: &str = "f460b0348206";

/// One of upstream's alembic revisions after JupyterHub 5.x's head: the
/// columns it adds, as upstream's migration script adds them.
struct UpstreamStep {
    from: &'static str,
    to: &'static str,
    statements: &'static [&'static str],
}

/// Upstream's alembic chain from 5.x's head (`4621fec11365`, shared by
/// every 5.x release) to 6.1.1's, in order: a database at any of these
/// revisions (5.x, or a 6.0 pre-release) is brought to 6.1.1's schema by
/// the steps after it, as upstream's own `jupyterhub upgrade-db` would, and
/// then adopted. Each adds columns only, in SQL every dialect takes.
const UPSTREAM_STEPS: &[UpstreamStep] = &[
    UpstreamStep {
        from: "4621fec11365",
        to: "be8ecf03ddac",
        statements: &["ALTER TABLE services ADD COLUMN timeout INTEGER NOT NULL DEFAULT 30"],
    },
    UpstreamStep {
        from: "be8ecf03ddac",
        to: "afd65840b69e",
        statements: &[
            "ALTER TABLE oauth_codes ADD COLUMN code_challenge VARCHAR(255)",
            "ALTER TABLE oauth_codes ADD COLUMN code_challenge_method VARCHAR(64)",
        ],
    },
    UpstreamStep {
        from: "afd65840b69e",
        to: "ff1860e38070",
        statements: &["ALTER TABLE users ADD COLUMN user_info TEXT"],
    },
    UpstreamStep {
        from: "ff1860e38070",
        to: UPSTREAM_HEAD,
        statements: &["ALTER TABLE spawners ADD COLUMN display_name VARCHAR(255)"],
    },
];

/// What the database holds, compared with this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStatus {
    /// No ferrohub or JupyterHub tables: a new database.
    Empty,
    /// At `SCHEMA_VERSION`.
    Current,
    /// At an older version: needs `upgrade-db`.
    Older(i64),
    /// Written by a newer ferrohub.
    Newer(i64),
    /// An upstream JupyterHub database older than 6.1.1 (5.x, a 6.0
    /// pre-release) at this alembic revision: needs `upgrade-db`.
    OlderUpstream(&'static str),
}

impl Store {
    /// Reads the schema version without changing anything.
    pub async fn schema_status(&self) -> Result<SchemaStatus> {
        let version = if self.table_exists("ferrohub_schema").await? {
            let row = sqlx::query("SELECT version FROM ferrohub_schema")
                .fetch_optional(self.reader())
                .await?;
            row.map(|r| r.try_get::<i64, _>("version"))
                .transpose()?
                .unwrap_or(0)
        } else if self.table_exists("alembic_version").await? {
            let row = sqlx::query("SELECT version_num FROM alembic_version")
                .fetch_optional(self.reader())
                .await?;
            let head: Option<String> = row.map(|r| r.try_get("version_num")).transpose()?;
            if head.as_deref() != Some(UPSTREAM_HEAD) {
                if let Some(step) = UPSTREAM_STEPS
                    .iter()
                    .find(|s| Some(s.from) == head.as_deref())
                {
                    return Ok(SchemaStatus::OlderUpstream(step.from));
                }
                return Err(StoreError::Corrupt {
                    what: "schema",
                    reason: format!(
                        "JupyterHub database at alembic revision {head:?}, older than JupyterHub 5.0 or unknown; upgrade it with JupyterHub 5.x or 6.x (`jupyterhub upgrade-db`) first"
                    ),
                });
            }
            1
        } else if self.table_exists("users").await? {
            return Err(StoreError::Corrupt {
                what: "schema",
                reason: "tables exist but no schema version; is this a ferrohub database?".into(),
            });
        } else {
            return Ok(SchemaStatus::Empty);
        };
        Ok(match version.cmp(&SCHEMA_VERSION) {
            std::cmp::Ordering::Equal => SchemaStatus::Current,
            std::cmp::Ordering::Less => SchemaStatus::Older(version),
            std::cmp::Ordering::Greater => SchemaStatus::Newer(version),
        })
    }

    /// Checks the schema at start-up: creates a new database, refuses an old or
    /// newer one with a message saying what to do.
    /// Also makes sure the built-in `jupyterhub` OAuth client, owner of every
    /// API token, exists.
    pub async fn prepare(&self) -> Result<()> {
        match self.schema_status().await? {
            SchemaStatus::Empty => {
                self.migrate_to(SCHEMA_VERSION).await?;
                self.ensure_builtin_client().await
            }
            SchemaStatus::Current => self.ensure_builtin_client().await,
            SchemaStatus::Older(found) => Err(StoreError::NeedsUpgrade {
                found,
                expected: SCHEMA_VERSION,
            }),
            SchemaStatus::Newer(found) => Err(StoreError::TooNew {
                found,
                expected: SCHEMA_VERSION,
            }),
            SchemaStatus::OlderUpstream(revision) => {
                Err(StoreError::UpstreamNeedsUpgrade { revision })
            }
        }
    }

    /// Brings the schema to `SCHEMA_VERSION`. For SQLite files an older schema is
    /// first backed up next to the database; the back-up path is returned.
    pub async fn upgrade(&self) -> Result<Option<PathBuf>> {
        let status = self.schema_status().await?;
        if let SchemaStatus::Newer(found) = status {
            return Err(StoreError::TooNew {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        let backup = match (status, self.url.sqlite_path()) {
            (SchemaStatus::Older(_) | SchemaStatus::OlderUpstream(_), Some(path)) => {
                Some(self.backup_sqlite(path).await?)
            }
            _ => None,
        };
        if let SchemaStatus::OlderUpstream(revision) = status {
            self.upgrade_upstream(revision).await?;
        }
        self.migrate_to(SCHEMA_VERSION).await?;
        Ok(backup)
    }

    /// Brings an upstream database from `revision` to 6.1.1's head, step by
    /// step, recording each revision in `alembic_version` as alembic does.
    async fn upgrade_upstream(&self, revision: &str) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        for step in UPSTREAM_STEPS.iter().skip_while(|s| s.from != revision) {
            for statement in step.statements {
                sqlx::query(AssertSqlSafe(*statement))
                    .execute(&mut tx)
                    .await?;
            }
            sqlx::query("UPDATE alembic_version SET version_num = $1")
                .bind(step.to)
                .execute(&mut tx)
                .await?;
            tracing::info!(
                from = step.from,
                to = step.to,
                "applied upstream JupyterHub's schema step"
            );
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies migrations up to `target` (tests use it to build old databases).
    pub async fn migrate_to(&self, target: i64) -> Result<()> {
        let pool = self.writer();
        let current = match self.schema_status().await? {
            SchemaStatus::Empty => 0,
            SchemaStatus::Current => SCHEMA_VERSION,
            SchemaStatus::Older(v) | SchemaStatus::Newer(v) => v,
            SchemaStatus::OlderUpstream(revision) => {
                return Err(StoreError::UpstreamNeedsUpgrade { revision });
            }
        };
        let adopting_upstream = !self.table_exists("ferrohub_schema").await? && current == 1;
        let mut tx = pool.begin().await?;
        if current == 0 || adopting_upstream {
            sqlx::query("CREATE TABLE ferrohub_schema (version BIGINT NOT NULL)")
                .execute(&mut tx)
                .await?;
            sqlx::query("INSERT INTO ferrohub_schema (version) VALUES ($1)")
                .bind(current)
                .execute(&mut tx)
                .await?;
        }
        for (version, migration) in (1_i64..).zip(MIGRATIONS) {
            if version <= current || version > target {
                continue;
            }
            for statement in statements(migration.sql(self.url.dialect()), self.url.dialect()) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut tx)
                    .await?;
            }
            if migration.postgres_types && self.url.dialect() == Dialect::Postgres {
                to_upstream_postgres_types(&mut tx).await?;
            }
            sqlx::query("UPDATE ferrohub_schema SET version = $1")
                .bind(version)
                .execute(&mut tx)
                .await?;
            tracing::info!(version, "applied database migration");
        }
        tx.commit().await?;
        Ok(())
    }

    async fn table_exists(&self, name: &str) -> Result<bool> {
        let sql = match self.url.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
            Dialect::Postgres => {
                // `table_name` is of type `name`, which the Any driver cannot decode: select a constant.
                "SELECT 1 AS found FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::MySql => {
                "SELECT 1 AS found FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = $1"
            }
        };
        Ok(sqlx::query(sql)
            .bind(name)
            .fetch_optional(self.reader())
            .await?
            .is_some())
    }

    /// Copies a consistent snapshot of the SQLite file to `<db>.<YYYY-MM-DD-HHMMSS>`
    /// (suffix `.1`..`.9` on collision), as upstream's upgrade-db does.
    async fn backup_sqlite(&self, path: &Path) -> Result<PathBuf> {
        let stamp = chrono::Utc::now().format("%Y-%m-%d-%H%M%S");
        let base = format!("{}.{stamp}", path.display());
        let target = std::iter::once(base.clone())
            .chain((1..=9).map(|n| format!("{base}.{n}")))
            .map(PathBuf::from)
            // Not `exists()`: that follows links, and a dangling one would be written through.
            .find(|candidate| std::fs::symlink_metadata(candidate).is_err())
            .ok_or_else(|| {
                StoreError::Io(std::io::Error::other(format!(
                    "too many back-ups named {base}.*"
                )))
            })?;
        // Created empty and private first (VACUUM INTO accepts an empty file),
        // so the copy of the database is 0600 like the database itself.
        ferrohub_files::ensure_private(&target)?;
        let quoted = target.display().to_string().replace('\'', "''");
        sqlx::query(AssertSqlSafe(format!("VACUUM INTO '{quoted}'")))
            .execute(&*self.writer())
            .await?;
        tracing::info!(backup = %target.display(), "backed up the database before upgrading");
        Ok(target)
    }
}

/// Upstream's tables (the ones a type or constraint name is brought in line in).
const UPSTREAM_TABLES: &[&str] = &[
    "api_tokens",
    "group_role_map",
    "groups",
    "oauth_clients",
    "oauth_codes",
    "roles",
    "servers",
    "service_role_map",
    "services",
    "share_codes",
    "shares",
    "spawners",
    "user_group_map",
    "user_role_map",
    "users",
];

/// Upstream's BOOLEAN columns (`table.column`).
const BOOLEAN_COLUMNS: &[&str] = &[
    "users.admin",
    "services.admin",
    "services.display",
    "services.oauth_no_confirm",
    "services.from_config",
    "roles.managed_by_auth",
    "user_role_map.managed_by_auth",
    "group_role_map.managed_by_auth",
    "service_role_map.managed_by_auth",
];

/// Upstream's DATETIME columns (`table.column`).
const TIMESTAMP_COLUMNS: &[&str] = &[
    "users.created",
    "users.last_activity",
    "spawners.started",
    "spawners.last_activity",
    "api_tokens.created",
    "api_tokens.expires_at",
    "api_tokens.last_activity",
    "shares.created_at",
    "shares.expires_at",
    "share_codes.created_at",
    "share_codes.expires_at",
    "share_codes.last_exchanged_at",
];

/// Brings a PostgreSQL database made by ferrohub before schema version 3 to
/// upstream's types, keeping every row: BIGINT flags become BOOLEAN (non-zero
/// is true), TEXT timestamps TIMESTAMP, every other BIGINT (ids, ports,
/// counts) INTEGER and the id sequences INTEGER like SERIAL's; constraints
/// get upstream's names (`pk_<table>`, `uq_<table>_<column>`,
/// `fk_<table>_<column>_<referred table>`), which its alembic migrations
/// use. Only what differs is changed, so on a database adopted from upstream
/// this does nothing.
async fn to_upstream_postgres_types(tx: &mut crate::Tx) -> Result<()> {
    let columns = sqlx::query(
        "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name, \
         CAST(data_type AS TEXT) AS data_type FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut changes: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in &columns {
        let table: String = row.try_get("table_name")?;
        let column: String = row.try_get("column_name")?;
        let data_type: String = row.try_get("data_type")?;
        if !UPSTREAM_TABLES.contains(&table.as_str()) {
            continue;
        }
        let qualified = format!("{table}.{column}");
        let change = match data_type.as_str() {
            "bigint" if BOOLEAN_COLUMNS.contains(&qualified.as_str()) => {
                format!("ALTER COLUMN \"{column}\" TYPE BOOLEAN USING (\"{column}\" <> 0)")
            }
            "bigint" => format!("ALTER COLUMN \"{column}\" TYPE INTEGER"),
            "text" if TIMESTAMP_COLUMNS.contains(&qualified.as_str()) => format!(
                "ALTER COLUMN \"{column}\" TYPE TIMESTAMP WITHOUT TIME ZONE \
                 USING CAST(NULLIF(\"{column}\", '') AS TIMESTAMP WITHOUT TIME ZONE)"
            ),
            _ => continue,
        };
        changes.entry(table).or_default().push(change);
    }
    for (table, alterations) in &changes {
        let sql = format!("ALTER TABLE \"{table}\" {}", alterations.join(", "));
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        tracing::info!(
            table,
            columns = alterations.len(),
            "converted columns to upstream JupyterHub's types"
        );
    }
    let sequences = sqlx::query(
        "SELECT CAST(sequencename AS TEXT) AS name FROM pg_sequences \
         WHERE schemaname = current_schema() AND CAST(data_type AS TEXT) = 'bigint'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in &sequences {
        let name: String = row.try_get("name")?;
        if UPSTREAM_TABLES
            .iter()
            .any(|t| name == format!("{t}_id_seq"))
        {
            sqlx::query(AssertSqlSafe(format!(
                "ALTER SEQUENCE \"{name}\" AS INTEGER"
            )))
            .execute(&mut *tx)
            .await?;
        }
    }
    let constraints = sqlx::query(
        "SELECT CAST(c.conname AS TEXT) AS name, CAST(t.relname AS TEXT) AS table_name, \
         CAST(c.contype AS TEXT) AS kind, CAST(a.attname AS TEXT) AS column_name, \
         CAST(r.relname AS TEXT) AS referred FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         LEFT JOIN pg_class r ON r.oid = c.confrelid \
         WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in &constraints {
        let name: String = row.try_get("name")?;
        let table: String = row.try_get("table_name")?;
        let column: String = row.try_get("column_name")?;
        let referred: Option<String> = row.try_get("referred")?;
        if !UPSTREAM_TABLES.contains(&table.as_str()) {
            continue;
        }
        let upstream_name = match (row.try_get::<String, _>("kind")?.as_str(), referred) {
            ("p", _) => format!("pk_{table}"),
            ("u", _) => format!("uq_{table}_{column}"),
            ("f", Some(referred)) => format!("fk_{table}_{column}_{referred}"),
            _ => continue,
        };
        if name != upstream_name {
            let sql = format!(
                "ALTER TABLE \"{table}\" RENAME CONSTRAINT \"{name}\" TO \"{upstream_name}\""
            );
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// Splits a migration into statements and fills in the dialect's types.
fn statements(sql: &str, dialect: Dialect) -> Vec<String> {
    let (id, int, blob) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "BLOB"),
        // Unused: PostgreSQL has its own schema file.
        Dialect::Postgres => ("SERIAL PRIMARY KEY", "INTEGER", "BYTEA"),
        Dialect::MySql => (
            "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "INTEGER",
            "BLOB",
        ),
    };
    // Upstream's tables on MySQL: InnoDB, DYNAMIC rows (long index keys);
    // utf8mb4 whatever the server's default.
    let table = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC";
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace("{id}", id)
                .replace("{int}", int)
                .replace("{blob}", blob)
                .replace("{table}", table)
        })
        .collect()
}
