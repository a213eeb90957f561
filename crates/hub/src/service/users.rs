//! Users: list, read, create, delete, activity reports, and changes to
//! name, admin flag, roles and groups.

use std::collections::BTreeSet;

use ferrohub_core::time::Timestamp;
use ferrohub_store::{RoleHolder, UserQuery, UserRecord};

use crate::access::Identity;
use crate::capability::{
    AdminUsers, DeleteUser, GroupMembership, HubAdmin, OnHub, OnUser, ReadAuthState, ReadUser,
    Rename, UserActivity, UserAdmin, UserListing,
};
use crate::error::HubError;
use crate::runtime::{Phase, stop};
use crate::state::AppState;

/// Whether `name` is a local account with uid 0 (`root`, or an alias such as
/// `toor`). A hub user of that name would run its server as root under a
/// local-process spawner, so no user is renamed or created so.
pub(crate) async fn is_superuser_name(name: &str) -> bool {
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
pub(crate) async fn check_not_superuser(name: &str) -> Result<(), HubError> {
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
pub(crate) async fn rename(
    state: &AppState,
    old_name: &str,
    rename: Rename,
) -> Result<(), HubError> {
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

/// The `auth_state` of the user `may` names, decrypted (`None` if unset or
/// unreadable).
pub(crate) async fn auth_state(
    state: &AppState,
    may: &OnUser<ReadAuthState>,
) -> Result<Option<serde_json::Value>, HubError> {
    let user = find(state, may.name()).await?;
    Ok(crate::runtime::auth_state::load(&state.runtime, user.id).await?)
}

/// Replaces a user's `auth_state` (`PATCH /users/{name}`, which upstream
/// lets holders of `admin:users` do), encrypted; `None` clears it.
pub(crate) async fn set_auth_state(
    state: &AppState,
    target: &UserAdmin,
    value: Option<&serde_json::Value>,
) -> Result<(), HubError> {
    crate::runtime::auth_state::save(&state.runtime, target.user().id, value)
        .await
        .map_err(|e| match e {
            crate::runtime::auth_state::AuthStateError::Store(e) => HubError::Store(e),
            no_keys @ crate::runtime::auth_state::AuthStateError::NoKeys(_) => {
                HubError::Invalid(no_keys.to_string())
            }
        })
}

/// The `auth_state` of the user `target` names, for the answer to its change
/// (`admin:users` covers `admin:auth_state`).
pub(crate) async fn auth_state_of(
    state: &AppState,
    target: &UserAdmin,
) -> Result<Option<serde_json::Value>, HubError> {
    Ok(crate::runtime::auth_state::load(&state.runtime, target.user().id).await?)
}

/// Sets the admin flag and the admin role together; only a full admin may.
pub(crate) async fn set_admin(
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
pub(crate) async fn set_roles(
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
pub(crate) async fn set_groups(state: &AppState, change: GroupMembership) -> Result<(), HubError> {
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
pub(crate) async fn add_config_tokens(state: &AppState) -> Result<(), HubError> {
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

/// The user called `name`, or 404 (the scope check already ran).
pub(crate) async fn find(state: &AppState, name: &str) -> Result<UserRecord, HubError> {
    state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(|| HubError::NotFound(format!("No such user: {name}")))
}

/// One page of the users `query` selects, within what `listing` shows.
pub(crate) async fn list(
    state: &AppState,
    listing: &UserListing,
    mut query: UserQuery,
) -> Result<(Vec<UserRecord>, i64), HubError> {
    query.visible = listing.visible().cloned();
    Ok(state.store.list_users_page(&query).await?)
}

/// The user `may` names.
pub(crate) async fn get(state: &AppState, may: &OnUser<ReadUser>) -> Result<UserRecord, HubError> {
    find(state, may.name()).await
}

/// A requested name, normalized by the authenticator and valid as a user
/// name (the hub's rules and `Authenticator.username_pattern`); `None` if it
/// is not.
pub(crate) fn normalize(state: &AppState, name: &str) -> Option<String> {
    checked_name(state, name).ok()
}

/// [`normalize`], or why the name is refused.
fn checked_name(state: &AppState, name: &str) -> Result<String, ferrohub_auth::UsernameError> {
    let normalized = state.auth.normalize_username(name);
    state
        .auth
        .validate_username(&normalized)
        .map(|()| normalized)
}

/// Upstream's `add_user` hook before a user is stored (the name must be
/// valid; PAM makes sure the system account exists, creating it with
/// `create_system_users`): a refusal is upstream's 400.
async fn add_to_authenticator(state: &AppState, name: &str) -> Result<(), HubError> {
    state.auth.add_user(name).await.map_err(|e| {
        tracing::error!("Failed to create user {name}: {e}");
        HubError::Invalid(format!("Failed to create user {name}: {e}"))
    })
}

/// Creates the users of `names` that do not exist yet (admins only with
/// `admin`, a full admin's proof). Every name must be valid and no superuser
/// account; if all exist already, 409.
pub(crate) async fn create_many(
    state: &AppState,
    _may: &OnHub<AdminUsers>,
    names: &[String],
    admin: Option<&HubAdmin>,
) -> Result<Vec<UserRecord>, HubError> {
    let mut invalid = Vec::new();
    let mut reason = None;
    let mut to_create = BTreeSet::new();
    for name in names {
        match checked_name(state, name) {
            Ok(normalized) if is_superuser_name(&normalized).await => {
                invalid.push(name.clone());
            }
            Ok(normalized) => {
                if state.store.user_by_name(&normalized).await?.is_none() {
                    to_create.insert(normalized);
                }
            }
            Err(e) => {
                invalid.push(name.clone());
                reason = Some(e);
            }
        }
    }
    match invalid.as_slice() {
        [] => {}
        [one] => {
            let why = reason.map(|e| format!(" ({e})")).unwrap_or_default();
            return Err(HubError::Invalid(format!("Invalid username: {one}{why}")));
        }
        many => {
            return Err(HubError::Invalid(format!(
                "Invalid usernames: {}",
                many.join(", ")
            )));
        }
    }
    if to_create.is_empty() {
        return Err(HubError::Conflict(format!(
            "All {} users already exist",
            names.len()
        )));
    }
    let mut users = Vec::with_capacity(to_create.len());
    for name in to_create {
        add_to_authenticator(state, &name).await?;
        users.push(crate::roles::create_user(state, &name, admin.is_some()).await?);
    }
    Ok(users)
}

/// Creates the user `may` names (an admin only with a full admin's proof).
pub(crate) async fn create(
    state: &AppState,
    may: &OnUser<AdminUsers>,
    admin: Option<&HubAdmin>,
) -> Result<UserRecord, HubError> {
    let name = may.name();
    let normalized = checked_name(state, name)
        .map_err(|e| HubError::Invalid(format!("Invalid username: {name} ({e})")))?;
    check_not_superuser(&normalized).await?;
    if state.store.user_by_name(&normalized).await?.is_some() {
        return Err(HubError::Conflict(format!(
            "User {normalized} already exists"
        )));
    }
    add_to_authenticator(state, &normalized).await?;
    Ok(crate::roles::create_user(state, &normalized, admin.is_some()).await?)
}

/// Deletes a user (never the caller itself): stops the user's servers
/// first, and refuses (400, as upstream) while one of them is starting or
/// stopping. Returns the deleted user.
pub(crate) async fn delete(
    state: &AppState,
    may: &OnUser<DeleteUser>,
    by: &Identity,
) -> Result<UserRecord, HubError> {
    let user = find(state, may.name()).await?;
    if by.user().is_some_and(|u| u.id == user.id) {
        return Err(HubError::Invalid("Cannot delete yourself!".to_owned()));
    }
    for record in state.store.spawners_of(user.id).await? {
        let busy = match state.servers.phase(&user.name, &record.name) {
            Phase::Stopping => Some("stopping"),
            Phase::Spawning => Some("starting"),
            _ => None,
        };
        if let Some(busy) = busy {
            return Err(HubError::Invalid(format!(
                "{}'s server is in the process of {busy}, please wait.",
                user.name
            )));
        }
        if !stop::request_stop(&state.runtime, &user, &record.name).await {
            return Err(HubError::Invalid(format!(
                "{}'s server is in the process of stopping, please wait.",
                user.name
            )));
        }
    }
    state.store.delete_user(user.id).await?;
    state.servers.remove_user(&user.name);
    Ok(user)
}

/// An activity report of a user's servers (`POST /users/{name}/activity`).
#[derive(Debug, Default)]
pub(crate) struct ActivityReport {
    /// The user's own last activity, if reported.
    pub user: Option<Timestamp>,
    /// Last activity per server name.
    pub servers: Vec<(String, Timestamp)>,
}

/// A reported timestamp: ISO 8601, not more than an hour in the future.
pub(crate) fn parse_activity(text: &str) -> Result<Timestamp, HubError> {
    let ts = ferrohub_core::time::parse_client(text).ok_or_else(|| {
        HubError::Invalid(format!(
            "last_activity {text:?} is not an ISO-8601 timestamp"
        ))
    })?;
    if ts > ferrohub_core::time::now() + chrono::Duration::minutes(59) {
        return Err(HubError::Invalid(format!(
            "last_activity {text:?} is more than an hour in the future"
        )));
    }
    Ok(ts)
}

/// Records reported activity: every server named must exist; the user's
/// own activity defaults to the latest of its servers'.
pub(crate) async fn record_activity(
    state: &AppState,
    may: &OnUser<UserActivity>,
    report: ActivityReport,
) -> Result<(), HubError> {
    let user = find(state, may.name()).await?;
    let mut updates = Vec::with_capacity(report.servers.len());
    for (server, ts) in report.servers {
        let record = state
            .store
            .spawner(user.id, &server)
            .await?
            .ok_or_else(|| {
                HubError::Invalid(format!("No such server '{server}' for user {}", user.name))
            })?;
        updates.push((record.id, ts));
    }
    for (spawner_id, ts) in &updates {
        state.store.touch_spawner(*spawner_id, ts).await?;
    }
    if let Some(ts) = report
        .user
        .or_else(|| updates.iter().map(|(_, t)| *t).max())
    {
        state.store.touch_user(user.id, &ts).await?;
    }
    Ok(())
}
