//! JSON views of users, servers, tokens, groups and services, shaped like
//! upstream's REST API models and trimmed to what the caller's scopes may see
//! (upstream's `_filter_model` access maps).

use ferrohub_rbac::ScopeName;
use ferrohub_rbac::scopes;
use std::collections::BTreeSet;

use ferrohub_core::time::iso_z;
use ferrohub_rbac::Resource;
use ferrohub_store::{
    GroupRecord, RoleHolder, ServiceRecord, SpawnerRecord, TokenOwner, TokenRecord, UserRecord,
};
use serde_json::{Map, Value, json};

use crate::access::{self, Identity, Principal};
use crate::error::ApiError;
use crate::runtime::Phase;
use crate::state::AppState;

/// A timestamp as upstream writes it (`...Z`), or null.
#[must_use]
pub(crate) fn ts(value: Option<&ferrohub_core::time::Timestamp>) -> Value {
    value.map_or(Value::Null, |t| Value::String(iso_z(t)))
}

/// Keys of the user model each scope reveals.
const USER_ACCESS: &[(ScopeName, &[&str])] = &[
    (
        scopes::READ_USERS,
        &[
            "kind",
            "name",
            "user_info",
            "admin",
            "roles",
            "groups",
            "server",
            "pending",
            "created",
            "last_activity",
        ],
    ),
    (
        scopes::READ_USERS_NAME,
        &["kind", "name", "user_info", "admin"],
    ),
    (scopes::READ_USERS_GROUPS, &["kind", "name", "groups"]),
    (
        scopes::READ_USERS_ACTIVITY,
        &["kind", "name", "last_activity"],
    ),
    (scopes::READ_SERVERS, &["kind", "name", "servers"]),
    (
        scopes::READ_ROLES_USERS,
        &["kind", "name", "roles", "admin"],
    ),
    (scopes::ADMIN_AUTH_STATE, &["kind", "name", "auth_state"]),
];

const GROUP_ACCESS: &[(ScopeName, &[&str])] = &[
    (
        scopes::READ_GROUPS,
        &["kind", "name", "properties", "users"],
    ),
    (scopes::READ_GROUPS_NAME, &["kind", "name"]),
    (scopes::READ_ROLES_GROUPS, &["kind", "name", "roles"]),
];

const SERVICE_ACCESS: &[(ScopeName, &[&str])] = &[
    (
        scopes::READ_SERVICES,
        &[
            "kind", "name", "admin", "url", "prefix", "command", "pid", "info", "display",
        ],
    ),
    (scopes::READ_SERVICES_NAME, &["kind", "name", "admin"]),
    (
        scopes::READ_ROLES_SERVICES,
        &["kind", "name", "roles", "admin"],
    ),
];

