//! ferrohub-proxy as a drop-in for configurable-http-proxy under upstream's
//! own hub: JupyterHub 6.1.1 (the Python package in the project's virtualenv)
//! starts `ferrohub-proxy` through `ConfigurableHTTPProxy.command`, adds its
//! routes over the REST API, and a person logs in, spawns a real
//! `jupyterhub-singleuser`, opens JupyterLab and runs code in a kernel over a
//! websocket, all through our proxy.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::browser::Browser;
use support::eventually;
use support::upstream::UpstreamHub;

/// The command line of a running process, from /proc.
fn cmdline(pid: &str) -> String {
    std::fs::read(Path::new("/proc").join(pid).join("cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_jupyterhub_serves_lab_through_ferrohub_proxy() {
    let hub = UpstreamHub::start("", "");

    // It is our proxy that answers: JupyterHub started ferrohub-proxy with
    // CHP's flags (its pid file is written next to the hub's working dir).
    let pid = std::fs::read_to_string(hub.dir.path().join("jupyterhub-proxy.pid"))
        .expect("JupyterHub wrote the proxy's pid file");
    let proxy_cmd = cmdline(pid.trim());
    assert!(proxy_cmd.contains("ferrohub-proxy"), "{proxy_cmd}");
    assert!(proxy_cmd.contains("--error-target"), "{proxy_cmd}");
    // The hub added its own route `/` with its data.
    let routes = hub.routes().await;
    assert_eq!(routes["/"]["hub"], true, "{routes}");

    // Log in with upstream's form and XSRF token, start the server.
    let browser = Browser::new(&hub.public_url());
    let login = browser.login("alice", "open sesame", None).await;
    assert_eq!(login.status(), 302, "login");
    browser.start_server("alice").await;
    let routes = hub.routes().await;
    assert_eq!(routes["/user/alice"]["user"], "alice", "{routes}");

    // JupyterLab through the proxy, after the OAuth round trip with the hub.
    let lab = browser
        .follow
        .get(format!("{}/user/alice/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    assert_eq!(lab.url().path(), "/user/alice/lab");
    let html = lab.text().await.unwrap();
    assert!(
        html.contains("JupyterLab"),
        "not a JupyterLab page:\n{html:.500}"
    );

    // A kernel over a websocket through the proxy; the route's activity moves
    // and the hub picks it up.
    let before = hub.routes().await["/user/alice"]["last_activity"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(browser.run_code("alice", "6*7").await, "42");
    let after = hub.routes().await["/user/alice"]["last_activity"].clone();
    assert!(after.as_str() > before.as_str(), "{before} -> {after}");

    // Stopping the server removes the route.
    browser.stop_server("alice").await;
    eventually(60, "the route to go", || async {
        hub.routes()
            .await
            .get("/user/alice")
            .is_none()
            .then_some(())
    })
    .await;
}
