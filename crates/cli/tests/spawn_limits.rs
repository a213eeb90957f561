//! `JupyterHub.concurrent_spawn_limit` and `active_server_limit`: beyond them a
//! start is refused with 429 (and `Retry-After` when throttled), as upstream,
//! and room frees up when servers stop.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use serde_json::Value;
use support::TestHub;
use support::api::{Api, token_for};

async fn create_users(api: &Api, root: &str, names: &[&str]) {
    for name in names {
        let created = api
            .call(root, Method::POST, &format!("/users/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_spawns_beyond_the_limit_are_throttled() {
    // Servers that never get ready keep their spawns pending.
    let hub = TestHub::start(&[
        (
            "Spawner",
            r#"cmd = ["/bin/sh", "-c", "sleep 600; true # jupyterhub-singleuser", "--"]"#,
        ),
        ("Authenticator", "admin_users = [\"root\"]"),
        ("JupyterHub", "concurrent_spawn_limit = 1"),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    create_users(&api, &root, &["ann", "ben"]).await;

    let first = api.call(&root, Method::POST, "/users/ann/server").send();
    let first = tokio::spawn(first);
    support::eventually(10, "ann's spawn to be pending", || async {
        let (_, model) = api.get(&root, "/users/ann").await;
        (model["pending"] == "spawn").then_some(())
    })
    .await;
    let refused = api
        .call(&root, Method::POST, "/users/ben/server")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert!(
        body["message"].as_str().unwrap().contains("Too many users"),
        "{body}"
    );
    let (_, ben) = api.get(&root, "/users/ben").await;
    assert!(ben["pending"].is_null(), "nothing started for ben: {ben}");

    // Interrupting ann's spawn frees the slot.
    assert_eq!(first.await.unwrap().unwrap().status(), 202);
    let stopped = api
        .call(&root, Method::DELETE, "/users/ann/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    support::eventually(30, "ann's spawn to be stopped", || async {
        let (_, model) = api.get(&root, "/users/ann").await;
        model["pending"].is_null().then_some(())
    })
    .await;
    let started = api
        .call(&root, Method::POST, "/users/ben/server")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202, "ben may start now");
}

#[tokio::test(flavor = "multi_thread")]
async fn active_servers_beyond_the_limit_are_refused() {
    let hub = TestHub::start(&[
        ("Authenticator", "admin_users = [\"root\"]"),
        ("JupyterHub", "active_server_limit = 1"),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    create_users(&api, &root, &["ann", "ben"]).await;

    let started = api
        .call(&root, Method::POST, "/users/ann/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(started.status().as_u16(), 201 | 202));
    support::eventually(120, "ann's server to be ready", || async {
        let (_, model) = api.get(&root, "/users/ann").await;
        (model["servers"][""]["ready"] == true).then_some(())
    })
    .await;
    let refused = api
        .call(&root, Method::POST, "/users/ben/server")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Active user limit exceeded"),
        "{body}"
    );

    let stopped = api
        .call(&root, Method::DELETE, "/users/ann/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    support::eventually(60, "ann's server to stop", || async {
        let (_, model) = api.get(&root, "/users/ann").await;
        model["servers"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
            .then_some(())
    })
    .await;
    let started = api
        .call(&root, Method::POST, "/users/ben/server")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(started.status().as_u16(), 201 | 202),
        "ben may start now"
    );
    support::eventually(120, "ben's server to be ready", || async {
        let (_, model) = api.get(&root, "/users/ben").await;
        (model["servers"][""]["ready"] == true).then_some(())
    })
    .await;
    let stopped = api
        .call(&root, Method::DELETE, "/users/ben/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
}
