//! A user's servers: the default one and named ones. Start, stop, create
//! without starting, rename or edit while stopped, remove, and follow progress.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_core::server_names;
use ferrohub_rbac::scopes;
use ferrohub_store::{SpawnerRecord, UserRecord};
use http::StatusCode;
use serde_json::{Map, Value};

use super::users::find_user;
use super::{Caller, json_body, log_name};
use crate::access::Identity;
use crate::access::Target;
use crate::error::ApiError;
use crate::models::server_model;
use crate::servers::{self, Phase, SpawnOutcome};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// Upstream answers spawn/stop with an empty `text/plain` body.
fn empty(status: StatusCode) -> Response {
    (status, [(http::header::CONTENT_TYPE, "text/plain")], "").into_response()
}

/// A spawn request body (upstream 6.0's `get_server_json_body`).
#[derive(Debug, Default)]
struct ServerRequest {
    display_name: Option<String>,
    /// `None` = reuse the options stored from the previous start.
    user_options: Option<Map<String, Value>>,
}

fn server_request(body: &[u8]) -> Result<ServerRequest, ApiError> {
    let mut body = match json_body(body)? {
        None | Some(Value::Null) => return Ok(ServerRequest::default()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    if body.is_empty() {
        return Ok(ServerRequest::default());
    }
    let display_name = match body.get("display_name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("display_name must be a string")),
    };
    let new_schema = body.contains_key("display_name") || body.contains_key("user_options");
    if !new_schema {
        // Before 6.0 the whole body was the user options; still accepted.
        return Ok(ServerRequest {
            display_name: None,
            user_options: Some(body),
        });
    }
    let user_options = match body.remove("user_options") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            return Err(ApiError::bad_request(
                "user_options must be an object or null",
            ));
        }
    };
    Ok(ServerRequest {
        display_name,
        user_options,
    })
}

async fn find_spawner(
    state: &AppState,
    user: &UserRecord,
    server: &str,
) -> Result<SpawnerRecord, ApiError> {
    state
        .store
        .spawner(user.id, server)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} has no server named '{server}'", user.name)))
}

async fn get_server(state: AppState, name: String, server: String, who: Identity) -> ApiResult {
    who.require(
        &state,
        &[scopes::READ_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    let record = find_spawner(&state, &user, &server).await?;
    let groups = state.store.group_names_of_user(user.id).await?;
    Ok(Json(server_model(&state, &who, &user, &groups, &record)).into_response())
}

/// `GET /users/{name}/servers/{server}` (6.0).
pub(super) async fn get_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    get_server(state, name, server, who).await
}

/// `GET /users/{name}/server`: the default server's model.
pub(super) async fn get_default(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    get_server(state, name, String::new(), who).await
}

/// `PUT /users/{name}/servers/{server}`: creates a named server without starting it (6.0).
pub(super) async fn create_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::START_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    if server.is_empty() {
        return Err(ApiError::conflict(format!(
            "User {} already has a default server",
            user.name
        )));
    }
    if state.store.spawner(user.id, &server).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "User {} already has server {server}",
            user.name
        )));
    }
    let body = server_request(&body)?;
    let display = body
        .display_name
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| server.clone());
    servers::check_named_server_request(&state, &user, &server, &display, true).await?;
    let record = state.store.create_spawner(user.id, &server).await?;
    state
        .store
        .set_display_name(record.id, &server_names::normalize_display_name(&display))
        .await?;
    if let Some(options) = body.user_options.filter(|o| !o.is_empty()) {
        state
            .store
            .set_user_options(record.id, &Value::Object(options))
            .await?;
    }
    let record = find_spawner(&state, &user, &server).await?;
    let groups = state.store.group_names_of_user(user.id).await?;
    tracing::info!(user = %user.name, server, by = %who.name(), "created named server");
    Ok((
        StatusCode::CREATED,
        Json(server_model(&state, &who, &user, &groups, &record)),
    )
        .into_response())
}

async fn start(
    state: AppState,
    name: String,
    server: String,
    who: Identity,
    body: Bytes,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::START_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    let body = server_request(&body)?;
    let display = body
        .display_name
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| server.clone());
    let record = servers::ensure_spawner(&state, &user, &server, &display).await?;
    match state.servers.phase(&user.name, &server) {
        Phase::Spawning => return Ok(empty(StatusCode::ACCEPTED)),
        Phase::Stopping => {
            return Err(ApiError::bad_request(format!(
                "{} is pending stop",
                log_name(&user.name, &server)
            )));
        }
        Phase::Ready => {
            return Err(ApiError::bad_request(format!(
                "{} is already running",
                log_name(&user.name, &server)
            )));
        }
        Phase::Stopped | Phase::Failed(_) => {}
    }
    if body.display_name.as_deref().is_some_and(|d| !d.is_empty()) && record.display_name != display
    {
        state
            .store
            .set_display_name(record.id, &server_names::normalize_display_name(&display))
            .await?;
    }
    if let Some(options) = body.user_options {
        state
            .store
            .set_user_options(record.id, &Value::Object(options))
            .await?;
    }
    match servers::request_spawn(&state, &user, &server).await? {
        SpawnOutcome::AlreadyRunning => Err(ApiError::bad_request(format!(
            "{} is already running",
            log_name(&user.name, &server)
        ))),
        SpawnOutcome::Pending => {
            let phase = state
                .servers
                .wait_settled(&user.name, &server, servers::SLOW_TIMEOUT)
                .await;
            match phase {
                Phase::Ready => Ok(empty(StatusCode::CREATED)),
                Phase::Failed(message) => Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Spawn failed: {message}"),
                )),
                _ => Ok(empty(StatusCode::ACCEPTED)),
            }
        }
    }
}

