//! The hub's side of the proxy: the configurable-http-proxy REST API client,
//! and starting (or adopting) the `ferrohub-proxy` process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrohub_metrics::HubMetrics;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::http_client::{HttpClient, HttpError};
use crate::urls::HubUrls;

/// A proxy failure.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Could not reach the proxy API.
    #[error("proxy API unreachable: {0}")]
    Http(#[from] HttpError),
    /// The proxy answered with an unexpected status.
    #[error("proxy API {method} {path} answered {status}: {body}")]
    Status {
        /// Method.
        method: Method,
        /// Path.
        path: String,
        /// Status.
        status: StatusCode,
        /// Body text.
        body: String,
    },
    /// Starting the proxy process failed.
    #[error("could not start the proxy {command:?}: {reason}")]
    Start {
        /// Command.
        command: Vec<String>,
        /// Why.
        reason: String,
    },
}

/// One route as the hub sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    /// Route spec with trailing slash, e.g. `/user/alice/`.
    pub routespec: String,
    /// Target, `http://ip:port`.
    pub target: String,
    /// The data stored with the route (without `target`/`last_activity`).
    pub data: serde_json::Map<String, Value>,
    /// Last activity the proxy saw on the route.
    pub last_activity: Option<ferrohub_core::time::Timestamp>,
}

/// Client of the CHP REST API. Clones share the endpoint, which `PATCH /api/proxy` may move.
#[derive(Clone, Debug)]
pub(crate) struct ProxyClient {
    /// Times every route change and route poll.
    metrics: Arc<HubMetrics>,
    http: HttpClient,
    endpoint: std::sync::Arc<std::sync::RwLock<Endpoint>>,
}

/// Where the proxy's API is and the token it wants.
#[derive(Clone, Debug)]
struct Endpoint {
    api_url: String,
    token: String,
}

/// The `status` label of the proxy timers.
fn outcome<T, E>(result: &Result<T, E>) -> ferrohub_metrics::Outcome {
    ferrohub_metrics::Outcome::of(result)
}

/// Route spec (`/user/alice/`) → CHP API path (`/api/routes/user/alice`).
fn api_path(routespec: &str) -> String {
    let trimmed = routespec.trim_end_matches('/');
    format!("/api/routes{trimmed}")
}

impl ProxyClient {
    /// A client for the API at `api_url` using `token`.
    #[must_use]
    pub(crate) fn new(api_url: &str, token: &str, metrics: Arc<HubMetrics>) -> Self {
        Self {
            metrics,
            http: HttpClient::default(),
            endpoint: std::sync::Arc::new(std::sync::RwLock::new(Endpoint {
                api_url: api_url.trim_end_matches('/').to_owned(),
                token: token.to_owned(),
            })),
        }
    }

