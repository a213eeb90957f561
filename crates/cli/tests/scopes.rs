//! What a credential may see, checked against upstream's scope table (section
//! 2.3/3 of the research notes), not against our implementation: a token with
//! `read:users:name` only, group-filtered scopes, and a server-filtered
//! `access:servers`, each on a real hub with real servers.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};

fn keys(model: &Value) -> BTreeSet<String> {
    model
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Creates a token for `user` with exactly `scopes` (as admin `root`).
async fn scoped_token(api: &Api, root: &str, user: &str, scopes: &[&str]) -> String {
    let response = api
        .call(root, Method::POST, &format!("/users/{user}/tokens"))
        .json(&json!({"scopes": scopes, "note": "scope test"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "token with {scopes:?}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_scope_sees_exactly_what_upstream_shows() {
    let hub = TestHub::start(&[("Authenticator", "admin_users = [\"root\"]")]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    for user in ["alice", "bob"] {
        let created = api
            .call(&root, Method::POST, &format!("/users/{user}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let group = api
        .call(&root, Method::POST, "/groups/physics")
        .json(&json!({"users": ["alice"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), 201);

    // read:users:name only: the name-level keys, nothing else anywhere.
    let names_only = scoped_token(&api, &root, "root", &["read:users:name"]).await;
    let (status, alice) = api.get(&names_only, "/users/alice").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(
        keys(&alice),
        set(&["kind", "name", "admin", "user_info"]),
        "{alice}"
    );
    let (status, _) = api.get(&names_only, "/users").await;
    assert_eq!(status, 403, "listing needs list:users");
    for path in [
        "/users/alice/tokens",
        "/groups",
        "/groups/physics",
        "/info",
        "/proxy",
    ] {
        let (status, body) = api.get(&names_only, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["status"], 403);
    }
    let start = api
        .call(&names_only, Method::POST, "/users/alice/server")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 403);
    let (status, me) = api.get(&names_only, "/user").await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "root");
    let listed: BTreeSet<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    assert!(listed.contains("read:users:name"), "{me}");
    assert!(
        !listed.iter().any(|s| s.starts_with("admin")),
        "token scopes are its own: {me}"
    );

    // Group-filtered: only members are visible; others are "not found", not forbidden.
    let physics = scoped_token(
        &api,
        &root,
        "root",
        &["list:users!group=physics", "read:users!group=physics"],
    )
    .await;
    let (status, users) = api.get(&physics, "/users").await;
    assert_eq!(status, 200, "{users}");
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice"], "only the group's members are listed");
    let (status, alice) = api.get(&physics, "/users/alice").await;
    assert_eq!(status, 200);
    assert_eq!(
        keys(&alice),
        set(&[
            "kind",
            "name",
            "admin",
            "roles",
            "groups",
            "server",
            "pending",
            "created",
            "last_activity",
            "user_info"
        ]),
        "read:users shows everything but servers: {alice}"
    );
    assert_eq!(alice["groups"], json!(["physics"]));
    let (status, bob) = api.get(&physics, "/users/bob").await;
    assert_eq!(
        status, 404,
        "outside the filter looks like not found: {bob}"
    );
    let (status, nobody) = api.get(&physics, "/users/nobody").await;
    assert_eq!(
        (status, &nobody["message"]),
        (404, &bob["message"]),
        "same answer as for a real user"
    );
    // Joining the group makes bob visible at once (membership is live).
    let joined = api
        .call(&root, Method::POST, "/groups/physics/users")
        .json(&json!({"users": ["bob"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    let (status, _) = api.get(&physics, "/users/bob").await;
    assert_eq!(status, 200, "bob joined the group");

    // A plain user's default token sees itself only.
    let bob_token = token_for(&hub, "bob");
    let (status, _) = api.get(&bob_token, "/users").await;
    assert_eq!(status, 403);
    let (status, _) = api.get(&bob_token, "/users/alice").await;
    assert_eq!(status, 404);
    let (status, me) = api.get(&bob_token, "/users/bob").await;
    assert_eq!(status, 200);
    assert!(keys(&me).contains("servers"), "own servers visible: {me}");

    // access:servers filtered to alice's server: her server yes, bob's no, hub API no.
    for user in ["alice", "bob"] {
        let started = api
            .call(&root, Method::POST, &format!("/users/{user}/server"))
            .send()
            .await
            .unwrap();
        assert!(matches!(started.status().as_u16(), 201 | 202));
    }
    for user in ["alice", "bob"] {
        support::eventually(120, "servers to be ready", || async {
            let (_, model) = api.get(&root, &format!("/users/{user}")).await;
            (model["servers"][""]["ready"] == true).then_some(())
        })
        .await;
    }
    let alice_server = scoped_token(&api, &root, "root", &["access:servers!server=alice/"]).await;
    let own = api
        .public(&alice_server, "/user/alice/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200, "access to alice's server");
    let other = api
        .public(&alice_server, "/user/bob/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403, "no access to bob's server");
    let (status, _) = api.get(&alice_server, "/users").await;
    assert_eq!(status, 403);
    let (status, _) = api.get(&alice_server, "/users/alice").await;
    // The token still identifies its owner (read:users:name!user=root), so a
    // user it may not read is "not found" rather than forbidden.
    assert_eq!(status, 404, "server access does not read the user model");
    for user in ["alice", "bob"] {
        let stopped = api
            .call(&root, Method::DELETE, &format!("/users/{user}/server"))
            .send()
            .await
            .unwrap();
        assert!(matches!(stopped.status().as_u16(), 202 | 204));
    }
}
