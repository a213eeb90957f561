//! Hub-wide endpoints: the version root, `/info`, `/shutdown`, and the
//! deprecated `/authorizations` look-ups old clients still call.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Caller, json_body};
use crate::access::Principal;
use crate::capability::{ReadHub, Shutdown};
use crate::error::ApiError;
use crate::models::{service_model, user_model};
use crate::state::{AppState, ShutdownRequest};

/// The version, without authentication, readable cross-origin.
pub(super) async fn root() -> impl IntoResponse {
    (
        [("Access-Control-Allow-Origin", "*")],
        Json(json!({"version": ferrohub_core::JUPYTERHUB_VERSION})),
    )
}

/// Hub information for callers with `read:hub`.
pub(super) async fn info(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    who.on_hub::<ReadHub>(&state).await?;
    Ok(Json(json!({
        "version": ferrohub_core::JUPYTERHUB_VERSION,
        "implementation": {"name": "ferrohub", "version": env!("CARGO_PKG_VERSION")},
        // No Python runs the hub, but the spec types both as strings (upstream:
        // `sys.version`, `sys.executable`), so typed clients get strings.
        "python": "",
        "sys_executable": std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        "authenticator": {"class": state.auth.backend_name(), "version": env!("CARGO_PKG_VERSION")},
        "spawner": {"class": state.spawner.name(), "version": env!("CARGO_PKG_VERSION")},
    }))
    .into_response())
}

/// `POST /shutdown`: 202, then the hub stops; `proxy`/`servers` override the cleanup settings.
pub(super) async fn shutdown(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    who.on_hub::<Shutdown>(&state).await?;
    let body = json_body(&body)?.unwrap_or(Value::Null);
    let flag = |name: &str, default: bool| match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, not {other}"
        ))),
    };
    if !(body.is_null() || body.is_object()) {
        return Err(ApiError::bad_request("Body must be a JSON object"));
    }
    let request = ShutdownRequest {
        proxy: flag("proxy", state.config.jupyterhub.cleanup_proxy)?,
        servers: flag("servers", state.config.jupyterhub.cleanup_servers)?,
    };
    tracing::info!(by = %who.name(), "shutdown requested through the API");
    state.shutdown.send_replace(Some(request));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message": "Shutting down Hub"})),
    )
        .into_response())
}

/// Only token-authenticated callers may use the deprecated look-ups (upstream's `token_authenticated`).
fn token_caller(caller: crate::access::Identity) -> Result<crate::access::Identity, ApiError> {
    if caller.via_cookie() {
        return Err(ApiError::forbidden(
            "This endpoint requires token authentication",
        ));
    }
    Ok(caller)
}

/// `GET /authorizations/token/{token}`: deprecated owner look-up (use `/user`), kept for old clients.
pub(super) async fn token_owner(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let mut caller = token_caller(caller)?;
    let owner = crate::identity::from_token(&state, &token)
        .await?
        .ok_or_else(|| ApiError::not_found("No such token"))?;
    // Holding a token is enough to read its owner's identity.
    let identify = match &owner.principal {
        Principal::User(user) => ferrohub_rbac::Owner::User { name: &user.name },
        Principal::Service(service) => ferrohub_rbac::Owner::Service {
            name: &service.name,
        },
    };
    caller.scopes = std::sync::Arc::new(
        caller
            .scopes
            .union(&ferrohub_rbac::identify_scopes(&identify)),
    );
    let model = match &owner.principal {
        Principal::User(user) => user_model(&state, &caller, user, false).await?,
        Principal::Service(service) => service_model(&state, &caller, service).await?,
    };
    Ok(Json(model).into_response())
}

/// `GET /authorizations/cookie/{name}/{value}`: deprecated; the user a login cookie belongs to.
pub(super) async fn cookie_owner(
    State(state): State<AppState>,
    Path((cookie_name, cookie_value)): Path<(String, String)>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let caller = token_caller(caller)?;
    let not_found = || ApiError::not_found("No user for this cookie");
    if cookie_name != crate::cookies::LOGIN_COOKIE {
        return Err(not_found());
    }
    let cookie_id = crate::cookies::verify(
        &state.cookie_secret,
        crate::cookies::LOGIN_COOKIE,
        &cookie_value,
        state.config.jupyterhub.cookie_max_age_secs(),
        chrono::Utc::now().timestamp(),
    )
    .ok_or_else(not_found)?;
    let user = state
        .store
        .user_by_cookie_id(&cookie_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(user_model(&state, &caller, &user, false).await?).into_response())
}

/// `POST /authorizations/token`: removed upstream in 2.0.
pub(super) async fn removed() -> ApiError {
    ApiError::not_found(
        "Deprecated endpoint: request tokens with POST /api/users/{name}/tokens (removed in JupyterHub 2.0)",
    )
}

/// 405 for methods upstream refuses explicitly.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this endpoint",
    )
}
