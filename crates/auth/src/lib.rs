//! Authenticators: checking a user's credentials ([`Authenticator`] back ends)
//! and deciding who may log in and who is an admin ([`Auth`], upstream's
//! `Authenticator.allowed_users` / `blocked_users` / `admin_users` rules).
//!
//! Invariant: no HTTP types in this crate's API; the hub hands in a name and
//! a password (or a redirect login's query parameters and kept state) and
//! gets back a normalized user name or a typed refusal. (The OAuth back end's
//! own client to the identity provider is internal to it.)
//!
//! Modules: `policy` ([`Auth`]: back-end choice and the allow/block/admin rules),
//! `usernames` (`username_map` and `username_pattern`),
//! `throttle` ([`LoginThrottle`]: backoff after failed logins, for every back
//! end), `dummy` ([`DummyAuthenticator`]), `shared` ([`SharedPasswordAuthenticator`]),
//! `null` ([`NullAuthenticator`]), `ldap` ([`LdapAuthenticator`]), `pam`
//! ([`PamAuthenticator`] and its libpam binding), `worker_pool` (the bounded
//! threads PAM runs on), `unix_accounts` (local users and groups, creating
//! accounts), `oauth` ([`OAuthenticator`]: OAuth2 / OpenID Connect logins by
//! redirect, through the [`RedirectLogin`] seam).

mod dummy;
mod ldap;
mod null;
mod oauth;
mod pam;
mod policy;
mod shared;
mod throttle;
mod unix_accounts;
mod usernames;
mod worker_pool;

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

pub use dummy::DummyAuthenticator;
pub use ldap::LdapAuthenticator;
pub use null::NullAuthenticator;
pub use oauth::{OAuthenticator, STATE_COOKIE_NAME};
pub use pam::PamAuthenticator;
pub use policy::{Auth, SpawnHooks};
pub use shared::SharedPasswordAuthenticator;
pub use throttle::{
    Attempt, BUSY_RETRY_AFTER, FORGET_AFTER, LoginThrottle, MAX_TRACKED, ThrottleSettings,
    Throttled, retry_after_secs,
};

/// What a client is told when a login is refused by the throttle or because the
/// back end is saturated: the same text whatever the reason, so it does not say
/// whether the user exists.
pub const THROTTLED_MESSAGE: &str = "Too many login attempts. Try again later.";

/// What went wrong while authenticating (not a wrong password: that is `Ok(None)`).
#[derive(Debug, Error)]
pub enum AuthError {
    /// The configuration names an authenticator we do not have, or is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The back end failed (PAM could not be started, a worker thread died, ...).
    #[error("authentication back end failed: {0}")]
    Backend(String),
    /// The back end is saturated (every PAM thread busy and the queue full, or the
    /// wait too long): the login was not checked; try again later.
    #[error("authentication back end is busy")]
    Busy,
    /// A user could not be added (upstream's `add_user` raised): no such system
    /// account and `create_system_users` off, or creating it failed.
    #[error("{0}")]
    AddUser(String),
}

/// Why a user name is refused (upstream's `validate_username` is false).
#[derive(Debug, Error)]
pub enum UsernameError {
    /// The name breaks the rules every hub applies (empty, `/`, ...).
    #[error(transparent)]
    Invalid(#[from] ferrohub_core::names::NameError),
    /// The name does not match `Authenticator.username_pattern`.
    #[error("user name does not match Authenticator.username_pattern")]
    Pattern,
}

/// What a back end vouches for at a login: upstream's auth model, the
/// `{"name", "auth_state"}` dictionary `authenticate` may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user name (not yet normalized).
    pub name: String,
    /// What the back end wants kept about the login (tokens, profile), stored
    /// encrypted when `Authenticator.enable_auth_state` is on; `None` stores
    /// nothing (and clears what an earlier login stored, as upstream).
    pub auth_state: Option<serde_json::Value>,
    /// The admin flag this login decides (OAuth `admin_groups` from the
    /// token's claims); `None` leaves it to `admin_users` and the back end's
    /// name-based rules ([`Authenticator::admin_status`]).
    pub admin: Option<bool>,
    /// The hub groups the user belongs to according to the back end (OAuth
    /// group claims); the hub makes the user's membership exactly this list
    /// when `Authenticator.manage_groups` is on, and ignores it otherwise.
    pub groups: Option<Vec<String>>,
}

impl Authenticated {
    /// A name without `auth_state` (what PAM and the dummy back end return).
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            auth_state: None,
            admin: None,
            groups: None,
        }
    }
}

/// What a back end says about a logged-in user's authentication when the hub
/// asks again (upstream's `refresh_user` result: `True`, a dict, or `False`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Still valid and nothing changed (upstream `True`).
    Current,
    /// Still valid; the fields that are `Some` replace what the hub has
    /// (new tokens in `auth_state`, a changed admin flag or group list).
    Updated(AuthUpdate),
    /// No longer valid: the user must log in again (upstream `False`).
    Expired,
}

