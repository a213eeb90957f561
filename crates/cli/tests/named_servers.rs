//! Named servers with real `jupyterhub-singleuser` processes: create, start and
//! follow the progress stream, open JupyterLab, rename is refused while running,
//! stop and remove; and a stop request interrupting a spawn that never gets ready.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};
use support::browser::Browser;

/// Reads the progress event stream until an event says `ready` or `failed`; returns all events.
async fn follow_progress(api: &Api, token: &str, path: &str) -> Vec<Value> {
    let response = api
        .call(token, Method::GET, path)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    support::api::progress_events(response, |_| false).await
}

#[tokio::test(flavor = "multi_thread")]
async fn named_server_lifecycle_with_progress() {
    let hub = TestHub::start(&[(
        "JupyterHub",
        "allow_named_servers = true\nnamed_server_limit_per_user = 1",
    )]);
    let api = Api::new(&hub);
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    let token = token_for(&hub, "alice");

    // Start a named server (created on first start) and follow its progress.
    let started = api
        .call(&token, Method::POST, "/users/alice/servers/analysis")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(matches!(started.status().as_u16(), 201 | 202));
    let events = follow_progress(&api, &token, "/users/alice/servers/analysis/progress").await;
    let last = events.last().expect("at least one progress event");
    assert_eq!(last["ready"], true, "{events:?}");
    assert_eq!(last["url"], "/user/alice/analysis/");
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["progress"].as_u64() <= w[1]["progress"].as_u64()),
        "progress never goes back: {events:?}"
    );

    // The user model lists it, ready, and the limit of one named server holds.
    let (status, model) = api.get(&token, "/users/alice").await;
    assert_eq!(status, 200);
    let server = &model["servers"]["analysis"];
    assert_eq!(server["ready"], true, "{model}");
    assert_eq!(server["url"], "/user/alice/analysis/");
    let second = api
        .call(&token, Method::POST, "/users/alice/servers/second")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 400, "named_server_limit_per_user = 1");

    // JupyterLab answers on the named server's URL, through the proxy and OAuth.
    let lab = browser
        .follow
        .get(format!("{}/user/alice/analysis/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.url().path(), "/user/alice/analysis/lab");
    assert!(lab.text().await.unwrap().contains("jupyter-config-data"));

    // Renaming a running server is refused; stopping and removing it works.
    let rename = api
        .call(&token, Method::PATCH, "/users/alice/servers/analysis")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 400);

    // Stopped, the server's URL leads the browser to a 424 page whose link
    // starts this named server again and lands back in JupyterLab.
    let stopped = api
        .call(&token, Method::DELETE, "/users/alice/servers/analysis")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    support::eventually(60, "the server to stop", || async {
        let (_, model) = api.get(&token, "/users/alice/servers/analysis").await;
        (model["pending"].is_null() && model["ready"] == false).then_some(())
    })
    .await;
    let not_running = browser
        .follow
        .get(format!("{}/user/alice/analysis/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(not_running.status(), 424);
    let page = not_running.text().await.unwrap().replace("&#x2f;", "/");
    let spawn_link = "/hub/spawn/alice/analysis?next=";
    assert!(page.contains(spawn_link), "{page}");
    let href = page[page.find(spawn_link).unwrap()..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let relaunched = browser
        .follow
        .get(format!("{}{href}", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert!(relaunched.status().is_success(), "{}", relaunched.status());
    let lab_path = support::eventually(150, "the lab page again", || async {
        let response = browser
            .follow
            .get(format!(
                "{}/hub/spawn-pending/alice/analysis",
                hub.public_url()
            ))
            .send()
            .await
            .ok()?;
        let path = response.url().path().to_owned();
        (path == "/user/alice/analysis/lab").then_some(path)
    })
    .await;
    assert_eq!(lab_path, "/user/alice/analysis/lab");

    let removed = api
        .call(&token, Method::DELETE, "/users/alice/servers/analysis")
        .json(&json!({"remove": true}))
        .send()
        .await
        .unwrap();
    assert!(matches!(removed.status().as_u16(), 202 | 204));
    support::eventually(60, "the server to be gone", || async {
        let (_, model) = api.get(&token, "/users/alice").await;
        let gone = model["servers"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty);
        (gone && hub.server_pids("alice").is_empty()).then_some(())
    })
    .await;
    let (status, _) = api.get(&token, "/users/alice/servers/analysis").await;
    assert_eq!(status, 404, "removed servers are gone from the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_request_interrupts_a_spawn_that_never_gets_ready() {
    // A "server" that starts but never answers HTTP; the comment makes the test
    // support recognise it as this hub's single-user process.
    let hub = TestHub::start(&[
        (
            "Spawner",
            r#"cmd = ["/bin/sh", "-c", "sleep 600; true # jupyterhub-singleuser", "--"]"#,
        ),
        ("Authenticator", "admin_users = [\"root\"]"),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    let created = api
        .call(&root, Method::POST, "/users/carol")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let started = api
        .call(&root, Method::POST, "/users/carol/server")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202, "still pending after 10 s");
    let (_, model) = api.get(&root, "/users/carol").await;
    assert_eq!(model["pending"], "spawn", "{model}");
    assert_eq!(hub.server_pids("carol").len(), 1, "the process is running");

    let stopped = api
        .call(&root, Method::DELETE, "/users/carol/server")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(stopped.status().as_u16(), 202 | 204),
        "DELETE of a pending spawn: {}",
        stopped.status()
    );
    support::eventually(30, "the pending server to be stopped", || async {
        let (_, model) = api.get(&root, "/users/carol").await;
        (model["pending"].is_null()
            && model["server"].is_null()
            && hub.server_pids("carol").is_empty())
        .then_some(())
    })
    .await;
    assert!(
        hub.log().contains("interrupting a pending spawn"),
        "{}",
        hub.log()
    );
}
