//! The hub looks after its proxy: a proxy it started that dies (SIGKILL) is
//! started again with every route restored and nothing else touched
//! (`ConfigurableHTTPProxy.check_running_interval`); an external proxy is not
//! restarted; the proxy gets a minimal environment, not the hub's secrets;
//! `PATCH /hub/api/proxy` never adopts a setting the proxy refuses; and
//! flags in `ConfigurableHTTPProxy.command` reach the proxy.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::api::{Api, token_for};
use support::{PROXY_TOKEN, TestHub, eventually, ferrohub_bin, free_port, http_get_status};

const SERVERS: usize = 20;

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn cmdline(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

/// Creates `names` and returns each one's own API token (made by the admin).
async fn users_with_tokens(api: &Api, admin: &str, names: &[String]) -> BTreeMap<String, String> {
    let created = api
        .call(admin, Method::POST, "/users")
        .json(&json!({"usernames": names}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut tokens = BTreeMap::new();
    for name in names {
        let reply = api
            .call(admin, Method::POST, &format!("/users/{name}/tokens"))
            .json(&json!({"note": "proxy watchdog test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
        let body: Value = reply.json().await.unwrap();
        tokens.insert(name.clone(), body["token"].as_str().unwrap().to_owned());
    }
    tokens
}

/// `GET /user/<name>/api/status` through the public URL with the user's
/// token: 200 only if the proxy routes to that user's own server.
async fn reachable(hub: &TestHub, name: &str, token: &str) -> bool {
    let url = format!("{}/user/{name}/api/status", hub.public_url());
    let answer = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("token {token}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    answer.is_ok_and(|r| r.status() == StatusCode::OK)
}

async fn all_reachable(hub: &TestHub, tokens: &BTreeMap<String, String>) -> bool {
    let checks = tokens
        .iter()
        .map(|(name, token)| reachable(hub, name, token));
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .all(|ok| ok)
}

/// The user's default server model (`servers[""]`).
async fn server_model(api: &Api, admin: &str, name: &str) -> Value {
    let (status, model) = api.get(admin, &format!("/users/{name}")).await;
    assert_eq!(status, 200);
    model["servers"][""].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_the_proxy_and_all_20_servers_are_routed_again_within_10_s() {
    // Twenty Python servers starting at once on a small shared machine take
    // minutes: give each the time (the default timeouts would fail them all).
    let hub = TestHub::start(&[
        ("Authenticator", "admin_users = [\"root\"]"),
        ("Spawner", "start_timeout = 900\nhttp_timeout = 900"),
    ]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    let names: Vec<String> = (0..SERVERS).map(|i| format!("watch{i:02}")).collect();
    let tokens = users_with_tokens(&api, &root, &names).await;

    // Start all servers at once through the API, then wait until each is ready.
    let spawning = Instant::now();
    let spawns = names.iter().map(|name| {
        api.call(&root, Method::POST, &format!("/users/{name}/server"))
            .send()
    });
    for answer in futures_util::future::join_all(spawns).await {
        let status = answer.unwrap().status();
        assert!(
            matches!(status, StatusCode::CREATED | StatusCode::ACCEPTED),
            "{status}"
        );
    }
    for name in &names {
        eventually(900, &format!("{name}'s server to be ready"), || async {
            (server_model(&api, &root, name).await["ready"] == true).then_some(())
        })
        .await;
    }
    eprintln!(
        "{SERVERS} servers ready {:.1} s after the spawn requests",
        spawning.elapsed().as_secs_f64()
    );
    assert!(
        all_reachable(&hub, &tokens).await,
        "reachable before the kill"
    );

    let routes_before = hub.routes().await;
    assert_eq!(
        routes_before.as_object().unwrap().len(),
        SERVERS + 1,
        "hub route + one per server: {routes_before}"
    );
    let mut before = BTreeMap::new();
    for name in &names {
        let pids = hub.server_pids(name);
        assert_eq!(pids.len(), 1, "{name}: {pids:?}");
        let started = server_model(&api, &root, name).await["started"].clone();
        before.insert(name.clone(), (pids, started));
    }
    let old_proxy = hub.proxy_pid().expect("proxy pid file");
    let old_cmdline = cmdline(old_proxy);
    let hub_pid = hub.pid();

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old_proxy), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    // Within 10 s (check_running_interval is upstream's default 5 s), every
    // server answers again through the public URL.
    while !all_reachable(&hub, &tokens).await {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "not all {SERVERS} servers reachable 10 s after the proxy was killed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "all {SERVERS} servers reachable again {:.1} s after kill -9 of the proxy",
        killed.elapsed().as_secs_f64()
    );

    // A new proxy, same command, same token, pid file updated.
    let new_proxy = hub.proxy_pid().expect("proxy pid file rewritten");
    assert_ne!(new_proxy, old_proxy);
    assert!(alive(new_proxy) && !alive(old_proxy));
    assert_eq!(
        cmdline(new_proxy),
        old_cmdline,
        "started with the same command"
    );
    assert_eq!(
        TestHub::process_env(new_proxy, "CONFIGPROXY_AUTH_TOKEN").as_deref(),
        Some(PROXY_TOKEN),
        "started with the same auth token"
    );
    // The same route table (hub.routes() authenticates with that token).
    let strip_activity = |routes: &Value| -> Value {
        let mut routes = routes.clone();
        for route in routes.as_object_mut().unwrap().values_mut() {
            route.as_object_mut().unwrap().remove("last_activity");
        }
        routes
    };
    assert_eq!(
        strip_activity(&hub.routes().await),
        strip_activity(&routes_before)
    );
    // Nothing else touched: the same hub, the same server processes, no restarts.
    assert!(alive(hub_pid), "the hub kept running");
    for name in &names {
        let (pids, started) = &before[name];
        assert_eq!(&hub.server_pids(name), pids, "{name}'s server process");
        let model = server_model(&api, &root, name).await;
        assert_eq!(model["ready"], true, "{name}: {model}");
        assert_eq!(&model["started"], started, "{name} was not restarted");
    }
    assert!(
        hub.log().contains("proxy stopped with exit status"),
        "the hub logs the proxy's death"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_adopted_after_a_hub_restart_is_watched_too() {
    let mut hub = TestHub::start(&[]);
    let first = hub.proxy_pid().expect("proxy pid file");
    // The hub dies; the proxy it started outlives it and the next hub adopts it.
    hub.kill(Signal::SIGKILL);
    hub.launch();
    assert_eq!(hub.proxy_pid(), Some(first), "adopted, not replaced");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let second = eventually(10, "a new proxy with the hub route", || async {
        hub.proxy_pid()
            .filter(|pid| *pid != first && alive(*pid))
            .filter(|_| http_get_status(hub.public_port, "/hub/api") == Some(200))
    })
    .await;
    assert!(killed.elapsed() < Duration::from_secs(10));
    assert_eq!(
        TestHub::process_env(second, "CONFIGPROXY_AUTH_TOKEN").as_deref(),
        Some(PROXY_TOKEN)
    );
}

/// A hub process this file starts itself, for options and environment
/// [`TestHub`] does not set: on a stopped `TestHub`'s directory, config and
/// ports, with `--Class.trait=value` overrides. Stopped (SIGTERM) on drop;
/// the `TestHub` then removes whatever proxy its pid file names.
struct OwnHub(Child);

impl OwnHub {
    fn launch(hub: &TestHub, overrides: &[&str], env: &[(&str, &str)]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(hub.dir.path().join("hub.log"))
            .unwrap();
        let child = Command::new(ferrohub_bin())
            .arg("-f")
            .arg(&hub.config_path)
            .args(overrides)
            .current_dir(hub.dir.path())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut own = Self(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get_status(hub.public_port, "/hub/api") != Some(200) {
            if let Ok(Some(status)) = own.0.try_wait() {
                panic!("hub exited at start-up ({status})\n{}", hub.log());
            }
            assert!(Instant::now() < deadline, "hub not up\n{}", hub.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        own
    }

    fn pid(&self) -> i32 {
        support::pid_of(&self.0).as_raw()
    }
}

impl Drop for OwnHub {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        support::kill_and_reap(&mut self.0, "the hub");
    }
}

/// A proxy run outside the hub, as systemd would, on the `TestHub`'s ports.
struct ExternalProxy(Child);

impl ExternalProxy {
    fn start(hub: &TestHub) -> Self {
        let bin = ferrohub_bin().with_file_name("ferrohub-proxy");
        let child = Command::new(bin)
            .args(["--ip", "127.0.0.1", "--port", &hub.public_port.to_string()])
            .args([
                "--api-ip",
                "127.0.0.1",
                "--api-port",
                &hub.api_port.to_string(),
            ])
            .args([
                "--error-target",
                &format!("http://127.0.0.1:{}/hub/error", hub.hub_port),
            ])
            .env("CONFIGPROXY_AUTH_TOKEN", PROXY_TOKEN)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", hub.api_port)).is_err() {
            assert!(Instant::now() < deadline, "external proxy not up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }

    fn kill(&mut self) {
        support::kill_and_reap(&mut self.0, "the external proxy");
    }
}

impl Drop for ExternalProxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Stops the `TestHub`'s own hub process (which stops the proxy it started),
/// so this file can start one with other options on the same directory.
fn stopped(mut hub: TestHub) -> TestHub {
    hub.kill(Signal::SIGTERM);
    eventually_blocking(15, "the first hub's proxy to stop", || {
        hub.proxy_pid().is_none_or(|pid| !alive(pid))
    });
    hub
}

fn eventually_blocking(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_proxy_is_not_restarted_but_its_routes_come_back_with_it() {
    let hub = stopped(TestHub::start(&[]));
    let mut external = ExternalProxy::start(&hub);
    let own = OwnHub::launch(
        &hub,
        &[
            "--ConfigurableHTTPProxy.should_start=False",
            "--ConfigurableHTTPProxy.check_running_interval=1",
        ],
        &[],
    );
    external.kill();
    let killed = Instant::now();
    eventually(10, "the hub to log the unreachable proxy", || async {
        hub.log().contains("does not restart it").then_some(())
    })
    .await;
    // Let a few more intervals pass: nobody starts a proxy.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(killed.elapsed())).await;
    assert_eq!(
        http_get_status(hub.public_port, "/hub/api"),
        None,
        "no proxy listens: the hub did not start one"
    );
    assert!(alive(own.pid()), "the hub keeps running");

    // Its operator starts it again, with an empty route table: the hub route is back at once.
    let _external = ExternalProxy::start(&hub);
    eventually(
        5,
        "the hub route on the restarted external proxy",
        || async { (http_get_status(hub.public_port, "/hub/api") == Some(200)).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_does_not_inherit_the_hubs_secrets_also_when_restarted() {
    let hub = stopped(TestHub::start(&[]));
    let crypt_key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let own = OwnHub::launch(
        &hub,
        &["--ConfigurableHTTPProxy.check_running_interval=1"],
        &[
            ("FERROHUB_TEST_SECRET", "hunter2"),
            ("JUPYTERHUB_CRYPT_KEY", crypt_key),
        ],
    );
    let check = |pid: i32| {
        for secret in ["FERROHUB_TEST_SECRET", "JUPYTERHUB_CRYPT_KEY"] {
            assert_eq!(
                TestHub::process_env(pid, secret),
                None,
                "{secret} in the proxy"
            );
        }
        assert_eq!(
            TestHub::process_env(pid, "CONFIGPROXY_AUTH_TOKEN").as_deref(),
            Some(PROXY_TOKEN)
        );
        assert!(TestHub::process_env(pid, "PATH").is_some());
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let names: Vec<String> = environ
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v.split(|b| *b == b'=').next().unwrap()).into_owned())
            .collect();
        let allowed = [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TZ",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "NODE_EXTRA_CA_CERTS",
            "RUST_LOG",
            "RUST_BACKTRACE",
            "CONFIGPROXY_AUTH_TOKEN",
        ];
        assert!(
            names.iter().all(|n| allowed.contains(&n.as_str())),
            "the proxy's environment: {names:?}"
        );
    };
    let first = hub.proxy_pid().expect("proxy pid file");
    // The secrets are in the hub's environment, so their absence is the hub's doing.
    assert_eq!(
        TestHub::process_env(own.pid(), "FERROHUB_TEST_SECRET").as_deref(),
        Some("hunter2")
    );
    check(first);

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), Signal::SIGKILL).unwrap();
    let second = eventually(10, "a new proxy", || async {
        hub.proxy_pid()
            .filter(|pid| *pid != first && alive(*pid))
            .filter(|_| http_get_status(hub.public_port, "/hub/api") == Some(200))
    })
    .await;
    check(second);
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_proxy_refuses_a_setting_the_proxy_does_not_accept() {
    let hub = TestHub::start(&[("Authenticator", "admin_users = [\"root\"]")]);
    let api = Api::new(&hub);
    let root = token_for(&hub, "root");
    let patchy = users_with_tokens(&api, &root, &["patchy".to_owned()]).await["patchy"].clone();
    let patch = |body: Value| api.call(&root, Method::PATCH, "/proxy").json(&body).send();

    // A token the proxy refuses (its API answers 403).
    let wrong = patch(json!({"auth_token": "not-the-proxy-token"}))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["status"], 400);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("refused the auth token"), "{message}");
    assert!(!message.contains("not-the-proxy-token"), "{message}");

    // An API URL where nothing listens.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let unreachable = patch(json!({"api_url": nowhere, "auth_token": PROXY_TOKEN}))
        .await
        .unwrap();
    assert_eq!(unreachable.status(), StatusCode::BAD_REQUEST);
    let body: Value = unreachable.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{body}"
    );

    // The hub still routes: a server starts and is reachable through the proxy.
    let spawn = api
        .call(&root, Method::POST, "/users/patchy/server")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(spawn.status(), StatusCode::CREATED | StatusCode::ACCEPTED),
        "{}",
        spawn.status()
    );
    eventually(120, "patchy's server to be ready", || async {
        (server_model(&api, &root, "patchy").await["ready"] == true).then_some(())
    })
    .await;
    assert!(reachable(&hub, "patchy", &patchy).await);
    assert!(hub.routes().await.get("/user/patchy").is_some());

    // A setting the proxy accepts is adopted (here the same URL and token).
    let same = format!("http://127.0.0.1:{}", hub.api_port);
    let ok = patch(json!({"api_url": same, "auth_token": PROXY_TOKEN}))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let (status, _) = api.get(&root, "/proxy").await;
    assert_eq!(status, 200);
}

/// An admin turns on ferrohub-proxy's `--busy-poll` through
/// `ConfigurableHTTPProxy.command`: the hub starts the proxy with the flag,
/// the proxy runs it (one thread) and serves the hub's pages.
#[tokio::test(flavor = "multi_thread")]
async fn flags_in_the_proxy_command_reach_the_proxy() {
    let hub = TestHub::start(&[(
        "ConfigurableHTTPProxy",
        r#"command = ["ferrohub-proxy", "--busy-poll=300"]"#,
    )]);
    let proxy = eventually(30, "the proxy's pid file", || async { hub.proxy_pid() }).await;
    let args: Vec<String> = cmdline(proxy)
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(
        args.iter().any(|a| a == "--busy-poll=300"),
        "the proxy's command line: {args:?}"
    );
    let threads = std::fs::read_dir(format!("/proc/{proxy}/task"))
        .unwrap()
        .count();
    assert_eq!(threads, 1, "--busy-poll runs the proxy on one thread");
    assert_eq!(
        http_get_status(hub.public_port, "/hub/login"),
        Some(200),
        "the login page through the proxy"
    );
}
