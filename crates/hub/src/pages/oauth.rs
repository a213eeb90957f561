//! `GET {hub}oauth_login` and `GET {hub}oauth_callback`: the HTTP side of a
//! login by redirect (OAuthenticator's routes, so OAuth applications
//! registered for a JupyterHub keep working). The authenticator
//! (`ferrohub_auth::RedirectLogin`) builds the provider URL and checks the
//! callback; these handlers keep its state in the signed, HttpOnly
//! `oauthenticator-state` cookie, run the same login policy and completion
//! as the login form (`Auth::admit`, `service::logins::apply`,
//! `login::signed_in`), and turn refusals into clear pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use ferrohub_auth::{CallbackParams, LoginOutcome, RedirectError, STATE_COOKIE_NAME};
use http::{HeaderMap, StatusCode, header};

use super::with_cookies;
use crate::cookies::{self, CookieOptions};
use crate::error::PageError;
use crate::state::AppState;

/// How long a login may take at the provider (upstream's cookie lives a
/// day; its signature is checked with this age).
const STATE_MAX_AGE_SECS: i64 = 86_400;

/// `GET {hub}oauth_login`: remembers the state in a cookie and sends the
/// browser to the provider.
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let login = state.auth.redirect_login().ok_or_else(not_found)?;
    // The same rule as the login page's `next`.
    let next = query
        .get("next")
        .and_then(|n| state.urls.safe_next(n, &headers));
    let callback = callback_url(&state, &headers, login.callback_url());
    tracing::info!("OAuth redirect: {callback}");
    let start = login
        .begin(&callback, next.as_deref())
        .await
        .map_err(|e| refusal(&state, &e))?;
    let now = chrono::Utc::now().timestamp();
    let signed = cookies::sign(&state.cookie_secret, STATE_COOKIE_NAME, &start.kept, now);
    let cookie = cookies::set_cookie(
        STATE_COOKIE_NAME,
        &signed,
        CookieOptions {
            path: &state.urls.hub,
            http_only: true,
            secure: state.urls.secure_cookies(&headers),
            max_age: Some(STATE_MAX_AGE_SECS),
        },
    );
    Ok(with_cookies(
        crate::redirect::found(&start.authorize_url),
        [cookie],
    ))
}

/// `GET {hub}oauth_callback`: checks the provider's answer against this
/// browser's state, then logs the user in as the login form would. The
/// state cookie is cleared whatever the outcome (it is single-use).
pub(super) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let login = state.auth.redirect_login().ok_or_else(not_found)?;
    let clear = cookies::clear_cookie(STATE_COOKIE_NAME, &state.urls.hub);
    let now = chrono::Utc::now().timestamp();
    let kept = cookies::get(&headers, STATE_COOKIE_NAME).and_then(|value| {
        cookies::verify(
            &state.cookie_secret,
            STATE_COOKIE_NAME,
            &value,
            STATE_MAX_AGE_SECS,
            now,
        )
    });
    let params = CallbackParams {
        code: query.get("code").cloned(),
        state: query.get("state").cloned(),
        error: query.get("error").cloned(),
        error_description: query.get("error_description").cloned(),
    };
    let started = std::time::Instant::now();
    let failure = ferrohub_metrics::LoginStatus::Failure;
    let finished = match login.finish(&params, kept.as_deref()).await {
        Ok(finished) => finished,
        Err(e) => {
            state
                .metrics
                .login_duration
                .observe(failure, started.elapsed().as_secs_f64());
            return Ok(with_cookies(refusal(&state, &e).into_response(), [clear]));
        }
    };
    let normalized = state.auth.normalize_username(&finished.authenticated.name);
    let exists = match state.auth.validate_username(&normalized) {
        Ok(()) => state.store.user_by_name(&normalized).await?.is_some(),
        Err(_) => false,
    };
    let outcome = state
        .auth
        .admit(finished.authenticated, exists)
        .await
        .map_err(|e| PageError::internal(&e))?;
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = match outcome {
        LoginOutcome::Accepted {
            name,
            admin,
            auth_state,
            groups,
        } => crate::service::logins::Accepted {
            name,
            admin,
            auth_state,
            groups,
        },
        LoginOutcome::Rejected(reason) => {
            state.metrics.login_duration.observe(failure, elapsed);
            tracing::warn!("OAuth login refused: {reason}");
            let page = PageError::new(StatusCode::FORBIDDEN, login.refused_message());
            return Ok(with_cookies(page.into_response(), [clear]));
        }
        LoginOutcome::Throttled { retry_after } => {
            state.metrics.login_duration.observe(failure, elapsed);
            let page = PageError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ferrohub_auth::THROTTLED_MESSAGE,
            );
            let mut response = with_cookies(page.into_response(), [clear]);
            let seconds = ferrohub_auth::retry_after_secs(retry_after);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(seconds));
            return Ok(response);
        }
    };
    let success = ferrohub_metrics::LoginStatus::Success;
    state.metrics.login_duration.observe(success, elapsed);
    let user = crate::service::logins::apply(&state, accepted).await?;
    // `next` came back from our own signed cookie, but check it again.
    let next = finished
        .next
        .and_then(|n| ferrohub_core::url::safe_next_url(&n, &state.urls.base));
    let response = super::login::signed_in(&state, &headers, &user, next.as_deref(), None);
    Ok(with_cookies(response, [clear]))
}

fn not_found() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "Not Found")
}

/// The page for a failed redirect login: the user's message only (the
/// details go to the log), with a way to start over.
fn refusal(state: &AppState, e: &RedirectError) -> PageError {
    let mut page = match e {
        RedirectError::BadRequest { message } => {
            tracing::warn!("OAuth callback refused: {message}");
            PageError::new(StatusCode::BAD_REQUEST, message.clone())
        }
        RedirectError::Refused { message, detail } => {
            tracing::warn!("OAuth login refused: {detail}");
            PageError::new(StatusCode::FORBIDDEN, message.clone())
        }
        RedirectError::Provider { detail } => {
            tracing::error!("OAuth identity provider failed: {detail}");
            PageError::new(
                StatusCode::BAD_GATEWAY,
                "The identity provider could not be reached or gave an answer the hub \
                 cannot use. Please try again later; if this persists, contact the hub \
                 administrator.",
            )
        }
    };
    page.link = Some((
        format!("{}login", state.urls.hub),
        "Sign in again".to_owned(),
    ));
    page
}

/// `oauth_callback_url`, or upstream's guess from the request: the scheme
/// the browser used ([`crate::urls::HubUrls::browser_scheme`]) and its
/// `Host`, plus `{hub}oauth_callback`; with `JupyterHub.public_url`, its
/// scheme and host instead.
fn callback_url(state: &AppState, headers: &HeaderMap, configured: Option<&str>) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    if let Some(origin) = &state.urls.public_origin {
        return format!("{origin}{}oauth_callback", state.urls.hub);
    }
    let scheme = state.urls.browser_scheme(headers);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}{}oauth_callback", state.urls.hub)
}
