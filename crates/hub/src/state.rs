//! The shared application state handed to every handler.

use std::sync::Arc;

use ferrohub_auth::Auth;
use ferrohub_config::Config;
use ferrohub_spawn::Spawner;
use ferrohub_store::Store;

use crate::proxy::ProxyClient;
use crate::servers::ServerRegistry;
use crate::templates::Templates;
use crate::urls::HubUrls;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// Validated configuration.
    pub config: Config,
    /// URL layout.
    pub urls: HubUrls,
    /// Database.
    pub store: Store,
    /// Login policy and back end.
    pub auth: Auth,
    /// Spawner back end.
    pub spawner: Arc<dyn Spawner>,
    /// Proxy API client.
    pub proxy: ProxyClient,
    /// Secret for signing cookies.
    pub cookie_secret: Vec<u8>,
    /// In-memory state of servers being started or stopped.
    pub servers: ServerRegistry,
    /// Page templates.
    pub templates: Templates,
    /// `JupyterHub.custom_scopes`, checked.
    pub custom_scopes: ferrohub_rbac::CustomScopes,
    /// Set once to stop the hub (`POST /api/shutdown`, or a signal).
    pub shutdown: tokio::sync::watch::Sender<Option<ShutdownRequest>>,
    /// Prometheus metrics (`{hub}metrics`).
    pub metrics: Arc<ferrohub_metrics::HubMetrics>,
    /// Recently resolved tokens and login cookies.
    pub credentials: crate::credential_cache::CredentialCache,
}

/// What to clean up when the hub stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownRequest {
    /// Stop the proxy (if the hub started it).
    pub proxy: bool,
    /// Stop every user server.
    pub servers: bool,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
