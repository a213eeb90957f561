//! Users: who am I, list, create, edit, delete, and activity reports.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_core::time::Timestamp;
use ferrohub_store::{ServerState, UserQuery, UserSort};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request, json_body};
use crate::access::Principal;
use crate::capability::{AdminUsers, DeleteUser, ReadAuthState, ReadUser, UserActivity};
use crate::error::ApiError;
use crate::models::{UserAccess, UserModel, page_relations, service_model, user_model};
use crate::service;
use crate::service::users::ActivityReport;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

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
    let listing = who.user_listing()?;
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
        visible: None,
    };
    let (users, total) = service::users::list(&state, &listing, query).await?;
    let stopped = include_stopped(&request);
    let users: Vec<_> = users
        .into_iter()
        .filter(|u| state_filter.as_deref() != Some("ready") || state.servers.any_ready(&u.name))
        .collect();
    let relations = page_relations(&state, &users).await?;
    let access = UserAccess::of(&who);
    let models: Vec<UserModel<'_>> = users
        .iter()
        .zip(&relations)
        .map(|(user, relations)| UserModel::new(&state, &who, &access, user, relations, stopped))
        .filter(|model| !model.is_empty())
        .collect();
    Ok(page.respond_with(
        &models,
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
    let may = who.on_user::<ReadUser>(&state, &name).await?;
    let user = service::users::get(&state, &may).await?;
    let mut model = user_model(&state, &who, &user, include_stopped(&request)).await?;
    // The model has the key only for holders of `admin:auth_state` on the
    // user; upstream fills it in here (listings keep the placeholder).
    if model.get("auth_state").is_some() {
        let may = who.on_user::<ReadAuthState>(&state, &user.name).await?;
        model["auth_state"] = json!(service::users::auth_state(&state, &may).await?);
    }
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

/// `POST /users`: creates several users; existing ones are skipped.
pub(super) async fn create_many(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_hub::<AdminUsers>(&state).await?;
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
    let full_admin = if admin {
        Some(who.hub_admin("Only admins can grant admin permissions")?)
    } else {
        None
    };
    let not_text: Vec<String> = names
        .iter()
        .filter(|n| !n.is_string())
        .map(Value::to_string)
        .collect();
    match not_text.as_slice() {
        [] => {}
        [one] => return Err(ApiError::bad_request(format!("Invalid username: {one}"))),
        many => {
            return Err(ApiError::bad_request(format!(
                "Invalid usernames: {}",
                many.join(", ")
            )));
        }
    }
    let names: Vec<String> = names
        .iter()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    let created = service::users::create_many(&state, &may, &names, full_admin.as_ref()).await?;
    let mut models = Vec::with_capacity(created.len());
    for user in &created {
        tracing::info!(user = %user.name, by = %who.name(), "created user");
        models.push(user_model(&state, &who, user, false).await?);
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
    let may = who.on_user::<AdminUsers>(&state, &name).await?;
    let data = object_body(&body)?;
    check_user_model(&data)?;
    let admin = data.get("admin").and_then(Value::as_bool).unwrap_or(false);
    let full_admin = if admin {
        Some(who.hub_admin("Only admins can grant admin permissions")?)
    } else {
        None
    };
    let user = service::users::create(&state, &may, full_admin.as_ref()).await?;
    tracing::info!(user = %user.name, by = %who.name(), "created user");
    Ok((
        StatusCode::CREATED,
        Json(user_model(&state, &who, &user, false).await?),
    )
        .into_response())
}

/// `PATCH /users/{name}`: rename, admin flag, groups, roles, `auth_state`. `admin:users`
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
            let new_name = service::users::normalize(&state, new_name)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid username: {new_name}")))?;
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
    if let Some(value) = data.get("auth_state") {
        tracing::info!(user = %current, by = %who.name(), "setting auth_state");
        service::users::set_auth_state(&state, &target, Some(value)).await?;
    }
    let user = service::users::find(&state, &current).await?;
    let mut model = user_model(&state, &who, &user, false).await?;
    model["auth_state"] = json!(service::users::auth_state_of(&state, &target).await?);
    Ok(Json(model).into_response())
}

/// `DELETE /users/{name}`: stops the user's servers, then deletes the user.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<DeleteUser>(&state, &name).await?;
    let user = service::users::delete(&state, &may, &who).await?;
    tracing::info!(user = %user.name, by = %who.name(), "deleted user");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_activity(text: &Value) -> Result<Timestamp, ApiError> {
    let Some(text) = text.as_str() else {
        return Err(ApiError::bad_request(format!(
            "last_activity {text} is not an ISO-8601 timestamp"
        )));
    };
    Ok(service::users::parse_activity(text)?)
}

/// `POST /users/{name}/activity`: servers report their last activity; it only moves forward.
pub(super) async fn activity(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_user::<UserActivity>(&state, &name).await?;
    let report = object_body(&body)?;
    if !report.contains_key("last_activity") && !report.contains_key("servers") {
        return Err(ApiError::bad_request(
            "body must contain at least one of `last_activity` or `servers`",
        ));
    }
    let mut servers = Vec::new();
    match report.get("servers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(reported)) => {
            for (server, activity) in reported {
                match activity.get("last_activity") {
                    Some(text) => servers.push((server.clone(), parse_activity(text)?)),
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
    let user = report
        .get("last_activity")
        .filter(|v| !v.is_null())
        .map(parse_activity)
        .transpose()?;
    service::users::record_activity(&state, &may, ActivityReport { user, servers }).await?;
    Ok(StatusCode::OK.into_response())
}
