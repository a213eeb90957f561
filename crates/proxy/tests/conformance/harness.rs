//! Starting either proxy as a child process and talking to it.
//!
//! Both programs get the same command line: `--ip 127.0.0.1 --port P
//! --api-ip 127.0.0.1 --api-port A` (ports picked free by us, because CHP
//! turns `--port 0` into 8000) plus the scenario's flags, and the API token
//! [`TOKEN`] in `CONFIGPROXY_AUTH_TOKEN`. A proxy is ready once its API
//! answers and its public listener accepts connections.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::process::{Child, Command};

use super::raw::{self, RawResponse};

/// The API token every proxy is started with (unless a scenario opts out).
pub const TOKEN: &str = "secret";

/// How long a proxy may take to come up (node start-up on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Which program a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// configurable-http-proxy 5.3.0 (node), the reference.
    Chp,
    /// `ferrohub-proxy`, this crate's binary.
    Ferrohub,
}

impl Impl {
    /// The program to run; panics (failing the test) when CHP is missing.
    #[must_use]
    pub fn program(self) -> PathBuf {
        match self {
            Self::Ferrohub => PathBuf::from(env!("CARGO_BIN_EXE_ferrohub-proxy")),
            Self::Chp => {
                let dir = std::env::var_os("FERROHUB_CHP")
                    .map_or_else(|| PathBuf::from("/opt/ferrohub/chp"), PathBuf::from);
                let program = dir.join("node_modules/.bin/configurable-http-proxy");
                assert!(
                    program.exists(),
                    "configurable-http-proxy not found at {}: run scripts/setup.sh \
                     (or point FERROHUB_CHP at the directory it was installed in)",
                    program.display()
                );
                program
            }
        }
    }
}

/// A reqwest client that never goes through a system proxy and does not
/// follow redirects (scenarios look at `Location` themselves).
#[must_use]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// A port on 127.0.0.1 that was free a moment ago.
#[must_use]
pub fn free_port() -> u16 {
    crate::support::dead_port()
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory under the system temp dir.
    #[must_use]
    pub fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "chpconf-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory.
    #[must_use]
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        crate::support::remove_dir_if_present(&self.0);
    }
}

/// A listener to wait for before a proxy counts as started.
#[derive(Clone, Debug)]
enum Endpoint {
    Tcp(u16),
    Unix(PathBuf),
}

impl Endpoint {
    async fn accepts(&self) -> bool {
        match self {
            Self::Tcp(port) => tcp_accepts(*port).await,
            Self::Unix(path) => tokio::net::UnixStream::connect(path).await.is_ok(),
        }
    }
}

/// What to start: flags on top of the standard ones.
pub struct Launch {
    imp: Impl,
    args: Vec<String>,
    token: bool,
    socket: Option<PathBuf>,
    api_socket: Option<PathBuf>,
    api_tls: bool,
    wait_for: Vec<Endpoint>,
}

impl Launch {
    /// Adds flags.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts without `CONFIGPROXY_AUTH_TOKEN` (the API is then open).
    #[must_use]
    pub fn no_token(mut self) -> Self {
        self.token = false;
        self
    }

    /// Public listener on this unix socket (`--socket`) instead of a port.
    #[must_use]
    pub fn socket(mut self, path: PathBuf) -> Self {
        self.socket = Some(path);
        self
    }

    /// API on this unix socket (`--api-socket`) instead of a port.
    #[must_use]
    pub fn api_socket(mut self, path: PathBuf) -> Self {
        self.api_socket = Some(path);
        self
    }

    /// The API speaks TLS (`--api-ssl-*` among the flags): readiness is
    /// then judged by its port accepting connections.
    #[must_use]
    pub fn api_tls(mut self) -> Self {
        self.api_tls = true;
        self
    }

    /// Also waits until this extra TCP port (metrics, redirect) accepts.
    #[must_use]
    pub fn wait_for_port(mut self, port: u16) -> Self {
        self.wait_for.push(Endpoint::Tcp(port));
        self
    }

    /// Also waits until this extra unix socket (metrics) accepts.
    #[must_use]
    pub fn wait_for_socket(mut self, path: PathBuf) -> Self {
        self.wait_for.push(Endpoint::Unix(path));
        self
    }

