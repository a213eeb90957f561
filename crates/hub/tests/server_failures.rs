//! What clients are told when a server's start fails inside the hub (here:
//! the proxy refuses the route), in process (`ferrohub_hub::testing`).
//!
//! The cause (the proxy's status and answer) belongs in the hub's log only:
//! the API's answer, the progress stream and the spawn-pending page carry
//! the generic text, and the failed spawn leaves nothing behind.

use ferrohub_hub::testing::TestApp;
use http::{Method, StatusCode};

/// The client-safe text of an internal spawn failure (`runtime::spawn`).
const GENERIC: &str = "Spawn failed: the hub could not record or route the server \
                       (internal error; details are in the hub log)";

#[tokio::test]
async fn a_spawn_that_fails_inside_the_hub_shows_no_internal_text() {
    let app = TestApp::new(|_| {}).await.expect("test app");
    app.create_user("alice", false).await.expect("alice");
    let token = app.token("alice", &["servers"]).await.expect("token");
    app.break_proxy_token();

    let answer = app
        .call(Method::POST, "/users/alice/server", Some(&token), None)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.text
    );
    assert_eq!(answer.json()["message"], GENERIC, "{}", answer.text);
    for leak in ["403", "proxy API", "Forbidden", "/api/routes"] {
        assert!(
            !answer.text.contains(leak),
            "{leak:?} leaked: {}",
            answer.text
        );
    }

    let progress = app
        .call(
            Method::GET,
            "/users/alice/server/progress",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(progress.status, StatusCode::OK, "{}", progress.text);
    assert!(progress.text.contains(GENERIC), "{}", progress.text);
    assert!(!progress.text.contains("403"), "{}", progress.text);

    assert_eq!(
        app.spawner().running(),
        0,
        "the failed server was not stopped"
    );
    let alice = app.user("alice").await.expect("alice");
    let record = app
        .store()
        .spawner(alice.id, "")
        .await
        .expect("read")
        .expect("default server row");
    assert!(
        record.server.is_none(),
        "the failed server's address was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawners_own_steps_reach_the_progress_stream() {
    use ferrohub_hub::testing::FAKE_PROGRESS_STEP;
    let app = TestApp::new(|_| {}).await.expect("test app");
    app.create_user("alice", false).await.expect("alice");
    let token = app.token("alice", &["servers"]).await.expect("token");
    app.spawner()
        .delay_starts(std::time::Duration::from_millis(1500));
    let app = std::sync::Arc::new(app);
    let start = {
        let (app, token) = (std::sync::Arc::clone(&app), token.clone());
        tokio::spawn(async move {
            app.call(Method::POST, "/users/alice/server", Some(&token), None)
                .await
        })
    };
    // While the spawner works: the stream replays the steps so far, then
    // follows the spawn until it is ready.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let progress = app
        .call(
            Method::GET,
            "/users/alice/server/progress",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(progress.status, StatusCode::OK, "{}", progress.text);
    // Half of the spawner's own start is 25 %: between the hub's
    // "Spawning server" (10 %) and "Server started" (40 %).
    let step = progress
        .text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data).ok())
        .find(|event| event["message"] == FAKE_PROGRESS_STEP);
    let step = step.unwrap_or_else(|| panic!("no spawner step in {}", progress.text));
    assert_eq!(step["progress"], 25, "{step}");
    let answer = start.await.expect("the start request");
    assert!(answer.status.is_success(), "{}", answer.text);
}
