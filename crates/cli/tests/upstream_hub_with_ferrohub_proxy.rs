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

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::browser::Browser;
use support::{PROXY_TOKEN, eventually, ferrohub_bin, free_port, http_get_status, venv};

/// An upstream JupyterHub process group; stopped with SIGTERM (then SIGKILL)
/// when dropped, so its proxy and servers go too.
struct UpstreamHub {
    child: Child,
    dir: tempfile::TempDir,
    public_port: u16,
    api_port: u16,
}

impl UpstreamHub {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-upstream-")
            .tempdir()
            .unwrap();
        let (public_port, hub_port, api_port) = (free_port(), free_port(), free_port());
        let venv = venv();
        let proxy = ferrohub_bin().with_file_name("ferrohub-proxy");
        let d = dir.path().display();
        let allow_root = if nix::unistd::Uid::effective().is_root() {
            r#"["--allow-root"]"#
        } else {
            "[]"
        };
        let config = format!(
            r#"c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{public_port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.JupyterHub.db_url = "sqlite:///{d}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{d}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.last_activity_interval = 2
c.Authenticator.allow_all = True
c.DummyAuthenticator.password = "open sesame"
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.auth_token = "{PROXY_TOKEN}"
c.Spawner.cmd = ["{venv}/bin/jupyterhub-singleuser"]
c.Spawner.args = {allow_root}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {{"PATH": "{venv}/bin:/usr/local/bin:/usr/bin:/bin"}}
c.SimpleLocalProcessSpawner.home_dir_template = "{d}/homes/{{username}}"
"#,
            proxy = proxy.display(),
            venv = venv.display(),
        );
        std::fs::write(dir.path().join("jupyterhub_config.py"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("hub.log")).unwrap();
        let child = Command::new(venv.join("bin/jupyterhub"))
            .arg("-f")
            .arg(dir.path().join("jupyterhub_config.py"))
            .current_dir(dir.path())
            .env("PATH", format!("{}/bin:/usr/bin:/bin", venv.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start upstream jupyterhub");
        let mut hub = Self {
            child,
            dir,
            public_port,
            api_port,
        };
        hub.wait_ready();
        hub
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "jupyterhub exited at start-up ({status}); log:\n{}",
                    self.log()
                );
            }
            if http_get_status(self.public_port, "/hub/api") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "jupyterhub did not answer through the proxy in 60 s; log:\n{}",
            self.log()
        );
    }

    fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.public_port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }

    /// The route table, read straight from ferrohub-proxy's REST API.
    async fn routes(&self) -> Value {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/api/routes", self.api_port))
            .header("Authorization", format!("token {PROXY_TOKEN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for UpstreamHub {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-support::pid_of(&self.child).as_raw());
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        if let Err(e) = self.child.wait() {
            eprintln!("reaping jupyterhub: {e}");
        }
        if std::thread::panicking() {
            eprintln!("---- jupyterhub log ----\n{}", self.log());
        }
    }
}

/// The command line of a running process, from /proc.
fn cmdline(pid: &str) -> String {
    std::fs::read(Path::new("/proc").join(pid).join("cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_jupyterhub_serves_lab_through_ferrohub_proxy() {
    let hub = UpstreamHub::start();

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
