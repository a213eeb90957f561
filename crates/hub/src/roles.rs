//! Roles in the database kept in step with the configuration: the default
//! roles, `JupyterHub.load_roles`, the admin flag, and every user holding the
//! `user` role. Also the few user changes that touch roles (create, admin).

use std::collections::BTreeMap;

use ferrohub_config::{Config, RoleConfig};
use ferrohub_rbac::{CustomScopeDef, CustomScopes};
use ferrohub_store::{RoleHolder, RoleKind, Store, UserRecord};

use crate::error::ApiError;
use crate::state::AppState;

/// Why roles could not be set up at start-up (a configuration mistake).
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// A role, scope or member in `load_roles` / `custom_scopes` is wrong.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
}

/// `JupyterHub.custom_scopes`, checked.
pub(crate) fn custom_scopes(config: &Config) -> Result<CustomScopes, RoleError> {
    let defs = config.jupyterhub.custom_scopes.iter().map(|(name, def)| {
        (
            name.clone(),
            CustomScopeDef {
                description: def.description.clone(),
                subscopes: def.subscopes.clone(),
            },
        )
    });
    CustomScopes::new(defs).map_err(|e| RoleError::Config(format!("JupyterHub.custom_scopes: {e}")))
}

/// Checks `load_roles` without touching the database: role names, scopes,
/// and that every service a role names is defined in `JupyterHub.services`.
pub(crate) fn check_roles(config: &Config, custom: &CustomScopes) -> Result<(), RoleError> {
    roles_to_load(config, custom)?;
    for spec in &config.jupyterhub.load_roles {
        for name in spec.services.iter().flatten() {
            if !config.jupyterhub.services.iter().any(|s| &s.name == name) {
                return Err(RoleError::Config(format!(
                    "JupyterHub.load_roles: role {:?}: found undefined service {name}; \
                     define it first in JupyterHub.services",
                    spec.name
                )));
            }
        }
    }
    Ok(())
}

