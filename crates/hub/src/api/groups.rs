//! Groups: list, create, delete, membership and free-form properties. Each
//! handler parses, obtains its capability, calls `service::groups`, renders.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value};

use super::pagination::Page;
use super::{Caller, Request, json_body, string_list};
use crate::capability::{AdminGroups, DeleteGroup, EditGroup, ReadGroup};
use crate::error::ApiError;
use crate::models::group_model;
use crate::service::groups;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match json_body(body)? {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid JSON data: expected an object, got {other}"
        ))),
    }
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
    let listing = who.group_listing()?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (groups, total) = groups::list(&state, &listing, page.offset, page.limit).await?;
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

/// `POST /groups`: `{"groups": [...], "users": [...]}` creates several groups.
pub(super) async fn create_many(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_hub::<AdminGroups>(&state).await?;
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
    let created = groups::create_many(&state, &may, &names, &users).await?;
    let mut models = Vec::with_capacity(created.len());
    for group in &created {
        tracing::info!(group = %group.name, by = %who.name(), "created group");
        models.push(group_model(&state, &who, group).await?);
    }
    Ok((StatusCode::CREATED, Json(models)).into_response())
}

/// `GET /groups/{group}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_group::<ReadGroup>(&state, &name).await?;
    let group = groups::get(&state, &may).await?;
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `POST /groups/{group}`: creates one group, optionally with members.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_group::<AdminGroups>(&state, &name).await?;
    let data = object_body(&body)?;
    if let Some(key) = data.keys().find(|k| k.as_str() != "users") {
        return Err(ApiError::bad_request(format!("Invalid JSON key {key:?}")));
    }
    let users = users_field(&data, false)?;
    let group = groups::create(&state, &may, &users).await?;
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
    let may = who.on_group::<DeleteGroup>(&state, &name).await?;
    groups::delete(&state, &may).await?;
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
    let may = who.on_group::<EditGroup>(&state, &name).await?;
    let data = object_body(&body)?;
    let users =
        users_field(&data, true).map_err(|_| ApiError::bad_request("Must specify users to add"))?;
    let group = groups::add_members(&state, &may, &users).await?;
    tracing::info!(group = %name, by = %who.name(), "added {} members", users.len());
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `DELETE /groups/{group}/users`: removes members (returns the group, like upstream's handler).
pub(super) async fn remove_users(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_group::<EditGroup>(&state, &name).await?;
    let data = object_body(&body)?;
    let users = users_field(&data, true)
        .map_err(|_| ApiError::bad_request("Must specify users to delete"))?;
    let group = groups::remove_members(&state, &may, &users).await?;
    tracing::info!(group = %name, by = %who.name(), "removed {} members", users.len());
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}

/// `PUT /groups/{group}/properties`: replaces the group's properties with a JSON object.
pub(super) async fn set_properties(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_group::<EditGroup>(&state, &name).await?;
    let properties = match json_body(&body)? {
        Some(Value::Object(map)) => Value::Object(map),
        None => return Err(ApiError::bad_request("Must specify properties")),
        Some(_) => {
            return Err(ApiError::bad_request("properties must be a JSON object"));
        }
    };
    let group = groups::set_properties(&state, &may, &properties).await?;
    Ok(Json(group_model(&state, &who, &group).await?).into_response())
}
