//! Schema creation, users, spawners, tokens, OAuth clients and codes, servers.

use chrono::TimeDelta;
use ferrohub_core::token;
use ferrohub_store::{
    NewToken, OAuthClient, OAuthCode, SCHEMA_VERSION, SchemaStatus, ServerAddress, Store,
    StoreError, TokenOwner, UserRecord,
};
use serde_json::json;
use sqlx::{AnyPool, Row};

use crate::support::{TestDb, count, db_now, is_mysql};

/// The hub's own OAuth client, which API tokens name (`api_tokens.client_id` is a foreign key).
const HUB_CLIENT: &str = "jupyterhub";
const ALICE_CLIENT: &str = "jupyterhub-user-alice";

/// Everything a hub does with the store, in order, on an empty database.
pub async fn exercise(db: &TestDb) {
    let store = db.store().await;
    let raw = db.raw().await;
    schema_is_created_once(&store, &raw).await;
    let alice = users(&store).await;
    let bob = store.create_user("bob", false).await.expect("create bob");
    spawners(&store, &alice).await;
    tokens(&store, &raw, &alice, &bob).await;
    oauth_codes(&store, &alice).await;
    servers(&store, &raw, &alice).await;
    deleting_a_user(&store, &raw, &alice, &bob).await;
    store.close().await;
}

async fn schema_is_created_once(store: &Store, raw: &AnyPool) {
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Empty);
    store.prepare().await.expect("prepare on an empty database");
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
    store.prepare().await.expect("prepare again");
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
    let version: i64 = sqlx::query_scalar("SELECT version FROM ferrohub_schema")
        .fetch_one(raw)
        .await
        .expect("exactly one ferrohub_schema row");
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(count(raw, "SELECT COUNT(*) FROM users", None).await, 0);
}

async fn users(store: &Store) -> UserRecord {
    let before = db_now();
    let alice = store
        .create_user("alice", false)
        .await
        .expect("create alice");
    assert_eq!(alice.name, "alice");
    assert!(!alice.admin);
    assert!(alice.last_activity.is_none());
    let created = alice.created.expect("created is set");
    assert!(
        created >= before && created <= db_now(),
        "created {created}"
    );
    assert_eq!(alice.cookie_id.len(), 32, "cookie id {:?}", alice.cookie_id);

    assert_eq!(
        store.user_by_name("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_cookie_id(&alice.cookie_id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);
    assert_eq!(store.user_by_cookie_id("nope").await.unwrap(), None);

    match store.create_user("alice", true).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("alice"), "{what}"),
        other => panic!("duplicate user: expected Conflict, got {other:?}"),
    }
    assert_eq!(store.list_users().await.unwrap(), vec![alice.clone()]);

    store.set_admin(alice.id, true).await.unwrap();
    assert!(store.user_by_id(alice.id).await.unwrap().unwrap().admin);
    store.set_admin(alice.id, false).await.unwrap();
    assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().admin);

    let last_activity = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .user_by_id(alice.id)
                .await
                .unwrap()
                .unwrap()
                .last_activity
        }
    };
    let t1 = db_now();
    store.touch_user(alice.id, &t1).await.unwrap();
    assert_eq!(last_activity(store).await, Some(t1));
    store
        .touch_user(alice.id, &(t1 - TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        last_activity(store).await,
        Some(t1),
        "older touch must not move it back"
    );
    let t2 = t1 + TimeDelta::milliseconds(1500);
    store.touch_user(alice.id, &t2).await.unwrap();
    assert_eq!(last_activity(store).await, Some(t2));

    store.user_by_id(alice.id).await.unwrap().unwrap()
}

async fn spawners(store: &Store, alice: &UserRecord) {
    let default = store
        .spawner(alice.id, "")
        .await
        .unwrap()
        .expect("create_user makes the default spawner row");
    assert_eq!(default.user_id, alice.id);
    assert_eq!(default.name, "");
    assert_eq!(default.state, json!({}));
    assert_eq!(default.server, None);
    assert_eq!(default.started, None);

    let gpu = store.create_spawner(alice.id, "gpu").await.unwrap();
    assert_eq!((gpu.user_id, gpu.name.as_str()), (alice.id, "gpu"));
    assert!(matches!(
        store.create_spawner(alice.id, "gpu").await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = store
        .spawners_of(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["", "gpu"]);
    assert_eq!(store.spawner(alice.id, "nope").await.unwrap(), None);

    store
        .save_spawner_state(gpu.id, &json!({"pid": 7}))
        .await
        .unwrap();
    let gpu = store.spawner(alice.id, "gpu").await.unwrap().unwrap();
    assert_eq!(gpu.state, json!({"pid": 7}));
}

fn hub_client(identifier: &str, redirect_uri: &str) -> OAuthClient {
    OAuthClient {
        identifier: identifier.to_owned(),
        description: format!("client {identifier}"),
        secret: String::new(),
        redirect_uri: redirect_uri.to_owned(),
        allowed_scopes: vec!["inherit".to_owned()],
    }
}

fn new_token<'a>(
    token: &'a str,
    owner: TokenOwner,
    client_id: &'a str,
    session_id: Option<&'a str>,
    scopes: &'a [String],
) -> NewToken<'a> {
    NewToken {
        token,
        rounds: token::GENERATED_TOKEN_ROUNDS,
        owner,
        client_id,
        session_id,
        scopes,
        note: None,
        expires_at: None,
    }
}

