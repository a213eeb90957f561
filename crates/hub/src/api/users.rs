//! Users: who am I, list, create, edit, delete, and activity reports.

use ferrohub_rbac::scopes;
use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_rbac::Grant;
use ferrohub_store::{ServerState, UserQuery, UserRecord, UserSort, Visibility};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request, json_body};
use crate::access::{Principal, Target};
use crate::error::ApiError;
use crate::models::{service_model, user_model};
use crate::runtime::{Phase, stop};
use crate::service;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// Looks a user up by name; 404 if missing (the scope check already ran).
pub(super) async fn find_user(state: &AppState, name: &str) -> Result<UserRecord, ApiError> {
    state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such user: {name}")))
}

/// `GET /user`: who the token or cookie belongs to, with the credential's scopes.
pub(super) async fn whoami(State(state): State<AppState>, Caller(who): Caller) -> ApiResult {
    let mut model = match &who.principal {
        Principal::User(user) => user_model(&state, &who, user, false).await?,
        Principal::Service(service) => service_model(&state, &who, service).await?,
    };
    model["token_id"] = json!(who.token.as_ref().map(|t| format!("a{}", t.id)));
    model["session_id"] = json!(who.session_id);
    model["scopes"] = json!(who.scopes.to_strings());
    Ok(Json(model).into_response())
}

fn include_stopped(request: &Request) -> bool {
    request
        .query("include_stopped_servers")
        .is_some_and(|v| !matches!(v.to_lowercase().as_str(), "0" | "false"))
}

/// `GET /users`: filtered, sorted, paginated, and limited to the users the
/// caller's `list:users` scope covers.
pub(super) async fn list(
    State(state): State<AppState>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require_any_form(&[scopes::LIST_USERS])?;
    let visible = match who.scopes.grant(scopes::LIST_USERS.as_str()) {
        Some(Grant::Filtered(f)) => {
            if !f.servers.is_empty() || !f.services.is_empty() {
                return Err(ApiError::forbidden(
                    "list:users may only be filtered by user or group",
                ));
            }
            Some(Visibility {
                users: f.users.clone(),
                groups: f.groups.clone(),
            })
        }
        _ => None,
    };
    let sort_param = request.query("sort").unwrap_or("id").to_owned();
    let (descending, column) = match sort_param.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sort_param.as_str()),
    };
    let sort = match column {
        "id" => UserSort::Id,
        "name" => UserSort::Name,
        "last_activity" => UserSort::LastActivity,
        _ => {
            return Err(ApiError::bad_request(format!(
                "sort must be 'id', 'name', or 'last_activity', not '{sort_param}'"
            )));
        }
    };
    let state_filter = request.query("state").map(str::to_owned);
    let server_state = match state_filter.as_deref() {
        None | Some("") => None,
        Some("active" | "ready") => Some(ServerState::Active),
        Some("inactive") => Some(ServerState::Inactive),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unrecognized state filter: '{other}'"
            )));
        }
    };
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let query = UserQuery {
        name_filter: request
            .query("name_filter")
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
        state: server_state,
        sort,
        descending,
        offset: page.offset,
        limit: page.limit,
        visible,
    };
    let (users, total) = state.store.list_users_page(&query).await?;
    let stopped = include_stopped(&request);
    let users: Vec<_> = users
        .into_iter()
        .filter(|u| state_filter.as_deref() != Some("ready") || state.servers.any_ready(&u.name))
        .collect();
    let models: Vec<Value> = crate::models::user_models(&state, &who, &users, stopped)
        .await?
        .into_iter()
        .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
        .collect();
    Ok(page.respond(
        models,
        total,
        &request.headers,
        &request.uri,
        request.scheme(),
    ))
}

/// `GET /users/{name}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(
        &state,
        &[
            scopes::READ_USERS,
            scopes::READ_USERS_NAME,
            scopes::READ_SERVERS,
            scopes::READ_USERS_GROUPS,
            scopes::READ_USERS_ACTIVITY,
            scopes::READ_ROLES_USERS,
        ],
        Target::User(&name),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    let model = user_model(&state, &who, &user, include_stopped(&request)).await?;
    Ok(Json(model).into_response())
}

/// Upstream's `_check_user_model`: only these keys, each of this JSON type.
fn check_user_model(model: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in model {
        let ok = match key.as_str() {
            "name" => value.is_string(),
            "admin" => value.is_boolean(),
            "groups" | "roles" => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            "auth_state" => value.is_object(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid JSON key {key:?}: allowed are name, admin, groups, roles, auth_state"
                )));
            }
        };
        if !ok {
            return Err(ApiError::bad_request(format!(
                "user.{key} has the wrong type: {value}"
            )));
        }
    }
    Ok(())
}

fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match json_body(body)? {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid JSON data: expected an object, got {other}"
        ))),
    }
}

fn normalize_and_validate(state: &AppState, name: &str) -> Result<String, ()> {
    let normalized = state.auth.normalize_username(name);
    ferrohub_core::names::validate_username(&normalized)
        .map(|()| normalized)
        .map_err(drop)
}

/// `POST /users`: creates several users; existing ones are skipped.
pub(super) async fn create_many(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::ADMIN_USERS], Target::Hub)
        .await?;
    let mut data = object_body(&body)?;
    let names = match data.remove("usernames") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ApiError::bad_request(
                "Must specify at least one user to create",
            ));
        }
    };
    check_user_model(&data)?;
    let admin = data.get("admin").and_then(Value::as_bool).unwrap_or(false);
    if admin {
        who.hub_admin("Only admins can grant admin permissions")?;
    }
    let mut invalid = Vec::new();
    let mut to_create = BTreeSet::new();
    for name in &names {
        let Some(name) = name.as_str() else {
            invalid.push(name.to_string());
            continue;
        };
        match normalize_and_validate(&state, name) {
            Ok(normalized) if service::users::is_superuser_name(&normalized).await => {
                invalid.push(name.to_owned());
            }
            Ok(normalized) => {
                if state.store.user_by_name(&normalized).await?.is_none() {
                    to_create.insert(normalized);
                }
            }
            Err(()) => invalid.push(name.to_owned()),
        }
    }
    match invalid.as_slice() {
        [] => {}
        [one] => return Err(ApiError::bad_request(format!("Invalid username: {one}"))),
        many => {
            return Err(ApiError::bad_request(format!(
                "Invalid usernames: {}",
                many.join(", ")
            )));
        }
    }
    if to_create.is_empty() {
        return Err(ApiError::conflict(format!(
            "All {} users already exist",
            names.len()
        )));
    }
    let mut models = Vec::new();
    for name in to_create {
        let user = crate::roles::create_user(&state, &name, admin).await?;
        tracing::info!(user = %user.name, by = %who.name(), "created user");
        models.push(user_model(&state, &who, &user, false).await?);
    }
    Ok((StatusCode::CREATED, Json(models)).into_response())
}

/// `POST /users/{name}`: creates one user.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::ADMIN_USERS], Target::User(&name))
        .await?;
    let data = object_body(&body)?;
    check_user_model(&data)?;
    let admin = data.get("admin").and_then(Value::as_bool).unwrap_or(false);
    if admin {
        who.hub_admin("Only admins can grant admin permissions")?;
    }
    let normalized = normalize_and_validate(&state, &name)
        .map_err(|()| ApiError::bad_request(format!("Invalid username: {name}")))?;
    service::users::check_not_superuser(&normalized).await?;
    if state.store.user_by_name(&normalized).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "User {normalized} already exists"
        )));
    }
    let user = crate::roles::create_user(&state, &normalized, admin).await?;
    tracing::info!(user = %user.name, by = %who.name(), "created user");
    Ok((
        StatusCode::CREATED,
        Json(user_model(&state, &who, &user, false).await?),
    )
        .into_response())
}

