//! Browser pages: login, home, spawn (with the options form), tokens, admin, redirects and error pages.

mod admin;
mod assets;
mod home;
mod login;
mod next_url;
mod oauth;
mod pending;
mod redirects;
mod shares;
mod signed_in;
mod spawn;
mod tokens;

pub(crate) use redirects::into_hub;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, Uri, header};

use crate::cookies;
use crate::error::PageError;
use crate::identity::{self, Identity};
use crate::state::AppState;
use ferrohub_store::UserRecord;

/// Routes of the pages under `{hub}`, plus the catch-all redirect into the hub.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let hub = state.urls.hub.clone();
    let bare_hub = hub.trim_end_matches('/').to_owned();
    // An authenticator that logs in by redirect (OAuth) gets upstream's
    // routes; for any other they do not exist (404).
    let redirect_login = if state.auth.redirect_login().is_some() {
        Router::new()
            .route(&format!("{hub}oauth_login"), get(oauth::login))
            .route(&format!("{hub}oauth_callback"), get(oauth::callback))
    } else {
        Router::new()
    };
    Router::new()
        .merge(redirect_login)
        .route(&hub, get(redirects::hub_root))
        .route(&bare_hub, get(redirects::to_hub_root))
        .route(&format!("{hub}login"), get(login::form).post(login::submit))
        .route(&format!("{hub}logout"), get(login::logout))
        .route(
            &format!("{hub}home"),
            get(home::home).post(home::new_server),
        )
        .route(&format!("{hub}admin"), get(admin::page))
        .route(
            &format!("{hub}spawn"),
            get(spawn::spawn_get).post(spawn::spawn_post),
        )
        .route(
            &format!("{hub}spawn/{{name}}"),
            get(spawn::spawn_get_for).post(spawn::spawn_post_for),
        )
        .route(&format!("{hub}stop"), post(home::stop_post))
        .route(
            &format!("{hub}token"),
            get(tokens::page).post(tokens::request),
        )
        .route(&format!("{hub}token/revoke"), post(tokens::revoke))
        .route(
            &format!("{hub}token/revoke-application"),
            post(tokens::revoke_client),
        )
        .route(
            &format!("{hub}spawn/{{name}}/{{server}}"),
            get(spawn::spawn_get_for).post(spawn::spawn_post_for),
        )
        .route(
            &format!("{hub}spawn-pending/{{name}}"),
            get(pending::pending),
        )
        .route(
            &format!("{hub}spawn-pending/{{name}}/{{server}}"),
            get(pending::pending),
        )
        .route(
            &format!("{hub}user/{{name}}"),
            get(redirects::user_url_bare),
        )
        .route(
            &format!("{hub}user/{{name}}/"),
            get(redirects::user_url_bare),
        )
        .route(
            &format!("{hub}user/{{name}}/{{*rest}}"),
            get(redirects::user_url).post(redirects::user_url_api),
        )
        .route(
            &format!("{hub}user-redirect/{{*rest}}"),
            get(redirects::user_redirect),
        )
        .route(
            &format!("{hub}accept-share"),
            get(shares::accept_form).post(shares::accept),
        )
        .route(&format!("{hub}error/{{code}}"), get(redirects::proxy_error))
        .route(&format!("{hub}static/{{*path}}"), get(assets::serve_static))
        .route(&format!("{hub}logo"), get(assets::serve_logo))
        .route(&format!("{hub}health"), get(|| async { "" }))
        .route(&format!("{hub}api/health"), get(|| async { "" }))
        .route(
            &format!("{hub}security/csp-report"),
            post(
                |axum::extract::State(state): axum::extract::State<AppState>| async move {
                    state.metrics.csp_reports.inc();
                    http::StatusCode::NO_CONTENT
                },
            ),
        )
}

/// The `{name}` and optional `{server}` of a page's path (`/hub/spawn/alice`
/// names alice's default server, `/hub/spawn/alice/nb` her server `nb`).
pub(crate) struct ServerPath {
    /// The server's owner.
    pub user: String,
    /// The server's name; empty for the default server.
    pub server: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ServerPath {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        let axum::extract::Path(mut params) = axum::extract::Path::<
            std::collections::BTreeMap<String, String>,
        >::from_request_parts(parts, state)
        .await
        .map_err(|e| PageError::new(http::StatusCode::BAD_REQUEST, e.body_text()))?;
        Ok(Self {
            user: params.remove("name").unwrap_or_default(),
            server: params.remove("server").unwrap_or_default(),
        })
    }
}

/// The user of a page (pages only accept the login cookie, so always a user).
pub(crate) struct PageUser {
    /// The logged-in user.
    pub user: UserRecord,
    /// Their identity and scopes.
    pub identity: Identity,
    /// Whether they hold `admin-ui`: every page's header then links the admin page.
    pub admin_access: bool,
}

/// The cookie-authenticated user of a page, if any.
async fn page_user(state: &AppState, headers: &HeaderMap) -> Result<Option<PageUser>, PageError> {
    let identity = identity::from_cookie(state, headers)
        .await
        .map_err(|e| PageError::new(e.status, e.message))?;
    let Some(identity) = identity else {
        return Ok(None);
    };
    let Some(user) = identity.user().cloned() else {
        return Ok(None);
    };
    let admin_access = identity
        .allows(
            state,
            ferrohub_rbac::scopes::ADMIN_UI,
            crate::access::Target::Hub,
        )
        .await
        .map_err(|e| PageError::new(e.status, e.message))?;
    Ok(Some(PageUser {
        user,
        identity,
        admin_access,
    }))
}

