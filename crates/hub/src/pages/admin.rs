//! The admin page (`{hub}admin`), as upstream's `AdminHandler`: a
//! server-rendered shell that needs the `admin-ui` scope, and one script
//! (`static/admin.js`) that lists, filters, sorts and changes users,
//! servers and groups through the REST API with the page's XSRF token. The
//! page itself grants nothing: every action is checked by the API it calls,
//! so an `admin-ui` holder without `admin:users` sees the API's refusal.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::signed_in::SignedIn;
use super::{error_page, with_cookies, xsrf_for};
use crate::capability::AdminUi;
use crate::error::{HubError, PageError};
use crate::state::AppState;

/// `GET {hub}admin`.
pub(super) async fn page(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    who.identity
        .on_hub::<AdminUi>(&state)
        .await
        .map_err(|e| match e {
            HubError::Denied(_) => error_page(
                StatusCode::FORBIDDEN,
                "The admin page needs the admin-ui permission, which you do not have.",
                Some((&format!("{}home", state.urls.hub), "Go to your home page")),
            ),
            other => other.into(),
        })?;
    let (xsrf, cookie) = xsrf_for(&state, &headers, Some(&who.identity));
    let config = &state.config.jupyterhub;
    let html = state.templates.render(
        "admin.html",
        context! {
            hub => &state.urls.hub,
            base_url => &state.urls.base,
            user => &who.user.name,
            admin_access => true,
            xsrf => xsrf,
            api_page_limit => config.api_page_default_limit,
            allow_named_servers => config.allow_named_servers,
        },
    );
    let mut response = with_cookies(Html(html).into_response(), cookie);
    // The page carries the session's XSRF token: keep it out of shared caches.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
