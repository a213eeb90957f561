//! [`Auth`]: picks the back end named by `JupyterHub.authenticator_class` and
//! applies upstream's (5.x) login policy around it: normalize, validate, blocked,
//! allowed, admin.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use ferrohub_config::{AuthenticatorConfig, Config};

use crate::throttle::{LoginThrottle, ThrottleSettings};
use crate::usernames::UsernameRules;
use crate::{
    AuthError, Authenticator, BUSY_RETRY_AFTER, DummyAuthenticator, LdapAuthenticator,
    LoginOutcome, NullAuthenticator, PamAuthenticator, SharedPasswordAuthenticator, UsernameError,
};

/// The `authenticator_class` values that select PAM (upstream's entry points and
/// class paths).
const PAM_CLASSES: [&str; 4] = [
    "pam",
    "default",
    "PAMAuthenticator",
    "jupyterhub.auth.PAMAuthenticator",
];
/// The `authenticator_class` values that select the dummy back end.
const DUMMY_CLASSES: [&str; 3] = [
    "dummy",
    "DummyAuthenticator",
    "jupyterhub.auth.DummyAuthenticator",
];

/// The `authenticator_class` values that select the shared-password back end.
const SHARED_PASSWORD_CLASSES: [&str; 3] = [
    "shared-password",
    "SharedPasswordAuthenticator",
    "jupyterhub.authenticators.shared.SharedPasswordAuthenticator",
];
/// The `authenticator_class` values that select the LDAP back end
/// (jupyterhub-ldapauthenticator's entry points and class paths).
const LDAP_CLASSES: [&str; 5] = [
    "ldap",
    "ldapauthenticator",
    "LDAPAuthenticator",
    "ldapauthenticator.LDAPAuthenticator",
    "ldapauthenticator.ldapauthenticator.LDAPAuthenticator",
];
/// The `authenticator_class` values that select the null back end.
const NULL_CLASSES: [&str; 3] = [
    "null",
    "NullAuthenticator",
    "jupyterhub.auth.NullAuthenticator",
];

/// An authenticator back end wrapped in upstream's login policy.
pub struct Auth {
    backend: Arc<dyn Authenticator>,
    /// `username_map` and `username_pattern`.
    rules: UsernameRules,
    /// `admin_users`, normalized.
    admin_users: BTreeSet<String>,
    /// `allowed_users`, normalized.
    allowed_users: BTreeSet<String>,
    /// `blocked_users`, normalized.
    blocked_users: BTreeSet<String>,
    /// `Authenticator.auto_login`.
    auto_login: bool,
    allow_all: bool,
    allow_existing_users: bool,
    /// Backoff after failed logins, for whatever the back end.
    throttle: LoginThrottle,
}

