//! Users, their default server, and activity reports.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::Identity;
use crate::models::user_model;
use crate::servers::{self, SpawnOutcome};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn require(who: &Identity, scope: &str, user: &str) -> Result<(), ApiError> {
    if who.scopes.allows_user(scope, user) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Action is not authorized with current scopes; requires any of [{scope}]"
        )))
    }
}

/// Looks a user up for the caller; users the caller may not see are 404, as upstream.
async fn find_user(
    state: &AppState,
    who: &Identity,
    name: &str,
) -> Result<ferrohub_store::UserRecord, ApiError> {
    let user = state.store.user_by_name(name).await?;
    // As upstream: a user the caller may not see is "not found", so existence does not leak.
    match user {
        Some(user)
            if who.scopes.allows_user("read:users:name", &user.name) || who.user.id == user.id =>
        {
            Ok(user)
        }
        _ => Err(ApiError::not_found(format!("No such user: {name}"))),
    }
}

/// `GET /user`: who the token or cookie belongs to, with the token's scopes.
pub(super) async fn whoami(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    let mut model = user_model(&state, &who.user, &who).await?;
    // The caller always learns its own identity basics (singleuser needs them).
    model["name"] = json!(who.user.name);
    model["kind"] = json!("user");
    if model.get("admin").is_none() {
        model["admin"] = json!(who.user.admin);
    }
    if model.get("groups").is_none() {
        model["groups"] = json!([]);
    }
    if model.get("user_info").is_none() {
        model["user_info"] = Value::Null;
    }
    model["scopes"] = json!(who.scopes.to_vec());
    model["token_id"] = json!(who.token.as_ref().map(|t| format!("a{}", t.id)));
    model["session_id"] = json!(who.session_id);
    Ok(Json(model).into_response())
}

/// `GET /users`.
pub(super) async fn list(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    if !who.scopes.covers("list:users") {
        return Err(ApiError::forbidden(
            "Action is not authorized with current scopes; requires any of [list:users]",
        ));
    }
    let mut models = Vec::new();
    for user in state.store.list_users().await? {
        models.push(user_model(&state, &user, &who).await?);
    }
    Ok(Json(models).into_response())
}

/// `GET /users/{name}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    let user = find_user(&state, &who, &name).await?;
    Ok(Json(user_model(&state, &user, &who).await?).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    #[serde(default)]
    admin: bool,
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// `POST /users/{name}`: creates a user (admin only).
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    if !who.scopes.covers("admin:users") {
        return Err(ApiError::forbidden(
            "Action is not authorized with current scopes; requires any of [admin:users]",
        ));
    }
    let request: CreateUser = parse_body(&body)?;
    let normalized = state.auth.normalize_username(&name);
    ferrohub_core::names::validate_username(&normalized)
        .map_err(|e| ApiError::bad_request(format!("Invalid username: {e}")))?;
    if state.store.user_by_name(&normalized).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "User {normalized} already exists"
        )));
    }
    let user = state.store.create_user(&normalized, request.admin).await?;
    tracing::info!(user = %user.name, by = %who.user.name, "created user");
    Ok((
        StatusCode::CREATED,
        Json(user_model(&state, &user, &who).await?),
    )
        .into_response())
}

/// `DELETE /users/{name}`: deletes a user whose servers are stopped (admin only).
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    if !who.scopes.covers("delete:users") {
        return Err(ApiError::forbidden(
            "Action is not authorized with current scopes; requires any of [delete:users]",
        ));
    }
    let user = find_user(&state, &who, &name).await?;
    if user.id == who.user.id {
        return Err(ApiError::bad_request("Cannot delete yourself!"));
    }
    if state.servers.phase(&user.name, "").pending().is_some() {
        return Err(ApiError::bad_request(format!(
            "{}'s server is pending; try again later",
            user.name
        )));
    }
    if !servers::request_stop(&state, &user, "").await? {
        return Err(ApiError::bad_request(format!(
            "{}'s server is still stopping; try again later",
            user.name
        )));
    }
    state.store.delete_user(user.id).await?;
    state.servers.remove_user(&user.name);
    tracing::info!(user = %user.name, by = %who.user.name, "deleted user");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{name}/server`: 201 when ready within 10 s, 202 while pending, 400 if running.
pub(super) async fn start_server(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    let user = find_user(&state, &who, &name).await?;
    require(&who, "servers", &user.name)?;
    match servers::request_spawn(&state, &user, "").await? {
        SpawnOutcome::AlreadyRunning => Err(ApiError::bad_request(format!(
            "{}'s server is already running",
            user.name
        ))),
        SpawnOutcome::Pending => {
            let phase = state
                .servers
                .wait_settled(&user.name, "", servers::SLOW_TIMEOUT)
                .await;
            match phase {
                servers::Phase::Ready => Ok(StatusCode::CREATED.into_response()),
                servers::Phase::Failed(message) => Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Spawn failed: {message}"),
                )),
                _ => Ok(StatusCode::ACCEPTED.into_response()),
            }
        }
    }
}

/// `DELETE /users/{name}/server`: 204 when stopped within 10 s, 202 while stopping.
pub(super) async fn stop_server(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    let user = find_user(&state, &who, &name).await?;
    require(&who, "servers", &user.name)?;
    if servers::request_stop(&state, &user, "").await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Ok(StatusCode::ACCEPTED.into_response())
    }
}

#[derive(serde::Deserialize, Default)]
struct ActivityReport {
    last_activity: Option<String>,
    #[serde(default)]
    servers: std::collections::BTreeMap<String, ServerActivity>,
}

#[derive(serde::Deserialize, Default)]
struct ServerActivity {
    last_activity: Option<String>,
}

fn parse_activity(text: &str) -> Result<ferrohub_core::time::Timestamp, ApiError> {
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

/// `POST /users/{name}/activity`: servers report their last activity; only moves forward.
pub(super) async fn activity(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = super::require_identity(&state, &method, &headers).await?;
    let user = find_user(&state, &who, &name).await?;
    require(&who, "users:activity", &user.name)?;
    let report: ActivityReport = parse_body(&body)?;
    let mut updates = Vec::new();
    for (server, activity) in &report.servers {
        let record = state.store.spawner(user.id, server).await?.ok_or_else(|| {
            ApiError::bad_request(format!("No such server {server:?} for user {}", user.name))
        })?;
        if let Some(text) = &activity.last_activity {
            updates.push((record.id, parse_activity(text)?));
        }
    }
    let user_ts = report
        .last_activity
        .as_deref()
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
