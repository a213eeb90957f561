//! Groups: list, create, delete, membership and free-form properties.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_rbac::Grant;
use ferrohub_rbac::scopes;
use ferrohub_store::GroupRecord;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request, json_body, string_list};
use crate::access::Target;
use crate::error::ApiError;
use crate::models::group_model;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

async fn find_group(state: &AppState, name: &str) -> Result<GroupRecord, ApiError> {
    state
        .store
        .group_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such group: {name}")))
}

/// Group names end up in URLs and scope filters: refuse what would break them.
fn check_group_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('!')
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "Invalid group name {name:?}: 1-255 bytes, no '/', '!', control characters or surrounding spaces"
        )));
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

/// Upstream's `_usernames_to_users`: normalized names, every one must exist.
async fn user_ids(state: &AppState, names: &[String]) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let normalized = state.auth.normalize_username(name);
        let user = state
            .store
            .user_by_name(&normalized)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("No such user: {normalized}")))?;
        ids.push(user.id);
    }
    Ok(ids)
}

fn users_field(data: &Map<String, Value>, required: bool) -> Result<Vec<String>, ApiError> {
    match data.get("users") {
        Some(value) => string_list(value, "users"),
        None if required => Err(ApiError::bad_request("Must specify users")),
        None => Ok(Vec::new()),
    }
}

/// `GET /groups`: paginated, limited to what `list:groups` covers.
pub(super) async fn list(
    State(state): State<AppState>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require_any_form(&[scopes::LIST_GROUPS])?;
    let visible = match who.scopes.grant(scopes::LIST_GROUPS.as_str()) {
        Some(Grant::Filtered(f)) => {
            if !f.users.is_empty() || !f.servers.is_empty() || !f.services.is_empty() {
                return Err(ApiError::forbidden(
                    "list:groups may only be filtered by group",
                ));
            }
            Some(f.groups.clone())
        }
        _ => None,
    };
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (groups, total) = state
        .store
        .list_groups_page(visible.as_ref(), page.offset, page.limit)
        .await?;
    let mut models = Vec::with_capacity(groups.len());
    for group in &groups {
        models.push(group_model(&state, &who, group).await?);
    }
    Ok(page.respond(
        models,
        total,
        &request.headers,
        &request.uri,
        request.scheme(),
    ))
}

async fn create_group(
    state: &AppState,
    name: &str,
    users: &[String],
) -> Result<GroupRecord, ApiError> {
    check_group_name(name)?;
    if state.store.group_by_name(name).await?.is_some() {
        return Err(ApiError::conflict(format!("Group {name} already exists")));
    }
    let ids = user_ids(state, users).await?;
    let group = state.store.create_group(name, &json!({})).await?;
    state.store.add_group_members(group.id, &ids).await?;
    Ok(group)
}

/// `POST /groups`: `{"groups": [...], "users": [...]}` creates several groups.
pub(super) async fn create_many(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::ADMIN_GROUPS], Target::Hub)
        .await?;
    let data = object_body(&body)?;
    let names = match data.get("groups") {
        Some(value) => string_list(value, "groups")?,
        None => Vec::new(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one group to create",
        ));
    }
    if let Some(key) = data
        .keys()
        .find(|k| !matches!(k.as_str(), "groups" | "users"))
    {
        return Err(ApiError::bad_request(format!("Invalid JSON key {key:?}")));
    }
    let users = users_field(&data, false)?;
    for name in &names {
        check_group_name(name)?;
        if state.store.group_by_name(name).await?.is_some() {
            return Err(ApiError::conflict(format!("Group {name} already exists")));
        }
    }
    user_ids(&state, &users).await?;
    let mut models = Vec::new();
    for name in &names {
        let group = create_group(&state, name, &users).await?;
        tracing::info!(group = %name, by = %who.name(), "created group");
        models.push(group_model(&state, &who, &group).await?);
    }
    Ok((StatusCode::CREATED, Json(models)).into_response())
}

/// `GET /groups/{group}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(
        &state,
        &[
            scopes::READ_GROUPS,
            scopes::READ_GROUPS_NAME,
            scopes::READ_ROLES_GROUPS,
        ],
        Target::Group(&name),
    )
    .await?;
    let group = find_group(&state, &name).await?;
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `POST /groups/{group}`: creates one group, optionally with members.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::ADMIN_GROUPS], Target::Group(&name))
        .await?;
    let data = object_body(&body)?;
    if let Some(key) = data.keys().find(|k| k.as_str() != "users") {
        return Err(ApiError::bad_request(format!("Invalid JSON key {key:?}")));
    }
    let users = users_field(&data, false)?;
    let group = create_group(&state, &name, &users).await?;
    tracing::info!(group = %name, by = %who.name(), "created group");
    Ok((
        StatusCode::CREATED,
        Json(group_model(&state, &who, &group).await?),
    )
        .into_response())
}

/// `DELETE /groups/{group}`.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::DELETE_GROUPS], Target::Group(&name))
        .await?;
    let group = find_group(&state, &name).await?;
    state.store.delete_group(group.id).await?;
    tracing::info!(group = %name, by = %who.name(), "deleted group");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /groups/{group}/users`: adds members.
pub(super) async fn add_users(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::GROUPS], Target::Group(&name))
        .await?;
    let data = object_body(&body)?;
    let users =
        users_field(&data, true).map_err(|_| ApiError::bad_request("Must specify users to add"))?;
    let group = find_group(&state, &name).await?;
    let ids = user_ids(&state, &users).await?;
    state.store.add_group_members(group.id, &ids).await?;
    tracing::info!(group = %name, by = %who.name(), "added {} members", ids.len());
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `DELETE /groups/{group}/users`: removes members (returns the group, like upstream's handler).
pub(super) async fn remove_users(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::GROUPS], Target::Group(&name))
        .await?;
    let data = object_body(&body)?;
    let users = users_field(&data, true)
        .map_err(|_| ApiError::bad_request("Must specify users to delete"))?;
    let group = find_group(&state, &name).await?;
    let ids = user_ids(&state, &users).await?;
    state.store.remove_group_members(group.id, &ids).await?;
    tracing::info!(group = %name, by = %who.name(), "removed {} members", ids.len());
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `PUT /groups/{group}/properties`: replaces the group's properties with a JSON object.
pub(super) async fn set_properties(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::GROUPS], Target::Group(&name))
        .await?;
    let properties = match json_body(&body)? {
        Some(Value::Object(map)) => Value::Object(map),
        None => return Err(ApiError::bad_request("Must specify properties")),
        Some(_) => {
            return Err(ApiError::bad_request("properties must be a JSON object"));
        }
    };
    let group = find_group(&state, &name).await?;
    state
        .store
        .set_group_properties(group.id, &properties)
        .await?;
    let group = find_group(&state, &name).await?;
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}