/// The roles to load: defaults, with `load_roles` entries merged over them.
fn roles_to_load(config: &Config, custom: &CustomScopes) -> Result<Vec<RoleConfig>, RoleError> {
    let extra = &config.jupyterhub.extra_user_scopes;
    let mut roles: BTreeMap<String, RoleConfig> = ferrohub_rbac::default_roles(extra)
        .into_iter()
        .map(|r| {
            let role = RoleConfig {
                name: r.name.clone(),
                description: r.description,
                scopes: Some(r.scopes),
                users: None,
                groups: None,
                services: None,
            };
            (r.name, role)
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for spec in &config.jupyterhub.load_roles {
        let bad = |why: String| {
            RoleError::Config(format!(
                "JupyterHub.load_roles: role {:?}: {why}",
                spec.name
            ))
        };
        if !seen.insert(spec.name.clone()) {
            return Err(bad("defined more than once".to_owned()));
        }
        ferrohub_rbac::validate_role_name(&spec.name).map_err(|e| bad(e.to_string()))?;
        for scope in spec.scopes.iter().flatten() {
            ferrohub_rbac::validate(scope, custom).map_err(|e| bad(e.to_string()))?;
        }
        if spec.name == "admin" && spec.scopes.is_some() {
            return Err(bad("the admin role's scopes cannot be changed".to_owned()));
        }
        let merged = match roles.remove(&spec.name) {
            Some(default) => RoleConfig {
                name: spec.name.clone(),
                description: if spec.description.is_empty() {
                    default.description
                } else {
                    spec.description.clone()
                },
                scopes: spec.scopes.clone().or(default.scopes),
                users: spec.users.clone(),
                groups: spec.groups.clone(),
                services: spec.services.clone(),
            },
            None => spec.clone(),
        };
        roles.insert(spec.name.clone(), merged);
    }
    Ok(roles.into_values().collect())
}

/// Brings the database's roles in line with the configuration (upstream's
/// `init_role_creation` + `init_role_assignment`). Runs at every start.
pub(crate) async fn sync(
    store: &Store,
    config: &Config,
    custom: &CustomScopes,
    normalize: impl Fn(&str) -> String,
) -> Result<(), RoleError> {
    let roles = roles_to_load(config, custom)?;
    let upgrade = store.list_roles().await?.is_empty() && store.count_users().await? > 0;
    let wanted: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    for old in store.list_roles().await? {
        if !old.managed_by_auth && !wanted.contains(&old.name.as_str()) {
            tracing::warn!("deleting role {} (no longer configured)", old.name);
            store.delete_role(old.id).await?;
        }
    }
    let mut admin_users_listed = false;
    for spec in &roles {
        let role = store
            .upsert_role(
                &spec.name,
                &spec.description,
                spec.scopes.as_deref().unwrap_or(&[]),
            )
            .await?;
        let mut users = spec.users.clone();
        if spec.name == "admin" {
            admin_users_listed = users.is_some();
        }
        if spec.name == "admin"
            && let Some(users) = users.as_mut()
        {
            users.extend(config.authenticator.admin_users.iter().cloned());
        }
        if let Some(names) = users {
            let mut ids = Vec::new();
            for name in names {
                let name = normalize(&name);
                let user = match store.user_by_name(&name).await? {
                    Some(user) => user,
                    None => {
                        tracing::info!("creating user {name} found in role {}", spec.name);
                        let user = store.create_user(&name, false).await?;
                        grant_by_name(store, RoleHolder::User(user.id), "user").await?;
                        user
                    }
                };
                if spec.name == "admin" && !user.admin {
                    store.set_admin(user.id, true).await?;
                }
                ids.push(user.id);
            }
            store
                .set_role_members(role.id, RoleKind::User, &ids)
                .await?;
        } else if spec.name != "user" && spec.name != "admin" && config_lists(config, &spec.name) {
            store.set_role_members(role.id, RoleKind::User, &[]).await?;
        }
        if let Some(names) = &spec.groups {
            let mut ids = Vec::new();
            for name in names {
                let group = match store.group_by_name(name).await? {
                    Some(group) => group,
                    None => {
                        tracing::info!("creating group {name} found in role {}", spec.name);
                        store.create_group(name, &serde_json::json!({})).await?
                    }
                };
                ids.push(group.id);
            }
            store
                .set_role_members(role.id, RoleKind::Group, &ids)
                .await?;
        } else if config_lists(config, &spec.name) {
            store
                .set_role_members(role.id, RoleKind::Group, &[])
                .await?;
        }
        if let Some(names) = &spec.services {
            let mut ids = Vec::new();
            for name in names {
                let service = store.service_by_name(name).await?.ok_or_else(|| {
                    RoleError::Config(format!(
                        "found undefined service {name} in role {}; define it first in JupyterHub.services",
                        spec.name
                    ))
                })?;
                ids.push(service.id);
            }
            store
                .set_role_members(role.id, RoleKind::Service, &ids)
                .await?;
        } else if config_lists(config, &spec.name) {
            store
                .set_role_members(role.id, RoleKind::Service, &[])
                .await?;
        }
    }
    sync_admin_flags(store, admin_users_listed).await?;
    ensure_user_role_for_all(store, upgrade).await?;
    Ok(())
}

/// Whether the role comes from `load_roles` (then an omitted member list means "none").
fn config_lists(config: &Config, name: &str) -> bool {
    config.jupyterhub.load_roles.iter().any(|r| r.name == name)
}

async fn grant_by_name(store: &Store, holder: RoleHolder, role: &str) -> Result<(), RoleError> {
    if let Some(role) = store.role_by_name(role).await? {
        store.grant_role(holder, role.id).await?;
    }
    Ok(())
}

/// The admin flag and the admin role say the same thing: members of the role are
/// admins; admins join the role unless the config lists the role's users exactly.
async fn sync_admin_flags(store: &Store, admin_users_listed: bool) -> Result<(), RoleError> {
    let Some(admin) = store.role_by_name("admin").await? else {
        return Ok(());
    };
    let members = store.role_member_ids(admin.id).await?;
    for id in &members.users {
        if let Some(user) = store.user_by_id(*id).await?
            && !user.admin
        {
            store.set_admin(user.id, true).await?;
        }
    }
    for user in store.list_admin_users().await? {
        if members.users.contains(&user.id) {
            continue;
        }
        if admin_users_listed {
            tracing::warn!("removing admin from {} (not in the admin role)", user.name);
            store.set_admin(user.id, false).await?;
        } else {
            store
                .grant_role(RoleHolder::User(user.id), admin.id)
                .await?;
        }
    }
    for service in store.list_services().await? {
        if service.admin && !members.services.contains(&service.id) {
            store
                .grant_role(RoleHolder::Service(service.id), admin.id)
                .await?;
        }
    }
    Ok(())
}

/// Every user holds the `user` role (upstream grants it at creation and at login;
/// a database from before roles existed gets it for everyone).
async fn ensure_user_role_for_all(store: &Store, upgrade: bool) -> Result<(), RoleError> {
    let Some(role) = store.role_by_name("user").await? else {
        return Ok(());
    };
    if upgrade {
        tracing::info!("no roles in the database yet: giving every existing user the user role");
    }
    store.grant_role_to_all_users(role.id).await?;
    Ok(())
}

/// Creates a user with the `user` role (and `admin` when asked).
pub(crate) async fn create_user(
    state: &AppState,
    name: &str,
    admin: bool,
) -> Result<UserRecord, ApiError> {
    let user = state.store.create_user(name, admin).await?;
    grant_default_roles(&state.store, &user).await?;
    Ok(user)
}

/// Grants `user`, and `admin` when the flag is set (upstream's `assign_default_roles`).
pub(crate) async fn grant_default_roles(store: &Store, user: &UserRecord) -> Result<(), ApiError> {
    grant_by_name(store, RoleHolder::User(user.id), "user")
        .await
        .map_err(role_error)?;
    if user.admin {
        grant_by_name(store, RoleHolder::User(user.id), "admin")
            .await
            .map_err(role_error)?;
    }
    Ok(())
}

fn role_error(e: RoleError) -> ApiError {
    match e {
        RoleError::Store(e) => e.into(),
        RoleError::Config(message) => ApiError::bad_request(message),
    }
}

/// Sets the admin flag and the admin role together.
pub(crate) async fn set_admin(
    state: &AppState,
    user: &UserRecord,
    admin: bool,
) -> Result<(), ApiError> {
    state.store.set_admin(user.id, admin).await?;
    if let Some(role) = state.store.role_by_name("admin").await? {
        if admin {
            state
                .store
                .grant_role(RoleHolder::User(user.id), role.id)
                .await?;
        } else {
            state
                .store
                .revoke_role(RoleHolder::User(user.id), role.id)
                .await?;
        }
    }
    Ok(())
}

/// Upstream 5.2+'s `init_blocked_users`: a user in `Authenticator.blocked_users`
/// loses admin, every role and every group at start-up, so that credentials
/// issued before the block carry no permissions (the identity check refuses
/// them as well).
pub(crate) async fn revoke_blocked_users(state: &AppState) -> Result<(), RoleError> {
    let store = &state.store;
    for name in state.auth.blocked_users() {
        let Some(user) = store.user_by_name(name).await? else {
            continue;
        };
        if user.admin {
            tracing::warn!("Removing admin permissions from blocked user {name}");
            store.set_admin(user.id, false).await?;
        }
        let holder = RoleHolder::User(user.id);
        let roles = store.roles_of(holder).await?;
        if !roles.is_empty() {
            let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
            tracing::warn!(
                "Removing blocked user {name} from roles: {}",
                names.join(", ")
            );
            for role in &roles {
                store.revoke_role(holder, role.id).await?;
            }
        }
        let groups = store.group_names_of_user(user.id).await?;
        if !groups.is_empty() {
            tracing::warn!(
                "Removing blocked user {name} from groups: {}",
                groups.join(", ")
            );
            store.set_user_groups(user.id, &[]).await?;
        }
    }
    Ok(())
}
