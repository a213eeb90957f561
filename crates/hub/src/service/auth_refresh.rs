//! Asking the authenticator again whether a logged-in user's authentication
//! still holds (upstream's `refresh_auth`): on a request when the last check
//! is older than `Authenticator.auth_refresh_age`, and before a spawn or a
//! stop with `refresh_pre_spawn` / `refresh_pre_stop`.
//!
//! Back ends that never refresh (PAM, dummy, ...) cost nothing here. For one
//! user, checks run one at a time, and a check that waited re-reads the time:
//! OAuth refresh tokens are often single-use, so two concurrent refreshes
//! with the same token would make the second fail and log the user out.

use std::time::{Duration, Instant};

use ferrohub_auth::Refreshed;
use ferrohub_store::UserRecord;

use crate::error::HubError;
use crate::state::AppState;

/// Whether the check is due by age or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// A request: only when older than `auth_refresh_age` (0: never).
    Request,
    /// Before a spawn or stop: always.
    Forced,
}

/// Checks `user` with the authenticator when due; `Ok(false)` means the
/// authentication expired and the user must log in again. Updates the back
/// end returns (new tokens, admin flag, groups) are stored.
pub(crate) async fn check(state: &AppState, user: &UserRecord, why: Why) -> Result<bool, HubError> {
    if !state.auth.refreshes_users() {
        return Ok(true);
    }
    let age = state.config.authenticator.auth_refresh_age;
    if why == Why::Request && age == 0 {
        return Ok(true);
    }
    let slot = state.refresh_times.slot(user.id);
    let mut last = slot.lock().await;
    let fresh = last.is_some_and(|t| t.elapsed() < Duration::from_secs(age));
    if why == Why::Request && fresh {
        return Ok(true);
    }
    let auth_state = crate::runtime::auth_state::load(&state.runtime, user.id).await?;
    tracing::debug!(user = %user.name, "refreshing authentication");
    let refreshed = state
        .auth
        .refresh_user(&user.name, auth_state.as_ref())
        .await
        .map_err(|e| {
            HubError::Internal(format!("refreshing {}'s authentication: {e}", user.name))
        })?;
    match refreshed {
        Refreshed::Current => {}
        Refreshed::Updated(update) => {
            crate::service::logins::apply_update(state, user, update, false).await?;
        }
        Refreshed::Expired => {
            tracing::warn!(
                user = %user.name,
                "authentication has expired and cannot be refreshed; login is required"
            );
            *last = None;
            return Ok(false);
        }
    }
    *last = Some(Instant::now());
    Ok(true)
}
