//! `PAMAuthenticator`: checks passwords of local UNIX accounts through PAM, as
//! upstream's default authenticator (which uses `pamela`).
//!
//! **The hub must run as root** to check other users' passwords: for a non-root
//! process, `pam_unix` can only verify the caller's own password.
//!
//! Invariant: every PAM and NSS call runs on the authenticator's own
//! `executor_threads` threads (named `ferrohub-pam-N`), as upstream's thread pool:
//! at most that many PAM conversations at once, whatever the number of logins. A
//! wrong password keeps a thread busy for ~2-3.5 s (`pam_faildelay`), so a flood
//! waits in a bounded queue (see `worker_pool`) instead of taking hundreds of
//! threads.

mod libpam;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use ferrohub_config::{LocalAuthenticatorConfig, PamAuthenticatorConfig};

use crate::unix_accounts;
use crate::worker_pool::{PoolError, WorkerPool};
use crate::{AuthError, Authenticator};
use libpam::PamFailure;

/// Upstream's `PAMAuthenticator`: PAM `service` (default `login`), optional account
/// stack (`check_account`), `admin_groups` whose members are admins, and
/// `executor_threads` threads to run PAM on; with upstream's `LocalAuthenticator`
/// options (`allowed_groups`, `create_system_users`, `add_user_cmd`, `uids`).
#[derive(Debug)]
pub struct PamAuthenticator {
    settings: Arc<PamSettings>,
    pool: WorkerPool,
}

/// What a PAM worker needs to know.
#[derive(Debug)]
struct PamSettings {
    service: String,
    check_account: bool,
    admin_groups: Vec<String>,
    /// `LocalAuthenticator.allowed_groups`.
    allowed_groups: Vec<String>,
    /// `LocalAuthenticator.create_system_users`.
    create_system_users: bool,
    /// `LocalAuthenticator.add_user_cmd`.
    add_user_cmd: Vec<String>,
    /// `LocalAuthenticator.uids`.
    uids: BTreeMap<String, u32>,
    /// `PAMAuthenticator.pam_normalize_username`.
    pam_normalize_username: bool,
    /// `PAMAuthenticator.open_sessions`; turned off for good at the first
    /// failure, as upstream.
    open_sessions: AtomicBool,
}

impl PamAuthenticator {
    /// Builds the back end from `[PAMAuthenticator]` with the default
    /// `[LocalAuthenticator]` options (see [`PamAuthenticator::with_local`]).
    pub fn new(config: &PamAuthenticatorConfig) -> Result<Self, AuthError> {
        Self::with_local(config, &LocalAuthenticatorConfig::default())
    }

    /// Builds the back end from `[PAMAuthenticator]` and `[LocalAuthenticator]`
    /// and starts its `executor_threads` worker threads (they end when it is
    /// dropped).
    pub fn with_local(
        config: &PamAuthenticatorConfig,
        local: &LocalAuthenticatorConfig,
    ) -> Result<Self, AuthError> {
        if local.create_system_users && local.add_user_cmd.is_empty() {
            return Err(AuthError::Config(
                "LocalAuthenticator.add_user_cmd must not be empty when create_system_users \
                 is true"
                    .to_owned(),
            ));
        }
        let threads = usize::try_from(config.executor_threads).unwrap_or(usize::MAX);
        let pool = WorkerPool::new("pam", threads)
            .map_err(|e| AuthError::Backend(format!("cannot start the PAM threads: {e}")))?;
        Ok(Self {
            settings: Arc::new(PamSettings {
                service: config.service.clone(),
                check_account: config.check_account,
                admin_groups: config.admin_groups.clone(),
                allowed_groups: local.allowed_groups.clone(),
                create_system_users: local.create_system_users,
                add_user_cmd: local.add_user_cmd.clone(),
                uids: local.uids.clone(),
                pam_normalize_username: config.pam_normalize_username,
                open_sessions: AtomicBool::new(config.open_sessions),
            }),
            pool,
        })
    }

    /// Runs `work` on a PAM thread; a full queue is [`AuthError::Busy`].
    async fn run<T, F>(&self, work: F) -> Result<T, AuthError>
    where
        F: FnOnce(&PamSettings) -> T + Send + 'static,
        T: Send + 'static,
    {
        let settings = Arc::clone(&self.settings);
        self.pool
            .run(move || work(&settings))
            .await
            .map_err(|e| match e {
                PoolError::Busy => AuthError::Busy,
                PoolError::Failed => AuthError::Backend("PAM worker thread failed".to_owned()),
            })
    }
}

#[async_trait]
impl Authenticator for PamAuthenticator {
    fn name(&self) -> &'static str {
        "PAMAuthenticator"
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError> {
        let user = username.to_owned();
        let password = password.to_owned();
        self.run(move |settings| settings.authenticate_blocking(&user, &password))
            .await?
    }

    async fn is_admin_by_backend(&self, username: &str) -> bool {
        matches!(self.admin_status(username).await, Ok(Some(true)))
    }