/// The keys `who` may see of a resource, given an access map.
fn allowed_keys(
    who: &Identity,
    map: &[(ScopeName, &[&'static str])],
    resource: &Resource<'_>,
) -> BTreeSet<&'static str> {
    map.iter()
        .filter(|(scope, _)| who.scopes.allows(scope.as_str(), resource))
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect()
}

fn keep(model: Map<String, Value>, keys: &BTreeSet<&str>) -> Map<String, Value> {
    model
        .into_iter()
        .filter(|(k, _)| keys.contains(k.as_str()))
        .collect()
}

/// The progress URL of a server.
#[must_use]
pub(crate) fn progress_url(state: &AppState, user: &str, server: &str) -> String {
    let quoted = ferrohub_core::url::quote_name(user);
    if server.is_empty() {
        format!("{}api/users/{quoted}/server/progress", state.urls.hub)
    } else {
        format!(
            "{}api/users/{quoted}/servers/{}/progress",
            state.urls.hub,
            ferrohub_core::url::quote_name(server)
        )
    }
}

/// The server model of one spawner (the caller already may read it); `state`
/// only with `admin:server_state` on that server.
#[must_use]
pub(crate) fn server_model(
    state: &AppState,
    who: &Identity,
    user: &UserRecord,
    groups: &[String],
    record: &SpawnerRecord,
) -> Value {
    let phase = state.servers.phase(&user.name, &record.name);
    let stopped = matches!(phase, Phase::Stopped | Phase::Failed(_));
    let mut model = json!({
        "name": record.name,
        "display_name": record.display_name,
        "full_name": format!("{}/{}", user.name, record.name),
        "last_activity": ts(record.last_activity.as_ref()),
        "started": ts(record.started.as_ref()),
        "pending": phase.pending(),
        "ready": phase == Phase::Ready,
        "stopped": stopped,
        "url": state.urls.server_prefix(&user.name, &record.name),
        "user_options": record.user_options,
        "progress_url": progress_url(state, &user.name, &record.name),
        "full_url": null,
        "full_progress_url": null,
    });
    let resource = Resource::Server {
        user: &user.name,
        server: &record.name,
        groups,
    };
    if who
        .scopes
        .allows(scopes::ADMIN_SERVER_STATE.as_str(), &resource)
    {
        model["state"] = if stopped {
            json!({})
        } else {
            record.state.clone()
        };
    }
    model
}

/// The user model as `who` may see it; `{}` when nothing is visible.
pub(crate) async fn user_model(
    state: &AppState,
    who: &Identity,
    user: &UserRecord,
    include_stopped_servers: bool,
) -> Result<Value, ApiError> {
    let extras = UserExtras {
        groups: state.store.group_names_of_user(user.id).await?,
        roles: state
            .store
            .roles_of(RoleHolder::User(user.id))
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect(),
        spawners: state.store.spawners_of(user.id).await?,
    };
    Ok(user_model_from(
        state,
        who,
        user,
        include_stopped_servers,
        &extras,
    ))
}

/// The models of a page of users, with three queries for the whole page
/// instead of three per user.
pub(crate) async fn user_models(
    state: &AppState,
    who: &Identity,
    users: &[UserRecord],
    include_stopped_servers: bool,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut groups = state.store.group_names_of_users(&ids).await?;
    let mut roles = state.store.role_names_of_users(&ids).await?;
    let mut spawners = state.store.spawners_of_users(&ids).await?;
    Ok(users
        .iter()
        .map(|user| {
            let extras = UserExtras {
                groups: groups.remove(&user.id).unwrap_or_default(),
                roles: roles.remove(&user.id).unwrap_or_default(),
                spawners: spawners.remove(&user.id).unwrap_or_default(),
            };
            user_model_from(state, who, user, include_stopped_servers, &extras)
        })
        .collect())
}

/// What a user's model shows besides the user row.
struct UserExtras {
    /// Group names, sorted.
    groups: Vec<String>,
    /// Role names, sorted.
    roles: Vec<String>,
    /// Spawners (servers), sorted by name.
    spawners: Vec<SpawnerRecord>,
}

fn user_model_from(
    state: &AppState,
    who: &Identity,
    user: &UserRecord,
    include_stopped_servers: bool,
    extras: &UserExtras,
) -> Value {
    let groups = &extras.groups;
    let resource = Resource::User {
        name: &user.name,
        groups,
    };
    let keys = allowed_keys(who, USER_ACCESS, &resource);
    if keys.is_empty() {
        return json!({});
    }
    let roles = &extras.roles;
    let default_phase = state.servers.phase(&user.name, "");
    let running = default_phase == Phase::Ready;
    let full = json!({
        "kind": "user",
        "name": user.name,
        "admin": user.admin,
        "roles": roles,
        "groups": groups,
        "server": running.then(|| state.urls.server_prefix(&user.name, "")),
        "pending": default_phase.pending(),
        "created": ts(user.created.as_ref()),
        "last_activity": ts(user.last_activity.as_ref()),
        "auth_state": null,
    });
    let Value::Object(full) = full else {
        unreachable!("a json! object literal is an object")
    };
    let mut model = keep(full, &keys);
    let mut servers = Map::new();
    for record in &extras.spawners {
        let phase = state.servers.phase(&user.name, &record.name);
        let active = phase.pending().is_some() || phase == Phase::Ready;
        let visible = who.scopes.allows(
            scopes::READ_SERVERS.as_str(),
            &Resource::Server {
                user: &user.name,
                server: &record.name,
                groups,
            },
        );
        if (active || include_stopped_servers) && visible {
            let server = server_model(state, who, user, groups, record);
            servers.insert(record.name.clone(), server);
        }
    }
    if keys.contains("servers") || !servers.is_empty() {
        model.insert("servers".into(), Value::Object(servers));
    }
    if keys.contains("user_info") {
        model.insert(
            "user_info".into(),
            user.user_info.clone().unwrap_or(Value::Null),
        );
    }
    Value::Object(model)
}

/// The group model as `who` may see it.
pub(crate) async fn group_model(
    state: &AppState,
    who: &Identity,
    group: &GroupRecord,
) -> Result<Value, ApiError> {
    let keys = allowed_keys(who, GROUP_ACCESS, &Resource::Group { name: &group.name });
    let roles: Vec<String> = state
        .store
        .roles_of(RoleHolder::Group(group.id))
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let users = if keys.contains("users") {
        state.store.group_member_names(group.id).await?
    } else {
        Vec::new()
    };
    let Value::Object(full) = json!({
        "kind": "group",
        "name": group.name,
        "roles": roles,
        "users": users,
        "properties": group.properties,
    }) else {
        unreachable!("a json! object literal is an object")
    };
    Ok(Value::Object(keep(full, &keys)))
}

/// The service model as `who` may see it.
pub(crate) async fn service_model(
    state: &AppState,
    who: &Identity,
    service: &ServiceRecord,
) -> Result<Value, ApiError> {
    let keys = allowed_keys(
        who,
        SERVICE_ACCESS,
        &Resource::Service {
            name: &service.name,
        },
    );
    Ok(Value::Object(keep(
        full_service_model(state, service).await?,
        &keys,
    )))
}

/// Every field of a service's model.
pub(crate) async fn full_service_model(
    state: &AppState,
    service: &ServiceRecord,
) -> Result<Map<String, Value>, ApiError> {
    let roles: Vec<String> = state
        .store
        .roles_of(RoleHolder::Service(service.id))
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let prefix = service
        .server
        .as_ref()
        .map_or_else(String::new, |s| s.base_url.clone());
    let Value::Object(model) = json!({
        "kind": "service",
        "name": service.name,
        "roles": roles,
        "admin": service.admin,
        "url": service.url.clone().unwrap_or_default(),
        "prefix": prefix,
        "command": service.command,
        "pid": service.pid.unwrap_or(0),
        "info": service.info,
        "display": service.display,
    }) else {
        unreachable!("a json! object literal is an object")
    };
    Ok(model)
}

/// The token model: its effective scopes, owner and client.
pub(crate) async fn token_model(state: &AppState, token: &TokenRecord) -> Result<Value, ApiError> {
    let principal = access::token_principal(state, token).await?;
    let scopes = match &principal {
        Some(principal) => access::token_scopes(state, token, principal)
            .await?
            .to_strings(),
        None => Vec::new(),
    };
    let client = state.store.oauth_client(&token.client_id).await?;
    let client_name = client.map_or_else(
        || token.client_id.clone(),
        |c| {
            if c.description.is_empty() {
                c.identifier
            } else {
                c.description
            }
        },
    );
    let mut model = json!({
        "id": format!("a{}", token.id),
        "kind": "api_token",
        "roles": [],
        "scopes": scopes,
        "created": ts(token.created.as_ref()),
        "last_activity": ts(token.last_activity.as_ref()),
        "expires_at": ts(token.expires_at.as_ref()),
        // Upstream's `APIToken.new` stores '' when no note is given (OAuth
        // tokens included), so clients always get a string.
        "note": token.note.clone().unwrap_or_default(),
        "session_id": token.session_id,
        "oauth_client": client_name,
    });
    let (key, name) = match (&principal, token.owner) {
        (Some(Principal::User(u)), _) => ("user", u.name.clone()),
        (Some(Principal::Service(s)), _) => ("service", s.name.clone()),
        (None, TokenOwner::User(_)) => ("user", String::new()),
        (None, TokenOwner::Service(_)) => ("service", String::new()),
    };
    model[key] = json!(name);
    Ok(model)
}
