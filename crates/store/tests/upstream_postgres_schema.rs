//! ferrohub's PostgreSQL schema is upstream's: upstream JupyterHub 6.1.1's
//! own models (`jupyterhub.orm` with psycopg 3, from the suite's
//! virtualenv) create their tables in one database on a private
//! PostgreSQL, ferrohub's migrations in another, and the two are compared
//! column by column (type, length, nullability, default), constraint by
//! constraint (primary keys, unique keys, foreign keys with their delete
//! rules, by name), index by index and sequence by sequence. The only
//! differences allowed are ferrohub's own schema table and look-up indexes.
//!
//! And a database made by ferrohub before schema version 3 (BIGINT flags,
//! TEXT timestamps: `data/ferrohub-v2-schema.postgres.sql`) is converted to
//! that same schema by the migrations, keeping its rows, while an upstream
//! database an earlier ferrohub adopted (upstream's types already) is left
//! as it is.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(dead_code, reason = "this test uses a part of the shared support")]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use ferrohub_core::time;
use ferrohub_store::{RoleHolder, SchemaStatus, Store, TokenOwner};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::support::postgres::PgServer;

/// Indexes ferrohub adds (`0002_lookup_indexes.sql`).
const OWN_INDEXES: &[&str] = &[
    "api_tokens.ix_api_tokens_session_id",
    "oauth_codes.ix_oauth_codes_code",
    "spawners.ix_spawners_user_id_name",
];

/// The tables that are not upstream's models: alembic's and ferrohub's.
const BOOKKEEPING: &[&str] = &["alembic_version.", "ferrohub_schema."];

#[tokio::test]
async fn ferrohub_creates_upstreams_postgresql_schema() {
    let server = PgServer::shared();
    let upstream_url = server.create_database("pg_schema_upstream").await;
    let ours_url = server.create_database("pg_schema_ours").await;

    create_upstream_schema(&upstream_url);
    let store = Store::connect(&ours_url).await.unwrap();
    store.prepare().await.unwrap();
    store.close().await;

    let upstream = describe(&upstream_url).await;
    let ours = describe(&ours_url).await;
    assert_same_as_upstream(&upstream, &ours);
    assert!(
        ours.columns.contains("users.admin boolean YES"),
        "{:#?}",
        ours.columns
    );
    assert!(
        ours.columns
            .contains("users.created timestamp without time zone YES"),
        "{:#?}",
        ours.columns
    );
}

#[tokio::test]
async fn an_old_ferrohub_postgresql_database_is_converted_to_upstreams_types() {
    let server = PgServer::shared();
    let fresh_url = server.create_database("pg_convert_fresh").await;
    let old_url = server.create_database("pg_convert_old").await;

    // A database as ferrohub made it before version 3, with rows in it.
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&old_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(include_str!(
        "data/ferrohub-v2-schema.postgres.sql"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(OLD_ROWS).execute(&pool).await.unwrap();
    let before = describe(&old_url).await;
    assert!(
        before.columns.contains("users.admin bigint YES"),
        "{:#?}",
        before.columns
    );
    pool.close().await;

    let store = Store::connect(&old_url).await.unwrap();
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Older(2));
    store.upgrade().await.unwrap();
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
    store.prepare().await.unwrap();

    // The schema is now the one ferrohub creates, i.e. upstream's.
    let fresh = Store::connect(&fresh_url).await.unwrap();
    fresh.prepare().await.unwrap();
    fresh.close().await;
    let converted = describe(&old_url).await;
    assert_same_as_upstream(&describe(&fresh_url).await, &converted);

    // Every row is still there, flags and timestamps as they were.
    let ts = |text: &str| time::from_db(text).unwrap();
    let ada = store.user_by_name("ada").await.unwrap().unwrap();
    assert!(ada.admin);
    assert_eq!(ada.created, Some(ts("2026-11-22 10:35:35.109388")));
    assert_eq!(ada.last_activity, Some(ts("2026-11-23 08:00:00")));
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    assert!(!bob.admin);
    assert_eq!(bob.last_activity, None);
    assert_eq!(
        store.list_admin_users().await.unwrap().len(),
        1,
        "only ada is an admin"
    );
    let spawner = store.spawner(ada.id, "").await.unwrap().unwrap();
    assert_eq!(spawner.started, Some(ts("2026-11-23 07:59:00.5")));
    assert_eq!(spawner.server.unwrap().port, 50123);
    let service = store.service_by_name("announcer").await.unwrap().unwrap();
    assert!(service.admin && !service.display && service.oauth_no_confirm);
    assert!(service.from_config);
    let roles = store.roles_of(RoleHolder::User(bob.id)).await.unwrap();
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert!(roles[0].managed_by_auth);
    assert_eq!(
        store.group_names_of_user(bob.id).await.unwrap(),
        ["physics"]
    );
    let tokens = store
        .tokens_of_owner(TokenOwner::User(bob.id))
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].created, Some(ts("2026-11-22 10:37:00")));
    assert_eq!(tokens[0].expires_at, Some(ts("2099-01-01 00:00:00")));
    assert_eq!(tokens[0].note.as_deref(), Some("made before version 3"));
    let (shares, total) = store.shares_for_user(bob.id, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(shares[0].created_at, ts("2026-11-24 09:00:00.25"));
    assert_eq!(shares[0].owner_name, "ada");

    // And it takes new rows: ids continue after the old ones.
    let cy = store.create_user("cy", true).await.unwrap();
    assert_eq!(cy.id, bob.id + 1);
    assert!(store.user_by_name("cy").await.unwrap().unwrap().admin);
    store.close().await;
}

