//! Spawners: start, poll and stop one single-user server per (user, server name).
//!
//! A [`Spawner`] is stateless between calls: everything needed to find a
//! running server again (its pid, ...) is returned as JSON state that the hub
//! stores in the database, so a restarted hub can re-adopt running servers.
//!
//! Invariant: no database and no HTTP server here; the hub decides *when*,
//! spawners decide *how*.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_config::Config;
use thiserror::Error;

/// What can go wrong while spawning, polling or stopping.
#[derive(Debug, Error)]
pub enum SpawnError {
    /// The configuration names a spawner we do not have, or is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The user has no local account (LocalProcessSpawner).
    #[error("no local account for user {0:?}")]
    NoSuchUser(String),
    /// The process could not be started.
    #[error("could not start {cmd:?}: {reason}")]
    Launch {
        /// The command line.
        cmd: Vec<String>,
        /// Why.
        reason: String,
    },
    /// The server did not answer HTTP in time.
    #[error("server at {url} did not respond in {seconds} seconds")]
    Timeout {
        /// The URL polled.
        url: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The server exited while we were waiting for it.
    #[error("server exited with status {0} before it was ready")]
    Exited(i32),
    /// The stored state cannot be understood.
    #[error("invalid spawner state: {0}")]
    State(String),
    /// Anything else from the operating system.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything the hub tells a spawner about one server it wants started.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// The hub user name (normalized).
    pub username: String,
    /// The server name; `""` for the default server.
    pub server_name: String,
    /// The server's URL prefix, e.g. `/user/alice/`.
    pub base_url: String,
    /// Environment the hub computed (`JUPYTERHUB_API_TOKEN`, `JUPYTERHUB_API_URL`, ...).
    /// The spawner adds `JUPYTERHUB_SERVICE_URL` (which needs the port), the user's
    /// `USER`/`HOME`/`SHELL`, `env_keep` from its own environment, and finally
    /// `Spawner.environment`, which may override anything.
    pub hub_env: BTreeMap<String, String>,
}

/// A started server.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Where the hub and proxy reach the server: `http://ip:port` (no path).
    pub url: String,
    /// State to persist (for processes `{"pid": N}`), given back to `poll` and `stop`.
    pub state: serde_json::Value,
}

/// The seam every spawner back end implements.
#[async_trait]
pub trait Spawner: Send + Sync {
    /// The upstream class name, for logs (`LocalProcessSpawner`).
    fn name(&self) -> &'static str;
    /// Launches the server and returns as soon as it is launched (not ready).
    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError>;
    /// `None` while running, `Some(exit status)` once gone (0 if unknown).
    async fn poll(&self, state: &serde_json::Value) -> Result<Option<i32>, SpawnError>;
    /// Stops the server and returns once it is gone.
    async fn stop(&self, state: &serde_json::Value) -> Result<(), SpawnError>;
}

/// Builds the spawner named by `JupyterHub.spawner_class`.
pub fn from_config(_config: &Config) -> Result<std::sync::Arc<dyn Spawner>, SpawnError> {
    unimplemented!("ferrohub-spawn: from_config")
}

/// Waits until `url` answers HTTP with a status below 500 (upstream's rule:
/// even 404 means the server is up), retrying refused connections and 5xx
/// with backoff, for at most `timeout`. Returns the `X-JupyterHub-Version`
/// header if the server sent one.
pub async fn wait_for_http_server(
    _url: &str,
    _timeout: Duration,
) -> Result<Option<String>, SpawnError> {
    unimplemented!("ferrohub-spawn: wait_for_http_server")
}