/// Renders a page with what every page's header needs (`hub`, the signed-in
/// `user`'s name, `admin_access` for the Admin link) under the page's own
/// `ctx`, so no handler can forget one of them. `ctx` wins on a clash.
pub(crate) fn render(
    state: &AppState,
    who: Option<&PageUser>,
    template: &str,
    ctx: minijinja::Value,
) -> String {
    let common = minijinja::context! {
        hub => &state.urls.hub,
        user => who.map(|w| &w.user.name),
        admin_access => who.is_some_and(|w| w.admin_access),
    };
    state
        .templates
        .render(template, minijinja::value::merge_maps([ctx, common]))
}

/// Redirect to the login page, coming back to `uri` afterwards.
fn to_login(state: &AppState, uri: &Uri) -> Response {
    let next = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    crate::redirect::found(&format!(
        "{}login?next={}",
        state.urls.hub,
        ferrohub_core::url::quote_query(&next)
    ))
}

/// The page's XSRF token for `who` (signed out: `None`), and a `Set-Cookie`
/// to add when the browser's `_xsrf` cookie is missing or stale.
pub(crate) fn xsrf_for(
    state: &AppState,
    headers: &HeaderMap,
    who: Option<&Identity>,
) -> (String, Option<String>) {
    let owner = crate::xsrf::Owner::of(who);
    let (token, stale) = crate::xsrf::token(&state.cookie_secret, owner, headers);
    let cookie = stale.then(|| xsrf_cookie(state, headers, &token));
    (token, cookie)
}

/// The `Set-Cookie` that hands `token` to the page's scripts.
pub(crate) fn xsrf_cookie(state: &AppState, headers: &HeaderMap, token: &str) -> String {
    let opts = cookies::CookieOptions {
        path: &state.urls.hub,
        http_only: false,
        secure: state.urls.secure_cookies(headers),
        max_age: None,
    };
    cookies::set_cookie(cookies::XSRF_COOKIE, token, opts)
}

/// Adds `Set-Cookie` headers to a response.
fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Upstream's `get_next_url`: `next` (already checked by the safe-redirect
/// rule) if given, else the default for `user` (`None`: signed out) with
/// the request's other query parameters kept.
fn next_url(
    state: &AppState,
    user: Option<&str>,
    next: Option<&str>,
    request_query: Option<&str>,
) -> String {
    let server_url = user.map(|name| state.urls.server_url(name, ""));
    let user_server = user.zip(server_url.as_deref()).map(|(name, url)| {
        let active = matches!(
            state.servers.phase(name, ""),
            crate::runtime::Phase::Ready
                | crate::runtime::Phase::Spawning
                | crate::runtime::Phase::Stopping
        );
        (url, active)
    });
    next_url::choose(&next_url::NextUrlInputs {
        hub: &state.urls.hub,
        next_param: next,
        default_url: &state.config.jupyterhub.default_url,
        redirect_to_server: state.config.jupyterhub.redirect_to_server,
        user_server,
        request_query,
    })
}

/// A browser form's `_xsrf` field must be the token of `who`'s session (403 page if not).
fn check_xsrf(
    state: &AppState,
    headers: &HeaderMap,
    who: Option<&Identity>,
    given: &str,
) -> Result<(), PageError> {
    let owner = crate::xsrf::Owner::of(who);
    if crate::xsrf::check(&state.cookie_secret, owner, headers, Some(given)) {
        Ok(())
    } else {
        Err(error_page(
            http::StatusCode::FORBIDDEN,
            "The form was invalid or expired (XSRF check failed). Reload the page and try again.",
            None,
        ))
    }
}

/// An error page (rendered with the site template by [`render_error_pages`]).
fn error_page(status: http::StatusCode, message: &str, link: Option<(&str, &str)>) -> PageError {
    PageError {
        status,
        message: message.to_owned(),
        link: link.map(|(href, text)| (href.to_owned(), text.to_owned())),
    }
}

/// Renders every page error with the site template, with the signed-in
/// user's name and links in the header, as any other page. One place for
/// all handlers (and extractors) that fail with a [`PageError`].
pub(crate) async fn render_error_pages(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let cookie = request.headers().get(header::COOKIE).cloned();
    let mut response = next.run(request).await;
    let Some(error) = response.extensions_mut().remove::<PageError>() else {
        return response;
    };
    let mut headers = HeaderMap::new();
    if let Some(cookie) = cookie {
        headers.insert(header::COOKIE, cookie);
    }
    // A page that failed on the login cookie itself is shown signed out.
    let user = page_user(&state, &headers).await.ok().flatten();
    let html = render(
        &state,
        user.as_ref(),
        "error.html",
        minijinja::context! {
            status => error.status.as_u16(),
            reason => error.status.canonical_reason().unwrap_or(""),
            message => &error.message,
            link => error.link.as_ref().map(|l| &l.0),
            link_text => error.link.as_ref().map(|l| &l.1),
        },
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    *response.body_mut() = axum::body::Body::from(html);
    response
}
