//! Login and logout.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::{next_url, page_user, with_cookies, xsrf_for};
use crate::client_addr::ClientAddr;
use crate::cookies::{self, CookieOptions};
use crate::error::PageError;
use crate::state::AppState;

fn safe_next(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<String> {
    query
        .get("next")
        .and_then(|n| state.urls.safe_next(n, headers))
}

/// The back end's login URL with `next` added (upstream's `authenticator_login_url`).
fn authenticator_login_url(state: &AppState, next: &str) -> String {
    with_next(&state.auth.login_url(&state.urls.hub), next)
}

/// `url` with a `next` query parameter added (tornado's `url_concat`).
fn with_next(url: &str, next: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{joiner}next={}",
        ferrohub_core::url::quote_query(next)
    )
}

/// Where `auto_login` sends a signed-out browser: the back end's own login
/// URL, with `next` when one was asked for; `None` for a form back end,
/// whose login URL is the login page itself (upstream then tries the
/// request's own credentials and answers 403 without them).
fn auto_login_target(hub: &str, login_url: &str, next: Option<&str>) -> Option<String> {
    if login_url == format!("{hub}login") {
        return None;
    }
    Some(next.map_or_else(|| login_url.to_owned(), |next| with_next(login_url, next)))
}

fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let (xsrf, cookie) = xsrf_for(state, headers, None);
    let hub = &state.urls.hub;
    let ctx = context! {
        hub => hub,
        next => next,
        username => username,
        login_error => error,
        xsrf => xsrf,
        login_url => format!("{hub}login"),
        authenticator_login_url => authenticator_login_url(state, next),
        login_service => state.auth.login_service(),
    };
    // Upstream renders the back end's custom HTML as a template with the
    // form's variables (next, xsrf, the login URLs).
    let custom = state.auth.custom_html(hub);
    let custom_html = if custom.is_empty() {
        String::new()
    } else {
        state.templates.render_str(&custom, ctx.clone())
    };
    let html = state
        .templates
        .render("login.html", context! { custom_html => custom_html, ..ctx });
    with_cookies((status, Html(html)).into_response(), cookie)
}

/// `GET {hub}login`: straight on when already logged in; with
/// `Authenticator.auto_login`, the back end's own login instead of the form.
pub(super) async fn form(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let next = safe_next(&state, &headers, &query);
    if let Some(who) = page_user(&state, &headers).await? {
        let target = next_url(&state, Some(&who.user.name), next.as_deref(), uri.query());
        return Ok(crate::redirect::found(&target));
    }
    if state.auth.auto_login() {
        return auto_login(&state, &query, next.as_deref(), uri.query());
    }
    Ok(render_form(
        &state,
        &headers,
        StatusCode::OK,
        next.as_deref().unwrap_or_default(),
        query.get("username").map_or("", String::as_str),
        None,
    ))
}

/// `Authenticator.auto_login` on the login page, as upstream: a back end
/// that logs in elsewhere (its `login_url` is not this page, e.g. OAuth) gets
/// the browser at once, with `next` passed on when one was asked for. A form
/// back end (PAM, dummy: `login_url` is this page) would need credentials in
/// the request itself, which a browser arriving here never carries, so the
/// login fails with 403 and no form is shown.
fn auto_login(
    state: &AppState,
    query: &HashMap<String, String>,
    next: Option<&str>,
    request_query: Option<&str>,
) -> Result<Response, PageError> {
    let hub = &state.urls.hub;
    let next = query
        .get("next")
        .is_some_and(|n| !n.is_empty())
        .then(|| next_url(state, None, next, request_query));
    match auto_login_target(hub, &state.auth.login_url(hub), next.as_deref()) {
        Some(target) => Ok(crate::redirect::found(&target)),
        None => {
            tracing::warn!(
                "auto_login failed: {} logs in with a form, and a request to the login \
                 page carries no credentials",
                state.config.jupyterhub.authenticator_class
            );
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Automatic login failed: this hub signs users in automatically, \
                 but your request carried no credentials it accepts.",
            ))
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_xsrf")]
    xsrf: String,
}

/// `POST {hub}login`: checks credentials and policy, sets the login cookies.
/// A login refused by the throttle gets the form again with 429 and
/// `Retry-After`, the same page whether or not the user exists.
pub(super) async fn submit(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Query(query): Query<HashMap<String, String>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(&state, &headers, &query);
    let next_text = next.clone().unwrap_or_default();
    let anonymous = crate::xsrf::Owner::Anonymous;
    if !crate::xsrf::check(&state.cookie_secret, anonymous, &headers, Some(&form.xsrf)) {
        let message = "Login form invalid or expired. Try again.";
        return Ok(render_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &next_text,
            &form.username,
            Some(message),
        ));
    }
    let normalized = state.auth.normalize_username(&form.username);
    let existing = match state.auth.validate_username(&normalized) {
        Ok(()) => state.store.user_by_name(&normalized).await?,
        Err(_) => None,
    };
    let started = std::time::Instant::now();
    let outcome = state
        .auth
        .login_from(client, &form.username, &form.password, existing.is_some())
        .await
        .map_err(|e| PageError::internal(&e))?;
    let login_time = started.elapsed().as_secs_f64();
    let accepted = match outcome {
        ferrohub_auth::LoginOutcome::Accepted {
            name,
            admin,
            auth_state,
            groups,
        } => {
            let success = ferrohub_metrics::LoginStatus::Success;
            state.metrics.login_duration.observe(success, login_time);
            crate::service::logins::Accepted {
                name,
                admin,
                auth_state,
                groups,
            }
        }
        ferrohub_auth::LoginOutcome::Rejected(reason) => {
            let failure = ferrohub_metrics::LoginStatus::Failure;
            state.metrics.login_duration.observe(failure, login_time);
            tracing::warn!(username = %form.username, client = ?client, "failed login: {reason}");
            let message = "Invalid username or password";
            return Ok(render_form(
                &state,
                &headers,
                StatusCode::FORBIDDEN,
                &next_text,
                &form.username,
                Some(message),
            ));
        }
        // Not a login at all (the password was not checked): no metric.
        ferrohub_auth::LoginOutcome::Throttled { retry_after } => {
            let mut page = render_form(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &next_text,
                &form.username,
                Some(ferrohub_auth::THROTTLED_MESSAGE),
            );
            let seconds = ferrohub_auth::retry_after_secs(retry_after);
            page.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            return Ok(page);
        }
    };
    let user = crate::service::logins::apply(&state, accepted).await?;
    Ok(signed_in(
        &state,
        &headers,
        &user,
        next.as_deref(),
        uri.query(),
    ))
}