/// The fields a refresh may change (upstream's partial auth model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthUpdate {
    /// The new `auth_state` (stored when `enable_auth_state` is on).
    pub auth_state: Option<serde_json::Value>,
    /// The new admin flag.
    pub admin: Option<bool>,
    /// The new group list (applied with `manage_groups`).
    pub groups: Option<Vec<String>>,
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
    /// Checks a password and returns the whole auth model, `auth_state`
    /// included. The default is [`Authenticator::authenticate`] with no
    /// `auth_state`; a back end that has some (LDAP attributes, OAuth tokens)
    /// overrides this. The login policy calls this one.
    async fn authenticate_model(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Authenticated>, AuthError> {
        Ok(self
            .authenticate(username, password)
            .await?
            .map(Authenticated::named))
    }
    /// Whether a user is an admin by back-end rules (e.g. PAM `admin_groups`).
    async fn is_admin_by_backend(&self, _username: &str) -> bool {
        false
    }
    /// The admin flag the back end decides for a user who passed the allow rules:
    /// `Some(true)` grants, `Some(false)` revokes (PAM `admin_groups` is
    /// authoritative upstream), `None` leaves the stored flag alone. An error means
    /// the check itself failed (upstream answers 500 rather than guess).
    async fn admin_status(&self, username: &str) -> Result<Option<bool>, AuthError> {
        Ok(self.is_admin_by_backend(username).await.then_some(true))
    }
    /// The default of `Authenticator.allow_all` for this back end: false upstream,
    /// except for `DummyAuthenticator` without `allowed_users`.
    fn default_allow_all(&self, _allowed_users_configured: bool) -> bool {
        false
    }
    /// Where a login begins, given the hub's base URL (`/hub/`). A form back end
    /// (PAM, dummy) answers the login page itself, `{hub}login` (upstream's
    /// default); one that logs in elsewhere (OAuth) returns its own handler's
    /// URL, which `Authenticator.auto_login` and the "Sign in with" button send
    /// the browser to.
    fn login_url(&self, hub_base: &str) -> String {
        format!("{hub_base}login")
    }
    /// The service named on the login page's button ("Sign in with GitHub")
    /// in place of the user name and password form; empty for a form back end.
    /// Upstream's `Authenticator.login_service`, set by the back end, not config.
    fn login_service(&self) -> &str {
        ""
    }
    /// The back end's own spelling of a name, replacing upstream's default
    /// lowercasing (PAM `pam_normalize_username` round-trips it through the user
    /// database); `None` keeps the default. `username_map` applies afterwards.
    fn canonical_username(&self, _name: &str) -> Option<String> {
        None
    }
    /// Whether the back end admits a user beyond `allowed_users` (upstream's
    /// `LocalAuthenticator.allowed_groups`: members of these system groups).
    async fn check_allowed(&self, _username: &str) -> Result<bool, AuthError> {
        Ok(false)
    }
    /// [`Authenticator::check_allowed`] with the auth model the login just
    /// returned, as upstream's `check_allowed(username, auth_model)`: a back
    /// end that learns the user's groups while logging in (LDAP and OAuth
    /// `allowed_groups`, an OAuth admin by `admin_groups`) decides from them.
    /// The default asks [`Authenticator::check_allowed`] with the name only.
    async fn check_allowed_model(
        &self,
        username: &str,
        _model: &Authenticated,
    ) -> Result<bool, AuthError> {
        self.check_allowed(username).await
    }
    /// Upstream's `add_user` hook: called when a user is added to the hub (API,
    /// first login). A local-account back end makes sure the account exists
    /// (creating it with `create_system_users`); an error refuses the user.
    async fn add_user(&self, _username: &str) -> Result<(), AuthError> {
        Ok(())
    }
    /// Upstream's `pre_spawn_start`: before a user's server starts (PAM
    /// `open_sessions` opens a PAM session). Failures are the back end's to
    /// log; the spawn goes on, as upstream's PAM.
    async fn pre_spawn_start(&self, _username: &str) {}
    /// Upstream's `post_spawn_stop`: after a user's server stopped (PAM
    /// `open_sessions` closes the session).
    async fn post_spawn_stop(&self, _username: &str) {}
    /// Whether [`Authenticator::refresh_user`] does anything: the hub skips
    /// loading `auth_state` and calling it for back ends that never refresh
    /// (upstream's base class returns `True` without looking).
    fn refreshes_users(&self) -> bool {
        false
    }
    /// Upstream's `refresh_user`: asked when a user's authentication is older
    /// than `Authenticator.auth_refresh_age`, and before a spawn with
    /// `refresh_pre_spawn` (or a stop with `refresh_pre_stop`). `auth_state`
    /// is the stored value (`None` without `enable_auth_state`). An error is
    /// logged and treated as upstream treats an exception: the request fails.
    async fn refresh_user(
        &self,
        _username: &str,
        _auth_state: Option<&serde_json::Value>,
    ) -> Result<Refreshed, AuthError> {
        Ok(Refreshed::Current)
    }
    /// The back end's login by redirect to another site (OAuth2 / OIDC), whose
    /// `oauth_login` and `oauth_callback` pages the hub serves only when this
    /// is `Some`; `None` for a back end that checks passwords.
    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        None
    }
    /// HTML the back end shows instead of the login form (upstream's
    /// `get_custom_html(base_url)`); empty keeps the form. Trusted markup from
    /// the back end, never from users.
    fn custom_html(&self, _hub_base: &str) -> String {
        String::new()
    }
}

