//! Adopting a database written by JupyterHub 6.1.1 itself (SQLite).

use ferrohub_core::{time, token};
use ferrohub_store::{NewToken, SCHEMA_VERSION, SchemaStatus, StoreError, TokenOwner};
use sqlx::{AnyPool, AssertSqlSafe};

use crate::support::TestDb;

/// Upstream's schema as JupyterHub 6.1.1 creates it (alembic head f460b0348206).
const UPSTREAM_SCHEMA: &str = include_str!("../data/jupyterhub-6.1.1-schema.sqlite.sql");
const CREATED: &str = "2026-11-22 10:35:35.109388";

/// Builds the upstream database with one user, as JupyterHub would have written it.
async fn build_upstream(db: &TestDb, cookie_id: &str, api_token: &str) {
    let path = db.sqlite_path.as_deref().expect("SQLite");
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    let sql: String = UPSTREAM_SCHEMA
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(AssertSqlSafe(statement.to_owned()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query(
        "INSERT INTO users (name, admin, created, last_activity, cookie_id, state, user_info) \
         VALUES ('carol', 0, $1, NULL, $2, '{}', '{}')",
    )
    .bind(CREATED)
    .bind(cookie_id)
    .execute(&pool)
    .await
    .unwrap();
    // The hub's own OAuth client and an API token of carol's, as upstream stores them.
    sqlx::query(
        "INSERT INTO oauth_clients (identifier, description, secret, redirect_uri, allowed_scopes) \
         VALUES ('jupyterhub', 'JupyterHub', '', '/hub/oauth_callback', '[]')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO api_tokens (user_id, hashed, prefix, client_id, created, expires_at, note, scopes) \
         VALUES ((SELECT id FROM users WHERE name = 'carol'), $1, $2, 'jupyterhub', $3, NULL, 'from upstream', '[\"read:users\"]')",
    )
    .bind(token::hash_token(api_token, token::GENERATED_TOKEN_ROUNDS))
    .bind(token::token_prefix(api_token))
    .bind(CREATED)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

pub async fn adopt(db: &TestDb) {
    let cookie_id = token::new_token();
    let api_token = token::new_token();
    build_upstream(db, &cookie_id, &api_token).await;

    let store = db.store().await;
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Older(1));
    assert!(matches!(
        store.prepare().await,
        Err(StoreError::NeedsUpgrade { found: 1, .. })
    ));
    let backup = store.upgrade().await.unwrap();
    assert!(backup.is_some_and(|path| path.exists()), "back-up made");
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
    store.prepare().await.unwrap();

    let raw = db.raw().await;
    let version: i64 = sqlx::query_scalar("SELECT version FROM ferrohub_schema")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    raw.close().await;

    let carol = store
        .user_by_name("carol")
        .await
        .unwrap()
        .expect("upstream user kept");
    assert_eq!(carol.created, time::from_db(CREATED));
    assert_eq!(
        carol.created.map(|c| time::to_db(&c)).as_deref(),
        Some(CREATED)
    );
    assert!(!carol.admin);
    assert_eq!(carol.last_activity, None);
    assert_eq!(carol.cookie_id, cookie_id);
    assert_eq!(
        store.user_by_cookie_id(&cookie_id).await.unwrap(),
        Some(carol.clone())
    );

    let owner = TokenOwner::User(carol.id);
    let upstream_token = store
        .find_token(&api_token)
        .await
        .unwrap()
        .expect("upstream token");
    assert_eq!(upstream_token.owner, owner);
    assert_eq!(upstream_token.created, time::from_db(CREATED));
    assert_eq!(upstream_token.note.as_deref(), Some("from upstream"));
    assert_eq!(upstream_token.scopes, ["read:users"]);

    // The adopted database is usable for ferrohub's own writes too.
    let secret = token::new_token();
    store
        .create_token(&NewToken {
            token: &secret,
            rounds: token::GENERATED_TOKEN_ROUNDS,
            owner,
            client_id: "jupyterhub",
            session_id: None,
            scopes: &[],
            note: None,
            expires_at: None,
        })
        .await
        .unwrap();
    let found = store.find_token(&secret).await.unwrap().expect("token");
    assert_eq!(found.owner, owner);
    let dave = store.create_user("dave", false).await.unwrap();
    assert!(store.spawner(dave.id, "").await.unwrap().is_some());
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["carol", "dave"]);
    store.close().await;
}
