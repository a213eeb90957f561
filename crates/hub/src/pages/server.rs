//! The home page and starting/stopping one's server from the browser.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::{ServerPath, error_page, page_user, to_login, with_cookies, xsrf_for};
use crate::capability::ServerControl;
use crate::error::PageError;
use crate::pages::PageUser;
use crate::runtime::Phase;
use crate::service::servers::{self as service, Pending};
use crate::state::AppState;

/// `GET {hub}home`.
pub(super) async fn home(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    let phase = state.servers.phase(&who.user.name, "");
    let (phase_name, failed) = match &phase {
        Phase::Ready => ("ready", None),
        Phase::Spawning => ("spawn", None),
        Phase::Stopping => ("stop", None),
        Phase::Failed(message) => ("stopped", Some(message.clone())),
        Phase::Stopped => ("stopped", None),
    };
    let (xsrf, cookie) = xsrf_for(&state, &headers, Some(&who.identity));
    let html = state.templates.render(
        "home.html",
        context! {
            hub => &state.urls.hub,
            user => &who.user.name,
            phase => phase_name,
            failed => failed,
            server_url => state.urls.server_prefix(&who.user.name, ""),
            xsrf => xsrf,
        },
    );
    Ok(with_cookies(Html(html).into_response(), cookie))
}

/// The server `who` wants to start, stop or watch: their own or another
/// user's, in both cases only with the `servers` scope on it (as upstream's
/// `@needs_scope("servers")`; a token or role without it may not start even
/// its owner's server).
async fn control(
    state: &AppState,
    who: &PageUser,
    name: Option<&str>,
    server: &str,
) -> Result<ServerControl, PageError> {
    Ok(who.identity.server_control(state, name, server).await?)
}

fn next_param(state: &AppState, query: &HashMap<String, String>) -> Option<String> {
    query
        .get("next")
        .and_then(|n| ferrohub_core::url::safe_next_url(n, &state.urls.base))
}

#[derive(serde::Deserialize)]
pub(super) struct XsrfForm {
    #[serde(default, rename = "_xsrf")]
    xsrf: String,
}

/// `POST {hub}stop`: the home page's stop button.
pub(super) async fn stop_post(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<XsrfForm>,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    super::check_xsrf(&state, &headers, Some(&who.identity), &form.xsrf)?;
    let control = control(&state, &who, None, "").await?;
    service::stop_from_page(&state, &control.stop()).await;
    Ok(crate::redirect::found(&format!("{}home", state.urls.hub)))
}

/// `GET {hub}spawn-pending/{name}[/{server}]`: reloads until ready, then goes to the server.
pub(super) async fn pending(
    State(state): State<AppState>,
    ServerPath { user: name, server }: ServerPath,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    let control = control(&state, &who, Some(&name), &server).await?;
    let user = control.user();
    let next = next_param(&state, &query);
    match service::pending(&state, &control).await? {
        Pending::Ready => {
            Ok(crate::redirect::found(&next.unwrap_or_else(|| {
                state.urls.server_prefix(&user.name, &server)
            })))
        }
        Pending::Starting(elapsed) => {
            let html = state.templates.render(
                "spawn_pending.html",
                context! { hub => &state.urls.hub, user => &who.user.name, elapsed => elapsed },
            );
            Ok(Html(html).into_response())
        }
        Pending::Failed(message) => {
            let retry = format!("{}home", state.urls.hub);
            Err(error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Spawn failed: {message}"),
                Some((&retry, "Back to home")),
            ))
        }
        Pending::Idle => Ok(crate::redirect::found(&format!("{}home", state.urls.hub))),
    }
}
