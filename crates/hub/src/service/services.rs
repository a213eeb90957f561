//! Services through the API: list, read, and runtime services added or
//! removed while the hub runs (never managed, never from the configuration).
//! Registration itself (tokens, OAuth clients, routes) is `crate::services`'.

use ferrohub_config::ServiceConfig;
use ferrohub_store::{NewService, ServiceRecord};
use serde_json::{Map, Value};

use crate::access::Identity;
use crate::capability::{AdminServices, OnService, ReadService, ServiceListing};
use crate::error::HubError;
use crate::services::ServiceError;
use crate::state::AppState;

/// How long a runtime service's stop may take, in seconds (unused: runtime
/// services are not managed, but the row needs a value).
const RUNTIME_TIMEOUT_SECS: i64 = 30;

/// The service called `name`, or 404.
async fn find(state: &AppState, name: &str) -> Result<ServiceRecord, HubError> {
    state
        .store
        .service_by_name(name)
        .await?
        .ok_or_else(|| HubError::NotFound(format!("No such service: {name}")))
}

/// The services `listing` shows, by name.
pub(crate) async fn list(
    state: &AppState,
    listing: &ServiceListing,
) -> Result<Vec<ServiceRecord>, HubError> {
    Ok(state
        .store
        .list_services()
        .await?
        .into_iter()
        .filter(|s| listing.shows(&s.name))
        .collect())
}

/// The services a page lists for `who` (upstream's `get_accessible_services`):
/// those with a URL and `display = true` that `who` may access.
pub(crate) async fn displayed(
    state: &AppState,
    who: &Identity,
) -> Result<Vec<ServiceRecord>, HubError> {
    let mut shown = Vec::new();
    for service in state.store.list_services().await? {
        if !service.display || service.url.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        let target = crate::access::Target::Service(&service.name);
        if who
            .allows(state, ferrohub_rbac::scopes::ACCESS_SERVICES, target)
            .await?
        {
            shown.push(service);
        }
    }
    Ok(shown)
}

/// The service `may` names.
pub(crate) async fn get(
    state: &AppState,
    may: &OnService<ReadService>,
) -> Result<ServiceRecord, HubError> {
    find(state, may.name()).await
}

/// Upstream's `_service_model_types` for runtime services (no `command`:
/// those cannot be managed), then the configuration's own checks.
pub(crate) fn spec_from_json(
    name: &str,
    body: &Map<String, Value>,
) -> Result<ServiceConfig, HubError> {
    let mut spec = ServiceConfig {
        name: name.to_owned(),
        ..ServiceConfig::default()
    };
    for (key, value) in body {
        let wrong = || HubError::Invalid(format!("service.{key} has the wrong type: {value}"));
        let text = || value.as_str().map(str::to_owned).ok_or_else(wrong);
        let flag = || value.as_bool().ok_or_else(wrong);
        match key.as_str() {
            "name" if value.as_str() == Some(name) => {}
            "name" => {
                return Err(HubError::Invalid(
                    "service name in the body differs from the URL".to_owned(),
                ));
            }
            "command" => {
                return Err(HubError::Invalid(format!(
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
                spec.oauth_client_allowed_scopes = value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|i| i.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| HubError::Invalid(format!("{key} must be a list of strings")))?;
            }
            "info" => {
                let Value::Object(info) = value else {
                    return Err(wrong());
                };
                spec.info = info.clone().into_iter().collect();
            }
            _ => {
                return Err(HubError::Invalid(format!("Invalid service key {key:?}")));
            }
        }
    }
    crate::services::check(&spec).map_err(|e| HubError::Invalid(e.to_string()))?;
    Ok(spec)
}

/// Asks the proxy for its routes again, so a service's route is added or
/// removed now rather than at the next periodic check.
async fn refresh_routes(state: &AppState) {
    if let Err(e) = crate::runtime::reconcile::check_routes(&state.runtime).await {
        tracing::warn!("updating proxy routes for a runtime service: {e}");
    }
}

/// Adds a runtime service from its JSON model. Only an admin user makes an
/// admin service, and its OAuth client may only be allowed scopes the caller
/// holds; an OAuth client id another service uses is refused before anything
/// is written.
pub(crate) async fn create(
    state: &AppState,
    who: &Identity,
    may: &OnService<AdminServices>,
    body: &Map<String, Value>,
) -> Result<ServiceRecord, HubError> {
    let name = may.name();
    if state.store.service_by_name(name).await?.is_some() {
        return Err(HubError::Conflict(format!("Service {name} already exists")));
    }
    let spec = spec_from_json(name, body)?;
    crate::services::check_client_free(state, &spec, None)
        .await
        .map_err(|e| match e {
            ServiceError::Config(message) => HubError::Conflict(message),
            ServiceError::Store(e) => HubError::Store(e),
        })?;
    if spec.admin {
        who.admin_service_grant()?;
    }
    for scope in &spec.oauth_client_allowed_scopes {
        ferrohub_rbac::validate(scope, &state.custom_scopes)
            .map_err(|e| HubError::Invalid(e.to_string()))?;
    }
    let allowed = who
        .held_scopes(state, spec.oauth_client_allowed_scopes.clone(), |scope| {
            HubError::Invalid(format!(
                "oauth_client_allowed_scopes: {scope} is more than you hold"
            ))
        })
        .await?;
    let record = state
        .store
        .upsert_service(&NewService {
            name: name.to_owned(),
            admin: spec.admin,
            url: (!spec.url.is_empty()).then(|| spec.url.clone()),
            oauth_client_allowed_scopes: allowed.scopes().to_vec(),
            info: serde_json::to_value(&spec.info).unwrap_or_default(),
            display: spec.display,
            oauth_no_confirm: spec.oauth_no_confirm,
            command: Vec::new(),
            cwd: None,
            environment: serde_json::json!({}),
            user: None,
            timeout: RUNTIME_TIMEOUT_SECS,
            from_config: false,
            oauth_client_id: None,
        })
        .await?;
    crate::services::register_one(state, &spec, &record)
        .await
        .map_err(|e| HubError::Invalid(e.to_string()))?;
    if !spec.url.is_empty() {
        refresh_routes(state).await;
    }
    find(state, name).await
}

/// Removes a runtime service with its OAuth client; one from the
/// configuration is refused (405 upstream), as it would come back at start.
pub(crate) async fn delete(
    state: &AppState,
    may: &OnService<AdminServices>,
) -> Result<(), HubError> {
    let service = find(state, may.name()).await?;
    if service.from_config {
        return Err(HubError::NotAllowed(format!(
            "Service {} is defined in the configuration and cannot be deleted at runtime",
            service.name
        )));
    }
    if let Some(client) = &service.oauth_client_id {
        state.store.delete_oauth_client(client).await?;
    }
    state.store.delete_service(service.id).await?;
    refresh_routes(state).await;
    Ok(())
}
