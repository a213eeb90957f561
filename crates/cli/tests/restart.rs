//! Fault test: the hub is killed with SIGKILL while a server runs. The proxy
//! and the server survive; the restarted hub re-adopts both without spawning
//! again, and can still stop the server.

mod support;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::Value;
use support::browser::Browser;
use support::{TestHub, eventually};

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_the_hub_and_the_server_stays_reachable() {
    let mut hub = TestHub::start(&[]);
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("carol", "pw", None).await.status(), 302);
    browser.start_server("carol").await;
    let lab = browser
        .follow
        .get(format!("{}/user/carol/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    let server_pid = hub.server_pids("carol")[0];
    let proxy_pid = hub.proxy_pid().expect("proxy pid file");

    let status = hub.kill(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(alive(proxy_pid), "the proxy outlives the hub");
    assert!(alive(server_pid), "the server outlives the hub");
    // While the hub is down, the server is still served through the proxy.
    let during = browser
        .follow
        .get(format!("{}/user/carol/api/status", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(during.status(), 200);

    hub.launch();
    assert_eq!(
        hub.proxy_pid(),
        Some(proxy_pid),
        "the new hub adopted the running proxy"
    );
    let model: Value = browser
        .hub_api(Method::GET, "/users/carol")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        model["servers"][""]["ready"], true,
        "re-adopted as ready: {model}"
    );
    assert_eq!(hub.server_pids("carol"), [server_pid], "not spawned again");
    assert_eq!(
        hub.routes().await["/user/carol"]["target"]
            .as_str()
            .map(|t| t.starts_with("http://127.0.0.1:")),
        Some(true)
    );
    assert_eq!(browser.run_code("carol", "1+1").await, "2");

    browser.stop_server("carol").await;
    eventually(60, "carol's server to exit", || async {
        hub.server_pids("carol").is_empty().then_some(())
    })
    .await;
    eventually(30, "carol's route to go", || async {
        hub.routes()
            .await
            .get("/user/carol")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_behind_the_hubs_back_is_noticed() {
    let hub = TestHub::start(&[]);
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("dan", "pw", None).await.status(), 302);
    browser.start_server("dan").await;
    let pid = hub.server_pids("dan")[0];
    // Kill the whole server (process group) with SIGKILL, as the OOM killer would.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(-pid), Signal::SIGKILL).unwrap();
    // The poll (every Spawner.poll_interval = 2 s here) cleans up: route and server gone.
    eventually(30, "the hub to notice", || async {
        let model: Value = browser
            .hub_api(Method::GET, "/users/dan")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (model["server"].is_null() && model["servers"] == serde_json::json!({})).then_some(())
    })
    .await;
    assert!(hub.routes().await.get("/user/dan").is_none());
    // And the user can start it again.
    browser.start_server("dan").await;
    assert_eq!(hub.server_pids("dan").len(), 1);
}
