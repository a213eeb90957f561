//! Authenticators: checking a user's credentials ([`Authenticator`] back ends)
//! and deciding who may log in and who is an admin ([`Auth`], upstream's
//! `Authenticator.allowed_users` / `blocked_users` / `admin_users` rules).
//!
//! Invariant: no HTTP types here; the hub hands in a name and a password and
//! gets back a normalized user name or a typed refusal.

use async_trait::async_trait;
use ferrohub_config::Config;
use thiserror::Error;

/// What went wrong while authenticating (not a wrong password: that is `Ok(None)`).
#[derive(Debug, Error)]
pub enum AuthError {
    /// The configuration names an authenticator we do not have, or is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The back end failed (PAM could not be started, a worker thread died, ...).
    #[error("authentication back end failed: {0}")]
    Backend(String),
}

/// A credential check: the seam new back ends (LDAP, OAuth, ...) plug into.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The upstream class name, for logs (`PAMAuthenticator`).
    fn name(&self) -> &'static str;
    /// Checks a password. `Ok(Some(name))` is the user name the back end vouches
    /// for (not yet normalized); `Ok(None)` a refusal.
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError>;
    /// Whether a user is an admin by back-end rules (e.g. PAM `admin_groups`).
    async fn is_admin_by_backend(&self, _username: &str) -> bool {
        false
    }
}

/// The result of a login attempt after the allow/block policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in as `name` (normalized); `admin` is `Some(true)` when config grants it.
    Accepted {
        /// The normalized user name.
        name: String,
        /// `Some(true)` to grant admin; `None` leaves the stored flag alone.
        admin: Option<bool>,
    },
    /// Refused: wrong credentials, blocked, not allowed or an invalid name.
    /// The reason is for the log only; users see one generic message.
    Rejected(String),
}

/// An authenticator back end wrapped in upstream's login policy.
pub struct Auth {
    backend: Box<dyn Authenticator>,
    config: ferrohub_config::AuthenticatorConfig,
    allow_all: bool,
}

impl Auth {
    /// Builds the authenticator named by `JupyterHub.authenticator_class`.
    pub fn from_config(_config: &Config) -> Result<Self, AuthError> {
        unimplemented!("ferrohub-auth: from_config")
    }

    /// Lowercases, as upstream's default `normalize_username`.
    #[must_use]
    pub fn normalize_username(&self, name: &str) -> String {
        ferrohub_core::names::normalize_username(name)
    }

    /// Checks credentials, then the name rules, then blocked/allowed.
    /// `user_exists` says whether the normalized name is already in the database
    /// (such users may log in when `allow_existing_users` holds).
    pub async fn login(
        &self,
        _username: &str,
        _password: &str,
        _user_exists: bool,
    ) -> Result<LoginOutcome, AuthError> {
        let _ = (&self.backend, &self.config, self.allow_all);
        unimplemented!("ferrohub-auth: login")
    }

    /// Users the hub creates at start-up: `(name, is_admin)` for `admin_users` and `allowed_users`.
    #[must_use]
    pub fn startup_users(&self) -> Vec<(String, bool)> {
        unimplemented!("ferrohub-auth: startup_users")
    }

    /// The back end's upstream class name.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }
}