#[tokio::test]
async fn an_upstream_database_adopted_by_an_earlier_ferrohub_keeps_upstreams_types() {
    let server = PgServer::shared();
    let upstream_url = server.create_database("pg_adopted_upstream").await;
    let adopted_url = server.create_database("pg_adopted_earlier").await;
    create_upstream_schema(&upstream_url);
    create_upstream_schema(&adopted_url);

    // What ferrohub before version 3 left behind when it adopted one:
    // upstream's schema (and types), its own version table and indexes.
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&adopted_url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE ferrohub_schema (version BIGINT NOT NULL);
         INSERT INTO ferrohub_schema (version) VALUES (2);
         CREATE UNIQUE INDEX ix_spawners_user_id_name ON spawners (user_id, name);
         CREATE INDEX ix_oauth_codes_code ON oauth_codes (code);
         CREATE INDEX ix_api_tokens_session_id ON api_tokens (session_id);
         INSERT INTO users (name, admin, created, cookie_id) \
         VALUES ('ada', TRUE, '2026-11-22 10:35:35.109388', 'cookie-ada');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::connect(&adopted_url).await.unwrap();
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Older(2));
    store.upgrade().await.unwrap();
    store.prepare().await.unwrap();
    let ada = store.user_by_name("ada").await.unwrap().unwrap();
    assert!(ada.admin);
    assert_eq!(ada.created, time::from_db("2026-11-22 10:35:35.109388"));
    store.close().await;
    assert_same_as_upstream(
        &describe(&upstream_url).await,
        &describe(&adopted_url).await,
    );
}