/// The response that ends any successful login (the form, or an identity
/// provider's redirect back): new login, session and XSRF cookies, and a
/// redirect to `next` (or the user's default). Records the login in the log.
pub(crate) fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    user: &ferrohub_store::UserRecord,
    next: Option<&str>,
    query: Option<&str>,
) -> Response {
    tracing::info!(user = %user.name, "user logged in");
    let now = chrono::Utc::now().timestamp();
    let max_age = state.config.jupyterhub.cookie_max_age_secs();
    let secure = state.urls.secure_cookies(headers);
    let login_value = cookies::sign(
        &state.cookie_secret,
        cookies::LOGIN_COOKIE,
        &user.cookie_id,
        now,
    );
    let session_id = ferrohub_core::token::new_token();
    let xsrf_owner = crate::xsrf::Owner::Session {
        session_id: &session_id,
        cookie_id: &user.cookie_id,
    };
    let (xsrf, _) = crate::xsrf::token(&state.cookie_secret, xsrf_owner, headers);
    let set = [
        cookies::set_cookie(
            cookies::LOGIN_COOKIE,
            &login_value,
            CookieOptions {
                path: &state.urls.hub,
                http_only: true,
                secure,
                max_age: Some(max_age),
            },
        ),
        cookies::on_domain(
            cookies::set_cookie(
                cookies::SESSION_COOKIE,
                &session_id,
                CookieOptions {
                    path: &state.urls.base,
                    http_only: true,
                    secure,
                    max_age: None,
                },
            ),
            state.urls.session_cookie_domain(),
        ),
        super::xsrf_cookie(state, headers, &xsrf),
    ];
    let target = next_url(state, Some(&user.name), next, query);
    with_cookies(crate::redirect::found(&target), set)
}

/// `GET {hub}logout`: clears the cookies and revokes this browser session's OAuth tokens.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let started = std::time::Instant::now();
    let response = logout_steps(&state, &headers).await;
    state
        .metrics
        .logout_duration
        .observe((), started.elapsed().as_secs_f64());
    response
}

async fn logout_steps(state: &AppState, headers: &HeaderMap) -> Result<Response, PageError> {
    if let Some(who) = page_user(state, headers).await? {
        if state.config.jupyterhub.shutdown_on_logout {
            crate::service::servers::stop_all_at_logout(state, &who.user).await?;
        }
        if let Some(session) = &who.identity.session_id {
            crate::service::oauth::end_session(state, &who.user, session).await?;
        }
        tracing::info!(user = %who.user.name, "user logged out");
    }
    let clear = [
        cookies::clear_cookie(cookies::LOGIN_COOKIE, &state.urls.hub),
        cookies::on_domain(
            cookies::clear_cookie(cookies::SESSION_COOKIE, &state.urls.base),
            state.urls.session_cookie_domain(),
        ),
        cookies::clear_cookie(cookies::XSRF_COOKIE, &state.urls.hub),
    ];
    let redirect_login = state.auth.redirect_login();
    let logout_redirect = redirect_login.and_then(|l| l.logout_redirect_url());
    // With auto_login the login page would sign the user straight back in
    // (or fail), so upstream shows a logout page instead of going there;
    // OAuthenticator's `logout_redirect_url` (e.g. the provider's own
    // logout) wins over both.
    let response = if let Some(url) = logout_redirect {
        crate::redirect::found(url)
    } else if state.auth.auto_login() {
        let html = state
            .templates
            .render("logout.html", context! { hub => &state.urls.hub });
        Html(html).into_response()
    } else {
        crate::redirect::found(&format!("{}login", state.urls.hub))
    };
    // OAuthenticator's logout clears a pending login's state too.
    let state_cookie = redirect_login
        .map(|_| cookies::clear_cookie(ferrohub_auth::STATE_COOKIE_NAME, &state.urls.hub));
    Ok(with_cookies(
        response,
        clear.into_iter().chain(state_cookie),
    ))
}

#[cfg(test)]
mod tests {
    use super::{auto_login_target, with_next};

    #[test]
    fn auto_login_goes_to_an_external_login_with_next_and_refuses_a_form() {
        assert_eq!(
            auto_login_target("/hub/", "/hub/login", Some("/hub/home")),
            None
        );
        assert_eq!(
            auto_login_target("/hub/", "/hub/oauth_login", None).as_deref(),
            Some("/hub/oauth_login")
        );
        assert_eq!(
            auto_login_target("/hub/", "/hub/oauth_login", Some("/user/ann/lab?a=1")).as_deref(),
            Some("/hub/oauth_login?next=%2Fuser%2Fann%2Flab%3Fa%3D1")
        );
        assert_eq!(
            with_next("https://sso.example/login?app=hub", "/hub/"),
            "https://sso.example/login?app=hub&next=%2Fhub%2F"
        );
    }
}
