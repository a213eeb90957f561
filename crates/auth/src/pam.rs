//! `PAMAuthenticator`: checks passwords of local UNIX accounts through PAM, as
//! upstream's default authenticator (which uses `pamela`).
//!
//! **The hub must run as root** to check other users' passwords: for a non-root
//! process, `pam_unix` can only verify the caller's own password.
//!
//! Invariant: every PAM and NSS call runs in `tokio::task::spawn_blocking`; a wrong
//! password keeps a thread busy for ~2-3.5 s (`pam_faildelay`).

mod libpam;

use async_trait::async_trait;
use ferrohub_config::PamAuthenticatorConfig;

use crate::unix_accounts;
use crate::{AuthError, Authenticator};
use libpam::PamFailure;

/// Upstream's `PAMAuthenticator`: PAM `service` (default `login`), optional account
/// stack (`check_account`), and `admin_groups` whose members are admins.
#[derive(Debug, Clone)]
pub struct PamAuthenticator {
    service: String,
    check_account: bool,
    admin_groups: Vec<String>,
}

impl PamAuthenticator {
    /// Builds the back end from `[PAMAuthenticator]`.
    #[must_use]
    pub fn new(config: &PamAuthenticatorConfig) -> Self {
        Self {
            service: config.service.clone(),
            check_account: config.check_account,
            admin_groups: config.admin_groups.clone(),
        }
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
        let this = self.clone();
        let user = username.to_owned();
        let password = password.to_owned();
        run_blocking(move || this.authenticate_blocking(&user, &password)).await?
    }

    async fn is_admin_by_backend(&self, username: &str) -> bool {
        matches!(self.admin_status(username).await, Ok(Some(true)))
    }

    /// Upstream: with `admin_groups` set, group membership is authoritative
    /// (`Some(false)` for non-members) and a failed group lookup is an error.
    async fn admin_status(&self, username: &str) -> Result<Option<bool>, AuthError> {
        if self.admin_groups.is_empty() {
            return Ok(None);
        }
        let groups = self.admin_groups.clone();
        let user = username.to_owned();
        let member = run_blocking(move || unix_accounts::is_member_of_any(&user, &groups))
            .await?
            .map_err(|e| {
                tracing::error!("PAM admin group check failed: {e}");
                AuthError::Backend(e.to_string())
            })?;
        Ok(Some(member))
    }
}

impl PamAuthenticator {
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

/// Runs `work` on tokio's blocking pool; a panicked worker is a back-end error.
async fn run_blocking<T, F>(work: F) -> Result<T, AuthError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuthError::Backend(format!("PAM worker thread failed: {e}")))
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
