//! Login and logout.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;

use super::{default_next, page_user, with_cookies, xsrf_for};
use crate::client_addr::ClientAddr;
use crate::cookies::{self, CookieOptions};
use crate::error::PageError;
use crate::state::AppState;

fn safe_next(state: &AppState, query: &HashMap<String, String>) -> Option<String> {
    query
        .get("next")
        .and_then(|n| ferrohub_core::url::safe_next_url(n, &state.urls.base))
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
    let html = state.templates.render(
        "login.html",
        context! { hub => &state.urls.hub, next => next, username => username, login_error => error, xsrf => xsrf },
    );
    with_cookies((status, Html(html)).into_response(), cookie)
}

/// `GET {hub}login`: the form, or straight on when already logged in.
pub(super) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let next = safe_next(&state, &query);
    if let Some(who) = page_user(&state, &headers).await? {
        let target = next.unwrap_or_else(|| default_next(&state, &who.user.name));
        return Ok(crate::redirect::found(&target));
    }
    Ok(render_form(
        &state,
        &headers,
        StatusCode::OK,
        next.as_deref().unwrap_or_default(),
        "",
        None,
    ))
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
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Query(query): Query<HashMap<String, String>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(&state, &query);
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
    let existing = match ferrohub_core::names::validate_username(&normalized) {
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
    let (name, admin) = match outcome {
        ferrohub_auth::LoginOutcome::Accepted { name, admin } => {
            let success = ferrohub_metrics::LoginStatus::Success;
            state.metrics.login_duration.observe(success, login_time);
            (name, admin)
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
    let user = match state.store.user_by_name(&name).await? {
        Some(user) => user,
        None => crate::roles::create_user(&state, &name, admin == Some(true)).await?,
    };
    // The authenticator may grant or (with PAM admin_groups) revoke admin rights.
    if let Some(admin) = admin.filter(|a| *a != user.admin) {
        crate::roles::set_admin(&state, &user, admin).await?;
    }
    // Upstream re-ensures the default roles at every login.
    crate::roles::grant_default_roles(&state.store, &user).await?;
    tracing::info!(user = %user.name, "user logged in");
    let now = chrono::Utc::now().timestamp();
    let max_age = state.config.jupyterhub.cookie_max_age_secs();
    let secure = state.urls.secure_cookies();
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
    let (xsrf, _) = crate::xsrf::token(&state.cookie_secret, xsrf_owner, &headers);
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
        super::xsrf_cookie(&state, &xsrf),
    ];
    let target = next.unwrap_or_else(|| default_next(&state, &user.name));
    Ok(with_cookies(crate::redirect::found(&target), set))
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
        if let Some(session) = &who.identity.session_id {
            crate::service::oauth::end_session(state, &who.user, session).await?;
        }
        tracing::info!(user = %who.user.name, "user logged out");
    }
    let clear = [
        cookies::clear_cookie(cookies::LOGIN_COOKIE, &state.urls.hub),
        cookies::clear_cookie(cookies::SESSION_COOKIE, &state.urls.base),
        cookies::clear_cookie(cookies::XSRF_COOKIE, &state.urls.hub),
    ];
    Ok(with_cookies(
        crate::redirect::found(&format!("{}login", state.urls.hub)),
        clear,
    ))
}
