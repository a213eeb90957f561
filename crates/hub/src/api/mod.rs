//! The REST API under `{hub}api/`: JSON in, JSON out, `{"status", "message"}`
//! errors, upstream JupyterHub 6.1.1's paths, scopes and models.

mod batchspawner;
mod groups;
mod hub;
mod oauth;
mod pagination;
mod progress;
mod proxy;
mod servers;
mod services;
mod shares;
mod tokens;
mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use http::request::Parts;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;

use crate::error::ApiError;
use crate::identity::{self, Identity};
use crate::state::AppState;

/// Routes of the API, mounted under `{hub}api`.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let api = format!("{}api", state.urls.hub);
    let r = |path: &str| format!("{api}{path}");
    Router::new()
        .route(&api, get(hub::root))
        .route(&r("/"), get(hub::root))
        .route(&r("/info"), get(hub::info))
        .route(&r("/shutdown"), post(hub::shutdown))
        .route(&r("/user"), get(users::whoami))
        .route(&r("/users"), get(users::list).post(users::create_many))
        .route(
            &r("/users/{name}"),
            get(users::get_one)
                .post(users::create)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(&r("/users/{name}/activity"), post(users::activity))
        .route(
            &r("/users/{name}/server"),
            get(servers::get_default)
                .post(servers::start_default)
                .delete(servers::stop_default),
        )
        .route(
            &r("/users/{name}/servers/{server}"),
            get(servers::get_named)
                .put(servers::create_named)
                .post(servers::start_named)
                .patch(servers::patch_named)
                .delete(servers::stop_named),
        )
        .route(
            &r("/users/{name}/server/progress"),
            get(servers::progress_default),
        )
        .route(
            &r("/users/{name}/servers/{server}/progress"),
            get(servers::progress_named),
        )
        .route(
            &r("/users/{name}/admin-access"),
            post(servers::admin_access),
        )
        .route(
            &r("/users/{name}/tokens"),
            get(tokens::list).post(tokens::create),
        )
        .route(
            &r("/users/{name}/tokens/{token_id}"),
            get(tokens::get_one).delete(tokens::delete),
        )
        .route(&r("/users/{name}/shared"), get(shares::list_for_user))
        .route(
            &r("/users/{name}/shared/{owner}/"),
            get(shares::get_for_user).delete(shares::leave_for_user),
        )
        .route(
            &r("/users/{name}/shared/{owner}/{server}"),
            get(shares::get_for_user).delete(shares::leave_for_user),
        )
        .route(&r("/groups"), get(groups::list).post(groups::create_many))
        .route(
            &r("/groups/{group}"),
            get(groups::get_one)
                .post(groups::create)
                .delete(groups::delete),
        )
        .route(
            &r("/groups/{group}/users"),
            post(groups::add_users).delete(groups::remove_users),
        )
        .route(
            &r("/groups/{group}/properties"),
            axum::routing::put(groups::set_properties),
        )
        .route(&r("/groups/{group}/shared"), get(shares::list_for_group))
        .route(
            &r("/groups/{group}/shared/{owner}/"),
            get(shares::get_for_group).delete(shares::leave_for_group),
        )
        .route(
            &r("/groups/{group}/shared/{owner}/{server}"),
            get(shares::get_for_group).delete(shares::leave_for_group),
        )
        .route(
            &r("/shares/{owner}"),
            get(shares::list_of_owner).fallback(hub::method_not_allowed),
        )
        .route(
            &r("/shares/{owner}/"),
            get(shares::list_of_server)
                .post(shares::grant)
                .patch(shares::revoke)
                .delete(shares::revoke_all),
        )
        .route(
            &r("/shares/{owner}/{server}"),
            get(shares::list_of_server)
                .post(shares::grant)
                .patch(shares::revoke)
                .delete(shares::revoke_all),
        )
        .route(&r("/share-codes/{owner}"), get(shares::codes_of_owner))
        .route(
            &r("/share-codes/{owner}/"),
            get(shares::codes_of_server)
                .post(shares::create_code)
                .delete(shares::delete_codes),
        )
        .route(
            &r("/share-codes/{owner}/{server}"),
            get(shares::codes_of_server)
                .post(shares::create_code)
                .delete(shares::delete_codes),
        )
        .route(&r("/services"), get(services::list))
        .route(
            &r("/services/{service}"),
            get(services::get_one)
                .post(services::create)
                .delete(services::delete),
        )
        .route(
            &r("/proxy"),
            get(proxy::get_routes)
                .post(proxy::check_now)
                .patch(proxy::reconfigure),
        )
        .route(&r("/authorizations/token/{token}"), get(hub::token_owner))
        .route(&r("/authorizations/token"), any(hub::removed))
        .route(
            &r("/authorizations/cookie/{cookie_name}/{cookie_value}"),
            get(hub::cookie_owner),
        )
        .route(
            &r("/oauth2/authorize"),
            get(oauth::authorize).post(oauth::authorize_confirmed),
        )
        .route(&r("/oauth2/token"), post(oauth::token))
        .route(&r("/batchspawner"), post(batchspawner::report))
        .route(&r("/{*rest}"), any(not_found))
        .layer(axum::middleware::from_fn(json_errors))
}