/// `POST /users/{name}/server`: 201 when ready within 10 s, 202 while pending.
pub(super) async fn start_default(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    start(state, name, String::new(), who, body).await
}

/// `POST /users/{name}/servers/{server}`: starts (creating if needed) a named server.
pub(super) async fn start_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    start(state, name, server, who, body).await
}

async fn stop(
    state: AppState,
    name: String,
    server: String,
    who: Identity,
    body: Bytes,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::DELETE_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    let remove = match json_body(&body)? {
        Some(Value::Object(map)) => map.get("remove").and_then(Value::as_bool).unwrap_or(false),
        _ => false,
    };
    if server.is_empty() {
        if remove {
            return Err(ApiError::bad_request("Cannot delete the default server"));
        }
    } else if !state.config.jupyterhub.allow_named_servers {
        return Err(ApiError::bad_request("Named servers are not enabled."));
    }
    let record = find_spawner(&state, &user, &server).await?;
    let stopped = servers::request_stop(&state, &user, &server).await?;
    if remove {
        let task_state = state.clone();
        let user_name = user.name.clone();
        let task_server = server.clone();
        let remove_task = async move {
            task_state
                .servers
                .wait_settled(&user_name, &task_server, std::time::Duration::MAX)
                .await;
            if let Err(e) =
                servers::remove_server(&task_state, &user_name, &task_server, record.id).await
            {
                tracing::error!(user = %user_name, server = %task_server, "removing server failed: {e}");
            }
        };
        if stopped {
            remove_task.await;
        } else {
            tokio::spawn(remove_task);
        }
    }
    Ok(empty(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    }))
}

/// `DELETE /users/{name}/server`: 204 when stopped within 10 s, 202 while stopping.
pub(super) async fn stop_default(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    stop(state, name, String::new(), who, body).await
}

/// `DELETE /users/{name}/servers/{server}`: stops; `{"remove": true}` also deletes it.
pub(super) async fn stop_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    stop(state, name, server, who, body).await
}

/// `PATCH /users/{name}/servers/{server}`: rename, display name or options of a stopped server (6.0).
pub(super) async fn patch_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::START_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    let body = match json_body(&body)? {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one field to modify.",
        ));
    }
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "display_name" | "user_options"))
    {
        return Err(ApiError::bad_request(format!(
            "Unexpected field {key:?}; supported fields: name, display_name, user_options"
        )));
    }
    let new_name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("name must be a string")),
    };
    let display_name = match body.get("display_name") {
        None | Some(Value::Null) => new_name.clone(),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("display_name must be a string")),
    };
    let user_options = match body.get("user_options") {
        None => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(ApiError::bad_request("user_options must be a dict")),
    };
    if let Some(new_name) = &new_name {
        let display = display_name.clone().unwrap_or_else(|| new_name.clone());
        servers::check_named_server_request(&state, &user, new_name, &display, server.is_empty())
            .await?;
    } else if let Some(display) = &display_name {
        servers::check_named_server_request(&state, &user, &server, display, false).await?;
        let normalized = server_names::normalize_display_name(display);
        if !server_names::is_valid_display_name(&normalized) {
            return Err(ApiError::bad_request(format!(
                "Invalid display_name: {display:?}"
            )));
        }
    }
    let record = state
        .store
        .spawner(user.id, &server)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("User {} has no such server {server:?}", user.name))
        })?;
    let phase = state.servers.phase(&user.name, &server);
    if phase.pending().is_some() || phase == Phase::Ready {
        return Err(ApiError::bad_request(format!(
            "{} is active. Please stop it before modifying it.",
            log_name(&user.name, &server)
        )));
    }
    let mut current = server.clone();
    if let Some(new_name) = new_name.filter(|n| *n != server) {
        if state.store.spawner(user.id, &new_name).await?.is_some() {
            return Err(ApiError::conflict(format!(
                "User {} already has server '{new_name}'",
                user.name
            )));
        }
        state.store.rename_spawner(record.id, &new_name).await?;
        state.servers.forget(&user.name, &server);
        tracing::info!(user = %user.name, from = %server, to = %new_name, "renamed server");
        current = new_name;
    }
    if let Some(options) = user_options {
        state
            .store
            .set_user_options(record.id, &Value::Object(options))
            .await?;
    }
    if body.get("display_name").is_some_and(Value::is_string)
        && let Some(display) = &display_name
    {
        state
            .store
            .set_display_name(record.id, &server_names::normalize_display_name(display))
            .await?;
    }
    let record = find_spawner(&state, &user, &current).await?;
    let groups = state.store.group_names_of_user(user.id).await?;
    Ok(Json(server_model(&state, &who, &user, &groups, &record)).into_response())
}

async fn progress(state: AppState, name: String, server: String, who: Identity) -> ApiResult {
    who.require(
        &state,
        &[scopes::READ_SERVERS],
        Target::Server(&name, &server),
    )
    .await?;
    let user = find_user(&state, &name).await?;
    find_spawner(&state, &user, &server).await?;
    super::progress::stream(&state, &user.name, &server)
}

/// `GET /users/{name}/server/progress`: the default server's spawn progress as an event stream.
pub(super) async fn progress_default(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    progress(state, name, String::new(), who).await
}

/// `GET /users/{name}/servers/{server}/progress`.
pub(super) async fn progress_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    progress(state, name, server, who).await
}

/// `POST /users/{name}/admin-access`: deprecated since 0.8; refused as upstream does by default.
pub(super) async fn admin_access(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::SERVERS], Target::User(&name))
        .await?;
    Err(ApiError::forbidden("admin access to user servers disabled"))
}
