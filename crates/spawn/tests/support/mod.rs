//! Shared helpers for the spawner tests: configs, requests, and what `/proc`
//! says about a process (what an administrator would look at).
#![allow(dead_code, reason = "each test binary uses a different part of it")]
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrohub_config::Config;
use ferrohub_spawn::{SpawnRequest, Started};

/// A tiny HTTP server that binds where `JUPYTERHUB_SERVICE_URL` says, like
/// jupyterhub-singleuser; every path answers 404 (which counts as "up").
pub const SERVICE_URL_SERVER: &str = r#"
import http.server, os, urllib.parse
url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
http.server.HTTPServer((url.hostname, url.port), http.server.SimpleHTTPRequestHandler).serve_forever()
"#;

/// A config for the simple spawner with homes under `homes` and the given command.
pub fn simple_config(homes: &Path, cmd: &[&str]) -> Config {
    let mut config = Config::default();
    config.jupyterhub.spawner_class = "simple".into();
    config.simple_local_process_spawner.home_dir_template =
        homes.join("{username}").to_string_lossy().into_owned();
    config.spawner.cmd = cmd.iter().map(|s| (*s).to_owned()).collect();
    config
}

/// What the hub would ask for `username`'s default server under `config`
/// (its `[Spawner]` settings, no profile).
pub fn request(config: &Config, username: &str) -> SpawnRequest {
    SpawnRequest {
        user_id: 1,
        settings: ferrohub_spawn::ServerSettings::from_config(&config.spawner),
        user_options: serde_json::json!({}),
        progress: ferrohub_spawn::ProgressReporter::ignore(),
        reports: ferrohub_spawn::ServerReports::new(),
        username: username.into(),
        server_name: String::new(),
        base_url: format!("/user/{username}/"),
        hub_env: BTreeMap::from([
            (
                "JUPYTERHUB_API_TOKEN".into(),
                format!("token-of-{username}"),
            ),
            ("JUPYTERHUB_USER".into(), username.into()),
            (
                "JUPYTERHUB_API_URL".into(),
                "http://127.0.0.1:8081/hub/api".into(),
            ),
            (
                "JUPYTERHUB_SERVICE_PREFIX".into(),
                format!("/user/{username}/"),
            ),
        ]),
    }
}

/// The pid in a started server's state.
pub fn pid_of(started: &Started) -> i32 {
    i32::try_from(started.state["pid"].as_i64().expect("state has a pid")).unwrap()
}

/// The port of `http://ip:port`.
pub fn port_of(url: &str) -> u16 {
    url.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// The process state letter from `/proc/<pid>/stat`, `None` once the pid is gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
pub fn is_running(pid: i32) -> bool {
    proc_state(pid).is_some_and(|state| state != 'Z' && state != 'X')
}

/// The environment the process was started with.
pub fn environ(pid: i32) -> HashMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            let (key, value) = text.split_once('=')?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The process's working directory.
pub fn cwd(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap()
}

/// One `Key:` line of `/proc/<pid>/status`, split into fields.
pub fn status_field(pid: i32, key: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Waits up to `timeout` for `condition`, checking every 50 ms.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// Kills a server's whole process group when a test fails, so a failed
/// assertion does not leave servers behind (they outlive the hub by design).
/// A passing test has stopped its server, and the pid may be reused by then.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, killpg};
        if std::thread::panicking() {
            let _already_gone = killpg(nix::unistd::Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}