async fn tokens(store: &Store, raw: &AnyPool, alice: &UserRecord, bob: &UserRecord) {
    store
        .upsert_oauth_client(&hub_client(HUB_CLIENT, "/hub/oauth_callback"))
        .await
        .unwrap();
    let scopes = vec!["read:users".to_owned(), "access:servers".to_owned()];
    let alice_user = TokenOwner::User(alice.id);

    // Foreign keys are enforced on both back ends (upstream turns them on for SQLite).
    let orphan = token::new_token();
    assert!(
        store
            .create_token(&new_token(
                &orphan,
                alice_user,
                "no-such-client",
                None,
                &scopes
            ))
            .await
            .is_err(),
        "a token naming an unknown OAuth client must be refused"
    );

    let session1 = token::new_token();
    let s1_id = store
        .create_token(&NewToken {
            note: Some("my note"),
            ..new_token(&session1, alice_user, HUB_CLIENT, Some("s1"), &scopes)
        })
        .await
        .unwrap();
    let before = db_now();
    let found = store
        .find_token(&session1)
        .await
        .unwrap()
        .expect("token found");
    assert_eq!(found.id, s1_id);
    assert_eq!(found.owner, alice_user);
    assert_eq!(found.client_id, HUB_CLIENT);
    assert_eq!(found.session_id.as_deref(), Some("s1"));
    assert_eq!(found.scopes, scopes);
    assert_eq!(found.note.as_deref(), Some("my note"));
    assert_eq!(found.expires_at, None);
    assert!(found.created.is_some_and(|c| c <= before));

    let same_prefix = format!("{}{}", &session1[..4], &token::new_token()[4..]);
    assert_ne!(same_prefix, session1);
    assert_eq!(store.find_token(&same_prefix).await.unwrap(), None);
    assert_eq!(store.find_token(&session1[..4]).await.unwrap(), None);
    assert_eq!(store.find_token("").await.unwrap(), None);

    let expired = token::new_token();
    store
        .create_token(&NewToken {
            expires_at: Some(db_now() - TimeDelta::minutes(1)),
            ..new_token(&expired, alice_user, HUB_CLIENT, None, &scopes)
        })
        .await
        .unwrap();
    assert_eq!(
        store.find_token(&expired).await.unwrap(),
        None,
        "expired token"
    );
    let expiry = db_now() + TimeDelta::hours(1);
    let expiring = token::new_token();
    store
        .create_token(&NewToken {
            expires_at: Some(expiry),
            ..new_token(&expiring, alice_user, HUB_CLIENT, Some("s2"), &scopes)
        })
        .await
        .unwrap();
    let found = store
        .find_token(&expiring)
        .await
        .unwrap()
        .expect("not yet expired");
    assert_eq!(found.expires_at, Some(expiry));

    let session1_again = token::new_token();
    store
        .create_token(&new_token(
            &session1_again,
            alice_user,
            HUB_CLIENT,
            Some("s1"),
            &[],
        ))
        .await
        .unwrap();
    let bob_s1 = token::new_token();
    store
        .create_token(&new_token(
            &bob_s1,
            TokenOwner::User(bob.id),
            HUB_CLIENT,
            Some("s1"),
            &[],
        ))
        .await
        .unwrap();

    let used = db_now();
    store.touch_token(s1_id, &used).await.unwrap();
    let found = store.find_token(&session1).await.unwrap().unwrap();
    assert_eq!(found.last_activity, Some(used));

    let all = [
        &orphan,
        &session1,
        &expired,
        &expiring,
        &session1_again,
        &bob_s1,
    ];
    tokens_are_stored_hashed(raw, &all, 5).await;

    assert_eq!(
        store.delete_session_tokens(alice.id, "s1").await.unwrap(),
        2
    );
    assert_eq!(store.find_token(&session1).await.unwrap(), None);
    assert_eq!(store.find_token(&session1_again).await.unwrap(), None);
    assert!(
        store.find_token(&expiring).await.unwrap().is_some(),
        "other session kept"
    );
    assert!(
        store.find_token(&bob_s1).await.unwrap().is_some(),
        "other user kept"
    );
    assert_eq!(
        store.delete_session_tokens(alice.id, "s1").await.unwrap(),
        0
    );

    let found = store.find_token(&expiring).await.unwrap().unwrap();
    assert!(store.delete_token(found.id).await.unwrap());
    assert!(!store.delete_token(found.id).await.unwrap());
    assert_eq!(store.find_token(&expiring).await.unwrap(), None);
}

