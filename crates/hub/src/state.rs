//! The shared application state handed to every handler: the [`Runtime`]
//! (engines, server registry, configuration) plus what only requests need.
//!
//! This is the composition root's product: it may hold anything, so nothing
//! it holds may import it (the runtime is handed a [`Runtime`], never an
//! [`AppState`]; `tests/module_layers.rs` checks it).

use std::sync::Arc;

use ferrohub_auth::Auth;

use crate::credential_cache::CredentialCache;
use crate::runtime::Runtime;
use crate::templates::Templates;

pub(crate) use crate::runtime::ShutdownRequest;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Inner>);

/// The contents of [`AppState`]. It dereferences to its [`Runtime`], so
/// `state.store`, `state.config`, `state.servers`, ... are the runtime's
/// handles: there is one of each, shared by requests and background work.
pub(crate) struct Inner {
    /// Engines, registry and configuration, as the runtime sees them.
    pub runtime: Runtime,
    /// Login policy and back end.
    pub auth: Auth,
    /// Secret for signing cookies.
    pub cookie_secret: Vec<u8>,
    /// Page templates.
    pub templates: Templates,
    /// Static files and the logo.
    pub assets: crate::assets::Assets,
    /// `JupyterHub.custom_scopes`, checked.
    pub custom_scopes: ferrohub_rbac::CustomScopes,
    /// Recently resolved tokens and login cookies.
    pub credentials: CredentialCache,
    /// When each user's authentication was last confirmed by the back end.
    pub refresh_times: crate::refresh_times::RefreshTimes,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::Deref for Inner {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.runtime
    }
}
