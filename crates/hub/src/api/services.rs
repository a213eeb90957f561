//! `/services`: list and read services; add or remove runtime services (not
//! managed, not from the configuration).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_config::ServiceConfig;
use ferrohub_rbac::Resource;
use ferrohub_rbac::scopes;
use ferrohub_store::NewService;
use http::StatusCode;
use serde_json::{Map, Value};

use super::{Caller, json_body};
use crate::access::Target;
use crate::error::ApiError;
use crate::models::service_model;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// `GET /services`: an object keyed by service name (the spec says a list; upstream's handler returns this).
pub(super) async fn list(State(state): State<AppState>, Caller(who): Caller) -> ApiResult {
    who.require_any_form(&[scopes::LIST_SERVICES])?;
    let mut models = Map::new();
    for service in state.store.list_services().await? {
        if who.scopes.allows(
            scopes::LIST_SERVICES.as_str(),
            &Resource::Service {
                name: &service.name,
            },
        ) {
            let model = service_model(&state, &who, &service).await?;
            models.insert(service.name.clone(), model);
        }
    }
    Ok(Json(models).into_response())
}

/// `GET /services/{service}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(
        &state,
        &[
            scopes::READ_SERVICES,
            scopes::READ_SERVICES_NAME,
            scopes::READ_ROLES_SERVICES,
        ],
        Target::Service(&name),
    )
    .await?;
    let service = state
        .store
        .service_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such service: {name}")))?;
    Ok(Json(service_model(&state, &who, &service).await?).into_response())
}

/// Upstream's `_service_model_types` for runtime services (no `command`: those cannot be managed).
fn service_spec(name: &str, body: &Map<String, Value>) -> Result<ServiceConfig, ApiError> {
    let mut spec = ServiceConfig {
        name: name.to_owned(),
        ..ServiceConfig::default()
    };
    for (key, value) in body {
        let wrong = || ApiError::bad_request(format!("service.{key} has the wrong type: {value}"));
        let text = || value.as_str().map(str::to_owned).ok_or_else(wrong);
        let flag = || value.as_bool().ok_or_else(wrong);
        match key.as_str() {
            "name" if value.as_str() == Some(name) => {}
            "name" => {
                return Err(ApiError::bad_request(
                    "service name in the body differs from the URL",
                ));
            }
            "command" => {
                return Err(ApiError::bad_request(format!(
                    "Can not create managed service {name} at runtime"
                )));
            }
            "url" => spec.url = text()?,
            "api_token" => spec.api_token = text()?,
            "admin" => spec.admin = flag()?,
            "display" => spec.display = flag()?,
            "oauth_no_confirm" => spec.oauth_no_confirm = flag()?,
            "oauth_client_id" => spec.oauth_client_id = text()?,
            "oauth_redirect_uri" => spec.oauth_redirect_uri = text()?,
            "oauth_client_allowed_scopes" => {
                spec.oauth_client_allowed_scopes = super::string_list(value, key)?;
            }
            "info" => {
                let Value::Object(info) = value else {
                    return Err(wrong());
                };
                spec.info = info.clone().into_iter().collect();
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid service key {key:?}"
                )));
            }
        }
    }
    crate::services::check(&spec).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(spec)
}

/// `POST /services/{service}`: adds a runtime service (201).
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::ADMIN_SERVICES], Target::Service(&name))
        .await?;
    if state.store.service_by_name(&name).await?.is_some() {
        return Err(ApiError::conflict(format!("Service {name} already exists")));
    }
    let body = match json_body(&body)? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    let spec = service_spec(&name, &body)?;
    // Before the service row exists, so a refused id leaves nothing behind.
    crate::services::check_client_free(&state, &spec, None)
        .await
        .map_err(|e| match e {
            crate::services::ServiceError::Config(message) => ApiError::conflict(message),
            crate::services::ServiceError::Store(e) => ApiError::from(e),
        })?;
    if spec.admin && !matches!(&who.principal, crate::access::Principal::User(u) if u.admin) {
        return Err(ApiError::forbidden("Only admins can create admin services"));
    }
    for scope in &spec.oauth_client_allowed_scopes {
        ferrohub_rbac::validate(scope, &state.custom_scopes)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        if !who.allows_str(&state, scope).await? {
            return Err(ApiError::bad_request(format!(
                "oauth_client_allowed_scopes: {scope} is more than you hold"
            )));
        }
    }
    let record = state
        .store
        .upsert_service(&NewService {
            name: name.clone(),
            admin: spec.admin,
            url: (!spec.url.is_empty()).then(|| spec.url.clone()),
            oauth_client_allowed_scopes: spec.oauth_client_allowed_scopes.clone(),
            info: serde_json::to_value(&spec.info).unwrap_or_default(),
            display: spec.display,
            oauth_no_confirm: spec.oauth_no_confirm,
            command: Vec::new(),
            cwd: None,
            environment: serde_json::json!({}),
            user: None,
            timeout: 30,
            from_config: false,
            oauth_client_id: None,
        })
        .await?;
    crate::services::register_one(&state, &spec, &record)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !spec.url.is_empty() {
        let _ = crate::runtime::reconcile::check_routes(&state.runtime).await;
    }
    tracing::info!(service = %name, by = %who.name(), "created runtime service");
    let record = state
        .store
        .service_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::internal(&"service vanished"))?;
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
    who.require(&state, &[scopes::ADMIN_SERVICES], Target::Service(&name))
        .await?;
    let service = state
        .store
        .service_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such service: {name}")))?;
    if service.from_config {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "Service {name} is defined in the configuration and cannot be deleted at runtime"
            ),
        ));
    }
    if let Some(client) = &service.oauth_client_id {
        state.store.delete_oauth_client(client).await?;
    }
    state.store.delete_service(service.id).await?;
    let _ = crate::runtime::reconcile::check_routes(&state.runtime).await;
    tracing::info!(service = %name, by = %who.name(), "deleted runtime service");
    Ok(StatusCode::OK.into_response())
}
