//! The spawner's safety rules, end to end with the real binaries:
//! - after a hub restart a stored server is adopted (or signalled) only if its
//!   pid still names the very process the hub started (start time, uid) and it
//!   answers HTTP; an unrelated process that holds the stored pid is left alone;
//! - `LocalProcessSpawner` never starts a server as root or as an account
//!   below `LocalProcessSpawner.min_uid`;
//! - pid files and the SQLite database are created 0600, and a symlink planted
//!   at their path is refused instead of written through.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::Method;
use serde_json::{Value, json};
use support::browser::Browser;
use support::users::LocalUser;
use support::{PROXY_TOKEN, TestHub, eventually, ferrohub_bin, free_port};

/// An unrelated long-running process in its own process group, killed on drop.
struct Bystander(Child);

impl Bystander {
    fn start() -> Self {
        let child = Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .unwrap();
        Self(child)
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }

    fn is_alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        support::kill_and_reap(&mut self.0, "the bystander process");
    }
}

fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The stored spawner state of `user`'s default server.
async fn stored_state(hub: &TestHub, user: &str) -> Value {
    let pool = sqlite(hub).await;
    let text: String = sqlx::query_scalar(
        "SELECT s.state FROM spawners s JOIN users u ON u.id = s.user_id \
         WHERE u.name = ? AND s.name = ''",
    )
    .bind(user)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    serde_json::from_str(&text).unwrap()
}

