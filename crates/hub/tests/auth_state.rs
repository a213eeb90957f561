//! `auth_state` through the REST API of the in-process hub: set by an admin
//! with `PATCH /users/{name}`, shown only to holders of `admin:auth_state`,
//! stored encrypted (the column holds a Fernet token the hub's key opens),
//! and handed to the server's environment by `Spawner.auth_state_env`.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrohub_core::crypt::CryptKeeper;
use ferrohub_hub::testing::{TEST_CRYPT_KEY, TestApp};
use http::Method;
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::new(|c| {
        c.authenticator.enable_auth_state = true;
        c.spawner.auth_state_env = BTreeMap::from([
            ("ACCESS_TOKEN".to_owned(), "access_token".to_owned()),
            ("USER_EMAIL".to_owned(), "oauth_user.email".to_owned()),
            ("NOT_THERE".to_owned(), "oauth_user.phone".to_owned()),
        ]);
    })
    .await
    .expect("test app")
}

fn secret_state() -> Value {
    json!({
        "access_token": "gho_secret-value-1234",
        "oauth_user": {"email": "alice@example.org", "id": 42},
    })
}

#[tokio::test]
async fn an_admin_sets_auth_state_and_only_admin_auth_state_sees_it() {
    let app = app().await;
    app.create_user("root-admin", true).await.unwrap();
    let alice = app.create_user("alice", false).await.unwrap();
    let admin = app.token("root-admin", &["inherit"]).await.unwrap();
    let reader = app.token("root-admin", &["read:users"]).await.unwrap();
    let own = app.token("alice", &["inherit"]).await.unwrap();

    // Not set yet: the admin sees null.
    let answer = app
        .call(Method::GET, "/users/alice", Some(&admin), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["auth_state"], Value::Null);
    assert!(
        answer
            .json()
            .as_object()
            .unwrap()
            .contains_key("auth_state")
    );

    let body = json!({"auth_state": secret_state()});
    let answer = app
        .call(Method::PATCH, "/users/alice", Some(&admin), Some(&body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["auth_state"], secret_state());

    let answer = app
        .call(Method::GET, "/users/alice", Some(&admin), None)
        .await;
    assert_eq!(answer.json()["auth_state"], secret_state());

    // read:users alone, and the user herself, see no auth_state at all.
    for token in [&reader, &own] {
        let answer = app
            .call(Method::GET, "/users/alice", Some(token), None)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(
            !answer
                .json()
                .as_object()
                .unwrap()
                .contains_key("auth_state"),
            "{}",
            answer.text
        );
        assert!(!answer.text.contains("secret-value"), "{}", answer.text);
    }
    // A listing carries the placeholder only, as upstream's.
    let answer = app.call(Method::GET, "/users", Some(&admin), None).await;
    assert!(!answer.text.contains("secret-value"), "{}", answer.text);

    // Stored encrypted: a Fernet token under the hub's key, not the JSON.
    let raw = app
        .store()
        .encrypted_auth_state(alice.id)
        .await
        .unwrap()
        .expect("stored");
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(text.starts_with("gAAAAA"), "{text}");
    assert!(!text.contains("secret-value") && !text.contains("alice@"));
    let keeper = CryptKeeper::parse(TEST_CRYPT_KEY).unwrap();
    let opened = keeper.decrypt(&raw).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&opened.message).unwrap(),
        secret_state()
    );

    // Without admin:users nobody may set it; a non-object is refused.
    let answer = app
        .call(Method::PATCH, "/users/alice", Some(&own), Some(&body))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    let answer = app
        .call(
            Method::PATCH,
            "/users/alice",
            Some(&admin),
            Some(&json!({"auth_state": "text"})),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    let answer = app
        .call(Method::GET, "/users/alice", Some(&admin), None)
        .await;
    assert_eq!(answer.json()["auth_state"], secret_state());
}

#[tokio::test]
async fn an_undecryptable_value_reads_as_null() {
    let app = app().await;
    app.create_user("root-admin", true).await.unwrap();
    let bob = app.create_user("bob", false).await.unwrap();
    let admin = app.token("root-admin", &["inherit"]).await.unwrap();
    let other = CryptKeeper::parse(&"ab".repeat(32)).unwrap();
    let token = other.encrypt(br#"{"a": 1}"#);
    app.store()
        .set_encrypted_auth_state(bob.id, Some(token.as_bytes()))
        .await
        .unwrap();
    let answer = app
        .call(Method::GET, "/users/bob", Some(&admin), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["auth_state"], Value::Null);
}

#[tokio::test]
async fn the_server_environment_gets_the_configured_fields() {
    let app = app().await;
    app.create_user("root-admin", true).await.unwrap();
    app.create_user("alice", false).await.unwrap();
    let admin = app.token("root-admin", &["inherit"]).await.unwrap();
    let body = json!({"auth_state": secret_state()});
    let answer = app
        .call(Method::PATCH, "/users/alice", Some(&admin), Some(&body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = app
        .call(Method::POST, "/users/alice/server", Some(&admin), None)
        .await;
    assert!(
        matches!(answer.status.as_u16(), 201 | 202),
        "{}",
        answer.text
    );
    let mut request = None;
    for _ in 0..100 {
        request = app.spawner().requests().pop();
        if request.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = request.expect("a start request").settings.environment;
    assert_eq!(
        env.get("ACCESS_TOKEN").map(String::as_str),
        Some("gho_secret-value-1234")
    );
    assert_eq!(
        env.get("USER_EMAIL").map(String::as_str),
        Some("alice@example.org")
    );
    assert!(!env.contains_key("NOT_THERE"));
}
