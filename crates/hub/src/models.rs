//! JSON views of users, servers, tokens, groups and services, shaped like
//! upstream's REST API models and trimmed to what the caller's scopes may see
//! (upstream's `_filter_model` access maps).

use ferrohub_rbac::ScopeName;
use ferrohub_rbac::scopes;
use std::collections::BTreeSet;

use ferrohub_core::time::iso_z;
use ferrohub_rbac::{Grant, Resource};
use ferrohub_store::{
    GroupRecord, RoleHolder, ServiceRecord, SpawnerRecord, TokenOwner, TokenRecord, UserRecord,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use std::sync::Arc;

use crate::access::{self, Identity, Principal};
use crate::credential_cache::{Stamp, UserRelations};
use crate::error::ApiError;
use crate::runtime::Phase;
use crate::state::AppState;

/// A timestamp as upstream writes it (`...Z`), or null.
#[must_use]
pub(crate) fn ts(value: Option<&ferrohub_core::time::Timestamp>) -> Value {
    value.map_or(Value::Null, |t| Value::String(iso_z(t)))
}

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
        "url": state.urls.server_url(&user.name, &record.name),
        "user_options": record.user_options,
        "progress_url": progress_url(state, &user.name, &record.name),
        "full_url": state.urls.full_server_url(&user.name, &record.name),
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
    let relations = user_relations(state, user.id).await?;
    let access = UserAccess::of(who);
    let model = UserModel::new(
        state,
        who,
        &access,
        user,
        &relations,
        include_stopped_servers,
    );
    Ok(serde_json::to_value(&model).unwrap_or_else(|_| json!({})))
}

/// A user's groups, roles and servers: from the cache while the store has
/// not changed since they were read, else three queries.
async fn user_relations(state: &AppState, user_id: i64) -> Result<Arc<UserRelations>, ApiError> {
    let stamp = Stamp::of(&state.store);
    if let Some(relations) = state.credentials.relations(user_id, stamp) {
        return Ok(relations);
    }
    let relations = Arc::new(UserRelations {
        groups: state.store.group_names_of_user(user_id).await?,
        roles: state
            .store
            .roles_of(RoleHolder::User(user_id))
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect(),
        spawners: state.store.spawners_of(user_id).await?,
    });
    state
        .credentials
        .put_relations(user_id, stamp, Arc::clone(&relations));
    Ok(relations)
}

/// The relations of a page of users: from the cache where current, the
/// others with three queries for the whole page (not three per user).
pub(crate) async fn page_relations(
    state: &AppState,
    users: &[UserRecord],
) -> Result<Vec<Arc<UserRelations>>, ApiError> {
    let stamp = Stamp::of(&state.store);
    let mut cached: Vec<Option<Arc<UserRelations>>> = users
        .iter()
        .map(|u| state.credentials.relations(u.id, stamp))
        .collect();
    let missing: Vec<i64> = users
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|(u, _)| u.id)
        .collect();
    if !missing.is_empty() {
        let mut groups = state.store.group_names_of_users(&missing).await?;
        let mut roles = state.store.role_names_of_users(&missing).await?;
        let mut spawners = state.store.spawners_of_users(&missing).await?;
        for (user, slot) in users.iter().zip(cached.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let relations = Arc::new(UserRelations {
                groups: groups.remove(&user.id).unwrap_or_default(),
                roles: roles.remove(&user.id).unwrap_or_default(),
                spawners: spawners.remove(&user.id).unwrap_or_default(),
            });
            state
                .credentials
                .put_relations(user.id, stamp, Arc::clone(&relations));
            *slot = Some(relations);
        }
    }
    Ok(cached.into_iter().map(Option::unwrap_or_default).collect())
}

/// One key of the user model, as a bit of a [`UserKeys`] set.
#[derive(Debug, Clone, Copy)]
#[repr(u16)]
enum UserKey {
    Kind = 1,
    Name = 1 << 1,
    UserInfo = 1 << 2,
    Admin = 1 << 3,
    Roles = 1 << 4,
    Groups = 1 << 5,
    Server = 1 << 6,
    Pending = 1 << 7,
    Created = 1 << 8,
    LastActivity = 1 << 9,
    Servers = 1 << 10,
    AuthState = 1 << 11,
}

/// The keys of the user model a caller may see (upstream's access map).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UserKeys(u16);

impl UserKeys {
    const fn of(keys: &[UserKey]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < keys.len() {
            bits |= keys[i] as u16;
            i += 1;
        }
        Self(bits)
    }