/// Looks at `api_tokens` directly: only a 4-character prefix and a salted hash.
async fn tokens_are_stored_hashed(raw: &AnyPool, tokens: &[&String], rows_expected: usize) {
    // MySQL's timestamp columns are DATETIME (sqlx's Any driver cannot read
    // them, and they cannot hold a token); elsewhere they are read as TEXT.
    let sql = if is_mysql(raw) {
        "SELECT hashed, prefix, client_id, session_id, note, scopes FROM api_tokens"
    } else {
        "SELECT hashed, prefix, client_id, session_id, CAST(created AS TEXT) AS created, \
         CAST(expires_at AS TEXT) AS expires_at, CAST(last_activity AS TEXT) AS last_activity, \
         note, scopes FROM api_tokens"
    };
    let rows = sqlx::query(sql).fetch_all(raw).await.unwrap();
    assert_eq!(rows.len(), rows_expected);
    let mut prefixes = Vec::new();
    for row in &rows {
        let hashed: String = row.try_get("hashed").unwrap();
        let prefix: String = row.try_get("prefix").unwrap();
        assert!(hashed.starts_with("sha512:1:"), "hashed = {hashed:?}");
        assert_eq!(prefix.chars().count(), 4, "prefix = {prefix:?}");
        prefixes.push(prefix);
        for column in 0..row.len() {
            let text: Option<String> = row.try_get(column).unwrap();
            for token in tokens {
                assert!(
                    !text.as_deref().unwrap_or_default().contains(token.as_str()),
                    "raw token stored in api_tokens column {column}"
                );
            }
        }
    }
    for token in &tokens[1..] {
        assert!(prefixes.iter().any(|p| token.starts_with(p.as_str())));
    }
}