/// `PATCH /users/{name}`: rename, admin flag, groups, roles. `admin:users`
/// on the user is needed for any of it; the admin flag and roles only a full
/// admin may change, group changes need `groups` on each group, and a rename
/// needs `admin:users` under the new name as well (see `crate::capability`).
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let target = who.user_admin(&state, &name).await?;
    let data = object_body(&body)?;
    check_user_model(&data)?;
    if data.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one field to modify.",
        ));
    }
    if data.contains_key("auth_state") {
        return Err(ApiError::bad_request(
            "auth_state is not supported by this hub's authenticators",
        ));
    }
    // Every permission is checked before anything changes.
    let admin_change = data.get("admin").and_then(Value::as_bool);
    let needs_admin =
        target.user().admin || admin_change == Some(true) || data.contains_key("roles");
    let full_admin = if needs_admin {
        let why = if target.user().admin {
            "Only admins can modify other admins"
        } else if data.contains_key("roles") {
            "Only admins can grant roles"
        } else {
            "Only admins can grant admin permissions"
        };
        Some(who.hub_admin(why)?)
    } else {
        None
    };
    let groups = match data.get("groups") {
        Some(Value::Array(groups)) => {
            let names: Vec<String> = groups
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect();
            Some(who.group_membership(&state, &target, &names).await?)
        }
        _ => None,
    };
    let rename = match data.get("name") {
        Some(Value::String(new_name)) if *new_name != target.user().name => {
            let new_name = normalize_and_validate(&state, new_name)
                .map_err(|()| ApiError::bad_request(format!("Invalid username: {new_name}")))?;
            Some(who.rename(&target, &new_name)?)
        }
        _ => None,
    };
    let mut current = target.user().name.clone();
    if let Some(rename) = rename {
        let new_name = rename.new_name().to_owned();
        service::users::rename(&state, &current, rename).await?;
        tracing::info!(from = %current, to = %new_name, by = %who.name(), "renamed user");
        current = new_name;
    }
    if let (Some(admin), Some(by)) = (admin_change, full_admin.as_ref())
        && admin != target.user().admin
    {
        service::users::set_admin(&state, by, &target, admin).await?;
    }
    if let Some(change) = groups {
        service::users::set_groups(&state, change).await?;
    }
    if let (Some(Value::Array(roles)), Some(by)) = (data.get("roles"), full_admin.as_ref()) {
        let names: Vec<String> = roles
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        service::users::set_roles(&state, by, &target, &names).await?;
    }
    let user = find_user(&state, &current).await?;
    let mut model = user_model(&state, &who, &user, false).await?;
    model["auth_state"] = Value::Null;
    Ok(Json(model).into_response())
}

/// `DELETE /users/{name}`: stops the user's servers, then deletes the user.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::DELETE_USERS], Target::User(&name))
        .await?;
    let user = find_user(&state, &name).await?;
    if who.user().is_some_and(|u| u.id == user.id) {
        return Err(ApiError::bad_request("Cannot delete yourself!"));
    }
    for record in state.store.spawners_of(user.id).await? {
        let phase = state.servers.phase(&user.name, &record.name);
        if phase == Phase::Stopping || phase == Phase::Spawning {
            return Err(ApiError::bad_request(format!(
                "{}'s server is in the process of {}, please wait.",
                user.name,
                if phase == Phase::Stopping {
                    "stopping"
                } else {
                    "starting"
                }
            )));
        }
        if !stop::request_stop(&state.runtime, &user, &record.name).await {
            return Err(ApiError::bad_request(format!(
                "{name}'s server is in the process of stopping, please wait."
            )));
        }
    }
    state.store.delete_user(user.id).await?;
    state.servers.remove_user(&user.name);
    tracing::info!(user = %user.name, by = %who.name(), "deleted user");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_activity(text: &Value) -> Result<ferrohub_core::time::Timestamp, ApiError> {
    let Some(text) = text.as_str() else {
        return Err(ApiError::bad_request(format!(
            "last_activity {text} is not an ISO-8601 timestamp"
        )));
    };
    let ts = ferrohub_core::time::parse_client(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "last_activity {text:?} is not an ISO-8601 timestamp"
        ))
    })?;
    if ts > ferrohub_core::time::now() + chrono::Duration::minutes(59) {
        return Err(ApiError::bad_request(format!(
            "last_activity {text:?} is more than an hour in the future"
        )));
    }
    Ok(ts)
}

/// `POST /users/{name}/activity`: servers report their last activity; it only moves forward.
pub(super) async fn activity(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::USERS_ACTIVITY], Target::User(&name))
        .await?;
    let user = find_user(&state, &name).await?;
    let report = object_body(&body)?;
    if !report.contains_key("last_activity") && !report.contains_key("servers") {
        return Err(ApiError::bad_request(
            "body must contain at least one of `last_activity` or `servers`",
        ));
    }
    let mut updates = Vec::new();
    match report.get("servers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(servers)) => {
            for (server, activity) in servers {
                let record = state.store.spawner(user.id, server).await?.ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "No such server '{server}' for user {}",
                        user.name
                    ))
                })?;
                match activity.get("last_activity") {
                    Some(text) => updates.push((record.id, parse_activity(text)?)),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "servers.{server} must have a last_activity timestamp"
                        )));
                    }
                }
            }
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "servers must be an object, not {other}"
            )));
        }
    }
    let user_ts = report
        .get("last_activity")
        .filter(|v| !v.is_null())
        .map(parse_activity)
        .transpose()?;
    for (spawner_id, ts) in &updates {
        state.store.touch_spawner(*spawner_id, ts).await?;
    }
    if let Some(ts) = user_ts.or_else(|| updates.iter().map(|(_, t)| *t).max()) {
        state.store.touch_user(user.id, &ts).await?;
    }
    Ok(StatusCode::OK.into_response())
}
