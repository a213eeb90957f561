//! Changing users: rename, admin flag, roles and groups.

use ferrohub_store::RoleHolder;

use crate::capability::{GroupMembership, HubAdmin, Rename, UserAdmin};
use crate::error::HubError;
use crate::state::AppState;

/// Whether `name` is a local account with uid 0 (`root`, or an alias such as
/// `toor`). A hub user of that name would run its server as root under a
/// local-process spawner, so no user is renamed or created so.
pub async fn is_superuser_name(name: &str) -> bool {
    if name == "root" {
        return true;
    }
    let owned = name.to_owned();
    tokio::task::spawn_blocking(move || {
        nix::unistd::User::from_name(&owned)
            .ok()
            .flatten()
            .is_some_and(|account| account.uid.is_root())
    })
    .await
    .unwrap_or(true)
}

/// Refuses the name of a superuser account.
pub async fn check_not_superuser(name: &str) -> Result<(), HubError> {
    if is_superuser_name(name).await {
        return Err(HubError::Invalid(format!(
            "Invalid username: {name} is a superuser account on this host"
        )));
    }
    Ok(())
}

/// Renames a user whose servers are all stopped. Shares and share codes are
/// tied to users and servers by id, so they follow the user; nothing granted
/// to the old name passes to the new one (see `ferrohub_store` shares).
pub async fn rename(state: &AppState, old_name: &str, rename: Rename) -> Result<(), HubError> {
    let new_name = rename.new_name();
    check_not_superuser(new_name).await?;
    if state.store.user_by_name(new_name).await?.is_some() {
        return Err(HubError::Invalid(format!(
            "User {new_name} already exists, username must be unique"
        )));
    }
    if state.servers.any_active(old_name) {
        return Err(HubError::Invalid(format!(
            "{old_name} has running servers; stop them before renaming"
        )));
    }
    state.store.rename_user(rename.user_id(), new_name).await?;
    state.servers.remove_user(old_name);
    Ok(())
}

/// Sets the admin flag and the admin role together; only a full admin may.
pub async fn set_admin(
    state: &AppState,
    _by: &HubAdmin,
    target: &UserAdmin,
    admin: bool,
) -> Result<(), HubError> {
    let user = target.user();
    state.store.set_admin(user.id, admin).await?;
    if let Some(role) = state.store.role_by_name("admin").await? {
        let holder = RoleHolder::User(user.id);
        if admin {
            state.store.grant_role(holder, role.id).await?;
        } else {
            state.store.revoke_role(holder, role.id).await?;
        }
    }
    Ok(())
}

/// Replaces a user's roles (every role must exist) and keeps the admin flag
/// in step; only a full admin may, since a role can carry any scope.
pub async fn set_roles(
    state: &AppState,
    _by: &HubAdmin,
    target: &UserAdmin,
    names: &[String],
) -> Result<(), HubError> {
    let user = target.user();
    let mut wanted = Vec::new();
    for name in names {
        let role = state
            .store
            .role_by_name(name)
            .await?
            .ok_or_else(|| HubError::Invalid(format!("No such role: {name}")))?;
        wanted.push(role);
    }
    let holder = RoleHolder::User(user.id);
    for role in state.store.roles_of(holder).await? {
        if !wanted.iter().any(|w| w.id == role.id) {
            state.store.revoke_role(holder, role.id).await?;
        }
    }
    for role in &wanted {
        state.store.grant_role(holder, role.id).await?;
    }
    let is_admin = wanted.iter().any(|r| r.name == "admin");
    if is_admin != user.admin {
        state.store.set_admin(user.id, is_admin).await?;
    }
    Ok(())
}

/// Puts a user in exactly the groups of `change` (every group must exist).
pub async fn set_groups(state: &AppState, change: GroupMembership) -> Result<(), HubError> {
    let mut ids = Vec::new();
    for name in change.wanted() {
        let group = state
            .store
            .group_by_name(name)
            .await?
            .ok_or_else(|| HubError::Invalid(format!("No such group: {name}")))?;
        ids.push(group.id);
    }
    state.store.set_user_groups(change.user_id(), &ids).await?;
    Ok(())
}

/// `JupyterHub.api_tokens` at start-up (upstream's `_add_tokens`): each token
/// is stored for its user, created with the default roles if missing, unless
/// the token is stored already. Configured tokens are user-chosen, so they get
/// the 16,384-round hash; they act with the owner's full permissions.
pub async fn add_config_tokens(state: &AppState) -> Result<(), HubError> {
    for (token, name) in &state.config.jupyterhub.api_tokens {
        if state.store.find_token(token).await?.is_some() {
            continue;
        }
        let name = state.auth.normalize_username(name);
        let user = match state.store.user_by_name(&name).await? {
            Some(user) => user,
            None => {
                tracing::info!("creating user {name} for a token in JupyterHub.api_tokens");
                crate::roles::create_user(state, &name, false).await?
            }
        };
        tracing::info!("Adding API token for user: {name}");
        state
            .store
            .create_token(&ferrohub_store::NewToken {
                token,
                rounds: ferrohub_core::token::USER_PROVIDED_TOKEN_ROUNDS,
                owner: ferrohub_store::TokenOwner::User(user.id),
                client_id: ferrohub_store::BUILTIN_CLIENT,
                session_id: None,
                scopes: &["inherit".to_owned()],
                note: Some("from config"),
                expires_at: None,
            })
            .await?;
    }
    Ok(())
}