    fn endpoint(&self) -> Endpoint {
        self.endpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Points the client at another proxy API and/or token (a new proxy took over).
    pub(crate) fn reconfigure(&self, api_url: Option<&str>, token: Option<&str>) {
        let mut endpoint = self
            .endpoint
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(url) = api_url {
            endpoint.api_url = url.trim_end_matches('/').to_owned();
        }
        if let Some(token) = token {
            endpoint.token = token.to_owned();
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, bytes::Bytes), ProxyError> {
        self.call_at(&self.endpoint(), method, path, body).await
    }

    async fn call_at(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, bytes::Bytes), ProxyError> {
        let auth = format!("token {}", endpoint.token);
        let url = format!("{}{path}", endpoint.api_url);
        let body = body.map(|b| b.to_string().into_bytes());
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        Ok(self.http.send(method, &url, &headers, body).await?)
    }

    fn unexpected(method: Method, path: &str, status: StatusCode, body: &[u8]) -> ProxyError {
        ProxyError::Status {
            method,
            path: path.to_owned(),
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// Adds or replaces a route.
    pub(crate) async fn add_route(
        &self,
        routespec: &str,
        target: &str,
        data: Value,
    ) -> Result<(), ProxyError> {
        let mut body = data;
        if let Some(map) = body.as_object_mut() {
            map.insert("target".into(), json!(target));
            map.insert("jupyterhub".into(), json!(true));
        }
        let started = Instant::now();
        let path = api_path(routespec);
        let result = match self.call(Method::POST, &path, Some(body)).await {
            Ok((status, _)) if status.is_success() => Ok(()),
            Ok((status, reply)) => Err(Self::unexpected(Method::POST, &path, status, &reply)),
            Err(e) => Err(e),
        };
        self.metrics
            .proxy_add_duration
            .observe(outcome(&result), started.elapsed().as_secs_f64());
        result
    }

    /// Deletes a route; a missing route is fine.
    pub(crate) async fn delete_route(&self, routespec: &str) -> Result<(), ProxyError> {
        let started = Instant::now();
        let path = api_path(routespec);
        let result = match self.call(Method::DELETE, &path, None).await {
            Ok((status, _)) if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            Ok((status, reply)) => Err(Self::unexpected(Method::DELETE, &path, status, &reply)),
            Err(e) => Err(e),
        };
        self.metrics
            .proxy_delete_duration
            .observe(outcome(&result), started.elapsed().as_secs_f64());
        result
    }

    /// All routes the hub owns (those marked `jupyterhub`), keyed by route spec.
    pub(crate) async fn routes(&self) -> Result<BTreeMap<String, Route>, ProxyError> {
        let started = Instant::now();
        let answer = self.call(Method::GET, "/api/routes", None).await;
        self.metrics
            .proxy_poll_duration
            .observe((), started.elapsed().as_secs_f64());
        let (status, reply) = answer?;
        if !status.is_success() {
            return Err(Self::unexpected(Method::GET, "/api/routes", status, &reply));
        }
        let all: BTreeMap<String, Value> = serde_json::from_slice(&reply).map_err(|e| {
            Self::unexpected(Method::GET, "/api/routes", status, e.to_string().as_bytes())
        })?;
        let mut routes = BTreeMap::new();
        for (key, value) in all {
            let Value::Object(mut data) = value else {
                continue;
            };
            if data.remove("jupyterhub") != Some(Value::Bool(true)) {
                continue;
            }
            let target = data
                .remove("target")
                .and_then(|t| t.as_str().map(str::to_owned))
                .unwrap_or_default();
            let last_activity = data
                .remove("last_activity")
                .and_then(|t| t.as_str().and_then(ferrohub_core::time::parse_client));
            let routespec = if key.ends_with('/') {
                key
            } else {
                format!("{key}/")
            };
            routes.insert(
                routespec.clone(),
                Route {
                    routespec,
                    target,
                    data,
                    last_activity,
                },
            );
        }
        Ok(routes)
    }

    /// Whether the API answers with our token.
    pub(crate) async fn is_reachable(&self) -> bool {
        matches!(self.call(Method::GET, "/api/routes", None).await, Ok((status, _)) if status.is_success())
    }

    /// Checks a new API URL and/or token (the others as now) against the proxy
    /// without adopting them: its route list must answer with a JSON object.
    /// `PATCH /hub/api/proxy` calls this first, so a setting the proxy refuses
    /// never replaces one that works.
    pub(crate) async fn probe(
        &self,
        api_url: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), ProxyError> {
        let mut endpoint = self.endpoint();
        if let Some(url) = api_url {
            url.trim_end_matches('/').clone_into(&mut endpoint.api_url);
        }
        if let Some(token) = token {
            token.clone_into(&mut endpoint.token);
        }
        let path = "/api/routes";
        let (status, reply) = self.call_at(&endpoint, Method::GET, path, None).await?;
        let listed = serde_json::from_slice::<Value>(&reply).is_ok_and(|v| v.is_object());
        if status.is_success() && listed {
            return Ok(());
        }
        Err(Self::unexpected(Method::GET, path, status, &reply))
    }
}

/// The auth token of a proxy the hub starts: derived from the cookie secret,
/// so a restarted hub can still manage the proxy it left running.
#[must_use]
pub(crate) fn derived_auth_token(cookie_secret: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(cookie_secret).expect("any key length");
    mac.update(b"ferrohub proxy auth token");
    hex::encode(mac.finalize().into_bytes())
}

/// Finds `ferrohub-proxy` beside the running binary, else on PATH.
fn resolve_command(command: &[String]) -> Vec<String> {
    let mut resolved = command.to_vec();
    if let Some(first) = resolved.first_mut()
        && !first.contains('/')
        && let Some(beside) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(first.as_str())))
        && beside.is_file()
    {
        *first = beside.display().to_string();
    }
    resolved
}

/// A proxy process the hub manages: one it started, or one a previous hub
/// started and this one adopted. The watchdog asks it whether it still runs.
#[derive(Debug)]
pub(crate) struct ProxyProcess {
    pid: i32,
    /// For a child of this hub: its exit status once it has exited (the
    /// reaping task reports it). `None` for an adopted proxy, which is not our
    /// child, so only its pid can be checked.
    exit: Option<tokio::sync::watch::Receiver<Option<String>>>,
}

impl ProxyProcess {
    /// The process id (also in the pid file).
    #[must_use]
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// How the process ended, or `None` while it runs.
    #[must_use]
    pub(crate) fn exited(&self) -> Option<String> {
        match &self.exit {
            Some(exit) => exit.borrow().clone(),
            // A zombie answers signal 0 too; it waits for a parent that may never reap it.
            None => (!alive(self.pid) || is_zombie(self.pid))
                .then(|| "unknown (adopted, not our child)".to_owned()),
        }
    }
}

/// The variables of the hub's environment the proxy gets, besides
/// `CONFIGPROXY_AUTH_TOKEN`: what a program needs to run (`PATH`, `HOME`,
/// locale, time zone), the CA bundle locations of `ferrohub-proxy` and
/// configurable-http-proxy, and Rust's log and backtrace switches. Nothing
/// else: the hub's environment may hold secrets (`JUPYTERHUB_CRYPT_KEY`,
/// database passwords, cloud credentials) the proxy has no use for.
/// Upstream passes its whole environment.
pub(crate) const PROXY_ENV_KEEP: &[&str] = &[
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
];

/// The proxy's environment: [`PROXY_ENV_KEEP`] taken from `hub_env`, plus the token.
fn proxy_env(
    hub_env: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    token: &str,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env: Vec<_> = hub_env
        .filter(|(key, _)| PROXY_ENV_KEEP.iter().any(|keep| key == keep))
        .collect();
    env.push(("CONFIGPROXY_AUTH_TOKEN".into(), token.into()));
    env
}

/// Whether `pid` has exited but was not reaped (state `Z` in `/proc/<pid>/stat`).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Starts the proxy, or adopts one a previous hub left running.
pub(crate) async fn start_or_adopt(
    command: &[String],
    urls: &HubUrls,
    client: &ProxyClient,
    token: &str,
    pid_file: &Path,
    log_level: &str,
) -> Result<ProxyProcess, ProxyError> {
    if let Some(pid) = read_pid(pid_file).filter(|pid| alive(*pid)) {
        if client.is_reachable().await {
            tracing::info!(
                pid,
                "adopting the running proxy (pid file {})",
                pid_file.display()
            );
            return Ok(ProxyProcess { pid, exit: None });
        }
        tracing::warn!(
            pid,
            "proxy from {} does not accept our token; replacing it",
            pid_file.display()
        );
        let target = nix::unistd::Pid::from_raw(pid);
        for _ in 0..20 {
            let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
            tokio::time::sleep(Duration::from_millis(100)).await;
            if !alive(pid) {
                break;
            }
        }
    }
    start(command, urls, client, token, pid_file, log_level).await
}

/// Starts the proxy process with `token`, writes its pid file and waits until
/// its API answers. Also what the watchdog calls when the proxy died.
pub(crate) async fn start(
    command: &[String],
    urls: &HubUrls,
    client: &ProxyClient,
    token: &str,
    pid_file: &Path,
    log_level: &str,
) -> Result<ProxyProcess, ProxyError> {
    let command = resolve_command(command);
    let start_err = |reason: String| ProxyError::Start {
        command: command.clone(),
        reason,
    };
    let (program, args) = command
        .split_first()
        .ok_or_else(|| start_err("empty command".into()))?;
    let api = urls
        .proxy_api
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let (api_ip, api_port) = api
        .rsplit_once(':')
        .ok_or_else(|| start_err(format!("bad api_url {api}")))?;
    let error_target = format!("{}{}error", urls.hub_connect, urls.hub);
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .args([
            "--ip",
            &urls.public_ip,
            "--port",
            &urls.public_port.to_string(),
        ])
        .args([
            "--api-ip",
            api_ip.trim_matches(|c| c == '[' || c == ']'),
            "--api-port",
            api_port,
        ])
        .args(["--error-target", &error_target, "--log-level", log_level])
        // Under `subdomain_host` routes start with a host (upstream's
        // `host_routing`).
        .args(urls.subdomains.iter().map(|_| "--host-routing"))
        .args(urls.public_tls.iter().flat_map(|tls| {
            // As upstream's ConfigurableHTTPProxy: CHP's own TLS flags.
            [
                "--ssl-key",
                tls.key.as_str(),
                "--ssl-cert",
                tls.cert.as_str(),
            ]
        }))
        .env_clear()
        .envs(proxy_env(std::env::vars_os(), token))
        .stdin(std::process::Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| start_err(e.to_string()))?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    if let Some(pid) = pid
        && let Err(e) = ferrohub_files::write_private(pid_file, pid.to_string().as_bytes())
    {
        // Without its pid file the proxy could not be found again: do not leave it running.
        if let Err(kill) = child.start_kill() {
            tracing::error!("could not stop the proxy without a pid file: {kill}");
        }
        return Err(start_err(format!("pid file: {e}")));
    }
    // Reap the child if it exits while we run; it must outlive a hub crash, so no kill_on_drop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(start_err(format!("exited at start-up with {status}")));
        }
        if client.is_reachable().await {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(start_err("API did not answer within 15 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = pid.ok_or_else(|| start_err("no process id".into()))?;
    let (exited, exit) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        exited.send_replace(Some(status));
    });
    tracing::info!(pid, "started the proxy");
    Ok(ProxyProcess {
        pid,
        exit: Some(exit),
    })
}

/// Stops a proxy the hub started, removing its pid file.
pub(crate) fn stop_started_proxy(pid: i32, pid_file: &PathBuf) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    if let Err(e) = std::fs::remove_file(pid_file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {e}", pid_file.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_gets_only_what_it_needs_from_the_hubs_environment() {
        let hub_env = [
            ("PATH", "/usr/bin:/bin"),
            ("LANG", "C.UTF-8"),
            ("JUPYTERHUB_CRYPT_KEY", "secret"),
            ("CONFIGPROXY_AUTH_TOKEN", "the hub's own"),
            ("DATABASE_PASSWORD", "secret"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let env = proxy_env(hub_env.into_iter(), "proxy-token");
        let pairs: Vec<(&str, &str)> = env
            .iter()
            .map(|(k, v)| (k.to_str().unwrap(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("PATH", "/usr/bin:/bin"),
                ("LANG", "C.UTF-8"),
                ("CONFIGPROXY_AUTH_TOKEN", "proxy-token"),
            ]
        );
    }
}
