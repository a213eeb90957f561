//! Accepting a share code (`{hub}accept-share?code=...`): the page shows what
//! the invitation grants; posting it turns the code into a share for the
//! logged-in user and goes to the shared server.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::signed_in::{SignedIn, SignedInForm};
use super::{PageUser, error_page, with_cookies, xsrf_for};
use crate::error::{HubError, PageError};
use crate::runtime::Phase;
use crate::service::shares::{self, Invitation};
use crate::state::AppState;

/// The form the accept page posts.
#[derive(serde::Deserialize)]
pub(super) struct AcceptForm {
    #[serde(default)]
    code: String,
}

/// The invitation behind `code` for `who`; `missing` is the status for an
/// unknown code and `own` for one's own (upstream: 404/403 on the page, 400
/// on POST).
async fn invitation(
    state: &AppState,
    who: &PageUser,
    code: &str,
    missing: StatusCode,
    own: StatusCode,
) -> Result<Invitation, PageError> {
    shares::invitation(state, &who.user, code)
        .await
        .map_err(|e| match e {
            HubError::NotFound(message) => error_page(missing, &message, None),
            HubError::Forbidden(message) => error_page(own, &message, None),
            other => other.into(),
        })
}

/// Where to go after accepting: a safe `next`, else the shared server.
fn next_url(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    invite: &Invitation,
) -> String {
    query
        .get("next")
        .and_then(|n| state.urls.safe_next(n, headers))
        .unwrap_or_else(|| {
            state
                .urls
                .server_url(&invite.owner.name, &invite.spawner.name)
        })
}

/// `GET {hub}accept-share?code=...`: what accepting would grant.
pub(super) async fn accept_form(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let code = query.get("code").map_or("", String::as_str);
    let invite = invitation(
        &state,
        &who,
        code,
        StatusCode::NOT_FOUND,
        StatusCode::FORBIDDEN,
    )
    .await?;
    let scopes = ferrohub_rbac::describe_raw_scopes(
        &invite.code.scopes,
        Some(&who.user.name),
        &state.custom_scopes,
    )
    .unwrap_or_default();
    let scopes: Vec<_> = scopes
        .into_iter()
        .map(|s| context! { description => s.description, filter => s.filter })
        .collect();
    let (owner, server) = (&invite.owner.name, &invite.spawner.name);
    let (xsrf, cookie) = xsrf_for(&state, &headers, Some(&who.identity));
    let html = super::render(
        &state,
        Some(&who),
        "accept_share.html",
        context! {
            owner => owner,
            server => server,
            server_url => state.urls.server_url(owner, server),
            server_ready => state.servers.phase(owner, server) == Phase::Ready,
            scopes => scopes,
            code => code,
            xsrf => xsrf,
            next_url => next_url(&state, &headers, &query, &invite),
        },
    );
    Ok(with_cookies(Html(html).into_response(), cookie))
}

/// `POST {hub}accept-share`: exchanges the code for a share and goes to the server.
pub(super) async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    SignedInForm(who, form): SignedInForm<AcceptForm>,
) -> Result<Response, PageError> {
    let invite = invitation(
        &state,
        &who,
        &form.code,
        StatusCode::BAD_REQUEST,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    shares::accept(&state, &who.user, &invite).await?;
    tracing::info!(
        user = %who.user.name,
        owner = %invite.owner.name,
        server = %invite.spawner.name,
        "accepted share code sc_{}",
        invite.code.id
    );
    Ok(crate::redirect::found(&next_url(
        &state, &headers, &query, &invite,
    )))
}
