//! The home page: the user's default server, their named servers (with
//! `allow_named_servers`) and the services they may use; its stop button and
//! its form for a new named server.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::signed_in::{SignedIn, SignedInForm};
use super::{PageUser, render, with_cookies, xsrf_for};
use crate::error::PageError;
use crate::runtime::Phase;
use crate::service::servers as service;
use crate::service::services;
use crate::state::AppState;

/// The words the page uses for a phase: a CSS/test-friendly key and a label.
fn phase_words(phase: &Phase) -> (&'static str, &'static str) {
    match phase {
        Phase::Ready => ("ready", "Running"),
        Phase::Spawning => ("spawn", "Starting"),
        Phase::Stopping => ("stop", "Stopping"),
        Phase::Failed(_) => ("failed", "Start failed"),
        Phase::Stopped => ("stopped", "Stopped"),
    }
}

/// `GET {hub}home`.
pub(super) async fn home(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    render_home(&state, &headers, &who, None, StatusCode::OK).await
}

/// The page, with `problem` (a refused new server name) shown above the form.
async fn render_home(
    state: &AppState,
    headers: &HeaderMap,
    who: &PageUser,
    problem: Option<(&str, &str)>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let name = &who.user.name;
    let phase = state.servers.phase(name, "");
    let (phase_name, _) = phase_words(&phase);
    let failed = match &phase {
        Phase::Failed(message) => Some(message.clone()),
        _ => None,
    };
    let config = &state.config.jupyterhub;
    let mut named = Vec::new();
    if config.allow_named_servers {
        let control = who.identity.server_control(state, None, "").await;
        if let Ok(control) = control {
            for record in service::home_servers(state, &control).await? {
                if record.name.is_empty() {
                    continue;
                }
                let phase = state.servers.phase(name, &record.name);
                let (key, label) = phase_words(&phase);
                let quoted = ferrohub_core::url::quote_name(&record.name);
                named.push(context! {
                    name => &record.name,
                    display_name => if record.display_name.is_empty() { &record.name } else { &record.display_name },
                    url => state.urls.server_url(name, &record.name),
                    last_activity => record.last_activity.as_ref().map(ferrohub_core::time::iso_z),
                    phase => key,
                    status => label,
                    failed => match &phase { Phase::Failed(m) => Some(m.clone()), _ => None },
                    spawn_url => format!("{}spawn/{}/{quoted}", state.urls.hub, ferrohub_core::url::quote_name(name)),
                    pending_url => format!("{}spawn-pending/{}/{quoted}", state.urls.hub, ferrohub_core::url::quote_name(name)),
                    api_url => format!("{}api/users/{}/servers/{quoted}", state.urls.hub, ferrohub_core::url::quote_name(name)),
                });
            }
        }
    }
    let services: Vec<minijinja::Value> = services::displayed(state, &who.identity)
        .await?
        .into_iter()
        .map(|s| {
            let prefix = format!(
                "{}services/{}/",
                state.urls.base,
                ferrohub_core::url::quote_name(&s.name)
            );
            let href = state.urls.service_url(&s.name, &prefix);
            context! { name => s.name, href => href }
        })
        .collect();
    let (xsrf, cookie) = xsrf_for(state, headers, Some(&who.identity));
    let html = render(
        state,
        Some(who),
        "home.html",
        context! {
            phase => phase_name,
            failed => failed,
            server_url => state.urls.server_url(name, ""),
            xsrf => xsrf,
            allow_named_servers => config.allow_named_servers,
            named_server_limit_per_user => config.named_server_limit_per_user,
            named_servers => named,
            services => services,
            new_server_error => problem.map(|p| p.0),
            new_server_name => problem.map(|p| p.1),
        },
    );
    Ok(with_cookies((status, Html(html)).into_response(), cookie))
}

/// The home page's forms (`_xsrf` and, for named servers, the server's name).
#[derive(serde::Deserialize)]
pub(super) struct ServerForm {
    #[serde(default)]
    server_name: String,
}

/// `POST {hub}home`: the "new named server" form. A valid new name goes on
/// to the spawn page (which creates and starts it, or shows the options
/// form); a refused one comes back to the page with upstream's reason.
pub(super) async fn new_server(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedInForm(who, form): SignedInForm<ServerForm>,
) -> Result<Response, PageError> {
    let server = form.server_name.trim();
    let control = who
        .identity
        .server_control(&state, None, server)
        .await
        .map_err(PageError::from)?;
    if let Err(refused) = service::check_new_named(&state, &control).await {
        let refused = PageError::from(refused);
        if !state.config.jupyterhub.allow_named_servers {
            // The page has no form to show the reason next to.
            return Err(refused);
        }
        return render_home(
            &state,
            &headers,
            &who,
            Some((&refused.message, server)),
            refused.status,
        )
        .await;
    }
    let spawn = format!(
        "{}spawn/{}/{}",
        state.urls.hub,
        ferrohub_core::url::quote_name(&who.user.name),
        ferrohub_core::url::quote_name(server)
    );
    Ok((StatusCode::SEE_OTHER, [(http::header::LOCATION, spawn)]).into_response())
}

/// `POST {hub}stop`: the home page's stop buttons (the default server, or
/// the named server in `server_name`).
pub(super) async fn stop_post(
    State(state): State<AppState>,
    SignedInForm(who, form): SignedInForm<ServerForm>,
) -> Result<Response, PageError> {
    let control = who
        .identity
        .server_control(&state, None, &form.server_name)
        .await?;
    service::stop_from_page(&state, &control.stop()).await?;
    Ok(crate::redirect::found(&format!("{}home", state.urls.hub)))
}
