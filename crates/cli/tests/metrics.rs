//! `/hub/metrics` as an operator's Prometheus sees it: guarded by
//! `read:metrics`, upstream's metric names, handler labels and label values,
//! gauges that follow users and servers, spawn timings from a real server
//! start, active users recomputed when the hub starts.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use support::TestHub;
use support::api::{Api, token_for};
use support::browser::Browser;

/// The value of the first sample line starting with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(hub: &TestHub, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("{}/hub/metrics", hub.public_url()));
    if let Some(token) = token {
        request = request.header("Authorization", format!("token {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_read_metrics_and_follow_the_hub() {
    let mut hub = TestHub::start(&[
        ("Authenticator", "admin_users = [\"root\"]"),
        (
            "JupyterHub",
            r#"load_roles = [{ name = "prometheus", scopes = ["read:metrics"], users = ["scraper"] }]"#,
        ),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    let scraper = token_for(&hub, "scraper");
    let created = api
        .call(&root, Method::POST, "/users/alice")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let alice = token_for(&hub, "alice");

    // No token, or a token without read:metrics: refused.
    assert_eq!(scrape(&hub, None).await.0, 403);
    assert_eq!(scrape(&hub, Some(&alice)).await.0, 403);

    let (status, content_type, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(
        sample(&text, "jupyterhub_total_users "),
        Some(3.0),
        "root, scraper, alice"
    );

    // Users created through the API show up; list calls are timed under upstream's handler name.
    for name in ["u1", "u2"] {
        let created = api
            .call(&root, Method::POST, &format!("/users/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    assert_eq!(api.get(&root, "/users").await.0, 200);
    let (_, _, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(sample(&text, "jupyterhub_total_users "), Some(5.0));
    let list = r#"jupyterhub_request_duration_seconds_count{code="200",handler="jupyterhub.apihandlers.users.UserListAPIHandler",method="GET"} "#;
    assert_eq!(sample(&text, list), Some(1.0), "{text}");
    let create = r#"jupyterhub_request_duration_seconds_count{code="201",handler="jupyterhub.apihandlers.users.UserAPIHandler",method="POST"} "#;
    assert_eq!(sample(&text, create), Some(3.0), "alice, u1, u2");
    let refused = r#"jupyterhub_request_duration_seconds_count{code="403",handler="jupyterhub.handlers.metrics.MetricsHandler",method="GET"} "#;
    let missing = r#"jupyterhub_request_duration_seconds_count{code="404",handler="jupyterhub.handlers.base.Template404",method="GET"} "#;
    assert_eq!(sample(&text, missing), None);
    assert_eq!(
        sample(&text, refused),
        Some(2.0),
        "the refused scrapes are counted too"
    );
    assert!(text.contains("# TYPE jupyterhub_event_loop_interval_seconds histogram"));
    assert!(text.contains("\njupyterhub_csp_reports_total 0.0\n"));

    // A page that does not exist is labelled with upstream's catch-all handler.
    let nowhere = reqwest::get(format!("{}/hub/no-such-page", hub.public_url()))
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    let (_, _, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(sample(&text, missing), Some(1.0), "{text}");
    assert!(text.contains("process_resident_memory_bytes "));

    // A real server start: the spawn histogram and the running gauge move.
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    browser.start_server("alice").await;
    let (_, _, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(
        sample(&text, "jupyterhub_running_servers "),
        Some(1.0),
        "{text}"
    );
    let spawned = r#"jupyterhub_server_spawn_duration_seconds_count{reason="",status="success"} "#;
    assert_eq!(sample(&text, spawned), Some(1.0));
    let added = r#"jupyterhub_proxy_add_duration_seconds_count{status="success"} "#;
    assert!(sample(&text, added).is_some_and(|n| n >= 1.0), "{text}");
    // Upstream's enum has no __str__, so JupyterHub exports this spelling.
    let login = r#"jupyterhub_login_duration_seconds_count{status="LoginStatus.success"} "#;
    assert_eq!(sample(&text, login), Some(1.0));
    browser.stop_server("alice").await;
    let (_, _, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(sample(&text, "jupyterhub_running_servers "), Some(0.0));
    let stopped = r#"jupyterhub_server_stop_seconds_count{status="success"} "#;
    assert_eq!(sample(&text, stopped), Some(1.0), "{text}");

    // active_users is recomputed hourly and at start-up, as upstream: after a
    // restart it counts who has been active.
    hub.kill(nix::sys::signal::Signal::SIGTERM);
    hub.launch();
    let (status, _, text) = scrape(&hub, Some(&scraper)).await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(&text, r#"jupyterhub_active_users{period="24h"} "#),
        Some(3.0),
        "root, scraper and alice were active; u1 and u2 never: {text}"
    );
    assert_eq!(
        sample(&text, r#"jupyterhub_active_users{period="30d"} "#),
        Some(3.0)
    );
    assert_eq!(sample(&text, "jupyterhub_total_users "), Some(5.0));
    assert_eq!(
        sample(&text, "jupyterhub_hub_startup_duration_seconds_count "),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticate_prometheus_false_opens_the_endpoint() {
    let hub = TestHub::start(&[("JupyterHub", "authenticate_prometheus = false")]);
    let (status, _, text) = scrape(&hub, None).await;
    assert_eq!(status, 200);
    assert!(text.contains("jupyterhub_total_users "), "{text}");
    let api_path = reqwest::get(format!("{}/hub/api/metrics", hub.public_url()))
        .await
        .unwrap();
    assert_eq!(
        api_path.status(),
        200,
        "also at {{hub}}api/metrics, as upstream"
    );
}

/// Failed spawns carry upstream's `status`/`reason` labels: a throttled
/// request, a server that exits before it answers; an interrupted spawn is
/// not recorded (upstream cancels it).
#[tokio::test(flavor = "multi_thread")]
async fn failed_spawns_are_labelled_with_their_reason() {
    let hub = TestHub::start(&[
        (
            "Spawner",
            r#"cmd = ["/bin/sh", "-c", "if [ \"$JUPYTERHUB_USER\" = ann ]; then sleep 600; else exit 3; fi # jupyterhub-singleuser", "--"]"#,
        ),
        ("Authenticator", "admin_users = [\"root\"]"),
        (
            "JupyterHub",
            "concurrent_spawn_limit = 1\nauthenticate_prometheus = false",
        ),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    for name in ["ann", "ben"] {
        let created = api
            .call(&root, Method::POST, &format!("/users/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let spawn = |name: &str| {
        api.call(&root, Method::POST, &format!("/users/{name}/server"))
            .send()
    };
    let pending = |name: &'static str| {
        let api = &api;
        let root = &root;
        move || async move {
            let (_, model) = api.get(root, &format!("/users/{name}")).await;
            model["pending"].as_str().map(str::to_owned)
        }
    };

    let first = tokio::spawn(spawn("ann"));
    support::eventually(10, "ann's spawn to be pending", pending("ann")).await;
    assert_eq!(spawn("ben").await.unwrap().status(), 429);
    assert_eq!(first.await.unwrap().unwrap().status(), 202);
    let stopped = api
        .call(&root, Method::DELETE, "/users/ann/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    support::eventually(30, "ann's spawn to be stopped", || async {
        pending("ann")().await.is_none().then_some(())
    })
    .await;

    // ben's server exits with status 3 before it answers. The API's answer
    // depends on how fast that is noticed; the metric below is what counts.
    drop(spawn("ben").await.unwrap());
    support::eventually(30, "ben's spawn to fail", || async {
        let (_, _, text) = scrape(&hub, None).await;
        let exited =
            r#"jupyterhub_server_spawn_duration_seconds_count{reason="exited",status="error"} "#;
        (sample(&text, exited) == Some(1.0)).then_some(text)
    })
    .await;
    let (_, _, text) = scrape(&hub, None).await;
    let count = |labels: &str| {
        sample(
            &text,
            &format!("jupyterhub_server_spawn_duration_seconds_count{{{labels}}} "),
        )
    };
    assert_eq!(count(r#"reason="throttled",status="failure""#), Some(1.0));
    assert_eq!(count(r#"reason="",status="success""#), Some(0.0));
    assert_eq!(count(r#"reason="",status="error""#), Some(0.0), "{text}");
    assert_eq!(sample(&text, "jupyterhub_running_servers "), Some(0.0));
}
