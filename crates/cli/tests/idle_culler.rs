//! The real `jupyterhub-idle-culler` (from PyPI, unchanged) as a managed
//! service with only the scopes it needs: it culls an idle server after its
//! timeout and leaves a server in use alone.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use support::TestHub;
use support::api::{Api, token_for};

const TIMEOUT_SECS: u64 = 20;

#[tokio::test(flavor = "multi_thread")]
async fn culler_stops_idle_servers_and_spares_active_ones() {
    let venv = support::venv();
    let services = format!(
        r#"last_activity_interval = 3
services = [{{ name = "idle-culler", command = ["{python}", "-m", "jupyterhub_idle_culler", "--timeout={TIMEOUT_SECS}", "--cull-every=3"] }}]
load_roles = [{{ name = "idle-culler", description = "Cull idle servers", scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"], services = ["idle-culler"] }}]"#,
        python = venv.join("bin/python").display()
    );
    let hub = TestHub::start(&[
        ("Authenticator", "admin_users = [\"root\"]"),
        ("JupyterHub", &services),
    ]);
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
    let alice = token_for(&hub, "alice");
    let bob = token_for(&hub, "bob");

    // The culler runs with its own token, which the hub generated and stored hashed.
    let (status, service) = api.get(&root, "/services/idle-culler").await;
    assert_eq!(status, 200, "{service}");
    assert!(
        service["pid"].as_i64().unwrap_or(0) > 0,
        "managed service has a pid: {service}"
    );

    for (user, token) in [("alice", &alice), ("bob", &bob)] {
        let started = api
            .call(token, Method::POST, &format!("/users/{user}/server"))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(started.status().as_u16(), 201 | 202),
            "{user}: {}",
            started.status()
        );
    }
    for user in ["alice", "bob"] {
        support::eventually(120, "servers to be ready", || async {
            let (_, model) = api.get(&root, &format!("/users/{user}")).await;
            (model["servers"][""]["ready"] == true).then_some(())
        })
        .await;
    }

    // Bob keeps using his server through the proxy; alice does nothing.
    let started = Instant::now();
    let culled_alice = loop {
        let used = api
            .public(&bob, "/user/bob/api/status")
            .send()
            .await
            .unwrap();
        assert_eq!(used.status(), 200, "bob reaches his server");
        let (_, model) = api.get(&root, "/users/alice").await;
        if model["servers"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(TIMEOUT_SECS * 4),
            "alice's idle server was not culled; hub log:\n{}",
            hub.log()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert!(
        culled_alice >= Duration::from_secs(TIMEOUT_SECS / 2),
        "culled after {culled_alice:?}, before it could have been idle for {TIMEOUT_SECS} s"
    );
    assert!(
        hub.server_pids("alice").is_empty(),
        "alice's process is gone"
    );
    let routes = hub.routes().await;
    assert!(
        routes.get("/user/alice").is_none(),
        "alice's route is gone: {routes}"
    );

    // Bob stays: keep using it past another full timeout.
    let until = Instant::now() + Duration::from_secs(TIMEOUT_SECS + 5);
    while Instant::now() < until {
        let used = api
            .public(&bob, "/user/bob/api/status")
            .send()
            .await
            .unwrap();
        assert_eq!(used.status(), 200);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (_, model) = api.get(&root, "/users/bob").await;
    assert_eq!(
        model["servers"][""]["ready"],
        Value::Bool(true),
        "bob's active server survives: {model}"
    );
    let log = hub.log();
    assert!(
        log.contains("Culling server alice") && !log.contains("Culling server bob"),
        "the culler's own log names alice only:\n{log}"
    );
}