/// Turns every non-JSON error answer (axum's own rejections: bad path encoding,
/// body too large, wrong method) into the API's `{"status", "message"}` form, so
/// clients always get JSON errors. A browser page under the API (the OAuth
/// authorize form) keeps its error page, which `pages::render_error_pages`
/// renders, as upstream's.
async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if response
        .extensions()
        .get::<crate::error::PageError>()
        .is_some()
    {
        return response;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let retry_after = response.headers().get(http::header::RETRY_AFTER).cloned();
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let mut response = ApiError::new(status, message).into_response();
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("No such API endpoint")
}

/// The parts of an API request every handler needs, with the caller resolved lazily.
pub(crate) struct Request {
    /// Method (XSRF applies to unsafe methods with cookie auth).
    pub method: Method,
    /// Headers.
    pub headers: HeaderMap,
    /// The URI as the hub saw it (for pagination `next` links).
    pub uri: Uri,
    /// Decoded query arguments, in order.
    pub query_pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Request {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query_pairs = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map_err(|_| ApiError::bad_request("Malformed query string"))?;
        Ok(Self {
            method: parts.method.clone(),
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
            query_pairs,
        })
    }
}

impl Request {
    /// The last value of a query argument (upstream's `get_argument`).
    #[must_use]
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query_pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `http` or `https` as the client used it (the proxy sets `X-Forwarded-Proto`).
    #[must_use]
    pub(crate) fn scheme(&self) -> &str {
        match self
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
        {
            Some("https") => "https",
            _ => "http",
        }
    }
}

/// The authenticated caller of an API request: the one place a request's
/// credential (token, or login cookie plus XSRF token for requests that change
/// state) is resolved into an [`Identity`], before the handler runs. A handler
/// that takes a `Caller` cannot run for an unauthenticated request (403, as
/// upstream, never 401).
pub(crate) struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_identity(state, &parts.method, &parts.headers)
            .await
            .map(Caller)
    }
}

/// The caller, or 403; XSRF-checked for cookie requests that change state.
pub(crate) async fn require_identity(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let identity = identity::identify(state, headers)
        .await?
        .ok_or_else(|| ApiError::forbidden("Missing or invalid credentials."))?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let owner = crate::xsrf::Owner::of(Some(&identity));
    if identity.via_cookie()
        && !safe
        && !crate::xsrf::check(
            &state.cookie_secret,
            owner,
            headers,
            crate::xsrf::header_token(headers).as_deref(),
        )
    {
        return Err(ApiError::forbidden(
            "XSRF cookie does not match POST argument",
        ));
    }
    Ok(identity)
}

/// Parses a JSON body; `None` when empty. Upstream's message for bad JSON.
pub(crate) fn json_body(body: &[u8]) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| ApiError::bad_request("Invalid JSON in body of request"))
}

/// A list of strings from a JSON field, or 400 naming the field.
pub(crate) fn string_list(value: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| ApiError::bad_request(format!("{field} must be a list of strings")))
}