    /// Upstream: with `admin_groups` set, group membership is authoritative
    /// (`Some(false)` for non-members) and a failed group lookup is an error.
    async fn admin_status(&self, username: &str) -> Result<Option<bool>, AuthError> {
        if self.settings.admin_groups.is_empty() {
            return Ok(None);
        }
        let user = username.to_owned();
        let member = self
            .run(move |settings| unix_accounts::is_member_of_any(&user, &settings.admin_groups))
            .await?
            .map_err(|e| {
                tracing::error!("PAM admin group check failed: {e}");
                AuthError::Backend(e.to_string())
            })?;
        Ok(Some(member))
    }

    /// `open_sessions`: opens a PAM session for the user before the server starts.
    async fn pre_spawn_start(&self, username: &str) {
        self.session(username, true).await;
    }

    /// `open_sessions`: closes the PAM session after the server stopped.
    async fn post_spawn_stop(&self, username: &str) {
        self.session(username, false).await;
    }

    /// `pam_normalize_username`: name to uid to name through the user database
    /// (a quick local lookup, as upstream does it inline). A name with no
    /// account keeps upstream's default, lowercasing (upstream fails there).
    fn canonical_username(&self, name: &str) -> Option<String> {
        if !self.settings.pam_normalize_username {
            return None;
        }
        match unix_accounts::canonical_name(name) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("pam_normalize_username: {e}");
                None
            }
        }
    }

    /// `LocalAuthenticator.allowed_groups`: members (primary or supplementary)
    /// of any of these groups may log in; an unknown group is logged and skipped,
    /// as upstream.
    async fn check_allowed(&self, username: &str) -> Result<bool, AuthError> {
        if self.settings.allowed_groups.is_empty() {
            return Ok(false);
        }
        let user = username.to_owned();
        self.run(move |settings| unix_accounts::admitted_by_groups(&user, &settings.allowed_groups))
            .await?
            .map_err(|e| {
                tracing::error!("allowed_groups check failed: {e}");
                AuthError::Backend(e.to_string())
            })
    }

    /// Upstream's `LocalAuthenticator.add_user`: the system account must exist;
    /// with `create_system_users` a missing one is created with `add_user_cmd`
    /// (and `--uid` from `uids`).
    async fn add_user(&self, username: &str) -> Result<(), AuthError> {
        let user = username.to_owned();
        let exists = self
            .run(move |_| unix_accounts::user_exists(&user))
            .await?
            .map_err(|e| AuthError::Backend(e.to_string()))?;
        if exists {
            return Ok(());
        }
        if !self.settings.create_system_users {
            return Err(AuthError::AddUser(format!(
                "User {username} does not exist on the system. Set \
                 LocalAuthenticator.create_system_users = true to automatically create \
                 system users from hub users."
            )));
        }
        let uid = self.settings.uids.get(username).copied();
        unix_accounts::create_user(&self.settings.add_user_cmd, username, uid)
            .await
            .map_err(|e| AuthError::AddUser(e.to_string()))
    }
}

impl PamAuthenticator {
    /// Opens or closes a PAM session on a PAM thread when `open_sessions` is on;
    /// a failure is logged and turns sessions off, as upstream.
    async fn session(&self, username: &str, open: bool) {
        if !self.settings.open_sessions.load(Ordering::Relaxed) {
            return;
        }
        let user = username.to_owned();
        let result = self
            .run(move |settings| libpam::session(&settings.service, &user, open))
            .await;
        let failure = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        let what = if open { "open" } else { "close" };
        tracing::warn!("Failed to {what} PAM session for {username}: {failure}");
        tracing::warn!("Disabling PAM sessions from now on.");
        self.settings.open_sessions.store(false, Ordering::Relaxed);
    }
}

impl PamSettings {
    /// The blocking part of [`Authenticator::authenticate`]: PAM, then the local
    /// account check (upstream's `LocalAuthenticator`: the user must exist).
    fn authenticate_blocking(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError> {
        match libpam::check_password(&self.service, username, password, self.check_account) {
            Ok(()) => {}
            Err(PamFailure::Start(status)) => {
                return Err(AuthError::Backend(format!(
                    "pam_start for service {:?} failed with PAM error {status}",
                    self.service
                )));
            }
            Err(refusal) => {
                tracing::warn!(
                    "PAM authentication failed ({}): {refusal}",
                    loggable_name(username)
                );
                return Ok(None);
            }
        }
        let exists =
            unix_accounts::user_exists(username).map_err(|e| AuthError::Backend(e.to_string()))?;
        if !exists {
            tracing::warn!("PAM accepted {username:?} but there is no such local user");
            return Ok(None);
        }
        Ok(Some(username.to_owned()))
    }
}

/// A failed login's user name for the log, shortened as upstream so that junk
/// input does not flood it.
fn loggable_name(username: &str) -> String {
    if username.chars().count() > 32 {
        let head: String = username.chars().take(16).collect();
        format!("{head:?}...({} chars)", username.chars().count())
    } else {
        format!("{username:?}")
    }
}
