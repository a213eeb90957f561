//! Who is making a request: a token (`Authorization: token|Bearer`) or the
//! hub's login cookie, resolved to a user and their effective scopes.

use ferrohub_store::{TokenOwner, TokenRecord, UserRecord};
use http::HeaderMap;

use crate::cookies;
use crate::error::ApiError;
use crate::scopes::Scopes;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user.
    pub user: UserRecord,
    /// The token used, if any (cookie requests have none).
    pub token: Option<TokenRecord>,
    /// The caller's effective scopes.
    pub scopes: Scopes,
    /// Browser session id (cookie requests, OAuth tokens).
    pub session_id: Option<String>,
}

impl Identity {
    /// Whether the request came with the login cookie (then XSRF rules apply).
    #[must_use]
    pub fn via_cookie(&self) -> bool {
        self.token.is_none()
    }
}

/// The token in an `Authorization: token X` / `Bearer X` header.
#[must_use]
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.trim().split_once(' ')?;
    (kind.eq_ignore_ascii_case("token") || kind.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_owned())
}

/// Resolves a token to an identity; `Ok(None)` if it is unknown or expired.
pub async fn from_token(state: &AppState, token: &str) -> Result<Option<Identity>, ApiError> {
    let Some(record) = state.store.find_token(token).await? else {
        return Ok(None);
    };
    let TokenOwner::User(user_id) = record.owner else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Ok(None);
    };
    let owner_scopes = Scopes::for_user(&user.name, user.admin);
    let scopes = Scopes::resolve_token(&record.scopes, &user.name, &owner_scopes);
    let now = ferrohub_core::time::now();
    state.store.touch_token(record.id, &now).await?;
    state.store.touch_user(user.id, &now).await?;
    Ok(Some(Identity {
        session_id: record.session_id.clone(),
        user,
        token: Some(record),
        scopes,
    }))
}

/// Resolves the login cookie to an identity.
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
    let scopes = Scopes::for_user(&user.name, user.admin);
    let session_id = cookies::get(headers, cookies::SESSION_COOKIE);
    Ok(Some(Identity {
        user,
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
