//! `/proxy`: read the routing table, force a route check, or point the hub at
//! a new proxy.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request};
use crate::capability::ManageProxy;
use crate::error::ApiError;
use crate::proxy::ProxyError;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn proxy_failure(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!("proxy API call failed: {e}");
    ApiError::new(
        http::StatusCode::BAD_GATEWAY,
        "The proxy's API did not answer as expected; see the hub log.",
    )
}

/// The 400 for a `PATCH` the proxy does not accept; says why without the proxy's own text.
fn refused_setting(e: &ProxyError) -> ApiError {
    let why = match e {
        ProxyError::Status { status, .. }
            if matches!(
                *status,
                http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN
            ) =>
        {
            format!("the proxy refused the auth token ({status})")
        }
        ProxyError::Status { status, .. } if status.is_success() => {
            "the proxy API's route list is not a JSON object".to_owned()
        }
        ProxyError::Status { status, .. } => format!("the proxy API answered {status}"),
        ProxyError::Http(_) | ProxyError::Start { .. } => {
            "the proxy API could not be reached".to_owned()
        }
    };
    ApiError::bad_request(format!(
        "New proxy settings not applied: {why}. The hub keeps using the current proxy API and token."
    ))
}

/// `GET /proxy`: `{routespec: {routespec, target, data}}`, sorted and paginated;
/// routespecs as upstream writes them.
pub(super) async fn get_routes(
    State(state): State<AppState>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.on_hub::<ManageProxy>(&state).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let all = state.proxy.routes().await.map_err(|e| proxy_failure(&e))?;
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let routes: Map<String, Value> = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .map(|(spec, route)| {
            // Upstream's routespecs under host routing have no leading `/`
            // (`alice.hub.example.org/user/alice/`; the hub's stays `/`).
            let spec = match spec.trim_start_matches('/') {
                host_route if state.urls.subdomains.is_some() && !host_route.is_empty() => {
                    host_route.to_owned()
                }
                _ => spec,
            };
            let model = json!({
                "routespec": spec,
                "target": route.target,
                "data": route.data,
            });
            (spec, model)
        })
        .collect();
    if page.envelope {
        let body = page.envelope(
            Value::Object(routes),
            total,
            &request.headers,
            &request.uri,
            request.scheme(),
        );
        return Ok(Json(body).into_response());
    }
    Ok(Json(routes).into_response())
}

/// `POST /proxy`: reconcile the routes now instead of at the next interval.
pub(super) async fn check_now(State(state): State<AppState>, Caller(who): Caller) -> ApiResult {
    who.on_hub::<ManageProxy>(&state).await?;
    crate::runtime::reconcile::check_routes(&state.runtime)
        .await
        .map_err(|e| proxy_failure(&e))?;
    Ok(http::StatusCode::OK.into_response())
}

/// `PATCH /proxy`: `{"api_url", "auth_token"}` of a proxy that took over; routes are then re-added.
pub(super) async fn reconfigure(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.on_hub::<ManageProxy>(&state).await?;
    if body.is_empty() {
        return Err(ApiError::bad_request("need JSON body"));
    }
    let Ok(Value::Object(model)) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::bad_request("Request body must be JSON dict"));
    };
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match model.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!("{key} must be a string"))),
        }
    };
    let api_url = text("api_url")?;
    let token = text("auth_token")?;
    if let Some(url) = &api_url {
        let parsed = url::Url::parse(url)
            .map_err(|_| ApiError::bad_request(format!("api_url {url:?} is not a URL")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(ApiError::bad_request(format!(
                "api_url {url:?} must be an http(s) URL with a host"
            )));
        }
    }
    // A setting the proxy refuses would leave the hub unable to route (every
    // later spawn would fail), so it is tried before it is adopted.
    if let Err(e) = state
        .proxy
        .probe(api_url.as_deref(), token.as_deref())
        .await
    {
        tracing::warn!(by = %who.name(), "refused proxy API setting {api_url:?}: {e}");
        return Err(refused_setting(&e));
    }
    state
        .proxy
        .reconfigure(api_url.as_deref(), token.as_deref());
    tracing::info!(by = %who.name(), "proxy API updated to {api_url:?}");
    crate::runtime::reconcile::check_routes(&state.runtime)
        .await
        .map_err(|e| proxy_failure(&e))?;
    Ok(http::StatusCode::OK.into_response())
}
