//! `{hub}static/…` and `{hub}logo`: the built-in files of [`crate::assets`].

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use crate::error::PageError;
use crate::state::AppState;

/// `GET {hub}static/{*path}`; `?v=` equal to the file's version makes it
/// cacheable for a year.
pub(super) async fn serve_static(
    State(state): State<AppState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = state.assets.file(&path) else {
        return PageError::new(StatusCode::NOT_FOUND, "No such file").into_response();
    };
    let versioned = query.get("v").is_some_and(|v| *v == asset.version);
    asset.respond(versioned, &headers)
}

/// `GET {hub}logo`: `JupyterHub.logo_file`, or the built-in logo.
pub(super) async fn serve_logo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.assets.logo().respond(false, &headers)
}
