//! `POST /hub/api/batchspawner` in process (`ferrohub_hub::testing`): a
//! starting server's own token reports its port, which reaches the spawner
//! through `SpawnRequest.reports`; any other caller, a bad body or a server
//! that is not starting is refused.

use std::time::Duration;

use ferrohub_hub::testing::TestApp;
use ferrohub_spawn::ServerReport;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_starting_servers_token_reports_its_port_to_the_spawner() {
    let app = TestApp::new(|_| {}).await.expect("test app");
    app.create_user("alice", false).await.expect("alice");
    let token = app.token("alice", &["servers"]).await.expect("token");
    app.spawner().delay_starts(Duration::from_secs(3));

    // The start request waits for the spawn (up to 10 s): report meanwhile.
    let start = app.call(Method::POST, "/users/alice/server", Some(&token), None);
    let report = async {
        let request = loop {
            if let Some(request) = app.spawner().requests().pop() {
                break request;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let server_token = request.hub_env["JUPYTERHUB_API_TOKEN"].clone();

        // The user's own API token is not the server's.
        let by_user = app
            .call(
                Method::POST,
                "/batchspawner",
                Some(&token),
                Some(&json!({"port": 4321})),
            )
            .await;
        assert_eq!(by_user.status, StatusCode::FORBIDDEN, "{}", by_user.text);
        let anonymous = app
            .call(
                Method::POST,
                "/batchspawner",
                None,
                Some(&json!({"port": 4321})),
            )
            .await;
        assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
        for bad in [
            json!({}),
            json!({"port": 0}),
            json!({"port": 70000}),
            json!({"port": "80"}),
        ] {
            let answer = app
                .call(
                    Method::POST,
                    "/batchspawner",
                    Some(&server_token),
                    Some(&bad),
                )
                .await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{bad}: {}",
                answer.text
            );
        }
        assert_eq!(request.reports.latest(), None);

        let reported = app
            .call(
                Method::POST,
                "/batchspawner",
                Some(&server_token),
                Some(&json!({"port": 4321})),
            )
            .await;
        assert_eq!(reported.status, StatusCode::OK, "{}", reported.text);
        assert_eq!(reported.json()["message"], "BatchSpawner data configured");
        assert_eq!(request.reports.latest(), Some(ServerReport { port: 4321 }));
        server_token
    };
    let (started, server_token) = tokio::join!(start, report);
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);

    // Once the start is over nobody waits for a report.
    let mut ready = false;
    for _ in 0..100 {
        let model = app
            .call(Method::GET, "/users/alice", Some(&token), None)
            .await;
        if model.json()["servers"][""]["ready"] == true {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the server started");
    let late = app
        .call(
            Method::POST,
            "/batchspawner",
            Some(&server_token),
            Some(&json!({"port": 4322})),
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.text);
    assert!(late.text.contains("alice is not starting"), "{}", late.text);
}
