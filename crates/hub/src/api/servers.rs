//! A user's servers: the default one and named ones. Start, stop, create
//! without starting, rename or edit while stopped, remove, and follow progress.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_store::{SpawnerRecord, UserRecord};
use http::StatusCode;
use serde_json::{Map, Value};

use super::{Caller, json_body};
use crate::access::Identity;
use crate::capability::ControlServers;
use crate::error::ApiError;
use crate::models::server_model;
use crate::service::servers::{self as service, ServerPatch, StartOptions, Started};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// Upstream answers spawn/stop with an empty `text/plain` body.
fn empty(status: StatusCode) -> Response {
    (status, [(http::header::CONTENT_TYPE, "text/plain")], "").into_response()
}

/// Parses a spawn request body (upstream 6.0's `get_server_json_body`).
fn server_request(body: &[u8]) -> Result<StartOptions, ApiError> {
    let mut body = match json_body(body)? {
        None | Some(Value::Null) => return Ok(StartOptions::default()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    if body.is_empty() {
        return Ok(StartOptions::default());
    }
    let display_name = match body.get("display_name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("display_name must be a string")),
    };
    let new_schema = body.contains_key("display_name") || body.contains_key("user_options");
    if !new_schema {
        // Before 6.0 the whole body was the user options; still accepted.
        return Ok(StartOptions {
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
    Ok(StartOptions {
        display_name,
        user_options,
    })
}

/// The server's JSON model as the caller may see it.
async fn model(
    state: &AppState,
    who: &Identity,
    user: &UserRecord,
    record: &SpawnerRecord,
) -> Result<Value, ApiError> {
    let groups = state.store.group_names_of_user(user.id).await?;
    Ok(server_model(state, who, user, &groups, record))
}

async fn get_server(state: AppState, name: String, server: String, who: Identity) -> ApiResult {
    let read = who.read_server(&state, &name, &server).await?;
    let record = service::get(&state, &read).await?;
    Ok(Json(model(&state, &who, read.user(), &record).await?).into_response())
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
    let start = who.start_server(&state, &name, &server).await?;
    let options = server_request(&body)?;
    let record = service::create_named(&state, &start, options).await?;
    tracing::info!(user = %start.user().name, server, by = %who.name(), "created named server");
    let model = model(&state, &who, start.user(), &record).await?;
    Ok((StatusCode::CREATED, Json(model)).into_response())
}

async fn start(
    state: AppState,
    name: String,
    server: String,
    who: Identity,
    body: Bytes,
) -> ApiResult {
    let start = who.start_server(&state, &name, &server).await?;
    let options = server_request(&body)?;
    Ok(match service::start(&state, &start, options).await? {
        Started::Ready => empty(StatusCode::CREATED),
        Started::Pending => empty(StatusCode::ACCEPTED),
    })
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
    let stop = who.stop_server(&state, &name, &server).await?;
    let remove = match json_body(&body)? {
        Some(Value::Object(map)) => map.get("remove").and_then(Value::as_bool).unwrap_or(false),
        _ => false,
    };
    let stopped = service::stop(&state, &stop, remove).await?;
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

/// Parses a `PATCH` body: only `name`, `display_name` and `user_options`.
fn server_patch(body: &[u8]) -> Result<ServerPatch, ApiError> {
    let body = match json_body(body)? {
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
    Ok(ServerPatch {
        new_name,
        display_name,
        set_display_name: body.get("display_name").is_some_and(Value::is_string),
        user_options,
    })
}

/// `PATCH /users/{name}/servers/{server}`: rename, display name or options of a stopped server (6.0).
pub(super) async fn patch_named(
    State(state): State<AppState>,
    Path((name, server)): Path<(String, String)>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let start = who.start_server(&state, &name, &server).await?;
    let patch = server_patch(&body)?;
    let record = service::patch_named(&state, &start, patch).await?;
    Ok(Json(model(&state, &who, start.user(), &record).await?).into_response())
}

async fn progress(state: AppState, name: String, server: String, who: Identity) -> ApiResult {
    let read = who.read_server(&state, &name, &server).await?;
    super::progress::stream(service::progress(&state, &read).await?)
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
    who.on_user::<ControlServers>(&state, &name).await?;
    Err(ApiError::forbidden("admin access to user servers disabled"))
}
