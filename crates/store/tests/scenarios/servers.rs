//! Named servers (display name, user options, rename, delete) and token lists
//! (expired ones purged, upstream's order, OAuth grants revoked together).

use chrono::TimeDelta;
use ferrohub_core::token;
use ferrohub_store::{NewService, NewToken, OAuthClient, ServerAddress, StoreError, TokenOwner};
use serde_json::json;

use crate::support::{TestDb, count, db_now};

fn client(identifier: &str) -> OAuthClient {
    OAuthClient {
        identifier: identifier.to_owned(),
        description: format!("client {identifier}"),
        secret: String::new(),
        redirect_uri: format!("/{identifier}/oauth_callback"),
        allowed_scopes: Vec::new(),
    }
}

fn address(port: u16, base_url: &str) -> ServerAddress {
    ServerAddress {
        proto: "http".to_owned(),
        ip: "127.0.0.1".to_owned(),
        port,
        base_url: base_url.to_owned(),
    }
}

pub async fn named_servers(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;
    let alice = store.create_user("alice", false).await.unwrap();
    let bob = store.create_user("bob", false).await.unwrap();

    let default = store.spawner(alice.id, "").await.unwrap().unwrap();
    assert_eq!(default.display_name, "");
    assert_eq!(default.user_options, json!({}));

    let gpu = store.create_spawner(alice.id, "gpu").await.unwrap();
    assert_eq!(
        gpu.display_name, "gpu",
        "a new server is displayed by its name"
    );
    assert_eq!(gpu.user_options, json!({}));
    assert_eq!(store.count_named_spawners(alice.id).await.unwrap(), 1);
    store.create_spawner(alice.id, "cpu").await.unwrap();
    assert_eq!(store.count_named_spawners(alice.id).await.unwrap(), 2);
    assert_eq!(store.count_named_spawners(bob.id).await.unwrap(), 0);

    store.set_display_name(gpu.id, "My GPU box").await.unwrap();
    let options = json!({"profile": "large", "gpus": 2});
    store.set_user_options(gpu.id, &options).await.unwrap();
    let read = store.spawner_by_id(gpu.id).await.unwrap().unwrap();
    assert_eq!(read.display_name, "My GPU box");
    assert_eq!(read.user_options, options);

    match store.rename_spawner(gpu.id, "cpu").await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("cpu"), "{what}"),
        other => panic!("rename onto an existing server: expected Conflict, got {other:?}"),
    }
    store.rename_spawner(gpu.id, "tpu").await.unwrap();
    assert_eq!(store.spawner(alice.id, "gpu").await.unwrap(), None);
    let tpu = store.spawner(alice.id, "tpu").await.unwrap().unwrap();
    assert_eq!(tpu.id, gpu.id);
    assert_eq!(tpu.display_name, "My GPU box", "rename keeps the rest");
    assert_eq!(tpu.user_options, options);
    // Names are per user.
    store.create_spawner(bob.id, "tpu").await.unwrap();

    // A running server: active count, OAuth client look-up, then deleted for good.
    let tpu_client = "jupyterhub-user-alice-tpu";
    store
        .upsert_oauth_client(&client(tpu_client))
        .await
        .unwrap();
    store
        .record_server_started(
            tpu.id,
            &address(50_100, "/user/alice/tpu/"),
            &json!({"pid": 9}),
            tpu_client,
        )
        .await
        .unwrap();
    assert_eq!(store.count_active_spawners().await.unwrap(), 1);
    assert_eq!(
        store.spawner_by_oauth_client(tpu_client).await.unwrap(),
        Some(("alice".to_owned(), "tpu".to_owned()))
    );
    assert_eq!(store.spawner_by_oauth_client("nope").await.unwrap(), None);
    let server_token = token::new_token();
    store
        .create_token(&NewToken {
            token: &server_token,
            rounds: token::GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::User(alice.id),
            client_id: tpu_client,
            session_id: None,
            scopes: &[],
            note: None,
            expires_at: None,
        })
        .await
        .unwrap();

    assert!(store.delete_spawner(tpu.id).await.unwrap());
    assert!(!store.delete_spawner(tpu.id).await.unwrap(), "already gone");
    assert_eq!(store.spawner(alice.id, "tpu").await.unwrap(), None);
    assert_eq!(store.spawner_by_id(tpu.id).await.unwrap(), None);
    assert_eq!(count(&raw, "SELECT COUNT(*) FROM servers", None).await, 0);
    assert_eq!(store.count_active_spawners().await.unwrap(), 0);
    assert_eq!(store.oauth_client(tpu_client).await.unwrap(), None);
    assert_eq!(store.find_token(&server_token).await.unwrap(), None);
    assert_eq!(store.count_named_spawners(alice.id).await.unwrap(), 1);
    assert!(
        store.spawner(bob.id, "tpu").await.unwrap().is_some(),
        "bob's server of the same name is untouched"
    );
    raw.close().await;
    store.close().await;
}

fn api_token<'a>(secret: &'a str, owner: TokenOwner, client_id: &'a str) -> NewToken<'a> {
    NewToken {
        token: secret,
        rounds: token::GENERATED_TOKEN_ROUNDS,
        owner,
        client_id,
        session_id: None,
        scopes: &[],
        note: None,
        expires_at: None,
    }
}

