//! `POST {hub}api/batchspawner`: batchspawner's endpoint. Its
//! `batchspawner-singleuser` wrapper, running inside a batch job, picks a
//! free port and POSTs `{"port": N}` here with the server's own API token;
//! the hub hands the port to the spawner that is starting that server. The
//! answer is upstream's (200, `{"message": "BatchSpawner data configured"}`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ferrohub_spawn::ServerReport;
use serde_json::{Value, json};

use super::{Caller, json_body};
use crate::error::ApiError;
use crate::service;
use crate::state::AppState;

/// Takes a starting server's report about itself.
pub(super) async fn report(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?.unwrap_or(Value::Null);
    let port = body
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0)
        .ok_or_else(|| ApiError::bad_request("port must be a port number (1-65535)"))?;
    service::servers::report_from_server(&state, &who, ServerReport { port }).await?;
    Ok(Json(json!({"message": "BatchSpawner data configured"})).into_response())
}
