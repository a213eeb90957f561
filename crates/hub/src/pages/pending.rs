//! The pages about a server that is not (yet, or any more) running:
//! spawn-pending with live progress, stop-pending, and "not running" with its
//! Launch button (started by itself after `JupyterHub.implicit_spawn_seconds`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::signed_in::SignedIn;
use super::{PageUser, ServerPath, render, with_cookies, xsrf_for};
use crate::error::PageError;
use crate::service::servers::{self as service, Pending};
use crate::state::AppState;

/// `{hub}<page>/<user>[/<server>]`, each part quoted.
pub(super) fn server_page(state: &AppState, page: &str, user: &str, server: &str) -> String {
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

/// `{hub}api/users/<user>/server` or `…/servers/<server>`: what the pages'
/// scripts stop (DELETE) and follow (`/progress`).
fn server_api(state: &AppState, user: &str, server: &str) -> String {
    let user = ferrohub_core::url::quote_name(user);
    if server.is_empty() {
        format!("{}api/users/{user}/server", state.urls.hub)
    } else {
        let server = ferrohub_core::url::quote_name(server);
        format!("{}api/users/{user}/servers/{server}", state.urls.hub)
    }
}

/// `path?next=<next>`, or `path` without a `next`.
fn with_next(path: String, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("{path}?next={}", ferrohub_core::url::quote_query(next)),
        None => path,
    }
}

/// What the "not running" page says and where its Launch button goes.
pub(super) struct NotRunning<'a> {
    /// The server's owner.
    pub owner: &'a str,
    /// The server's name ("" for the default one).
    pub server: &'a str,
    /// Where to go once it runs (kept through the spawn page).
    pub next: Option<&'a str>,
    /// The last start's failure (client-safe), if it failed.
    pub failed: Option<&'a str>,
    /// Seconds until the page starts the server by itself (0: never).
    pub implicit_spawn_seconds: f64,
    /// The answer's status (upstream: 424 from `/hub/user/…`, 500 after a failure).
    pub status: StatusCode,
}

/// Renders upstream's `not_running.html`: the server is not running (or its
/// last start failed), with a Launch button.
pub(super) fn not_running(state: &AppState, who: &PageUser, page: &NotRunning<'_>) -> Response {
    let spawn_url = with_next(
        server_page(state, "spawn", page.owner, page.server),
        page.next,
    );
    // Whole seconds on the page; a fraction still counts as a second.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "configuration loading keeps it within 0..=86400"
    )]
    let implicit = page.implicit_spawn_seconds.clamp(0.0, 86_400.0).ceil() as u32;
    let html = render(
        state,
        Some(who),
        "not_running.html",
        context! {
            owner => page.owner,
            own_server => page.owner == who.user.name,
            server_name => page.server,
            server_url => state.urls.server_url(page.owner, page.server),
            spawn_url => spawn_url,
            failed => page.failed.is_some(),
            failed_message => page.failed,
            implicit_spawn_seconds => implicit,
        },
    );
    (page.status, Html(html)).into_response()
}

/// `GET {hub}spawn-pending/{name}[/{server}]` (upstream's
/// `SpawnPendingHandler`): never starts anything. Ready: on to the server
/// (or `next`); starting: the progress page; stopping: the stop-pending
/// page; otherwise the "not running" page, with the failure if the last
/// start failed.
pub(super) async fn pending(
    State(state): State<AppState>,
    ServerPath { user: name, server }: ServerPath,
    SignedIn(who): SignedIn,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let control = who
        .identity
        .server_control(&state, Some(&name), &server)
        .await?;
    let owner = control.user().name.clone();
    let next = query
        .get("next")
        .and_then(|n| state.urls.safe_next(n, &headers));
    let server_url = state.urls.server_url(&owner, &server);
    let (xsrf, cookie) = xsrf_for(&state, &headers, Some(&who.identity));
    let api = server_api(&state, &owner, &server);
    let page = match service::pending(&state, &control).await? {
        Pending::Ready => {
            return Ok(crate::redirect::found(
                next.as_deref().unwrap_or(&server_url),
            ));
        }
        Pending::Starting(elapsed) => render(
            &state,
            Some(&who),
            "spawn_pending.html",
            context! {
                owner => &owner,
                own_server => owner == who.user.name,
                server_name => &server,
                elapsed => elapsed,
                progress_url => format!("{api}/progress"),
                server_api_url => &api,
                next_url => next.as_deref().unwrap_or(&server_url),
                retry_url => with_next(server_page(&state, "spawn", &owner, &server), next.as_deref()),
                home_url => format!("{}home", state.urls.hub),
                xsrf => xsrf,
            },
        ),
        Pending::Stopping => render(
            &state,
            Some(&who),
            "stop_pending.html",
            context! {
                owner => &owner,
                own_server => owner == who.user.name,
                server_name => &server,
                user_api_url => format!("{}api/users/{}", state.urls.hub, ferrohub_core::url::quote_name(&owner)),
            },
        ),
        Pending::Failed(message) => {
            let page = NotRunning {
                owner: &owner,
                server: &server,
                next: next.as_deref(),
                failed: Some(&message),
                implicit_spawn_seconds: 0.0,
                status: StatusCode::INTERNAL_SERVER_ERROR,
            };
            return Ok(with_cookies(not_running(&state, &who, &page), cookie));
        }
        Pending::Stopped => {
            let page = NotRunning {
                owner: &owner,
                server: &server,
                next: next.as_deref(),
                failed: None,
                implicit_spawn_seconds: 0.0,
                status: StatusCode::OK,
            };
            return Ok(with_cookies(not_running(&state, &who, &page), cookie));
        }
    };
    Ok(with_cookies(Html(page).into_response(), cookie))
}
