//! Who is making a request: a token (`Authorization: token|Bearer`) or the
//! hub's login cookie, resolved to its owner and effective scopes (see `access`).

use ferrohub_store::TokenRecord;
use http::HeaderMap;

use crate::access::{self, Principal};
use crate::cookies;
use crate::error::ApiError;
use crate::state::AppState;

pub use crate::access::Identity;

/// The token in an `Authorization: token X` / `Bearer X` header.
#[must_use]
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.trim().split_once(' ')?;
    (kind.eq_ignore_ascii_case("token") || kind.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_owned())
}

/// Whether a stored time is older than `activity_resolution` (or unset), so that
/// busy clients do not write to the database on every request.
fn stale(state: &AppState, last: Option<&ferrohub_core::time::Timestamp>) -> bool {
    let resolution = chrono::Duration::seconds(
        i64::try_from(state.config.jupyterhub.activity_resolution).unwrap_or(i64::MAX),
    );
    last.is_none_or(|t| ferrohub_core::time::now() - *t >= resolution)
}

/// Records that a token was used; its owner's activity too, except for a server's
/// own token (upstream: those do not count as the user being active).
async fn record_use(
    state: &AppState,
    record: &TokenRecord,
    principal: &Principal,
) -> Result<(), ApiError> {
    let now = ferrohub_core::time::now();
    if stale(state, record.last_activity.as_ref()) {
        state.store.touch_token(record.id, &now).await?;
    }
    let server_token = record
        .note
        .as_deref()
        .is_some_and(|n| n.starts_with("Server at "));
    if let Principal::User(user) = principal
        && !server_token
        && stale(state, user.last_activity.as_ref())
    {
        state.store.touch_user(user.id, &now).await?;
    }
    Ok(())
}

/// Resolves a token to an identity; `Ok(None)` if it is unknown or expired.
pub async fn from_token(state: &AppState, token: &str) -> Result<Option<Identity>, ApiError> {
    let Some(record) = state.store.find_token(token).await? else {
        return Ok(None);
    };
    let Some(principal) = access::token_principal(state, &record).await? else {
        return Ok(None);
    };
    if let Principal::User(user) = &principal
        && state.auth.is_blocked(&user.name)
    {
        return Ok(None);
    }
    let scopes = access::token_scopes(state, &record, &principal).await?;
    record_use(state, &record, &principal).await?;
    Ok(Some(Identity {
        session_id: record.session_id.clone(),
        principal,
        token: Some(record),
        scopes,
    }))
}

/// Resolves the login cookie to an identity (always a user).
pub async fn from_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Identity>, ApiError> {
    let Some(signed) = cookies::get(headers, cookies::LOGIN_COOKIE) else {
        return Ok(None);
    };
    let max_age = state.config.jupyterhub.cookie_max_age_secs();
    let now = chrono::Utc::now().timestamp();
    let Some(cookie_id) = cookies::verify(
        &state.cookie_secret,
        cookies::LOGIN_COOKIE,
        &signed,
        max_age,
        now,
    ) else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_cookie_id(&cookie_id).await? else {
        return Ok(None);
    };
    if state.auth.is_blocked(&user.name) {
        return Ok(None);
    }
    let scopes = access::user_scopes(state, &user).await?;
    let session_id = cookies::get(headers, cookies::SESSION_COOKIE);
    Ok(Some(Identity {
        principal: Principal::User(user),
        token: None,
        scopes,
        session_id,
    }))
}

/// Token first, then cookie.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<Identity>, ApiError> {
    if let Some(token) = bearer_token(headers) {
        return from_token(state, &token).await;
    }
    from_cookie(state, headers).await
}
