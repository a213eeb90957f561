//! `GET {hub}api` (the version check every singleuser server makes) and `/info`.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, Method};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

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
    method: Method,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let who = super::require_identity(&state, &method, &headers).await?;
    if !who.scopes.covers("read:hub") {
        return Err(ApiError::forbidden(
            "Action is not authorized with current scopes; requires any of [read:hub]",
        ));
    }
    Ok(Json(json!({
        "version": ferrohub_core::JUPYTERHUB_VERSION,
        "implementation": {"name": "ferrohub", "version": env!("CARGO_PKG_VERSION")},
        "python": null,
        "sys_executable": std::env::current_exe().ok().map(|p| p.display().to_string()),
        "authenticator": {"class": state.auth.backend_name(), "version": env!("CARGO_PKG_VERSION")},
        "spawner": {"class": state.spawner.name(), "version": env!("CARGO_PKG_VERSION")},
    })))
}
