//! `/services`: list and read services; add or remove runtime services (not
//! managed, not from the configuration). The rules live in `service::services`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value};

use super::{Caller, json_body};
use crate::capability::{AdminServices, ReadService};
use crate::error::ApiError;
use crate::models::service_model;
use crate::service::services;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// `GET /services`: an object keyed by service name (the spec says a list; upstream's handler returns this).
pub(super) async fn list(State(state): State<AppState>, Caller(who): Caller) -> ApiResult {
    let listing = who.service_listing()?;
    let mut models = Map::new();
    for service in services::list(&state, &listing).await? {
        let model = service_model(&state, &who, &service).await?;
        models.insert(service.name.clone(), model);
    }
    Ok(Json(models).into_response())
}

/// `GET /services/{service}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_service::<ReadService>(&state, &name).await?;
    let service = services::get(&state, &may).await?;
    Ok(Json(service_model(&state, &who, &service).await?).into_response())
}

/// `POST /services/{service}`: adds a runtime service (201).
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who.on_service::<AdminServices>(&state, &name).await?;
    let body = match json_body(&body)? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    let record = services::create(&state, &who, &may, &body).await?;
    tracing::info!(service = %name, by = %who.name(), "created runtime service");
    Ok((
        StatusCode::CREATED,
        Json(service_model(&state, &who, &record).await?),
    )
        .into_response())
}

/// `DELETE /services/{service}`: removes a runtime service; configured ones answer 405.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_service::<AdminServices>(&state, &name).await?;
    services::delete(&state, &may).await?;
    tracing::info!(service = %name, by = %who.name(), "deleted runtime service");
    Ok(StatusCode::OK.into_response())
}
