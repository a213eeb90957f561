//! Redirects into the hub, the handler for servers the proxy has no route for,
//! and the proxy's error pages.

use ferrohub_rbac::scopes;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::json;

use super::signed_in::SignedIn;
use super::{error_page, next_url, page_user, to_login};
use crate::access::Target;
use crate::error::PageError;
use crate::runtime::Phase;
use crate::state::AppState;

/// `{hub}`: `JupyterHub.default_url` when set (signed in or not, as
/// upstream's root handler); else, signed in, the default place with the
/// query kept; signed out, the login page.
pub(super) async fn hub_root(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let default_url = &state.config.jupyterhub.default_url;
    if !default_url.is_empty() {
        return Ok(crate::redirect::found(default_url));
    }
    match page_user(&state, &headers).await? {
        Some(who) => Ok(crate::redirect::found(&next_url(
            &state,
            Some(&who.user.name),
            None,
            uri.query(),
        ))),
        None => Ok(to_login(&state, &uri)),
    }
}

/// `/hub` → `/hub/`.
pub(super) async fn to_hub_root(State(state): State<AppState>) -> Response {
    Redirect::permanent(&state.urls.hub).into_response()
}

/// Any path outside the hub that reached it (the proxy's default route):
/// `/x/y` → `{hub}x/y`, keeping the query, as upstream's prefix redirect.
pub(crate) async fn into_hub(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let path = uri.path();
    if path.starts_with(&state.urls.hub) {
        return error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            Some((&state.urls.hub, "Go to the hub")),
        )
        .into_response();
    }
    let rest = path
        .strip_prefix(&state.urls.base)
        .unwrap_or(path.trim_start_matches('/'));
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    // Under `subdomain_host` this request may have come to a user's host,
    // where the hub's cookies are not sent: back to the hub's own host.
    let origin = match &state.urls.subdomains {
        Some(_) => state.urls.public_url_of(""),
        None => String::new(),
    };
    crate::redirect::found(&format!("{origin}{}{rest}{query}", state.urls.hub))
}

/// `{hub}user/<name>` without a path: same as with `/`.
pub(super) async fn user_url_bare(
    state: State<AppState>,
    Path(name): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    user_url(state, Path((name, String::new())), uri, headers, query).await
}

fn looks_like_api(headers: &HeaderMap, rest: &str) -> bool {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    (accept.contains("application/json") && !accept.contains("text/html"))
        || rest.split('/').any(|s| s == "api")
}

fn stopped_api_error(state: &AppState, uri: &Uri, name: &str, server: &str) -> Response {
    let server_path = uri
        .path()
        .strip_prefix(state.urls.hub.trim_end_matches('/'))
        .unwrap_or(uri.path());
    let spawn = spawn_path(state, name, server);
    let message = format!(
        "JupyterHub server no longer running at {server_path}. Restart the server at {spawn}"
    );
    (
        StatusCode::FAILED_DEPENDENCY,
        Json(json!({"status": 424, "message": message})),
    )
        .into_response()
}

/// `{hub}<page>/<user>[/<server>]` for the spawn and spawn-pending pages.
fn page_path(state: &AppState, page: &str, user: &str, server: &str) -> String {
    let mut path = format!(
        "{}{page}/{}",
        state.urls.hub,
        ferrohub_core::url::quote_name(user)
    );
    if !server.is_empty() {
        path = format!("{path}/{}", ferrohub_core::url::quote_name(server));
    }
    path
}

fn spawn_path(state: &AppState, user: &str, server: &str) -> String {
    page_path(state, "spawn", user, server)
}

/// The server a `{hub}user/<name>/<rest>` path is about (upstream's
/// `UserUrlHandler`): with named servers on, a first segment naming one of
/// the user's servers; otherwise the default server.
async fn server_in_path(
    state: &AppState,
    user: &ferrohub_store::UserRecord,
    rest: &str,
) -> Result<String, PageError> {
    let first = rest.split('/').next().unwrap_or_default();
    if !state.config.jupyterhub.allow_named_servers || first.is_empty() {
        return Ok(String::new());
    }
    let exists = state.store.spawner(user.id, first).await?.is_some();
    Ok(if exists {
        first.to_owned()
    } else {
        String::new()
    })
}