pub async fn token_lists(db: &TestDb) {
    let store = db.store().await;
    store.prepare().await.unwrap();
    let raw = db.raw().await;
    let alice = store.create_user("alice", false).await.unwrap();
    let bob = store.create_user("bob", false).await.unwrap();
    let service = store.upsert_service(&service("announcer")).await.unwrap();
    let hub = ferrohub_store::BUILTIN_CLIENT;
    let owner = TokenOwner::User(alice.id);
    let now = db_now();

    let mut ids = std::collections::BTreeMap::new();
    for (name, expires) in [
        ("never-used", None),
        ("used-1h-ago", None),
        ("used-2h-ago", None),
        ("expired", Some(now - TimeDelta::minutes(1))),
        ("expiring", Some(now + TimeDelta::hours(1))),
    ] {
        let secret = token::new_token();
        let id = store
            .create_token(&NewToken {
                note: Some(name),
                expires_at: expires,
                ..api_token(&secret, owner, hub)
            })
            .await
            .unwrap();
        ids.insert(name, id);
    }
    store
        .touch_token(ids["used-1h-ago"], &(now - TimeDelta::hours(1)))
        .await
        .unwrap();
    store
        .touch_token(ids["used-2h-ago"], &(now - TimeDelta::hours(2)))
        .await
        .unwrap();
    let bob_secret = token::new_token();
    store
        .create_token(&api_token(&bob_secret, TokenOwner::User(bob.id), hub))
        .await
        .unwrap();

    let listed = store.tokens_of_owner(owner).await.unwrap();
    let notes: Vec<&str> = listed.iter().filter_map(|t| t.note.as_deref()).collect();
    assert_eq!(
        notes,
        ["never-used", "expiring", "used-2h-ago", "used-1h-ago"],
        "never used first, then by last use; the expired token is gone"
    );
    assert!(listed.iter().all(|t| t.owner == owner));
    let sql = "SELECT COUNT(*) FROM api_tokens WHERE user_id = $1";
    assert_eq!(
        count(&raw, sql, Some(alice.id)).await,
        4,
        "expired token deleted"
    );
    assert_eq!(store.token_by_id(ids["expired"]).await.unwrap(), None);

    let one = store
        .token_by_id(ids["used-1h-ago"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.note.as_deref(), Some("used-1h-ago"));
    assert_eq!(one.last_activity, Some(now - TimeDelta::hours(1)));
    assert_eq!(one.client_id, hub);
    assert_eq!(store.token_by_id(i64::MAX).await.unwrap(), None);

    // A service's tokens are listed the same way.
    let service_owner = TokenOwner::Service(service.id);
    let service_secret = token::new_token();
    store
        .create_token(&api_token(&service_secret, service_owner, hub))
        .await
        .unwrap();
    let service_tokens = store.tokens_of_owner(service_owner).await.unwrap();
    assert_eq!(service_tokens.len(), 1);
    assert_eq!(service_tokens[0].owner, service_owner);

    // OAuth grants: revoking one of alice's tokens from a client revokes all of hers from it.
    let oauth = "service-announcer";
    store.upsert_oauth_client(&client(oauth)).await.unwrap();
    let mut oauth_secrets = Vec::new();
    for owner in [owner, owner, TokenOwner::User(bob.id)] {
        let secret = token::new_token();
        store
            .create_token(&api_token(&secret, owner, oauth))
            .await
            .unwrap();
        oauth_secrets.push(secret);
    }
    assert_eq!(store.delete_client_tokens(owner, oauth).await.unwrap(), 2);
    assert_eq!(store.find_token(&oauth_secrets[0]).await.unwrap(), None);
    assert_eq!(store.find_token(&oauth_secrets[1]).await.unwrap(), None);
    assert!(
        store.find_token(&oauth_secrets[2]).await.unwrap().is_some(),
        "bob's kept"
    );
    assert_eq!(
        store.tokens_of_owner(owner).await.unwrap().len(),
        4,
        "API tokens kept"
    );

    // The periodic purge.
    for owner in [TokenOwner::User(bob.id), service_owner] {
        let secret = token::new_token();
        store
            .create_token(&NewToken {
                expires_at: Some(now - TimeDelta::seconds(5)),
                ..api_token(&secret, owner, hub)
            })
            .await
            .unwrap();
    }
    assert_eq!(store.delete_expired_tokens().await.unwrap(), 2);
    assert_eq!(store.delete_expired_tokens().await.unwrap(), 0);
    assert!(store.find_token(&bob_secret).await.unwrap().is_some());

    assert_eq!(
        store.list_oauth_client_ids().await.unwrap(),
        [hub, oauth],
        "every client, sorted"
    );
    raw.close().await;
    store.close().await;
}

/// A minimal external service.
pub fn service(name: &str) -> NewService {
    NewService {
        name: name.to_owned(),
        admin: false,
        url: None,
        oauth_client_allowed_scopes: Vec::new(),
        info: json!({}),
        display: true,
        oauth_no_confirm: false,
        command: Vec::new(),
        cwd: None,
        environment: json!({}),
        user: None,
        timeout: 30,
        from_config: true,
        oauth_client_id: None,
    }
}
