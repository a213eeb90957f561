//! Who is calling: the typed principal a request's credential resolves to.
//!
//! Only data here, so that the credential cache (which keeps resolved
//! identities) and the application state (which holds the cache) sit below
//! `access`, which needs the state to check scopes. The checks themselves
//! (`Identity::require`, capabilities) live in `access` and `capability`.

use std::sync::Arc;

use ferrohub_rbac::ParsedScopes;
use ferrohub_store::{ServiceRecord, TokenRecord, UserRecord};

/// The owner of a credential.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    /// A user (login cookie, API token, OAuth token).
    User(UserRecord),
    /// A service (its API token).
    Service(Box<ServiceRecord>),
}

/// An authenticated caller with its effective scopes.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// Who.
    pub principal: Principal,
    /// The token used, if any (cookie requests have none).
    pub token: Option<TokenRecord>,
    /// Effective scopes, identify scopes included (shared: a cached identity
    /// is handed to every request that presents the same credential).
    pub scopes: Arc<ParsedScopes>,
    /// Browser session id (cookie requests, OAuth tokens).
    pub session_id: Option<String>,
}