/// Creates upstream 6.1.1's schema at `url` with its own models, as
/// `jupyterhub` does on first start.
fn create_upstream_schema(url: &str) {
    let python = venv().join("bin/python");
    let created = Command::new(&python)
        .args([
            "-c",
            "import sys; from jupyterhub import orm; orm.new_session_factory(sys.argv[1])",
        ])
        .arg(url.replacen("postgresql://", "postgresql+psycopg://", 1))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        created.status.success(),
        "upstream's models could not create the schema (is psycopg in the venv? run scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

/// Rows in every kind of converted column (flags 0/1, timestamps with and
/// without microseconds, NULLs).
const OLD_ROWS: &str = "\
INSERT INTO users (name, admin, created, last_activity, cookie_id, state) VALUES \
 ('ada', 1, '2026-11-22 10:35:35.109388', '2026-11-23 08:00:00.000000', 'cookie-ada', '{}'), \
 ('bob', 0, '2026-11-22 10:36:00.000001', NULL, 'cookie-bob', '{}');
INSERT INTO servers (proto, ip, port, base_url, cookie_name) \
 VALUES ('http', '127.0.0.1', 50123, '/user/ada/', 'cookie');
INSERT INTO spawners (user_id, server_id, state, name, display_name, started, last_activity, user_options) \
 VALUES (1, 1, '{}', '', '', '2026-11-23 07:59:00.500000', '2026-11-23 08:00:00.000000', '{}'), \
 (2, NULL, '{}', '', '', NULL, NULL, '{}');
INSERT INTO oauth_clients (identifier, description, secret, redirect_uri, allowed_scopes) \
 VALUES ('jupyterhub', 'JupyterHub', '', '', '[]');
INSERT INTO services (name, admin, url, oauth_client_allowed_scopes, info, display, oauth_no_confirm, \
 command, environment, timeout, from_config) \
 VALUES ('announcer', 1, NULL, '[]', '{}', 0, 1, '[]', '{}', 30, 1);
INSERT INTO roles (name, description, scopes, managed_by_auth) \
 VALUES ('readers', 'reads', '[\"read:users\"]', 1);
INSERT INTO user_role_map (user_id, role_id, managed_by_auth) VALUES (2, 1, 1);
INSERT INTO groups (name, properties) VALUES ('physics', '{}');
INSERT INTO user_group_map (user_id, group_id) VALUES (2, 1);
INSERT INTO api_tokens (user_id, hashed, prefix, client_id, created, expires_at, note, scopes) \
 VALUES (2, 'not-a-real-hash', 'abcd', 'jupyterhub', '2026-11-22 10:37:00.000000', \
 '2099-01-01 00:00:00.000000', 'made before version 3', '[\"read:users\"]');
INSERT INTO shares (created_at, scopes, owner_id, spawner_id, user_id) \
 VALUES ('2026-11-24 09:00:00.250000', '[\"access:servers!server=ada/\"]', 1, 1, 2);
INSERT INTO share_codes (hashed, prefix, exchange_count, last_exchanged_at, created_at, scopes, \
 expires_at, owner_id, spawner_id) \
 VALUES ('not-a-real-hash', 'efgh', 1, '2026-11-24 09:30:00.000000', '2026-11-24 09:10:00.000000', \
 '[]', NULL, 1, 1);
";

/// `ours` has upstream's tables, columns, constraints and sequences, and its
/// indexes plus ferrohub's own (`upstream` may be a schema ferrohub made,
/// with them too).
fn assert_same_as_upstream(upstream: &Schema, ours: &Schema) {
    let upstream_only = |lines: &BTreeSet<String>| -> BTreeSet<String> {
        lines
            .iter()
            .filter(|line| !BOOKKEEPING.iter().any(|b| line.starts_with(b)))
            .cloned()
            .collect()
    };
    for (what, theirs, mine) in [
        (
            "columns (table.column type nullable default)",
            &upstream.columns,
            &ours.columns,
        ),
        (
            "constraints (table.name definition)",
            &upstream.constraints,
            &ours.constraints,
        ),
        (
            "sequences (name type)",
            &upstream.sequences,
            &ours.sequences,
        ),
    ] {
        let (theirs, mine) = (upstream_only(theirs), upstream_only(mine));
        assert_eq!(
            theirs.symmetric_difference(&mine).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{what} that differ"
        );
        assert!(mine.len() >= 11, "{what}: {mine:#?}");
    }
    let own = |line: &String| {
        OWN_INDEXES
            .iter()
            .any(|o| line.starts_with(&format!("{o} ")))
    };
    let our_indexes: BTreeSet<String> = upstream_only(&ours.indexes)
        .into_iter()
        .filter(|line| !own(line))
        .collect();
    let their_indexes: BTreeSet<String> = upstream_only(&upstream.indexes)
        .into_iter()
        .filter(|line| !own(line))
        .collect();
    assert_eq!(
        their_indexes
            .symmetric_difference(&our_indexes)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "indexes (table.name definition) that differ"
    );
    assert_eq!(
        ours.indexes.iter().filter(|line| own(line)).count(),
        OWN_INDEXES.len(),
        "ferrohub's own indexes: {:#?}",
        ours.indexes
    );
    assert!(
        ours.constraints.iter().any(|c| c
            == "spawners.fk_spawners_user_id_users FOREIGN KEY (user_id) \
                REFERENCES users(id) ON DELETE CASCADE"),
        "{:#?}",
        ours.constraints
    );
}

/// A database's schema as comparable lines.
struct Schema {
    /// `table.column type nullable default`
    columns: BTreeSet<String>,
    /// `table.name definition` (primary, unique and foreign keys)
    constraints: BTreeSet<String>,
    /// `table.name definition`
    indexes: BTreeSet<String>,
    /// `table.name type` (the tables' id sequences)
    sequences: BTreeSet<String>,
}

async fn describe(url: &str) -> Schema {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.unwrap();
    let lines = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_all(&pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|row| row.try_get::<String, _>("line").unwrap())
                .collect::<BTreeSet<String>>()
        }
    };
    let schema = Schema {
        columns: lines(
            "SELECT CAST(table_name || '.' || column_name || ' ' || data_type \
             || COALESCE('(' || character_maximum_length || ')', '') || ' ' || is_nullable \
             || COALESCE(' default ' || column_default, '') AS TEXT) AS line \
             FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .await,
        constraints: lines(
            "SELECT CAST(t.relname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS TEXT) \
             AS line FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()",
        )
        .await,
        indexes: lines(
            "SELECT CAST(tablename || '.' || indexname || ' ' || indexdef AS TEXT) AS line \
             FROM pg_indexes WHERE schemaname = current_schema()",
        )
        .await,
        sequences: lines(
            "SELECT CAST(sequencename || ' ' || CAST(data_type AS TEXT) || ' ' || max_value AS TEXT) \
             AS line FROM pg_sequences WHERE schemaname = current_schema()",
        )
        .await,
    };
    pool.close().await;
    schema
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