impl Auth {
    /// Builds the authenticator named by `JupyterHub.authenticator_class`.
    pub fn from_config(config: &Config) -> Result<Self, AuthError> {
        let class = config.jupyterhub.authenticator_class.as_str();
        let rules = UsernameRules::from_config(&config.authenticator)?;
        let backend: Box<dyn Authenticator> = if PAM_CLASSES.contains(&class) {
            Box::new(PamAuthenticator::with_local(
                &config.pam_authenticator,
                &config.local_authenticator,
            )?)
        } else if DUMMY_CLASSES.contains(&class) {
            Box::new(DummyAuthenticator::new(
                config.dummy_authenticator.password.as_str(),
            ))
        } else if SHARED_PASSWORD_CLASSES.contains(&class) {
            let admins = config
                .authenticator
                .admin_users
                .iter()
                .map(|name| rules.normalize(name))
                .collect();
            Box::new(SharedPasswordAuthenticator::new(
                &config.shared_password_authenticator,
                admins,
                rules.clone(),
            )?)
        } else if LDAP_CLASSES.contains(&class) {
            Box::new(LdapAuthenticator::new(&config.ldap_authenticator)?)
        } else if NULL_CLASSES.contains(&class) {
            Box::new(NullAuthenticator)
        } else if let Some(oauth) = ferrohub_config::OAuthClass::from_selector(class) {
            Box::new(crate::OAuthenticator::from_config(config, oauth)?)
        } else {
            return Err(AuthError::Config(format!(
                "unknown authenticator_class {class:?}; choose one of {}",
                PAM_CLASSES
                    .iter()
                    .chain(DUMMY_CLASSES.iter())
                    .chain(SHARED_PASSWORD_CLASSES.iter())
                    .chain(LDAP_CLASSES.iter())
                    .chain(NULL_CLASSES.iter())
                    .copied()
                    .chain(
                        ferrohub_config::OAuthClass::ALL
                            .iter()
                            .map(|c| c.selectors()[0])
                    )
                    .map(|name| format!("{name:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        // `allowed_groups` is allow config too (upstream tags it so).
        let backend_allows = (PAM_CLASSES.contains(&class)
            && !config.local_authenticator.allowed_groups.is_empty())
            || ferrohub_config::OAuthClass::from_selector(class).is_some_and(|c| {
                ferrohub_config::OAuthSettings::resolve(config, c)
                    .allowed_groups
                    .is_some_and(|g| !g.is_empty())
            })
            || (LDAP_CLASSES.contains(&class)
                && !config.ldap_authenticator.allowed_groups.is_empty());
        Self::with_rules(backend, &config.authenticator, rules, backend_allows)
    }

    /// Wraps any back end in the policy of `[Authenticator]`; the seam for back ends
    /// other than the built-in ones. Names in the lists are normalized here, and an
    /// invalid name in `admin_users` or `allowed_users` is a config error (upstream
    /// refuses to start too).
    pub fn new(
        backend: Box<dyn Authenticator>,
        config: &AuthenticatorConfig,
    ) -> Result<Self, AuthError> {
        let rules = UsernameRules::from_config(config)?;
        Self::with_rules(backend, config, rules, false)
    }

    /// [`Auth::new`] with the rules compiled; `backend_allows` says the back
    /// end has allow config of its own (no "nobody can log in" warning).
    fn with_rules(
        backend: Box<dyn Authenticator>,
        config: &AuthenticatorConfig,
        rules: UsernameRules,
        backend_allows: bool,
    ) -> Result<Self, AuthError> {
        let normalize = |name: &str| normalize_with(backend.as_ref(), &rules, name);
        let admin_users = normalized_names("admin_users", &config.admin_users, &normalize, &rules)?;
        let allowed_users =
            normalized_names("allowed_users", &config.allowed_users, &normalize, &rules)?;
        let blocked_users = config
            .blocked_users
            .iter()
            .map(|name| normalize(name))
            .collect();
        let allow_all = config
            .allow_all
            .unwrap_or_else(|| backend.default_allow_all(!allowed_users.is_empty()));
        let allow_existing_users = config
            .allow_existing_users
            .unwrap_or(!allowed_users.is_empty());
        if !allow_all && allowed_users.is_empty() && !allow_existing_users && !backend_allows {
            tracing::warn!(
                "No allow config found, it's possible that nobody can login to your Hub! \
                 Set Authenticator.allow_all = true to allow any user who can log in, \
                 or e.g. allowed_users to the users who should have access."
            );
        }
        Ok(Self {
            backend: Arc::from(backend),
            rules,
            admin_users,
            allowed_users,
            blocked_users,
            auto_login: config.auto_login,
            allow_all,
            allow_existing_users,
            throttle: LoginThrottle::new(ThrottleSettings::from_config(config)),
        })
    }

    /// The back end's spawn hooks, for the runtime, which starts and stops
    /// servers without the rest of the login policy.
    #[must_use]
    pub fn spawn_hooks(&self) -> SpawnHooks {
        SpawnHooks(Some(Arc::clone(&self.backend)))
    }

    /// `Authenticator.auto_login`: the login page begins the back end's own
    /// login instead of showing itself.
    #[must_use]
    pub fn auto_login(&self) -> bool {
        self.auto_login
    }

    /// Whether the back end refreshes users at all (see
    /// [`Authenticator::refreshes_users`]).
    #[must_use]
    pub fn refreshes_users(&self) -> bool {
        self.backend.refreshes_users()
    }

    /// Asks the back end whether `name`'s authentication is still good (see
    /// [`Authenticator::refresh_user`]).
    pub async fn refresh_user(
        &self,
        name: &str,
        auth_state: Option<&serde_json::Value>,
    ) -> Result<crate::Refreshed, AuthError> {
        self.backend.refresh_user(name, auth_state).await
    }

    /// The back end's login URL under the hub's base URL (see
    /// [`Authenticator::login_url`]).
    #[must_use]
    pub fn login_url(&self, hub_base: &str) -> String {
        self.backend.login_url(hub_base)
    }

    /// The back end's `login_service` ("Sign in with ..."); empty for a form.
    #[must_use]
    pub fn login_service(&self) -> &str {
        self.backend.login_service()
    }

    /// The back end's login by redirect (OAuth), if it has one.
    #[must_use]
    pub fn redirect_login(&self) -> Option<&dyn crate::RedirectLogin> {
        self.backend.redirect_login()
    }

    /// The back end's own login markup in place of the form; empty for none.
    #[must_use]
    pub fn custom_html(&self, hub_base: &str) -> String {
        self.backend.custom_html(hub_base)
    }

    /// Upstream's `normalize_username`: lowercase (or the back end's own
    /// canonical spelling, PAM `pam_normalize_username`), then `username_map`.
    #[must_use]
    pub fn normalize_username(&self, name: &str) -> String {
        normalize_with(self.backend.as_ref(), &self.rules, name)
    }

    /// Upstream's `validate_username` on a normalized name: the hub's name
    /// rules and `Authenticator.username_pattern`.
    pub fn validate_username(&self, name: &str) -> Result<(), UsernameError> {
        self.rules.validate(name)
    }

    /// Upstream's `add_user` hook for a user being added to the hub (through
    /// the API or a first login): the name must be valid, and a local-account
    /// back end makes sure the system account exists (`create_system_users`).
    pub async fn add_user(&self, name: &str) -> Result<(), AuthError> {
        self.validate_username(name)
            .map_err(|e| AuthError::AddUser(format!("Invalid username {name:?}: {e}")))?;
        self.backend.add_user(name).await
    }

    /// [`Auth::login_from`] for a caller whose address is unknown: only the
    /// per-name backoff applies.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        user_exists: bool,
    ) -> Result<LoginOutcome, AuthError> {
        self.login_from(None, username, password, user_exists).await
    }

    /// Checks the throttle, then credentials, then the name rules, then
    /// blocked/allowed. `client` is the caller's address (per-address backoff);
    /// `user_exists` says whether the normalized name is already in the database
    /// (such users may log in when `allow_existing_users` holds).
    ///
    /// Only wrong credentials count as failures and only an accepted login clears
    /// the backoff; a right password refused by policy counts as neither.
    pub async fn login_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
        user_exists: bool,
    ) -> Result<LoginOutcome, AuthError> {
        let attempt = match self
            .throttle
            .admit(&self.normalize_username(username), client)
        {
            Ok(attempt) => attempt,
            Err(throttled) => {
                tracing::debug!("login refused by the throttle");
                return Ok(LoginOutcome::Throttled {
                    retry_after: throttled.retry_after,
                });
            }
        };
        let vouched = match self.backend.authenticate_model(username, password).await {
            Ok(Some(vouched)) => vouched,
            Ok(None) => {
                attempt.failed();
                return Ok(LoginOutcome::Rejected(
                    "authentication failed (wrong user name or password)".to_owned(),
                ));
            }
            Err(AuthError::Busy) => return Ok(busy()),
            Err(e) => return Err(e),
        };
        let outcome = self.admit(vouched, user_exists).await?;
        match outcome {
            LoginOutcome::Accepted { .. } => attempt.succeeded(),
            // A right password refused by policy is not a failed guess.
            LoginOutcome::Rejected(_) | LoginOutcome::Throttled { .. } => {}
        }
        Ok(outcome)
    }

    /// The rules after the back end vouched for someone, for every way of
    /// logging in (a form, or a redirect back from an identity provider):
    /// normalize and validate the name, then blocked, allowed and admin.
    /// `user_exists` says whether the normalized name is already in the
    /// database. The admin flag: `admin_users` grants; otherwise the login's
    /// own decision ([`Authenticated::admin`]); otherwise the back end's
    /// name-based rules.
    pub async fn admit(
        &self,
        vouched: crate::Authenticated,
        user_exists: bool,
    ) -> Result<LoginOutcome, AuthError> {
        let name = self.normalize_username(&vouched.name);
        if let Err(e) = self.validate_username(&name) {
            return Ok(LoginOutcome::Rejected(format!("invalid user name: {e}")));
        }
        if self.blocked_users.contains(&name) {
            return Ok(LoginOutcome::Rejected(format!("user {name:?} is blocked")));
        }
        let allowed = if self.is_allowed(&name, user_exists) {
            true
        } else {
            match self.backend.check_allowed_model(&name, &vouched).await {
                Ok(allowed) => allowed,
                Err(AuthError::Busy) => return Ok(busy()),
                Err(e) => return Err(e),
            }
        };
        if !allowed {
            return Ok(LoginOutcome::Rejected(format!(
                "user {name:?} is not allowed"
            )));
        }
        let admin = if self.admin_users.contains(&name) {
            Some(true)
        } else if vouched.admin.is_some() {
            vouched.admin
        } else {
            match self.backend.admin_status(&name).await {
                Ok(admin) => admin,
                Err(AuthError::Busy) => return Ok(busy()),
                Err(e) => return Err(e),
            }
        };
        Ok(LoginOutcome::Accepted {
            name,
            admin,
            auth_state: vouched.auth_state,
            groups: vouched.groups,
        })
    }

    /// Whether `name` (already normalized) is in `Authenticator.blocked_users`:
    /// such a user's cookies and tokens are refused too, not only new logins.
    #[must_use]
    pub fn is_blocked(&self, name: &str) -> bool {
        self.blocked_users.contains(name)
    }

    /// The names in `Authenticator.blocked_users`, normalized.
    pub fn blocked_users(&self) -> impl Iterator<Item = &str> {
        self.blocked_users.iter().map(String::as_str)
    }

    /// Users the hub creates at start-up: `(name, is_admin)` for `admin_users` and `allowed_users`.
    /// Blocked names are left out: creating them would hand a blocked admin the API.
    #[must_use]
    pub fn startup_users(&self) -> Vec<(String, bool)> {
        let admins = self.admin_users.iter().map(|name| (name, true));
        let others = self
            .allowed_users
            .difference(&self.admin_users)
            .map(|name| (name, false));
        admins
            .chain(others)
            .filter(|(name, _)| !self.blocked_users.contains(*name))
            .map(|(name, admin)| (name.clone(), admin))
            .collect()
    }

    /// The back end's upstream class name.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Upstream's `allow_all or check_allowed`, where `allowed_users` also holds the
    /// admins and, with `allow_existing_users`, every user in the database.
    fn is_allowed(&self, name: &str, user_exists: bool) -> bool {
        self.allow_all
            || self.allowed_users.contains(name)
            || self.admin_users.contains(name)
            || (user_exists && self.allow_existing_users)
    }
}

/// Upstream's `pre_spawn_start` and `post_spawn_stop` of the configured back
/// end; cheap to clone. The default does nothing (hubs built in tests).
#[derive(Clone, Default)]
pub struct SpawnHooks(Option<Arc<dyn Authenticator>>);

impl SpawnHooks {
    /// Before a user's server starts.
    pub async fn pre_spawn_start(&self, username: &str) {
        if let Some(backend) = &self.0 {
            backend.pre_spawn_start(username).await;
        }
    }

    /// After a user's server stopped.
    pub async fn post_spawn_stop(&self, username: &str) {
        if let Some(backend) = &self.0 {
            backend.post_spawn_stop(username).await;
        }
    }
}

impl std::fmt::Debug for SpawnHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.0.as_ref().map(|b| b.name());
        f.debug_tuple("SpawnHooks").field(&name).finish()
    }
}

/// The answer when the back end had no capacity left for this login.
fn busy() -> LoginOutcome {
    tracing::warn!("login not checked: the authenticator is saturated");
    LoginOutcome::Throttled {
        retry_after: BUSY_RETRY_AFTER,
    }
}

/// A name normalized as upstream: the back end's canonical spelling or
/// lowercase, then `username_map`.
fn normalize_with(backend: &dyn Authenticator, rules: &UsernameRules, name: &str) -> String {
    match backend.canonical_username(name) {
        Some(canonical) => rules.map(canonical),
        None => rules.normalize(name),
    }
}

/// Normalizes and validates one of the configured name lists.
fn normalized_names(
    option: &str,
    configured: &[String],
    normalize: &dyn Fn(&str) -> String,
    rules: &UsernameRules,
) -> Result<BTreeSet<String>, AuthError> {
    configured
        .iter()
        .map(|raw| {
            let name = normalize(raw);
            rules.validate(&name).map_err(|e| {
                AuthError::Config(format!(
                    "Authenticator.{option}: invalid user name {name:?}: {e}"
                ))
            })?;
            Ok(name)
        })
        .collect()
}