async fn oauth_codes(store: &Store, alice: &UserRecord) {
    store
        .upsert_oauth_client(&hub_client(ALICE_CLIENT, "/user/alice/oauth_callback"))
        .await
        .unwrap();
    store
        .upsert_oauth_client(&hub_client(ALICE_CLIENT, "/user/alice/v2/oauth_callback"))
        .await
        .unwrap();
    let client = store.oauth_client(ALICE_CLIENT).await.unwrap().unwrap();
    assert_eq!(
        client,
        hub_client(ALICE_CLIENT, "/user/alice/v2/oauth_callback")
    );
    assert_eq!(store.oauth_client("nope").await.unwrap(), None);

    let now = chrono::Utc::now().timestamp();
    let code = OAuthCode {
        client_id: ALICE_CLIENT.to_owned(),
        code: token::random_alphanumeric(30),
        expires_at: now + 600,
        redirect_uri: client.redirect_uri.clone(),
        session_id: Some("s9".to_owned()),
        user_id: alice.id,
        scopes: vec!["read:users:name!user=alice".to_owned()],
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        code_challenge_method: Some("S256".to_owned()),
    };
    store.create_oauth_code(&code).await.unwrap();
    assert_eq!(
        store.take_oauth_code(&code.code, now).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(
        store.take_oauth_code(&code.code, now).await.unwrap(),
        None,
        "single use"
    );

    let stale = OAuthCode {
        code: token::random_alphanumeric(30),
        expires_at: now - 10,
        ..code.clone()
    };
    store.create_oauth_code(&stale).await.unwrap();
    assert_eq!(
        store.take_oauth_code(&stale.code, now).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_oauth_code("no-such-code", now).await.unwrap(),
        None
    );
}

async fn servers(store: &Store, raw: &AnyPool, alice: &UserRecord) {
    let default = store.spawner(alice.id, "").await.unwrap().unwrap();
    let address = ServerAddress {
        proto: "http".to_owned(),
        ip: "127.0.0.1".to_owned(),
        port: 54_321,
        base_url: "/user/alice/".to_owned(),
    };
    let state = json!({"pid": 4242, "extra": ["a", 1]});
    let before = db_now();
    store
        .record_server_started(default.id, &address, &state, ALICE_CLIENT)
        .await
        .unwrap();
    // Starting again (a retried spawn) replaces the address instead of leaking a row.
    let address = ServerAddress {
        port: 54_322,
        ..address
    };
    store
        .record_server_started(default.id, &address, &state, ALICE_CLIENT)
        .await
        .unwrap();
    assert_eq!(count(raw, "SELECT COUNT(*) FROM servers", None).await, 1);

    let running = store.spawner(alice.id, "").await.unwrap().unwrap();
    assert_eq!(running.server.as_ref(), Some(&address));
    assert_eq!(
        running.server.as_ref().unwrap().host_url(),
        "http://127.0.0.1:54322"
    );
    assert_eq!(running.state, state);
    assert_eq!(running.oauth_client_id.as_deref(), Some(ALICE_CLIENT));
    let started = running.started.expect("started is set");
    assert!(started >= before && started <= db_now());
    assert_eq!(running.last_activity, Some(started));
    let active: Vec<i64> = store
        .active_spawners()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, [default.id]);

    // A token and a code issued to the server's client, and an API token that must survive.
    let server_token = token::new_token();
    let api_token = token::new_token();
    let owner = TokenOwner::User(alice.id);
    store
        .create_token(&new_token(
            &server_token,
            owner,
            ALICE_CLIENT,
            Some("s3"),
            &[],
        ))
        .await
        .unwrap();
    store
        .create_token(&new_token(&api_token, owner, HUB_CLIENT, None, &[]))
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let code = token::random_alphanumeric(30);
    store
        .create_oauth_code(&OAuthCode {
            client_id: ALICE_CLIENT.to_owned(),
            code: code.clone(),
            expires_at: now + 600,
            redirect_uri: "/user/alice/v2/oauth_callback".to_owned(),
            session_id: None,
            user_id: alice.id,
            scopes: Vec::new(),
            code_challenge: None,
            code_challenge_method: None,
        })
        .await
        .unwrap();

    store.record_server_stopped(default.id).await.unwrap();
    let stopped = store.spawner(alice.id, "").await.unwrap().unwrap();
    assert_eq!(stopped.server, None);
    assert_eq!(stopped.state, json!({}));
    assert_eq!(stopped.started, None);
    assert_eq!(stopped.oauth_client_id, None);
    assert!(store.active_spawners().await.unwrap().is_empty());
    assert_eq!(count(raw, "SELECT COUNT(*) FROM servers", None).await, 0);
    assert_eq!(store.oauth_client(ALICE_CLIENT).await.unwrap(), None);
    assert_eq!(store.find_token(&server_token).await.unwrap(), None);
    assert!(store.find_token(&api_token).await.unwrap().is_some());
    assert_eq!(store.take_oauth_code(&code, now).await.unwrap(), None);
    store
        .record_server_stopped(default.id)
        .await
        .expect("stopping twice is harmless");

    // And it can start again with a fresh client.
    store
        .upsert_oauth_client(&hub_client(ALICE_CLIENT, "/user/alice/oauth_callback"))
        .await
        .unwrap();
    store
        .record_server_started(default.id, &address, &json!({"pid": 1}), ALICE_CLIENT)
        .await
        .unwrap();
    assert_eq!(store.active_spawners().await.unwrap().len(), 1);
}

async fn deleting_a_user(store: &Store, raw: &AnyPool, alice: &UserRecord, bob: &UserRecord) {
    let alice_token = token::new_token();
    store
        .create_token(&new_token(
            &alice_token,
            TokenOwner::User(alice.id),
            HUB_CLIENT,
            None,
            &[],
        ))
        .await
        .unwrap();
    let bob_token = token::new_token();
    store
        .create_token(&new_token(
            &bob_token,
            TokenOwner::User(bob.id),
            HUB_CLIENT,
            None,
            &[],
        ))
        .await
        .unwrap();

    // Alice's default server is still running (from `servers`).
    assert!(store.delete_user(alice.id).await.unwrap());
    assert_eq!(store.user_by_id(alice.id).await.unwrap(), None);
    assert_eq!(store.user_by_name("alice").await.unwrap(), None);
    assert!(store.spawners_of(alice.id).await.unwrap().is_empty());
    assert!(store.active_spawners().await.unwrap().is_empty());
    assert_eq!(store.find_token(&alice_token).await.unwrap(), None);
    let sql = "SELECT COUNT(*) FROM api_tokens WHERE user_id = $1";
    assert_eq!(count(raw, sql, Some(alice.id)).await, 0);
    let sql = "SELECT COUNT(*) FROM spawners WHERE user_id = $1";
    assert_eq!(count(raw, sql, Some(alice.id)).await, 0);
    assert_eq!(count(raw, "SELECT COUNT(*) FROM servers", None).await, 0);
    assert!(!store.delete_user(alice.id).await.unwrap(), "already gone");

    assert_eq!(
        store.user_by_name("bob").await.unwrap().map(|u| u.id),
        Some(bob.id)
    );
    assert!(store.find_token(&bob_token).await.unwrap().is_some());
    assert!(store.spawner(bob.id, "").await.unwrap().is_some());
    // The name is free again.
    let again = store.create_user("alice", false).await.unwrap();
    assert_ne!(again.id, alice.id);
}