    /// Starts the proxy and waits until it is ready; retried with fresh
    /// ports if one of ours was taken in the meantime.
    pub async fn start(self) -> Proxy {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_start().await {
                Ok(proxy) => return proxy,
                Err(failure) if attempt < 3 && failure.contains("in use") => {}
                Err(failure) => panic!("{:?} did not start: {failure}", self.imp),
            }
        }
    }

    async fn try_start(&self) -> Result<Proxy, String> {
        let logs = TempDir::new();
        let port = if self.socket.is_some() {
            0
        } else {
            free_port()
        };
        let api_port = if self.api_socket.is_some() {
            0
        } else {
            free_port()
        };
        let mut command = Command::new(self.imp.program());
        if let Some(socket) = &self.socket {
            command.arg("--socket").arg(socket);
        } else {
            command.args(["--ip", "127.0.0.1", "--port", &port.to_string()]);
        }
        if let Some(socket) = &self.api_socket {
            command.arg("--api-socket").arg(socket);
        } else {
            command.args(["--api-ip", "127.0.0.1", "--api-port", &api_port.to_string()]);
        }
        command
            .args(&self.args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log_file(&logs.join("stdout")))
            .stderr(log_file(&logs.join("stderr")))
            .kill_on_drop(true);
        if self.token {
            command.env("CONFIGPROXY_AUTH_TOKEN", TOKEN);
        } else {
            command.env_remove("CONFIGPROXY_AUTH_TOKEN");
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.imp.program().display()))?;
        let mut proxy = Proxy {
            imp: self.imp,
            port,
            api_port,
            http: client(),
            child,
            logs,
        };
        let mut wait_for = self.wait_for.clone();
        wait_for.push(match &self.socket {
            Some(path) => Endpoint::Unix(path.clone()),
            None => Endpoint::Tcp(port),
        });
        let api_check = match &self.api_socket {
            Some(path) => Some(Endpoint::Unix(path.clone())),
            None if self.api_tls => Some(Endpoint::Tcp(api_port)),
            None => None,
        };
        match proxy.wait_ready(api_check, &wait_for).await {
            Ok(()) => Ok(proxy),
            Err(e) => Err(format!("{e}\n{}", proxy.logs())),
        }
    }
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::File::create(path).expect("log file")
}

/// A running proxy process, killed when dropped.
pub struct Proxy {
    /// Which program this is.
    pub imp: Impl,
    /// Public port (0 when listening on a unix socket).
    pub port: u16,
    /// API port.
    pub api_port: u16,
    /// Client for both ports.
    pub http: reqwest::Client,
    child: Child,
    logs: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- {:?} proxy output ---\n{}", self.imp, self.logs());
        }
    }
}

impl Proxy {
    /// A launch description with the standard flags plus none.
    #[must_use]
    pub fn launch(imp: Impl) -> Launch {
        Launch {
            imp,
            args: Vec::new(),
            token: true,
            socket: None,
            api_socket: None,
            api_tls: false,
            wait_for: Vec::new(),
        }
    }

    /// Starts a proxy with the standard flags plus `args`.
    pub async fn start(imp: Impl, args: &[&str]) -> Self {
        Self::launch(imp).args(args.iter().copied()).start().await
    }

