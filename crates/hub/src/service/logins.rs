//! What a successful authentication does to the hub's records, however it
//! happened (the login form, an identity provider's redirect, a refresh):
//! upstream's `auth_to_user`. The authenticator's verdict is the permission
//! here, so these functions take no capability.

use ferrohub_auth::AuthUpdate;
use ferrohub_store::UserRecord;
use serde_json::Value;

use crate::error::HubError;
use crate::state::AppState;

/// An authentication the login policy accepted (the fields of
/// `LoginOutcome::Accepted`).
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The normalized user name.
    pub(crate) name: String,
    /// Grant (`Some(true)`), revoke (`Some(false)`) or leave the admin flag.
    pub(crate) admin: Option<bool>,
    /// What the back end returned to keep about the login.
    pub(crate) auth_state: Option<Value>,
    /// The back end's group list, applied with `manage_groups`.
    pub(crate) groups: Option<Vec<String>>,
}

/// Makes the records match an accepted login: creates the user (running the
/// authenticator's `add_user` hook) if new, applies the admin flag,
/// re-grants the default roles, syncs groups under `manage_groups`, and
/// stores `auth_state` (or clears it: upstream always writes it at login).
pub(crate) async fn apply(state: &AppState, accepted: Accepted) -> Result<UserRecord, HubError> {
    let admin = accepted.admin;
    let user = match state.store.user_by_name(&accepted.name).await? {
        Some(user) => user,
        None => {
            // Upstream's `add_user` hook for a new user (PAM: the system
            // account must exist or be created); a failure is upstream's 500.
            state
                .auth
                .add_user(&accepted.name)
                .await
                .map_err(|e| HubError::Internal(e.to_string()))?;
            crate::roles::create_user(state, &accepted.name, admin == Some(true)).await?
        }
    };
    crate::roles::grant_default_roles(&state.store, &user).await?;
    let update = AuthUpdate {
        auth_state: accepted.auth_state,
        admin,
        groups: accepted.groups,
    };
    apply_update(state, &user, update, true).await?;
    state.refresh_times.confirmed_now(user.id);
    Ok(user)
}

/// Applies what a login or refresh says about a user: the admin flag when
/// given, the group list under `manage_groups`, and `auth_state`. A login
/// (`replace_auth_state`) always writes `auth_state`, clearing an old value
/// when it has none; a refresh changes it only when it returns one.
pub(crate) async fn apply_update(
    state: &AppState,
    user: &UserRecord,
    update: AuthUpdate,
    replace_auth_state: bool,
) -> Result<(), HubError> {
    if let Some(admin) = update.admin.filter(|a| *a != user.admin) {
        crate::roles::set_admin(state, user, admin).await?;
    }
    if state.config.authenticator.manage_groups {
        match update.groups {
            Some(groups) => sync_groups(state, user, &groups).await?,
            // Upstream refuses such a login; a refresh without groups keeps them.
            None if replace_auth_state => {
                return Err(HubError::Internal(format!(
                    "Authenticator.manage_groups is on, but {} returned no groups for {}",
                    state.auth.backend_name(),
                    user.name
                )));
            }
            None => {}
        }
    }
    if replace_auth_state || update.auth_state.is_some() {
        let auth_state = update
            .auth_state
            .filter(|_| state.config.authenticator.enable_auth_state);
        if replace_auth_state || auth_state.is_some() {
            crate::runtime::auth_state::save(&state.runtime, user.id, auth_state.as_ref())
                .await
                .map_err(|e| match e {
                    crate::runtime::auth_state::AuthStateError::Store(e) => HubError::Store(e),
                    other => HubError::Internal(other.to_string()),
                })?;
        }
    }
    Ok(())
}

/// Makes `names` exactly the user's groups, creating missing groups
/// (upstream's `User.sync_groups`). A name no group may have is skipped
/// with a warning rather than failing the login.
async fn sync_groups(
    state: &AppState,
    user: &UserRecord,
    names: &[String],
) -> Result<(), HubError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        if let Err(e) = super::groups::check_name(name) {
            tracing::warn!(user = %user.name, group = %name, "group from the authenticator skipped: {e}");
            continue;
        }
        let group = match state.store.group_by_name(name).await? {
            Some(group) => group,
            None => match state.store.create_group(name, &serde_json::json!({})).await {
                Ok(group) => {
                    tracing::info!(group = %name, "group created for the authenticator");
                    group
                }
                // Another login created it meanwhile.
                Err(ferrohub_store::StoreError::Conflict(_)) => state
                    .store
                    .group_by_name(name)
                    .await?
                    .ok_or_else(|| HubError::Internal(format!("group {name} vanished")))?,
                Err(e) => return Err(e.into()),
            },
        };
        ids.push(group.id);
    }
    state.store.set_user_groups(user.id, &ids).await?;
    Ok(())
}