    fn has(self, key: UserKey) -> bool {
        self.0 & key as u16 != 0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOrAssign for UserKeys {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

/// Keys of the user model each scope reveals (upstream's `_filter_model` map).
const USER_ACCESS: &[(ScopeName, UserKeys)] = {
    use UserKey::{
        Admin, AuthState, Created, Groups, Kind, LastActivity, Name, Pending, Roles, Server,
        Servers, UserInfo,
    };
    &[
        (
            scopes::READ_USERS,
            UserKeys::of(&[
                Kind,
                Name,
                UserInfo,
                Admin,
                Roles,
                Groups,
                Server,
                Pending,
                Created,
                LastActivity,
            ]),
        ),
        (
            scopes::READ_USERS_NAME,
            UserKeys::of(&[Kind, Name, UserInfo, Admin]),
        ),
        (
            scopes::READ_USERS_GROUPS,
            UserKeys::of(&[Kind, Name, Groups]),
        ),
        (
            scopes::READ_USERS_ACTIVITY,
            UserKeys::of(&[Kind, Name, LastActivity]),
        ),
        (scopes::READ_SERVERS, UserKeys::of(&[Kind, Name, Servers])),
        (
            scopes::READ_ROLES_USERS,
            UserKeys::of(&[Kind, Name, Roles, Admin]),
        ),
        (
            scopes::ADMIN_AUTH_STATE,
            UserKeys::of(&[Kind, Name, AuthState]),
        ),
    ]
};

/// What a caller's scopes show of user models, worked out once per request:
/// keys granted unfiltered apply to every user, filtered grants are checked
/// per user.
pub(crate) struct UserAccess<'a> {
    who: &'a Identity,
    always: UserKeys,
    filtered: Vec<(ScopeName, UserKeys)>,
}

impl<'a> UserAccess<'a> {
    /// The access of `who`.
    #[must_use]
    pub(crate) fn of(who: &'a Identity) -> Self {
        let mut always = UserKeys::default();
        let mut filtered = Vec::new();
        for (scope, keys) in USER_ACCESS {
            match who.scopes.grant(scope.as_str()) {
                Some(Grant::All) => always |= *keys,
                Some(Grant::Filtered(_)) => filtered.push((*scope, *keys)),
                None => {}
            }
        }
        Self {
            who,
            always,
            filtered,
        }
    }

    fn keys(&self, resource: &Resource<'_>) -> UserKeys {
        let mut keys = self.always;
        for (scope, more) in &self.filtered {
            if self.who.scopes.allows(scope.as_str(), resource) {
                keys |= *more;
            }
        }
        keys
    }
}

/// A user's model as a caller may see it, serialized straight from the
/// records (no JSON tree in between), with the keys in the order a JSON
/// object of the same model is written.
pub(crate) struct UserModel<'a> {
    keys: UserKeys,
    user: &'a UserRecord,
    relations: &'a UserRelations,
    default_phase: Phase,
    server: Option<String>,
    servers: Map<String, Value>,
}

impl<'a> UserModel<'a> {
    /// The model of `user` as `who` (whose `access` it is) may see it.
    #[must_use]
    pub(crate) fn new(
        state: &AppState,
        who: &Identity,
        access: &UserAccess<'_>,
        user: &'a UserRecord,
        relations: &'a UserRelations,
        include_stopped_servers: bool,
    ) -> Self {
        let groups = &relations.groups;
        let keys = access.keys(&Resource::User {
            name: &user.name,
            groups,
        });
        let mut model = Self {
            keys,
            user,
            relations,
            default_phase: Phase::Stopped,
            server: None,
            servers: Map::new(),
        };
        if keys.is_empty() {
            return model;
        }
        let mut default_phase = None;
        for record in &relations.spawners {
            let phase = state.servers.phase(&user.name, &record.name);
            let active = phase.pending().is_some() || phase == Phase::Ready;
            let shown = (active || include_stopped_servers)
                && who.scopes.allows(
                    scopes::READ_SERVERS.as_str(),
                    &Resource::Server {
                        user: &user.name,
                        server: &record.name,
                        groups,
                    },
                );
            if shown {
                let server = server_model(state, who, user, groups, record);
                model.servers.insert(record.name.clone(), server);
            }
            if record.name.is_empty() {
                default_phase = Some(phase);
            }
        }
        model.default_phase = default_phase.unwrap_or_else(|| state.servers.phase(&user.name, ""));
        if model.default_phase == Phase::Ready {
            model.server = Some(state.urls.server_url(&user.name, ""));
        }
        model
    }

    /// Whether the caller may see nothing of this user (the model is `{}`).
    #[must_use]
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A timestamp as upstream writes it, or null, for serializing.
struct Ts<'a>(Option<&'a ferrohub_core::time::Timestamp>);

impl Serialize for Ts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(t) => serializer.serialize_str(&iso_z(t)),
            None => serializer.serialize_none(),
        }
    }
}

impl Serialize for UserModel<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use UserKey::{
            Admin, AuthState, Created, Groups, Kind, LastActivity, Name, Pending, Roles, Server,
            Servers, UserInfo,
        };
        let keys = self.keys;
        let mut map = serializer.serialize_map(None)?;
        if keys.is_empty() {
            return map.end();
        }
        let user = self.user;
        // Alphabetical, as serde_json writes an object.
        if keys.has(Admin) {
            map.serialize_entry("admin", &user.admin)?;
        }
        if keys.has(AuthState) {
            map.serialize_entry("auth_state", &())?;
        }
        if keys.has(Created) {
            map.serialize_entry("created", &Ts(user.created.as_ref()))?;
        }
        if keys.has(Groups) {
            map.serialize_entry("groups", &self.relations.groups)?;
        }
        if keys.has(Kind) {
            map.serialize_entry("kind", "user")?;
        }
        if keys.has(LastActivity) {
            map.serialize_entry("last_activity", &Ts(user.last_activity.as_ref()))?;
        }
        if keys.has(Name) {
            map.serialize_entry("name", &user.name)?;
        }
        if keys.has(Pending) {
            map.serialize_entry("pending", &self.default_phase.pending())?;
        }
        if keys.has(Roles) {
            map.serialize_entry("roles", &self.relations.roles)?;
        }
        if keys.has(Server) {
            map.serialize_entry("server", &self.server)?;
        }
        if keys.has(Servers) || !self.servers.is_empty() {
            map.serialize_entry("servers", &self.servers)?;
        }
        if keys.has(UserInfo) {
            map.serialize_entry("user_info", &user.user_info)?;
        }
        map.end()
    }
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
