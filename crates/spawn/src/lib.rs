//! Spawners: start, poll and stop one single-user server per (user, server name).
//!
//! A [`Spawner`] is stateless between calls: everything needed to find a
//! running server again (its pid, ...) is returned as JSON state that the hub
//! stores in the database, so a restarted hub can re-adopt running servers.
//! (The process spawners also keep the child handles they started, only to
//! reap them and know their exit status; a pid from before a restart works too.)
//!
//! Modules: [`env`](mod@env) builds the server environment, [`command`] the command
//! line, [`port`] picks a port; `launch` forks and execs with the user's ids
//! (`privileges`, `account`), `identity` records what makes a process ours
//! (start time, uid, boot), `process` polls and stops, `ready` waits for HTTP.
//! `sudo` is [`SudoSpawner`]: a hub without root starts and stops servers
//! through a mediator run with `sudo` (sudospawner's protocol).
//!
//! Invariant: no database and no HTTP server here; the hub decides *when*,
//! spawners decide *how*.

mod account;
pub mod command;
pub mod env;
mod identity;
mod launch;
mod local;
pub mod port;
mod privileges;
mod process;
mod ready;
mod reports;
mod settings;
mod simple;
mod sudo;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ferrohub_config::Config;
use thiserror::Error;

pub use local::{LocalProcessSpawner, run_as_local_user};
pub use process::{StopTimeouts, stop_child_group};
pub use ready::{wait_for_http_server, wait_until_ready};
pub use reports::{ServerReport, ServerReports};
pub use settings::ServerSettings;
pub use simple::SimpleLocalProcessSpawner;
pub use sudo::{MediatorReply, MediatorRequest, ReplyError, SUDO_NAMES, SudoSpawner};

/// What can go wrong while spawning, polling or stopping.
#[derive(Debug, Error)]
pub enum SpawnError {
    /// The configuration names a spawner we do not have, or is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The user has no local account (LocalProcessSpawner).
    #[error("no local account for user {0:?}")]
    NoSuchUser(String),
    /// The user's local account is root: no server ever runs as uid 0.
    #[error("user {0} has uid 0; servers never run as root")]
    RootAccount(String),
    /// The user's local account is below `LocalProcessSpawner.min_uid` (a
    /// system account such as `daemon` or `www-data`).
    #[error("user {user} has uid {uid}, below LocalProcessSpawner.min_uid {min_uid}")]
    UidBelowMinimum {
        /// The account name.
        user: String,
        /// Its uid.
        uid: u32,
        /// The configured minimum.
        min_uid: u32,
    },
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
    /// The engine that runs servers (a container engine, a batch system)
    /// refused the start, or lost the server while it started, for a reason
    /// the user may see: an image that is missing or not allowed, an invalid
    /// partition, a batch job that ended. The text is written for users (no
    /// secrets, no host paths or commands); engine failures that may name
    /// those are `Io` or `Launch`.
    #[error("{0}")]
    Engine(String),
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
    /// The hub user's id in the database (upstream's `user.id`), for
    /// templates that name it (SystemdSpawner's `{USERID}`).
    pub user_id: i64,
    /// The server name; `""` for the default server.
    pub server_name: String,
    /// The server's URL prefix, e.g. `/user/alice/`.
    pub base_url: String,
    /// Environment the hub computed (`JUPYTERHUB_API_TOKEN`, `JUPYTERHUB_API_URL`, ...).
    /// The spawner adds `JUPYTERHUB_SERVICE_URL` (which needs the port), the user's
    /// `USER`/`HOME`/`SHELL`, `env_keep` from its own environment, and finally
    /// `Spawner.environment`, which may override anything.
    pub hub_env: BTreeMap<String, String>,
    /// What runs: `[Spawner]` with the chosen profile's override applied by
    /// the hub, so a profile changes the command, environment, default URL
    /// and limits without the spawner knowing profiles.
    pub settings: ServerSettings,
    /// The server's `user_options` (upstream's `Spawner.user_options`), for
    /// spawners that read them; the local spawners need only `settings`.
    pub user_options: serde_json::Value,
    /// Where the spawner says what is happening while `start` runs.
    pub progress: ProgressReporter,
    /// What the server reports about itself while it starts (its port, for
    /// batchspawner's wrapper): the hub delivers, a spawner that needs it
    /// waits. Spawners that choose the port themselves ignore it.
    pub reports: ServerReports,
}

/// Where a spawner reports the steps of a start that takes a while (a batch
/// job queued, then scheduled on a host; an image pulled): upstream's
/// `Spawner.progress()` events. They reach the spawn-pending page and the
/// progress API between the hub's own "Spawning server" and "Server
/// started" steps.
#[derive(Clone)]
pub struct ProgressReporter(Arc<dyn Fn(u8, String) + Send + Sync>);

