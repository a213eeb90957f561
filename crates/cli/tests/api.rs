//! The REST API slice with real tokens: version and headers, users, activity,
//! scopes of ordinary users, JSON errors.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};

#[tokio::test(flavor = "multi_thread")]
async fn users_activity_and_scopes() {
    let hub = TestHub::start(&[
        (
            "Authenticator",
            "admin_users = [\"root\"]\nallowed_users = [\"mallory\"]",
        ),
        ("JupyterHub", "pid_file = \"hub.pid\""),
    ]);
    let pid_file = std::fs::read_to_string(hub.dir.path().join("hub.pid")).unwrap();
    assert_eq!(
        pid_file.trim(),
        hub.pid().to_string(),
        "JupyterHub.pid_file holds the hub's pid"
    );

    // The proxy's error pages come from the hub: readable HTML with the right status.
    let down = reqwest::get(format!(
        "{}/hub/error/503?url=%2Fuser%2Fx%2Flab",
        hub.public_url()
    ))
    .await
    .unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = down.text().await.unwrap().replace("&#x2f;", "/");
    assert!(
        page.contains("appears to be down") && page.contains("/user/x/lab"),
        "{page}"
    );
    let api = Api::new(&hub);
    let client = reqwest::Client::new();

    // The version check every singleuser server makes: no auth, header and body.
    let version = client
        .get(format!("{}/hub/api", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), 200);
    assert_eq!(version.headers()["x-jupyterhub-version"], "6.1.1");
    assert_eq!(
        version.json::<Value>().await.unwrap(),
        json!({"version": "6.1.1"})
    );

    let root = token_for(&hub, "root");
    let info: Value = api
        .call(&root, Method::GET, "/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["version"], "6.1.1");

    // Create, read, conflict, delete.
    let created = api
        .call(&root, Method::POST, "/users/Grace")
        .json(&json!({"admin": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let grace: Value = created.json().await.unwrap();
    assert_eq!(grace["name"], "grace", "names are normalized");
    assert_eq!(grace["admin"], false);
    assert_eq!(grace["kind"], "user");
    assert!(grace["created"].as_str().unwrap().ends_with('Z'));
    let again = api
        .call(&root, Method::POST, "/users/grace")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(again.json::<Value>().await.unwrap()["status"], 409);
    let unknown_field = api
        .call(&root, Method::POST, "/users/heidi")
        .json(&json!({"admn": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);

    // Activity: only forward, not from the far future, only for existing servers.
    let report = |when: &str, server: &str| json!({"servers": {server: {"last_activity": when}}, "last_activity": when});
    let ok = api
        .call(&root, Method::POST, "/users/grace/activity")
        .json(&report("2026-01-02T03:04:05.000006Z", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let older = api
        .call(&root, Method::POST, "/users/grace/activity")
        .json(&report("2025-01-01T00:00:00Z", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), StatusCode::OK);
    let grace: Value = api
        .call(&root, Method::GET, "/users/grace")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        grace["last_activity"], "2026-01-02T03:04:05.000006Z",
        "activity never moves back"
    );
    let future = api
        .call(&root, Method::POST, "/users/grace/activity")
        .json(&report("2999-01-01T00:00:00Z", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(future.status(), StatusCode::BAD_REQUEST);
    let no_server = api
        .call(&root, Method::POST, "/users/grace/activity")
        .json(&report("2026-01-02T03:04:06Z", "nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_server.status(), StatusCode::BAD_REQUEST);
    let garbage = api
        .call(&root, Method::POST, "/users/grace/activity")
        .json(&report("last tuesday", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    // An ordinary user sees themselves, not others, and cannot administer.
    let mallory = token_for(&hub, "mallory");
    let me: Value = api
        .call(&mallory, Method::GET, "/user")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "mallory");
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "access:servers!user=mallory"),
        "{me}"
    );
    assert!(me["token_id"].as_str().unwrap().starts_with('a'));
    for (method, path) in [
        (Method::GET, "/users"),
        (Method::POST, "/users/newbie"),
        (Method::DELETE, "/users/grace"),
        (Method::GET, "/info"),
    ] {
        let response = api
            .call(&mallory, method.clone(), path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} as mallory"
        );
        assert_eq!(response.json::<Value>().await.unwrap()["status"], 403);
    }
    assert_eq!(
        api.call(&root, Method::GET, "/users/newbie")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let deleted = api
        .call(&root, Method::DELETE, "/users/grace")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = api
        .call(&root, Method::GET, "/users/grace")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(gone.json::<Value>().await.unwrap()["status"], 404);
    let unknown = api
        .call(&root, Method::GET, "/no/such/endpoint")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.json::<Value>().await.unwrap()["status"], 404);
}
