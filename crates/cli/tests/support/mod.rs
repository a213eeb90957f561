//! Test kit for whole-system tests: a real `ferrohub` process with its real
//! `ferrohub-proxy`, real `jupyterhub-singleuser` servers from the project's
//! virtualenv, and a cookie-keeping HTTP client that behaves like a browser.
#![allow(dead_code, reason = "each test binary uses a different part of it")]
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

pub mod api;
pub mod browser;
pub mod certs;
pub mod chromium;
pub mod daemon;
pub mod db_servers;
pub mod docker;
pub mod front;
pub mod ldap;
pub mod oidc;
pub mod openapi;
#[path = "../../../proxy/tests/support/ports.rs"]
mod ports;
pub mod slurm;
pub mod sudo;
pub mod systemd;
pub mod upstream;
pub mod users;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The proxy API token the tests configure, so they can read the route table.
pub const PROXY_TOKEN: &str = "test-proxy-token-0123456789";

/// The virtualenv with jupyterhub-singleuser (created by scripts/setup.sh).
pub fn venv() -> PathBuf {
    let venv = PathBuf::from(
        std::env::var("FERROHUB_VENV").unwrap_or_else(|_| "/opt/ferrohub/venv".into()),
    );
    assert!(
        venv.join("bin/jupyterhub-singleuser").exists(),
        "no jupyterhub-singleuser in {}; run scripts/setup.sh",
        venv.display()
    );
    venv
}

/// A port nothing listens on right now, for a server a test starts.
/// [`TestHub`] retries with fresh ports if a parallel test takes one first.
pub fn free_port() -> u16 {
    ports::unused_port()
}

/// The ferrohub binary under test.
pub fn ferrohub_bin() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ferrohub"));
    let proxy = bin.with_file_name("ferrohub-proxy");
    assert!(
        proxy.exists(),
        "{} is missing; build the workspace binaries first (cargo build --workspace --bins)",
        proxy.display()
    );
    bin
}

/// How a [`TestHub`]'s public port is served: plain HTTP at `/` unless
/// `base_path` (`/jupyter`, `JupyterHub.bind_url`'s path) or a certificate
/// (`JupyterHub.ssl_cert`/`ssl_key`: HTTPS) is given.
#[derive(Debug, Clone, Default)]
pub struct PublicSide {
    /// The base path, no trailing slash (`""` or `/jupyter`).
    pub base_path: String,
    /// PEM certificate and key files for the public port.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A hub running in a temporary directory.
pub struct TestHub {
    pub dir: tempfile::TempDir,
    pub public_port: u16,
    pub hub_port: u16,
    pub api_port: u16,
    pub config_path: PathBuf,
    /// Extra environment of the hub process (e.g. `JUPYTERHUB_CRYPT_KEY`),
    /// used by every [`TestHub::launch`].
    pub env: Vec<(String, String)>,
    /// A command prefix the hub runs under (e.g. entering systemd's
    /// namespaces, support/systemd.rs); empty: run directly.
    pub launcher: Vec<String>,
    /// The local account the hub runs as (`None`: the test's own, root in CI).
    run_as: Option<String>,
    /// How the public port is reached: scheme, base path, certificate.
    public: PublicSide,
    child: Option<Child>,
    log_path: PathBuf,
    /// The hub's database server when `FERROHUB_TEST_DB` names one.
    database: Option<db_servers::DbServer>,
}

impl TestHub {
    /// Writes a config for dummy login + simple spawner (plus extra TOML lines
    /// for the sections named) and starts the hub.
    pub fn start(sections: &[(&str, &str)]) -> Self {
        Self::start_with("dummy", "simple", sections)
    }

    /// Like [`TestHub::start`] with the given authenticator and spawner classes.
    pub fn start_with(authenticator: &str, spawner: &str, sections: &[(&str, &str)]) -> Self {
        Self::start_with_env(authenticator, spawner, sections, &[])
    }

    /// Like [`TestHub::start_with`], the hub process getting `env` too.
    pub fn start_with_env(
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_on(None, authenticator, spawner, sections, env)
    }

    /// Like [`TestHub::start_with_env`] on a public port chosen beforehand
    /// (e.g. [`free_port`]), for peers that must know the hub's URL before
    /// it starts (an OAuth provider's registered redirect URI).
    pub fn start_on(
        public_port: Option<u16>,
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_full(
            None,
            &[],
            public_port,
            authenticator,
            spawner,
            sections,
            env,
        )
    }

    /// Like [`TestHub::start`] (dummy login, simple spawner) with the public
    /// port served as `public` says (a base path, HTTPS).
    pub fn start_public(public: PublicSide, sections: &[(&str, &str)]) -> Self {
        Self::start_inner(None, &[], None, public, "dummy", "simple", sections, &[])
    }

