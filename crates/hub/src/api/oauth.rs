//! The hub as OAuth 2 provider for single-user servers: the HTTP side of
//! `service::oauth` (authorize page and redirects, token endpoint).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, StatusCode, Uri, header};
use serde_json::json;

use crate::cookies;
use crate::error::{OAuthError, PageError};
use crate::identity;
use crate::service::oauth::{self, Authorize, AuthorizeRequest};
use crate::state::AppState;

/// The largest token request body read, in bytes. Its fields are the grant
/// type, client id and secret, code and PKCE verifier (each at most
/// [`ferrohub_core::token::MAX_SECRET_LEN`]) and the redirect URI (at most
/// 1023, its column's size): under 8 KiB even if every byte is percent-encoded.
const TOKEN_FORM_LIMIT: usize = 16 * 1024;

/// Either a request to answer, or the answer already (login redirect, OAuth error redirect).
enum Checked {
    Request(Box<AuthorizeRequest>),
    Answered(Response),
}

/// The signed-in user's authorization request, or the login page when
/// nobody is signed in, or the client's error redirect.
async fn check_request(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Checked, PageError> {
    let Some(who) = identity::from_cookie(state, headers)
        .await
        .map_err(|e| PageError::new(e.status, e.message))?
    else {
        let next = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        // `auto_login_oauth2_authorize`: the authenticator's own login (an
        // identity provider's) at once, as upstream's `get_login_url`.
        let login_url = if state.config.authenticator.auto_login_oauth2_authorize {
            state.auth.login_url(&state.urls.hub)
        } else {
            format!("{}login", state.urls.hub)
        };
        let login = format!(
            "{login_url}?next={}",
            ferrohub_core::url::quote_query(&next)
        );
        return Ok(Checked::Answered(crate::redirect::found(&login)));
    };
    Ok(match oauth::check_authorize(state, &who, params).await? {
        Authorize::Request(request) => Checked::Request(request),
        Authorize::Redirect(location) => Checked::Answered(crate::redirect::found(&location)),
    })
}

/// The XSRF owner of the authorize form: the browser session and user.
fn xsrf_owner(request: &AuthorizeRequest) -> crate::xsrf::Owner<'_> {
    crate::xsrf::Owner::Session {
        session_id: request.session_id.as_deref().unwrap_or(""),
        cookie_id: &request.access.user().cookie_id,
    }
}

/// `GET {hub}api/oauth2/authorize`: a code straight away when no confirmation is
/// needed, else the page asking the user to authorize the client.
pub(super) async fn authorize(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let request = match check_request(&state, &uri, &headers, &params).await? {
        Checked::Answered(response) => return Ok(response),
        Checked::Request(request) => request,
    };
    if !oauth::needs_confirmation(&state, &request).await? {
        return issue_code(&state, &headers, *request).await;
    }
    let user = request.access.user();
    let scopes = ferrohub_rbac::describe_raw_scopes(
        request.access.granted(),
        Some(&user.name),
        &state.custom_scopes,
    )
    .unwrap_or_default();
    let scopes: Vec<_> = scopes
        .into_iter()
        .map(|s| minijinja::context! { description => s.description, filter => s.filter })
        .collect();
    let (xsrf, stale) = crate::xsrf::token(&state.cookie_secret, xsrf_owner(&request), &headers);
    let cookie = stale.then(|| crate::pages::xsrf_cookie(&state, &headers, &xsrf));
    let html = state.templates.render(
        "oauth.html",
        minijinja::context! {
            hub => &state.urls.hub,
            user => &user.name,
            client => &request.client.description,
            redirect_uri => &request.client.redirect_uri,
            scopes => scopes,
            granted => request.access.granted().to_vec(),
            xsrf => xsrf,
        },
    );
    let mut response = axum::response::Html(html).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST {hub}api/oauth2/authorize`: the confirmation form; grants the scopes
/// the form lists, as far as the request allows them.
pub(super) async fn authorize_confirmed(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "Malformed form."))?;
    let xsrf = form
        .iter()
        .find(|(k, _)| k == "_xsrf")
        .map(|(_, v)| v.as_str());
    let mut request = match check_request(&state, &uri, &headers, &params).await? {
        Checked::Answered(response) => return Ok(response),
        Checked::Request(request) => request,
    };
    if !crate::xsrf::check(&state.cookie_secret, xsrf_owner(&request), &headers, xsrf) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "The form was invalid or expired (XSRF check failed). Reload the page and try again.",
        ));
    }
    let confirmed: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v.as_str())
        .collect();
    oauth::confirm(&mut request, &confirmed)?;
    issue_code(&state, &headers, *request).await
}

/// Issues the code and redirects to the client with it (setting the session
/// cookie when the grant started a session).
async fn issue_code(
    state: &AppState,
    headers: &HeaderMap,
    request: AuthorizeRequest,
) -> Result<Response, PageError> {
    let issued = oauth::issue_code(state, request).await?;
    let mut response = crate::redirect::found(&issued.location);
    if let Some(id) = issued.new_session {
        let opts = cookies::CookieOptions {
            path: &state.urls.base,
            http_only: true,
            secure: state.urls.secure_cookies(headers),
            max_age: None,
        };
        let cookie = cookies::on_domain(
            cookies::set_cookie(cookies::SESSION_COOKIE, &id, opts),
            state.urls.session_cookie_domain(),
        );
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Client credentials from the form or HTTP Basic auth.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    match (form.get("client_id"), form.get("client_secret"), basic) {
        (Some(id), Some(secret), _) => (id.clone(), secret.clone()),
        (_, _, Some(pair)) => pair,
        (id, _, None) => (id.cloned().unwrap_or_default(), String::new()),
    }
}

/// `POST {hub}api/oauth2/token`: exchanges a code for an access token.
pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // A form bigger than any valid request is refused unparsed: decoding a
    // megabyte costs the async worker more than all the rest of the request.
    if body.len() > TOKEN_FORM_LIMIT {
        return OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token request is too large.",
        )
        .into_response();
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (client_id, secret) = client_credentials(&headers, &form);
    let issued = match oauth::exchange(&state, &client_id, &secret, &form).await {
        Ok(issued) => issued,
        Err(e) => return e.into_oauth_response(),
    };
    let body = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
        "scope": issued.scopes.join(" "),
    });
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}
