//! The hub's runtime: server orchestration and every background loop, below
//! the HTTP layers.
//!
//! - `registry`: the in-memory phases of servers (spawning, ready, ...).
//! - `auth_state`: the encrypted `auth_state` of users (keys, load, save)
//!   and `Spawner.auth_state_env`.
//! - `spawn`: starting a server (token, OAuth client, spawner, readiness,
//!   route) and the spawn limits.
//! - `stop`: stopping a server (route, process, records) and removing one.
//! - `reconcile`: start-up adoption and re-probe of stored servers, the
//!   liveness poll, and making the proxy's routes match.
//! - `watchdog`: `check_running_interval`, restarting a dead proxy.
//! - `managed`: running managed services (`JupyterHub.services` with a command).
//! - `metrics`: spawn outcome labels and the metric loops (active users,
//!   event-loop lag).
//!
//! Invariant: runtime code is handed a [`Runtime`] (engines, registry,
//! configuration) and never sees a request, a response, an HTTP error type or
//! the application state that holds it; `tests/module_layers.rs` checks it.
//! Failures are [`RuntimeError`]s (or a module's own error); the service layer
//! decides what a client is told.

pub(crate) mod auth_state;
pub(crate) mod managed;
pub(crate) mod metrics;
pub(crate) mod reconcile;
pub(crate) mod registry;
pub(crate) mod spawn;
pub(crate) mod stop;
pub(crate) mod watchdog;

use std::sync::Arc;

use ferrohub_config::Config;
use ferrohub_metrics::HubMetrics;
use ferrohub_spawn::Spawner;
use ferrohub_store::Store;
use tokio::sync::watch;

use crate::proxy::ProxyClient;
use crate::urls::HubUrls;

pub(crate) use registry::{Phase, ServerRegistry, log_name};

/// What runtime code works with; cheap to clone (one shared set of handles),
/// so a background task can own one.
#[derive(Clone)]
pub(crate) struct Runtime(Arc<Handles>);

/// The contents of a [`Runtime`]: the engines and the server registry.
pub(crate) struct Handles {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// URL layout.
    pub urls: HubUrls,
    /// Database.
    pub store: Store,
    /// Spawner back end.
    pub spawner: Arc<dyn Spawner>,
    /// The authenticator's `pre_spawn_start` / `post_spawn_stop` (PAM sessions).
    pub spawn_hooks: ferrohub_auth::SpawnHooks,
    /// Proxy API client.
    pub proxy: ProxyClient,
    /// In-memory state of servers being started or stopped.
    pub servers: ServerRegistry,
    /// Prometheus metrics (`{hub}metrics`).
    pub metrics: Arc<HubMetrics>,
    /// The keys of `JUPYTERHUB_CRYPT_KEY` that `auth_state` is encrypted
    /// with; `None` when there are none (then `auth_state` is off).
    pub crypt: Option<Arc<ferrohub_core::crypt::CryptKeeper>>,
    /// Set once to stop the hub (`POST /api/shutdown`, or a signal); the
    /// loops that must finish cleanly watch it.
    pub shutdown: watch::Sender<Option<ShutdownRequest>>,
}

impl Runtime {
    /// A runtime over these handles.
    #[must_use]
    pub(crate) fn new(handles: Handles) -> Self {
        Self(Arc::new(handles))
    }
}

impl std::ops::Deref for Runtime {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// What to clean up when the hub stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShutdownRequest {
    /// Stop the proxy (if the hub started it).
    pub proxy: bool,
    /// Stop every user server.
    pub servers: bool,
}

/// A runtime operation failed in an engine. The cause is for the log; the
/// service layer maps it to a generic client answer.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The database.
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
    /// The proxy's API.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// The spawner (polling or stopping a server).
    #[error(transparent)]
    Spawner(#[from] ferrohub_spawn::SpawnError),
    /// A server to be removed is still running or stopping.
    #[error("{0} did not stop; not removing it")]
    NotStopped(String),
}