impl ProgressReporter {
    /// A reporter that hands each event (percent of the spawner's own start,
    /// 0 to 100, and a client-safe message) to `sink`.
    pub fn new(sink: impl Fn(u8, String) + Send + Sync + 'static) -> Self {
        Self(Arc::new(sink))
    }

    /// A reporter nobody listens to (tests, tools).
    #[must_use]
    pub fn ignore() -> Self {
        Self::new(|_, _| {})
    }

    /// Reports a step: `percent` of the spawner's own start (values above
    /// 100 count as 100) and a message a user may see (no secrets, no
    /// paths or commands).
    pub fn report(&self, percent: u8, message: impl Into<String>) {
        (self.0)(percent.min(100), message.into());
    }
}

impl std::fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressReporter")
    }
}

/// A started server.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Where the hub and proxy reach the server: `http://ip:port` (no path).
    pub url: String,
    /// State to persist, given back to `poll` and `stop`. For processes
    /// `{"pid", "start_time", "uid", "boot_id"}`: the pid alone could name
    /// another process after a restart.
    pub state: serde_json::Value,
    /// The API token the server already holds when the spawner revived a
    /// server an earlier start created (a container kept by DockerSpawner's
    /// `remove = false`) instead of starting a new one with the request's
    /// token: the hub registers this token for the server in place of the
    /// one it generated (upstream's "retrieved from spawner" token).
    /// `None` for a fresh server.
    pub api_token: Option<String>,
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

/// Names accepted in `JupyterHub.spawner_class` for [`LocalProcessSpawner`].
pub const LOCAL_PROCESS_NAMES: [&str; 4] = [
    "localprocess",
    "default",
    "LocalProcessSpawner",
    "jupyterhub.spawner.LocalProcessSpawner",
];

/// Names accepted in `JupyterHub.spawner_class` for [`SimpleLocalProcessSpawner`].
pub const SIMPLE_NAMES: [&str; 3] = [
    "simple",
    "SimpleLocalProcessSpawner",
    "jupyterhub.spawner.SimpleLocalProcessSpawner",
];

/// Builds the spawner named by `JupyterHub.spawner_class`, accepting our short
/// names and upstream's class names so an upstream config keeps working.
pub fn from_config(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    let class = config.jupyterhub.spawner_class.as_str();
    if LOCAL_PROCESS_NAMES.contains(&class) {
        Ok(Arc::new(LocalProcessSpawner::new(config)))
    } else if SIMPLE_NAMES.contains(&class) {
        Ok(Arc::new(SimpleLocalProcessSpawner::new(config)))
    } else if SUDO_NAMES.contains(&class) {
        Ok(Arc::new(SudoSpawner::new(config)))
    } else {
        Err(SpawnError::Config(format!(
            "unknown JupyterHub.spawner_class {class:?}; choose one of: {}",
            LOCAL_PROCESS_NAMES
                .iter()
                .chain(SIMPLE_NAMES.iter())
                .chain(SUDO_NAMES.iter())
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawner_named(class: &str) -> Result<Arc<dyn Spawner>, SpawnError> {
        let mut config = Config::default();
        config.jupyterhub.spawner_class = class.into();
        from_config(&config)
    }

    #[test]
    fn every_local_process_name_builds_local_process_spawner() {
        for class in LOCAL_PROCESS_NAMES {
            assert_eq!(spawner_named(class).unwrap().name(), "LocalProcessSpawner");
        }
    }

    #[test]
    fn every_simple_name_builds_simple_spawner() {
        for class in SIMPLE_NAMES {
            assert_eq!(
                spawner_named(class).unwrap().name(),
                "SimpleLocalProcessSpawner"
            );
        }
    }

    #[test]
    fn every_sudo_name_builds_sudo_spawner() {
        for class in SUDO_NAMES {
            assert_eq!(spawner_named(class).unwrap().name(), "SudoSpawner");
        }
    }

    #[test]
    fn default_config_builds_local_process_spawner() {
        let spawner = from_config(&Config::default()).unwrap();
        assert_eq!(spawner.name(), "LocalProcessSpawner");
    }

    #[test]
    fn unknown_class_is_a_config_error_listing_the_choices() {
        let Err(SpawnError::Config(message)) = spawner_named("dockerspawner.DockerSpawner") else {
            panic!("expected a config error");
        };
        assert!(message.contains("dockerspawner.DockerSpawner"), "{message}");
        assert!(message.contains("localprocess"), "{message}");
        assert!(message.contains("simple"), "{message}");
    }
}