/// Rewrites the stored spawner state of `user`'s default server, as the
/// database would hold it if the kernel had reused the pid meanwhile.
async fn store_state(hub: &TestHub, user: &str, state: &Value) {
    let pool = sqlite(hub).await;
    let done = sqlx::query(
        "UPDATE spawners SET state = ? WHERE name = '' \
         AND user_id = (SELECT id FROM users WHERE name = ?)",
    )
    .bind(state.to_string())
    .bind(user)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

async fn sqlite(hub: &TestHub) -> sqlx::SqlitePool {
    let path = hub.dir.path().join("ferrohub.sqlite");
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

async fn user_model(browser: &Browser, user: &str) -> Value {
    browser
        .hub_api(Method::GET, &format!("/users/{user}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_only_servers_proven_ours_are_adopted_or_signalled() {
    let mut hub = TestHub::start(&[
        // Short stop waits so a hung server is stopped quickly after the restart.
        (
            "LocalProcessSpawner",
            "interrupt_timeout = 1\nterm_timeout = 1\nkill_timeout = 5",
        ),
    ]);
    // kept: still running, re-adopted. reused: its pid goes to a bystander.
    // legacy: a state without identity (older ferrohub) naming a bystander.
    // hung: still ours but no longer answers HTTP, so it is stopped.
    let users = ["kept", "reused", "legacy", "hung"];
    let browsers: Vec<Browser> = users
        .iter()
        .map(|_| Browser::new(&hub.public_url()))
        .collect();
    for (browser, user) in browsers.iter().zip(users) {
        assert_eq!(browser.login(user, "pw", None).await.status(), 302);
    }
    futures_util::future::join_all(
        browsers
            .iter()
            .zip(users)
            .map(|(browser, user)| browser.start_server(user)),
    )
    .await;
    let pid = |user: &str| hub.server_pids(user)[0];
    let (kept, reused, legacy, hung) = (pid("kept"), pid("reused"), pid("legacy"), pid("hung"));
    let reused_state = stored_state(&hub, "reused").await;

    // The hub dies; two servers die with it while it is down, one hangs.
    hub.kill(Signal::SIGKILL);
    for dead in [reused, legacy] {
        kill(Pid::from_raw(-dead), Signal::SIGKILL).unwrap();
    }
    kill(Pid::from_raw(-hung), Signal::SIGSTOP).unwrap();
    eventually(30, "the killed servers to go", || async {
        (!running(reused) && !running(legacy)).then_some(())
    })
    .await;
    // Their pids now name unrelated processes (deterministically: by rewriting
    // the stored pid, as a reuse by the kernel would leave it).
    let mut reused_by = Bystander::start();
    let mut legacy_by = Bystander::start();
    let mut reused_state = reused_state;
    reused_state["pid"] = json!(reused_by.pid());
    store_state(&hub, "reused", &reused_state).await;
    store_state(&hub, "legacy", &json!({ "pid": legacy_by.pid() })).await;
    // A hung server must not hold up the restart for the tests' 120 s.
    let config = std::fs::read_to_string(&hub.config_path).unwrap();
    std::fs::write(
        &hub.config_path,
        config.replace("http_timeout = 120", "http_timeout = 5"),
    )
    .unwrap();

    hub.launch();
    assert!(
        reused_by.is_alive(),
        "a process that reused a pid was signalled"
    );
    assert!(
        legacy_by.is_alive(),
        "the pid of a legacy state was signalled"
    );
    let routes = hub.routes().await;
    for (browser, gone) in browsers.iter().zip(users).skip(1) {
        let model = user_model(browser, gone).await;
        assert_eq!(model["servers"], json!({}), "{gone} is stopped: {model}");
        assert!(
            routes.get(format!("/user/{gone}")).is_none(),
            "{gone}'s route is gone: {routes}"
        );
    }
    assert!(
        hub.log().contains("does not appear to be running"),
        "the hung server was re-probed"
    );
    eventually(30, "the hung server to be stopped", || async {
        (!running(hung)).then_some(())
    })
    .await;

    // The genuine server is re-adopted, not spawned again, and reachable.
    let model = user_model(&browsers[0], "kept").await;
    assert_eq!(model["servers"][""]["ready"], true, "{model}");
    assert_eq!(hub.server_pids("kept"), [kept]);
    assert!(routes.get("/user/kept").is_some(), "{routes}");
    let lab = browsers[0]
        .follow
        .get(format!("{}/user/kept/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    assert_eq!(browsers[0].run_code("kept", "6*7").await, "42");
    // Seconds later the bystanders are still untouched (the liveness poll
    // runs every 2 s and must not signal them either).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(reused_by.is_alive() && legacy_by.is_alive());
    assert!(
        reused_state["start_time"].is_u64()
            && reused_state["uid"] == nix::unistd::getuid().as_raw()
            && reused_state["boot_id"].is_string(),
        "the state records the process identity: {reused_state}"
    );
}

/// A system account (uid below 1000 on Debian) with a home directory.
struct SystemUser(String);

impl SystemUser {
    fn create() -> Self {
        let name = format!("fhsys{}", std::process::id());
        support::run_cleanup(Command::new("userdel").args(["-r", &name]));
        let made = Command::new("useradd")
            .args(["-r", "-m", "-s", "/bin/bash", &name])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Self(name)
    }

    fn uid(&self) -> u32 {
        nix::unistd::User::from_name(&self.0)
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        support::run_cleanup(Command::new("pkill").args(["-KILL", "-u", &self.0]));
        support::run_cleanup(Command::new("userdel").args(["-r", &self.0]));
    }
}

/// Logs `user` in (dummy authenticator) and asks for their server; the answer.
async fn spawn_as(hub: &TestHub, user: &str) -> (Browser, reqwest::Response) {
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(user, "pw", None).await.status(), 302);
    let answer = browser
        .hub_api(Method::POST, &format!("/users/{user}/server"))
        .send()
        .await
        .unwrap();
    (browser, answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn local_servers_never_run_as_root_or_a_system_account() {
    let system = SystemUser::create();
    assert!(system.uid() < 1000, "useradd -r made uid {}", system.uid());
    let normal = LocalUser::create("minuid");
    // Real local accounts, the dummy authenticator so "root" can log in.
    let hub = TestHub::start_with("dummy", "localprocess", &[]);

    let (_, refused) = spawn_as(&hub, &system.0).await;
    assert_eq!(refused.status(), 500);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["message"],
        format!(
            "Spawn failed: user {} has uid {}, below LocalProcessSpawner.min_uid 1000",
            system.0,
            system.uid()
        ),
        "{body}"
    );
    assert!(hub.server_pids(&system.0).is_empty());

    let (_, root) = spawn_as(&hub, "root").await;
    assert_eq!(root.status(), 500);
    let body: Value = root.json().await.unwrap();
    assert_eq!(
        body["message"], "Spawn failed: user root has uid 0; servers never run as root",
        "{body}"
    );
    assert!(hub.server_pids("root").is_empty());

    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(&normal.name, "pw", None).await.status(), 302);
    browser.start_server(&normal.name).await;
    let pids = hub.server_pids(&normal.name);
    assert_eq!(pids.len(), 1);
    let status = std::fs::read_to_string(format!("/proc/{}/status", pids[0])).unwrap();
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().next())
        .unwrap();
    assert_eq!(uid, normal.uid().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn root_is_refused_even_with_min_uid_zero() {
    let hub = TestHub::start_with(
        "dummy",
        "localprocess",
        &[("LocalProcessSpawner", "min_uid = 0")],
    );
    let (_, root) = spawn_as(&hub, "root").await;
    assert_eq!(root.status(), 500);
    let body: Value = root.json().await.unwrap();
    assert_eq!(
        body["message"], "Spawn failed: user root has uid 0; servers never run as root",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pid_files_and_the_database_are_created_private() {
    let hub = TestHub::start(&[("JupyterHub", "pid_file = \"hub.pid\"")]);
    let dir = hub.dir.path();
    for file in ["hub.pid", "proxy.pid", "ferrohub.sqlite"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("hub.pid")).unwrap(),
        hub.pid().to_string()
    );
    for companion in ["ferrohub.sqlite-wal", "ferrohub.sqlite-shm"] {
        if dir.join(companion).exists() {
            assert_eq!(mode(&dir.join(companion)), 0o600, "{companion}");
        }
    }
}

/// A directory with a minimal hub config; `extra` goes into `[JupyterHub]`.
struct BareHub {
    dir: tempfile::TempDir,
    api_port: u16,
}

impl BareHub {
    fn new(jupyterhub: &str, proxy: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let api_port = free_port();
        let config = format!(
            "[JupyterHub]\nbind_url = \"http://127.0.0.1:{}\"\nhub_port = {}\n\
             cookie_secret_file = \"cookie_secret\"\nauthenticator_class = \"dummy\"\n\
             spawner_class = \"simple\"\n{jupyterhub}\n\
             [ConfigurableHTTPProxy]\napi_url = \"http://127.0.0.1:{api_port}\"\n\
             auth_token = \"{PROXY_TOKEN}\"\n{proxy}\n",
            free_port(),
            free_port(),
        );
        std::fs::write(dir.path().join("ferrohub.toml"), config).unwrap();
        Self { dir, api_port }
    }

    /// Runs the hub, which must fail at start-up; its exit status and output.
    fn run_to_failure(&self) -> String {
        let mut child = Command::new(ferrohub_bin())
            .args(["-f", "ferrohub.toml"])
            .current_dir(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                support::kill_and_reap(&mut child, "the hub");
                panic!("the hub did not refuse to start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "the hub started");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Plants a symlink at `name` pointing to a file that must stay untouched.
    fn plant(&self, name: &str) -> std::path::PathBuf {
        let target = self.dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        symlink(&target, self.dir.path().join(name)).unwrap();
        target
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_planted_at_a_pid_file_or_the_database_is_refused() {
    for (what, jupyterhub, proxy, planted) in [
        (
            "hub pid file",
            "db_url = \"sqlite:///hub.sqlite\"\npid_file = \"hub.pid\"",
            "pid_file = \"proxy.pid\"",
            "hub.pid",
        ),
        (
            "proxy pid file",
            "db_url = \"sqlite:///hub.sqlite\"",
            "pid_file = \"proxy.pid\"",
            "proxy.pid",
        ),
        (
            "database",
            "db_url = \"sqlite:///hub.sqlite\"",
            "pid_file = \"proxy.pid\"",
            "hub.sqlite",
        ),
    ] {
        let bare = BareHub::new(jupyterhub, proxy);
        let target = bare.plant(planted);
        let output = bare.run_to_failure();
        assert!(
            output.contains("is a symbolic link; refusing to write through it"),
            "{what}: {output}"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "keep me",
            "{what}"
        );
        assert_eq!(
            mode(&target) & 0o077,
            0o044,
            "{what}: target mode unchanged"
        );
        // Nothing was left running: the proxy (if started) went with the hub.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", bare.api_port)).is_err(),
            "{what}: a proxy was left running"
        );
    }
}

#[test]
fn ferrohub_proxy_refuses_a_symlinked_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("proxy.pid");
    symlink(&target, &link).unwrap();
    let proxy = ferrohub_bin().with_file_name("ferrohub-proxy");
    let mut refused = Command::new(proxy)
        .args(["--ip", "127.0.0.1", "--port", &free_port().to_string()])
        .args([
            "--api-ip",
            "127.0.0.1",
            "--api-port",
            &free_port().to_string(),
        ])
        .arg("--pid-file")
        .arg(&link)
        .env("CONFIGPROXY_AUTH_TOKEN", PROXY_TOKEN)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while refused.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Still running after 20 s is a failure the assertions below report.
    if let Err(e) = refused.kill() {
        eprintln!("killing the refused proxy: {e}");
    }
    let output = refused.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    // Without the link, it writes the pid file 0600.
    std::fs::remove_file(&link).unwrap();
    let mut running = Command::new(ferrohub_bin().with_file_name("ferrohub-proxy"))
        .args(["--ip", "127.0.0.1", "--port", &free_port().to_string()])
        .args([
            "--api-ip",
            "127.0.0.1",
            "--api-port",
            &free_port().to_string(),
        ])
        .arg("--pid-file")
        .arg(&link)
        .env("CONFIGPROXY_AUTH_TOKEN", PROXY_TOKEN)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !link.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = mode(&link);
    support::kill_and_reap(&mut running, "the proxy");
    assert_eq!(written, 0o600);
}