/// A login that happens at another site: the hub sends the browser to
/// [`LoginStart::authorize_url`], keeps [`LoginStart::kept`] in a signed,
/// HttpOnly cookie bound to that browser, and hands both back to
/// [`RedirectLogin::finish`] when the provider redirects to the callback.
/// No HTTP types: the hub's page handlers do cookies and redirects.
#[async_trait]
pub trait RedirectLogin: Send + Sync {
    /// Starts a login that returns to `callback_url`, then to `next` (a
    /// local path the hub already checked).
    async fn begin(
        &self,
        callback_url: &str,
        next: Option<&str>,
    ) -> Result<LoginStart, RedirectError>;
    /// Completes a login from the callback's query parameters and the value
    /// [`RedirectLogin::begin`] asked to keep (`None` when the browser
    /// brought no valid state cookie). Returns who the provider vouches for,
    /// not yet through the hub's allow/block policy.
    async fn finish(
        &self,
        callback: &CallbackParams,
        kept: Option<&str>,
    ) -> Result<Finished, RedirectError>;
    /// The configured callback URL (`oauth_callback_url`); `None`: the hub
    /// derives it from the request, as upstream does.
    fn callback_url(&self) -> Option<&str>;
    /// Where logout sends the browser (`logout_redirect_url`), if set.
    fn logout_redirect_url(&self) -> Option<&str>;
    /// The text of the page shown to a user the provider vouched for but
    /// who may not use the hub (`custom_403_message`).
    fn refused_message(&self) -> &str;
}

/// The start of a redirect login.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// Where the browser goes now (the provider's authorization URL).
    pub authorize_url: String,
    /// What must come back with the callback, bound to the browser (state
    /// id, PKCE verifier, nonce, `next`); secret, so HttpOnly and signed.
    pub kept: String,
}

/// The callback's query parameters (RFC 6749 §4.1.2).
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state the provider echoes back.
    pub state: Option<String>,
    /// An error the provider reports instead of a code (`access_denied`).
    pub error: Option<String>,
    /// The provider's text for that error.
    pub error_description: Option<String>,
}

/// A completed redirect login.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Who the provider vouches for (name not yet normalized).
    pub authenticated: Authenticated,
    /// Where the browser asked to go after the login (from the kept state).
    pub next: Option<String>,
}

/// Why a redirect login failed. Messages are for the user's page; details,
/// which may name URLs or provider answers (never tokens), for the log.
#[derive(Debug, Error)]
pub enum RedirectError {
    /// The callback itself is wrong (state missing or not this browser's,
    /// no code, an error reported by the provider): HTTP 400.
    #[error("{message}")]
    BadRequest {
        /// What the user is told.
        message: String,
    },
    /// The provider refused (used or invalid code), or its answer failed a
    /// check (ID token signature, audience, issuer, expiry, nonce): 403.
    #[error("{message} ({detail})")]
    Refused {
        /// What the user is told.
        message: String,
        /// What the log says.
        detail: String,
    },
    /// The provider could not be reached or answered nonsense: 502.
    #[error("identity provider failed: {detail}")]
    Provider {
        /// What the log says.
        detail: String,
    },
}

/// The result of a login attempt after the allow/block policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in as `name` (normalized); `admin` is `Some(true)` when config grants it.
    Accepted {
        /// The normalized user name.
        name: String,
        /// `Some(true)` to grant admin, `Some(false)` to revoke it (only from PAM
        /// `admin_groups`, as upstream); `None` leaves the stored flag alone.
        admin: Option<bool>,
        /// What the back end returned to keep about the login (see
        /// [`Authenticated::auth_state`]); the hub stores it only with
        /// `Authenticator.enable_auth_state`.
        auth_state: Option<serde_json::Value>,
        /// The back end's group list for the user (see
        /// [`Authenticated::groups`]); applied only with `manage_groups`.
        groups: Option<Vec<String>>,
    },
    /// Refused: wrong credentials, blocked, not allowed or an invalid name.
    /// The reason is for the log only; users see one generic message.
    Rejected(String),
    /// Not checked: too many failures for this name or address, another login
    /// for the name in progress, or the back end saturated. Users see
    /// [`THROTTLED_MESSAGE`] (HTTP 429).
    Throttled {
        /// When trying again may succeed (for `Retry-After`).
        retry_after: Duration,
    },
}
