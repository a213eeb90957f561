//! Adopting a database written by JupyterHub 6.1.1 itself (SQLite).

use ferrohub_core::{time, token};
use ferrohub_store::{
    NewToken, RoleHolder, SCHEMA_VERSION, SchemaStatus, Store, StoreError, TokenOwner, UserQuery,
    UserSort,
};
use serde_json::json;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::support::TestDb;

/// Upstream's schema as JupyterHub 6.1.1 creates it (alembic head f460b0348206).
const UPSTREAM_SCHEMA: &str = include_str!("../data/jupyterhub-6.1.1-schema.sqlite.sql");
const CREATED: &str = "2026-11-22 10:35:35.109388";

/// Builds the upstream database with one user, as JupyterHub would have written it.
async fn build_upstream(db: &TestDb, cookie_id: &str, api_token: &str, share_code: &str) {
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
    upstream_rbac_and_sharing(&pool, share_code).await;
    pool.close().await;
}

/// Rows of the 6.x tables as upstream writes them: BOOLEAN 0/1, DATETIME text, JSON text.
async fn upstream_rbac_and_sharing(pool: &AnyPool, share_code: &str) {
    let statements = [
        "INSERT INTO users (name, admin, created, last_activity, cookie_id, state, user_info) \
         VALUES ('erin', 1, $1, $1, 'erin-cookie', '{}', '{\"uid\": 7}')",
        "INSERT INTO spawners (user_id, state, name, display_name, last_activity, user_options) \
         VALUES ((SELECT id FROM users WHERE name = 'carol'), '{}', '', NULL, NULL, NULL)",
        "INSERT INTO spawners (user_id, state, name, display_name, last_activity, user_options) \
         VALUES ((SELECT id FROM users WHERE name = 'carol'), '{}', 'lab', 'Lab', $1, '{\"cpu\": 2}')",
        "INSERT INTO roles (name, description, scopes, managed_by_auth) VALUES ('user', 'Default', '[\"self\"]', 0)",
        "INSERT INTO roles (name, description, scopes, managed_by_auth) VALUES ('teacher', NULL, '[\"read:users\"]', 1)",
        "INSERT INTO groups (name, properties) VALUES ('class', '{\"year\": 2026}')",
        "INSERT INTO user_group_map (user_id, group_id) VALUES \
         ((SELECT id FROM users WHERE name = 'carol'), (SELECT id FROM groups WHERE name = 'class'))",
        "INSERT INTO user_role_map (user_id, role_id, managed_by_auth) VALUES \
         ((SELECT id FROM users WHERE name = 'carol'), (SELECT id FROM roles WHERE name = 'user'), 0)",
        "INSERT INTO group_role_map (group_id, role_id, managed_by_auth) VALUES \
         ((SELECT id FROM groups WHERE name = 'class'), (SELECT id FROM roles WHERE name = 'teacher'), 1)",
        "INSERT INTO services (name, admin, url, oauth_client_allowed_scopes, info, display, oauth_no_confirm, \
         command, cwd, environment, user, timeout, from_config, _server_id, pid, oauth_client_id) \
         VALUES ('announce', 1, 'http://127.0.0.1:8888', '[]', '{}', 1, 0, '[]', NULL, '{}', NULL, 30, 1, NULL, NULL, NULL)",
        "INSERT INTO service_role_map (service_id, role_id, managed_by_auth) VALUES \
         ((SELECT id FROM services WHERE name = 'announce'), (SELECT id FROM roles WHERE name = 'teacher'), 0)",
        "INSERT INTO shares (user_id, group_id, created_at, scopes, expires_at, owner_id, spawner_id) VALUES \
         ((SELECT id FROM users WHERE name = 'erin'), NULL, $1, '[\"access:servers!server=carol/\"]', NULL, \
          (SELECT id FROM users WHERE name = 'carol'), (SELECT id FROM spawners WHERE name = ''))",
    ];
    for sql in statements {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if sql.contains("$1") {
            query = query.bind(CREATED);
        }
        query
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    sqlx::query(
        "INSERT INTO share_codes (hashed, prefix, exchange_count, last_exchanged_at, created_at, scopes, \
         expires_at, owner_id, spawner_id) VALUES ($1, $2, 1, $3, $3, '[\"access:servers!server=carol/\"]', NULL, \
         (SELECT id FROM users WHERE name = 'carol'), (SELECT id FROM spawners WHERE name = ''))",
    )
    .bind(token::hash_token(share_code, token::GENERATED_TOKEN_ROUNDS))
    .bind(token::token_prefix(share_code))
    .bind(CREATED)
    .execute(pool)
    .await
    .unwrap();
}

/// The 6.x rows written by upstream read back through every kind of query.
async fn read_upstream_rows(store: &Store, share_code: &str) {
    let created = time::from_db(CREATED);
    let carol = store.user_by_name("carol").await.unwrap().unwrap();
    let erin = store.user_by_name("erin").await.unwrap().unwrap();
    assert!(erin.admin);
    assert_eq!(erin.user_info, Some(json!({"uid": 7})));
    assert_eq!(carol.user_info, Some(json!({})));
    let by_activity = UserQuery {
        sort: UserSort::LastActivity,
        descending: true,
        limit: 10,
        ..UserQuery::default()
    };
    let (users, total) = store.list_users_page(&by_activity).await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!((names, total), (vec!["erin", "dave", "carol"], 3));
    assert_eq!(store.list_admin_users().await.unwrap().len(), 1);

    let default = store.spawner(carol.id, "").await.unwrap().unwrap();
    assert_eq!(
        (default.display_name.as_str(), &default.user_options),
        ("", &json!({}))
    );
    let lab = store.spawner(carol.id, "lab").await.unwrap().unwrap();
    assert_eq!(lab.display_name, "Lab");
    assert_eq!(lab.user_options, json!({"cpu": 2}));
    assert_eq!(lab.last_activity, created);
    assert_eq!(store.count_named_spawners(carol.id).await.unwrap(), 1);

    let teacher = store.role_by_name("teacher").await.unwrap().unwrap();
    assert!(teacher.managed_by_auth);
    assert_eq!(teacher.description, None);
    assert_eq!(
        store.user_role_scopes(carol.id).await.unwrap(),
        ["read:users", "self"]
    );
    assert_eq!(
        store
            .roles_of(RoleHolder::User(carol.id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.group_names_of_user(carol.id).await.unwrap(),
        ["class"]
    );
    let class = store.group_by_name("class").await.unwrap().unwrap();
    assert_eq!(class.properties, json!({"year": 2026}));

    let services = store.list_services().await.unwrap();
    assert_eq!(services.len(), 1);
    let announce = &services[0];
    assert!(
        announce.admin && announce.display && announce.from_config && !announce.oauth_no_confirm
    );
    assert_eq!(announce.url.as_deref(), Some("http://127.0.0.1:8888"));
    assert_eq!(
        store.service_role_scopes(announce.id).await.unwrap(),
        ["read:users"]
    );

    let (shares, total) = store.shares_for_user(erin.id, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(Some(shares[0].created_at), created);
    assert_eq!(
        (
            shares[0].owner_name.as_str(),
            shares[0].server_name.as_str()
        ),
        ("carol", "")
    );
    assert_eq!(
        store.share_scopes_for_user(erin.id).await.unwrap().scopes,
        ["access:servers!server=carol/"]
    );
    let code = store
        .find_share_code(share_code)
        .await
        .unwrap()
        .expect("upstream share code");
    assert_eq!((code.exchange_count, code.last_exchanged_at), (1, created));
    assert_eq!(Some(code.created_at), created);
}

pub async fn adopt(db: &TestDb) {
    let cookie_id = token::new_token();
    let api_token = token::new_token();
    let share_code = "upstream-share-code-0123456789abcdefghijklmnopq";
    build_upstream(db, &cookie_id, &api_token, share_code).await;

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
    assert_eq!(names, ["carol", "dave", "erin"]);
    read_upstream_rows(&store, share_code).await;
    store.close().await;
}