/// `{hub}user/<name>/...`: the proxy had no route for this server.
pub(super) async fn user_url(
    State(state): State<AppState>,
    Path((name, rest)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        if looks_like_api(&headers, &rest) {
            return Ok(stopped_api_error(&state, &uri, &name, ""));
        }
        return Ok(to_login(&state, &uri));
    };
    let no_access = || {
        error_page(
            StatusCode::NOT_FOUND,
            "No access to resources or resources not found",
            None,
        )
    };
    let user = state
        .store
        .user_by_name(&name)
        .await?
        .ok_or_else(no_access)?;
    let server = server_in_path(&state, &user, &rest).await?;
    let mut allowed = who
        .identity
        .allows(&state, scopes::ACCESS_SERVERS, Target::Server(&name, ""))
        .await?;
    if !allowed && !server.is_empty() {
        allowed = who
            .identity
            .allows(
                &state,
                scopes::ACCESS_SERVERS,
                Target::Server(&name, &server),
            )
            .await?;
    }
    if !allowed {
        return Err(no_access());
    }
    let server_path = format!("{}{}", state.urls.server_prefix(&user.name, ""), rest);
    match state.servers.phase(&user.name, &server) {
        Phase::Ready => {
            // The proxy had no route yet: send the browser back, a few times at most.
            let redirects: u32 = query
                .get("redirects")
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            if redirects >= 4 {
                return Err(error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Redirect loop detected.",
                    None,
                ));
            }
            if redirects > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(u64::from(redirects).min(10)))
                    .await;
            }
            // Under `subdomain_host`, on the user's host (upstream's `User.host`).
            let target = format!("{}{rest}", state.urls.server_url(&user.name, ""));
            Ok(crate::redirect::found(&format!(
                "{target}?redirects={}",
                redirects + 1
            )))
        }
        _ if looks_like_api(&headers, &rest) => {
            Ok(stopped_api_error(&state, &uri, &user.name, &server))
        }
        // Starting, stopping or failed: the pending page shows which.
        Phase::Spawning | Phase::Stopping | Phase::Failed(_) => {
            let pending = format!(
                "{}?next={}",
                page_path(&state, "spawn-pending", &user.name, &server),
                ferrohub_core::url::quote_query(&server_path)
            );
            Ok((StatusCode::SEE_OTHER, [(http::header::LOCATION, pending)]).into_response())
        }
        Phase::Stopped => {
            // 424, not 404: the server is missing, not the page in it (as upstream).
            let page = super::pending::NotRunning {
                owner: &user.name,
                server: &server,
                next: Some(&server_path),
                failed: None,
                implicit_spawn_seconds: state.config.jupyterhub.implicit_spawn_seconds,
                status: StatusCode::FAILED_DEPENDENCY,
            };
            Ok(super::pending::not_running(&state, &who, &page))
        }
    }
}

/// Non-GET requests to a stopped server: always the JSON 424.
pub(super) async fn user_url_api(
    State(state): State<AppState>,
    Path((name, rest)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let server = match state.store.user_by_name(&name).await {
        Ok(Some(user)) => server_in_path(&state, &user, &rest)
            .await
            .unwrap_or_default(),
        _ => String::new(),
    };
    stopped_api_error(&state, &uri, &name, &server)
}

/// `{hub}user-redirect/<path>`: to the same path on the caller's own server.
pub(super) async fn user_redirect(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    OriginalUri(uri): OriginalUri,
    SignedIn(who): SignedIn,
) -> Result<Response, PageError> {
    // `JupyterHub.default_server_name` (only with named servers, as upstream).
    let config = &state.config.jupyterhub;
    let server = if config.allow_named_servers {
        config.default_server_name.as_str()
    } else {
        ""
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let target = format!(
        "{}{rest}{query}",
        state.urls.server_prefix(&who.user.name, server),
    );
    let spawn_page = if server.is_empty() {
        format!("{}spawn", state.urls.hub)
    } else {
        format!(
            "{}spawn/{}/{}",
            state.urls.hub,
            ferrohub_core::url::quote_name(&who.user.name),
            ferrohub_core::url::quote_name(server)
        )
    };
    let spawn = format!(
        "{spawn_page}?next={}",
        ferrohub_core::url::quote_query(&target)
    );
    Ok(crate::redirect::found(&spawn))
}

/// `{hub}error/<code>`: the page the proxy shows when it cannot route or reach a target.
pub(super) async fn proxy_error(
    State(state): State<AppState>,
    Path(code): Path<u16>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::NOT_FOUND);
    let url = query.get("url").cloned().unwrap_or_default();
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        format!("Your server appears to be down. Try restarting it from the hub. ({url})")
    } else {
        format!("Nothing is served at {url}.")
    };
    let home = format!("{}home", state.urls.hub);
    error_page(status, &message, Some((&home, "Go to the hub home"))).into_response()
}