    /// The captured stdout and stderr.
    #[must_use]
    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.logs.join(name)).unwrap_or_default();
        format!("[stdout]\n{}[stderr]\n{}", read("stdout"), read("stderr"))
    }

    /// The child's pid.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id().expect("child still running")
    }

    /// Waits (up to 10 s) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("proxy exited within 10 s")
            .expect("wait")
    }

    /// Waits until the API answers (over plain HTTP, or: `api` accepts)
    /// and every endpoint accepts.
    async fn wait_ready(
        &mut self,
        api: Option<Endpoint>,
        endpoints: &[Endpoint],
    ) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut api_up = false;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited early with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("not ready within {START_TIMEOUT:?}"));
            }
            if !api_up {
                api_up = match &api {
                    Some(endpoint) => endpoint.accepts().await,
                    None => self
                        .http
                        .get(self.api_url(""))
                        .header("Authorization", format!("token {TOKEN}"))
                        .send()
                        .await
                        .is_ok(),
                };
            }
            let mut all_up = api_up;
            for endpoint in endpoints {
                all_up = all_up && endpoint.accepts().await;
            }
            if all_up {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The public address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:<public port>`, the Host clients send.
    #[must_use]
    pub fn host(&self) -> String {
        self.addr().to_string()
    }

    /// `http://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `ws://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr())
    }

    /// `http://127.0.0.1:<api port><path>` (path includes `/api/...`).
    #[must_use]
    pub fn api_base(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }

    /// `http://127.0.0.1:<api port>/api/routes<path>`.
    #[must_use]
    pub fn api_url(&self, path: &str) -> String {
        self.api_base(&format!("/api/routes{path}"))
    }

    /// An authenticated API request.
    pub fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.api_url(path))
            .header("Authorization", format!("token {TOKEN}"))
    }

    /// Adds a route `{"target": target}` (asserts 201).
    pub async fn add_route(&self, path: &str, target: &str) {
        self.add_route_data(path, json!({ "target": target })).await;
    }

    /// Adds a route with arbitrary data (asserts 201).
    pub async fn add_route_data(&self, path: &str, data: Value) {
        let response = self
            .api(Method::POST, path)
            .body(data.to_string())
            .send()
            .await
            .expect("POST route");
        assert_eq!(response.status(), 201, "POST /api/routes{path}");
    }

    /// `DELETE /api/routes<path>`, returning the status.
    pub async fn delete_route(&self, path: &str) -> u16 {
        self.api(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE route")
            .status()
            .as_u16()
    }

    /// The whole table via `GET /api/routes`.
    pub async fn routes(&self) -> Map<String, Value> {
        self.routes_query("").await
    }

    /// `GET /api/routes<query>`, asserting 200 and an object.
    pub async fn routes_query(&self, query: &str) -> Map<String, Value> {
        let response = self
            .api(Method::GET, query)
            .send()
            .await
            .expect("GET routes");
        assert_eq!(response.status(), 200, "GET /api/routes{query}");
        match response.json().await.expect("routes JSON") {
            Value::Object(map) => map,
            other => panic!("routes are not an object: {other}"),
        }
    }

    /// One route via `GET /api/routes<path>`, `None` on 404.
    pub async fn route(&self, path: &str) -> Option<Value> {
        let response = self.api(Method::GET, path).send().await.expect("GET route");
        match response.status().as_u16() {
            200 => Some(response.json().await.expect("route JSON")),
            404 => None,
            other => panic!("GET /api/routes{path}: {other}"),
        }
    }

    /// A route's `last_activity`, read through the API (route `/` from the
    /// whole table: `GET /api/routes/` is the whole table in CHP).
    pub async fn last_activity(&self, path: &str) -> DateTime<Utc> {
        let route = if path == "/" {
            self.routes().await.remove("/")
        } else {
            self.route(path).await
        };
        let route = route.unwrap_or_else(|| panic!("route {path} exists"));
        parse_activity(&route["last_activity"])
    }

    /// A plain GET through the public port.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// Sends `GET <path>` byte for byte (no client-side normalisation) with
    /// `Host: 127.0.0.1:<port>` and reads one response.
    pub async fn raw_get(&self, path: &str) -> RawResponse {
        self.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.host()
        ))
        .await
    }

    /// Sends raw request bytes to the public port and reads one response.
    pub async fn raw(&self, request: &str) -> RawResponse {
        raw::request(self.addr(), request.as_bytes()).await
    }

    /// GET through the proxy that must reach an echo backend; returns the
    /// JSON it saw (`name`, `url`, `headers`, ...).
    pub async fn echo(&self, path: &str) -> Value {
        let response = self.raw_get(path).await;
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        serde_json::from_slice(&response.body).expect("echo JSON")
    }
}

async fn tcp_accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Runs the program with `args` (and the token) until it exits, at most 15 s.
pub async fn run_to_exit(imp: Impl, args: &[&str]) -> std::process::Output {
    let output = Command::new(imp.program())
        .args(args)
        .env("CONFIGPROXY_AUTH_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(15), output)
        .await
        .unwrap_or_else(|_| panic!("{imp:?} {args:?} still running after 15 s"))
        .expect("run")
}

/// Parses `last_activity`, checking CHP's exact shape (`2026-11-22T10:24:06.006Z`).
#[must_use]
pub fn parse_activity(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("last_activity is a string");
    assert_eq!(text.len(), 24, "ISO 8601 with milliseconds and Z: {text}");
    let shape_ok = text.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        19 => b == b'.',
        23 => b == b'Z',
        _ => b.is_ascii_digit(),
    });
    assert!(shape_ok, "YYYY-MM-DDTHH:MM:SS.mmmZ: {text}");
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// A timestamp in `last_activity`'s format.
#[must_use]
pub fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Waits a little so that millisecond timestamps taken before and after differ.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

/// Soft assertions for table-driven scenarios: every mismatch is collected
/// and reported together by [`Checks::finish`], so one divergence does not
/// hide the next.
#[derive(Default)]
pub struct Checks(Vec<String>);

impl Checks {
    /// Records a mismatch unless `got == expected`.
    #[track_caller]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "like assert_eq!, takes what the scenarios compute, temporaries included"
    )]
    pub fn eq<A, B>(&mut self, got: A, expected: B, what: impl std::fmt::Display)
    where
        A: std::fmt::Debug + PartialEq<B>,
        B: std::fmt::Debug,
    {
        if got != expected {
            let at = std::panic::Location::caller();
            self.0.push(format!(
                "{what}: got {got:?}, expected {expected:?} (line {})",
                at.line()
            ));
        }
    }

    /// Records a mismatch unless `ok`.
    #[track_caller]
    pub fn ok(&mut self, ok: bool, what: impl std::fmt::Display) {
        if !ok {
            let at = std::panic::Location::caller();
            self.0.push(format!("{what} (line {})", at.line()));
        }
    }

    /// Panics listing every mismatch, if any.
    pub fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} mismatch(es):\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}