    /// Like [`TestHub::start_on`], the hub (and every restart of it) run
    /// under the command prefix `launcher` (which may fork the hub, as
    /// `nsenter --pid` does: [`TestHub::pid`] finds it below). Pids the hub
    /// writes may then be of another PID namespace, so the proxy's pid file
    /// is not used to clean up.
    pub fn start_launched(
        launcher: &[String],
        public_port: Option<u16>,
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_full(
            None,
            launcher,
            public_port,
            authenticator,
            spawner,
            sections,
            env,
        )
    }

    /// Like [`TestHub::start_with`] with the hub running as the local
    /// account `account` (real, effective and saved ids, its groups, no
    /// capabilities), which owns the hub's directory: a hub without root.
    pub fn start_as(
        account: &str,
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
    ) -> Self {
        Self::start_full(
            Some(account),
            &[],
            None,
            authenticator,
            spawner,
            sections,
            &[],
        )
    }

    fn start_full(
        run_as: Option<&str>,
        launcher: &[String],
        public_port: Option<u16>,
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_inner(
            run_as,
            launcher,
            public_port,
            PublicSide::default(),
            authenticator,
            spawner,
            sections,
            env,
        )
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the one constructor the others call"
    )]
    fn start_inner(
        run_as: Option<&str>,
        launcher: &[String],
        public_port: Option<u16>,
        public: PublicSide,
        authenticator: &str,
        spawner: &str,
        sections: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-test-")
            .tempdir()
            .unwrap();
        // Local users must be able to reach their files under the temp dir.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        if let Some(account) = run_as {
            let user = nix::unistd::User::from_name(account).unwrap().unwrap();
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
        }
        let mut hub = Self {
            config_path: dir.path().join("ferrohub.toml"),
            log_path: dir.path().join("hub.log"),
            dir,
            public_port: 0,
            hub_port: 0,
            api_port: 0,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            launcher: launcher.to_vec(),
            run_as: run_as.map(str::to_owned),
            public,
            child: None,
            database: test_database(),
        };
        for attempt in 1.. {
            (hub.public_port, hub.hub_port, hub.api_port) = (
                public_port.unwrap_or_else(free_port),
                free_port(),
                free_port(),
            );
            hub.write_config(authenticator, spawner, sections);
            match hub.try_launch() {
                Ok(()) => return hub,
                // Another test took one of the ports between our check and
                // the bind: try again with fresh ones.
                Err(log) if attempt < 4 && log.contains("Address already in use") => {
                    hub.stop();
                    for stale in ["hub.log", "proxy.pid"] {
                        remove_if_present(&hub.dir.path().join(stale));
                    }
                }
                Err(log) => panic!("hub did not start; log:\n{log}"),
            }
        }
        unreachable!()
    }

    /// Writes the config for the hub's ports into its directory.
    fn write_config(&self, authenticator: &str, spawner: &str, sections: &[(&str, &str)]) {
        let (public_port, hub_port, api_port) = (self.public_port, self.hub_port, self.api_port);
        let dir = &self.dir;
        let venv = venv();
        let d = dir.path().display();
        let args = if nix::unistd::Uid::effective().is_root() {
            r#"["--allow-root"]"#
        } else {
            "[]"
        };
        // A test may name its own database (`db_url` in its JupyterHub section).
        let db_url = if section(sections, "JupyterHub").contains("db_url") {
            String::new()
        } else if let Some(database) = &self.database {
            format!(r#"db_url = "{}""#, database.db_url())
        } else {
            format!(r#"db_url = "sqlite:///{d}/ferrohub.sqlite""#)
        };
        let base = &self.public.base_path;
        let tls = self
            .public
            .tls
            .as_ref()
            .map_or_else(String::new, |(cert, key)| {
                format!(
                    "ssl_cert = \"{}\"\nssl_key = \"{}\"\n",
                    cert.display(),
                    key.display()
                )
            });
        let mut config = format!(
            r#"
[JupyterHub]
bind_url = "http://127.0.0.1:{public_port}{base}"
{tls}hub_port = {hub_port}
{db_url}
cookie_secret_file = "{d}/cookie_secret"
authenticator_class = "{authenticator}"
spawner_class = "{spawner}"
cleanup_servers = true
{jh}
[ConfigurableHTTPProxy]
api_url = "http://127.0.0.1:{api_port}"
auth_token = "{PROXY_TOKEN}"
pid_file = "{d}/proxy.pid"
{chp}[Spawner]
{spawner_body}
[SimpleLocalProcessSpawner]
home_dir_template = "{d}/homes/{{username}}"
"#,
            jh = section(sections, "JupyterHub"),
            chp = section(sections, "ConfigurableHTTPProxy"),
            spawner_body = spawner_section(
                &format!(
                    r#"cmd = ["{venv}/bin/jupyterhub-singleuser"]
args = {args}
start_timeout = 120
http_timeout = 120
poll_interval = 2
environment = {{ PATH = "{venv}/bin:/usr/local/bin:/usr/bin:/bin" }}"#,
                    venv = venv.display(),
                ),
                &section(sections, "Spawner"),
            ),
        );
        for (name, body) in sections {
            if !matches!(*name, "JupyterHub" | "Spawner" | "ConfigurableHTTPProxy") {
                writeln!(config, "[{name}]\n{body}").unwrap();
            }
        }
        std::fs::write(&self.config_path, config).unwrap();
    }

    /// Starts (or restarts) the hub process on the same directory and config.
    pub fn launch(&mut self) {
        if let Err(log) = self.try_launch() {
            panic!("hub did not start; log:\n{log}");
        }
    }

    /// Starts the hub and waits for it; on failure, the log.
    fn try_launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut command = match (&self.run_as, self.launcher.split_first()) {
            // setpriv execs the hub in place: the child's pid is the hub's.
            (Some(account), _) => {
                let user = nix::unistd::User::from_name(account).unwrap().unwrap();
                let mut setpriv = Command::new("setpriv");
                setpriv
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--init-groups", "--inh-caps=-all", "--"])
                    .arg(ferrohub_bin());
                setpriv
            }
            (None, None) => Command::new(ferrohub_bin()),
            (None, Some((program, args))) => {
                // The launcher may change directory (entering a mount
                // namespace does): back to the hub's directory, same process.
                let mut command = Command::new(program);
                command
                    .args(args)
                    .args(["sh", "-c", r#"cd "$0" && exec "$@""#])
                    .arg(self.dir.path())
                    .arg(ferrohub_bin());
                command
            }
        };
        let child = command
            .arg("-f")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!("exited at start-up ({status})\n{}", self.log()));
            }
            let api = format!("{}/hub/api", self.public.base_path);
            let up = if self.public.tls.is_some() {
                // The hub answers and the proxy's TLS port accepts.
                http_get_status(self.hub_port, &api) == Some(200)
                    && std::net::TcpStream::connect(("127.0.0.1", self.public_port)).is_ok()
            } else {
                http_get_status(self.public_port, &api) == Some(200)
            };
            if up {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let url = format!("{}/hub/api", self.public_url());
        Err(format!("no answer on {url} in 30 s\n{}", self.log()))
    }

    /// The public (proxy) URL with the base path, no trailing slash.
    pub fn public_url(&self) -> String {
        let scheme = if self.public.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!(
            "{scheme}://127.0.0.1:{}{}",
            self.public_port, self.public.base_path
        )
    }

    /// The hub's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The hub's pid: the child started, or under a [`TestHub::launcher`]
    /// the `ferrohub` process below it.
    pub fn pid(&self) -> i32 {
        self.hub_pid(self.child.as_ref().expect("hub running"))
    }

    /// The pid of the `ferrohub` process at or below `child` (nearest
    /// first); `child` itself when there is none.
    fn hub_pid(&self, child: &Child) -> i32 {
        let top = pid_of(child).as_raw();
        if self.launcher.is_empty() {
            return top;
        }
        let bin = std::fs::canonicalize(ferrohub_bin()).ok();
        let mut queue = std::collections::VecDeque::from([top]);
        while let Some(pid) = queue.pop_front() {
            if std::fs::canonicalize(format!("/proc/{pid}/exe")).ok() == bin {
                return pid;
            }
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            queue.extend(
                children
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
        top
    }

    /// Kills the hub with a real signal and reaps it (and its launcher);
    /// returns the exit status of what was started.
    pub fn kill(&mut self, signal: nix::sys::signal::Signal) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("hub running");
        let pid = nix::unistd::Pid::from_raw(self.hub_pid(&child));
        nix::sys::signal::kill(pid, signal).unwrap();
        child.wait().unwrap()
    }

    /// The proxy's route table, from its REST API.
    pub async fn routes(&self) -> serde_json::Value {
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

    /// The pid in the proxy's pid file.
    pub fn proxy_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join("proxy.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Runs `ferrohub` with extra arguments against this hub's config.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(ferrohub_bin())
            .arg("-f")
            .arg(&self.config_path)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// One environment variable of a process (we run as root, so any process).
    pub fn process_env(pid: i32, name: &str) -> Option<String> {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let prefix = format!("{name}=");
        environ.split(|b| *b == 0).find_map(|var| {
            var.strip_prefix(prefix.as_bytes())
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    }

    /// Pids of single-user servers of `user` started by this hub.
    pub fn server_pids(&self, user: &str) -> Vec<i32> {
        server_pids_of(self.hub_port, user)
    }
}

/// Pids of single-user servers of `user` started by the hub listening on
/// `hub_port` (a free function, so a task can poll it while a test runs).
pub fn server_pids_of(hub_port: u16, user: &str) -> Vec<i32> {
    server_pids_of_api(&format!("http://127.0.0.1:{hub_port}/hub/api"), user)
}

/// Pids of single-user servers of `user` whose `JUPYTERHUB_API_URL` is `api_url`.
pub fn server_pids_of_api(api_url: &str, user: &str) -> Vec<i32> {
    let api = format!("JUPYTERHUB_API_URL={api_url}");
    let user_var = format!("JUPYTERHUB_USER={user}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        let has = |want: &str| vars.contains(&want.as_bytes());
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if has(&api) && has(&user_var) && !zombie && is_singleuser(&entry.path()) {
            pids.push(pid);
        }
    }
    pids
}

/// A plain blocking GET on 127.0.0.1, returning the status code.
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn is_singleuser(proc_dir: &Path) -> bool {
    std::fs::read(proc_dir.join("cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("jupyterhub-singleuser"))
}

/// The `[Spawner]` body: the test defaults, with any key the test sets replaced.
fn spawner_section(defaults: &str, overrides: &str) -> String {
    let key = |line: &str| line.split('=').next().unwrap_or("").trim().to_owned();
    let overridden: Vec<String> = overrides.lines().map(key).collect();
    defaults
        .lines()
        .filter(|line| !overridden.contains(&key(line)))
        .chain(overrides.lines())
        .collect::<Vec<_>>()
        .join("\n")
}

fn section(sections: &[(&str, &str)], name: &str) -> String {
    sections
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, body)| format!("{body}\n"))
        .collect()
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `FERROHUB_TEST_DB=mariadb` or `postgres` runs every [`TestHub`] on a
/// private database server of that kind (one per hub) instead of a SQLite
/// file, so any whole-system test can be run on each database; unset or
/// `sqlite`: SQLite.
fn test_database() -> Option<db_servers::DbServer> {
    match std::env::var("FERROHUB_TEST_DB").as_deref() {
        Err(_) | Ok("" | "sqlite") => None,
        Ok("mariadb" | "mysql") => Some(db_servers::DbServer::start(db_servers::Kind::MariaDb)),
        Ok("postgres" | "postgresql") => {
            Some(db_servers::DbServer::start(db_servers::Kind::Postgres))
        }
        Ok(other) => panic!("FERROHUB_TEST_DB={other}: use sqlite, mariadb or postgres"),
    }
}

impl TestHub {
    /// Stops the hub, its proxy and any server a failed test left behind.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let hub = nix::unistd::Pid::from_raw(self.hub_pid(&child));
            let _ = nix::sys::signal::kill(hub, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if hub != pid_of(&child) && matches!(child.try_wait(), Ok(None)) {
                // A launcher that forked does not pass signals on.
                let _ = nix::sys::signal::kill(hub, nix::sys::signal::Signal::SIGKILL);
            }
            kill_and_reap(&mut child, "the hub");
        }
        if let Some(pid) = self.proxy_pid().filter(|_| self.launcher.is_empty()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Anything a failed test left behind.
        for user_dir in std::fs::read_dir(self.dir.path().join("homes"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for pid in self.server_pids(&user_dir.file_name().to_string_lossy()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if std::thread::panicking() {
            eprintln!("---- hub log ----\n{}", self.log());
        }
    }
}

/// The pid of a child process, as the signal functions take it.
pub fn pid_of(child: &Child) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("Linux pids fit in pid_t"))
}

/// Kills and reaps `child` (a hub, proxy or server a test started). Clean-up
/// must go on whatever fails, so failures are reported on stderr (shown with
/// a failing test's output) rather than raised.
pub fn kill_and_reap(child: &mut Child, what: &str) {
    if let Err(e) = child.kill() {
        eprintln!("killing {what}: {e}");
    }
    if let Err(e) = child.wait() {
        eprintln!("reaping {what}: {e}");
    }
}

/// Runs a clean-up command (`userdel`, `pkill`) whose exit status does not
/// matter, since there may be nothing to clean; only failing to run it is
/// reported.
pub fn run_cleanup(command: &mut Command) {
    if let Err(e) = command.output() {
        eprintln!("running {command:?}: {e}");
    }
}

/// Removes a file a test may have left behind; already gone is fine.
pub fn remove_if_present(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("removing {}: {e}", path.display()),
    }
}

/// Polls `check` until it returns `Some`, for at most `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
