//! ferrohub's MySQL schema is upstream's: upstream JupyterHub 6.1.1's own
//! models (`jupyterhub.orm` with PyMySQL, from the suite's virtualenv)
//! create their tables in one database on a private MariaDB, ferrohub's
//! migrations in another, and the two are compared column by column (type,
//! nullability), key by key and foreign key by foreign key (names, columns,
//! referred table, delete rule). The known differences are listed and
//! checked too: DATETIME(6) for upstream's DATETIME (timestamps keep their
//! microseconds, as on SQLite and PostgreSQL), and ferrohub's own schema table
//! and look-up indexes.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(dead_code, reason = "this test uses a part of the shared support")]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use sqlx::{AnyPool, Row};

use crate::support::mysql::MyServer;

/// Upstream's tables ferrohub must have, with the same columns and keys.
const TABLES: &[&str] = &[
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

/// Indexes ferrohub adds (`0002_lookup_indexes.sql`); `ix_spawners_user_id_name`
/// also serves `fk_spawners_user_id_users`, so MariaDB makes no index of that name.
const OWN_INDEXES: &[&str] = &[
    "api_tokens.ix_api_tokens_session_id",
    "oauth_codes.ix_oauth_codes_code",
    "spawners.ix_spawners_user_id_name",
];

#[tokio::test]
async fn ferrohub_creates_upstreams_mysql_schema() {
    let server = MyServer::shared();
    let upstream_url = server.create_database("schema_upstream").await;
    let ours_url = server.create_database("schema_ours").await;

    let python = venv().join("bin/python");
    let created = Command::new(&python)
        .args([
            "-c",
            "import sys; from jupyterhub import orm; orm.new_session_factory(sys.argv[1])",
        ])
        .arg(&upstream_url)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        created.status.success(),
        "upstream's models could not create the schema (is PyMySQL in the venv? run scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let store = ferrohub_store::Store::connect(&ours_url).await.unwrap();
    store.prepare().await.unwrap();
    store.close().await;

    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&upstream_url.replacen("mysql+pymysql://", "mysql://", 1))
        .await
        .unwrap();
    let upstream = describe(&pool, "schema_upstream").await;
    let ours = describe(&pool, "schema_ours").await;
    pool.close().await;

    let tables = |schema: &Schema| -> BTreeSet<String> {
        schema
            .columns
            .iter()
            .map(|c| c.split('.').next().unwrap().to_owned())
            .collect()
    };
    let expected: BTreeSet<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(
        &tables(&upstream) - &BTreeSet::from(["alembic_version".to_owned()]),
        expected,
        "upstream's tables"
    );
    assert_eq!(
        &tables(&ours) - &BTreeSet::from(["ferrohub_schema".to_owned()]),
        expected,
        "ferrohub's tables"
    );

    // Columns: upstream's, DATETIME as DATETIME(6).
    let upstream_columns: BTreeSet<String> = upstream
        .columns
        .iter()
        .filter(|c| !c.starts_with("alembic_version."))
        .map(|c| c.replace(" datetime ", " datetime(6) "))
        .collect();
    let our_columns: BTreeSet<String> = ours
        .columns
        .iter()
        .filter(|c| !c.starts_with("ferrohub_schema."))
        .cloned()
        .collect();
    assert_eq!(
        upstream_columns
            .symmetric_difference(&our_columns)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "columns (table.column type nullable) that differ"
    );
    assert!(
        our_columns
            .iter()
            .any(|c| c == "users.created datetime(6) YES"),
        "{our_columns:#?}"
    );

    // Keys: upstream's names and columns, plus ferrohub's own indexes.
    let without_own: BTreeSet<String> = ours
        .keys
        .iter()
        .filter(|k| {
            !OWN_INDEXES
                .iter()
                .any(|own| k.starts_with(&format!("{own} ")))
        })
        .cloned()
        .collect();
    let upstream_keys: BTreeSet<String> = upstream
        .keys
        .iter()
        .filter(|k| !k.starts_with("alembic_version."))
        .filter(|k| !k.starts_with("spawners.fk_spawners_user_id_users "))
        .cloned()
        .collect();
    assert_eq!(
        upstream_keys
            .symmetric_difference(&without_own)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys (table.name columns unique) that differ"
    );
    assert_eq!(upstream.foreign_keys, ours.foreign_keys, "foreign keys");
    assert!(ours.foreign_keys.len() >= 20, "{:#?}", ours.foreign_keys);
    for table in &ours.options {
        assert!(
            table.ends_with(" InnoDB utf8mb4_bin Dynamic"),
            "table options: {table}"
        );
    }
}

/// A database's tables as comparable lines.
struct Schema {
    /// `table.column type nullable`
    columns: BTreeSet<String>,
    /// `table.index columns unique`
    keys: BTreeSet<String>,
    /// `table.constraint (column) -> table rule`
    foreign_keys: BTreeSet<String>,
    /// `table engine collation row_format`
    options: BTreeSet<String>,
}

async fn describe(pool: &AnyPool, schema: &str) -> Schema {
    let text = |row: &sqlx::any::AnyRow, column: &str| -> String {
        row.try_get::<Option<String>, _>(column)
            .unwrap()
            .unwrap_or_default()
    };
    let rows = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(schema.to_owned())
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let columns = rows(
        "SELECT CONCAT(table_name, '.', column_name, ' ', column_type, ' ', is_nullable) AS line \
         FROM information_schema.columns WHERE table_schema = ?",
    )
    .await
    .iter()
    .map(|row| text(row, "line"))
    .collect();
    let keys = rows(
        "SELECT CONCAT(table_name, '.', index_name, ' ', \
         GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ','), ' ', \
         IF(MIN(non_unique) = 0, 'unique', 'non-unique')) AS line \
         FROM information_schema.statistics WHERE table_schema = ? \
         GROUP BY table_name, index_name",
    )
    .await
    .iter()
    .map(|row| text(row, "line"))
    .collect();
    let foreign_keys = rows(
        "SELECT CONCAT(k.table_name, '.', k.constraint_name, ' (', k.column_name, ') -> ', \
         k.referenced_table_name, '.', k.referenced_column_name, ' ', r.delete_rule) AS line \
         FROM information_schema.key_column_usage k \
         JOIN information_schema.referential_constraints r \
         ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name \
         WHERE k.table_schema = ? AND k.referenced_table_name IS NOT NULL",
    )
    .await
    .iter()
    .map(|row| text(row, "line"))
    .collect();
    let options = rows(
        "SELECT CONCAT(table_name, ' ', engine, ' ', table_collation, ' ', row_format) AS line \
         FROM information_schema.tables WHERE table_schema = ? \
         AND table_name NOT IN ('ferrohub_schema', 'alembic_version')",
    )
    .await
    .iter()
    .map(|row| text(row, "line"))
    .collect();
    Schema {
        columns,
        keys,
        foreign_keys,
        options,
    }
}

/// The suite's virtualenv with upstream JupyterHub (scripts/setup.sh).
fn venv() -> PathBuf {
    let venv = PathBuf::from(
        std::env::var("FERROHUB_VENV").unwrap_or_else(|_| "/opt/ferrohub/venv".into()),
    );
    assert!(
        venv.join("bin/python").exists(),
        "no virtualenv at {}; run scripts/setup.sh",
        venv.display()
    );
    venv
}
