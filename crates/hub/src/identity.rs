//! Who is making a request: a token (`Authorization: token|Bearer`) or the
//! hub's login cookie, resolved to its owner and effective scopes (see `access`).

use std::sync::Arc;

use ferrohub_core::time::Timestamp;
use http::HeaderMap;

use crate::access::{self, Principal};
use crate::cookies;
use crate::credential_cache::{CredentialKey, earliest};
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) use crate::access::Identity;

/// The token in an `Authorization: token X` / `Bearer X` header.
#[must_use]
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.trim().split_once(' ')?;
    (kind.eq_ignore_ascii_case("token") || kind.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_owned())
}

/// Whether a stored time is more than `activity_resolution` old (or unset, or
/// the resolution is 0), so that busy clients do not write to the database on
/// every request: upstream's `_record_activity`.
fn stale(state: &AppState, last: Option<&ferrohub_core::time::Timestamp>) -> bool {
    let seconds = state.config.jupyterhub.activity_resolution;
    let resolution = chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX));
    last.is_none_or(|t| seconds == 0 || ferrohub_core::time::now() - *t > resolution)
}
/// Records the credential's use (activity stamps), then keeps the identity in
/// the credential cache: a freshly `resolved` one (`Some(expiry)`) is stored;
/// a cached one is refreshed when its activity times changed, or every later
/// request would write them again.
async fn remember_use(
    state: &AppState,
    key: CredentialKey,
    generation: u64,
    mut identity: Identity,
    resolved: Option<Option<Timestamp>>,
) -> Result<Identity, ApiError> {
    let touched = record_use(state, &mut identity).await?;
    match resolved {
        Some(expires) => state
            .credentials
            .put(key, generation, identity.clone(), expires),
        None if touched => state.credentials.refresh(&key, identity.clone()),
        None => {}
    }
    Ok(identity)
}

/// Records that a credential was used: the token's activity, and its owner's
/// except for a server's own token (upstream: those do not count as the user
/// being active); a login cookie counts as its user's activity, as upstream's
/// `_user_for_cookie`. Updates `identity` with the times written and says
/// whether anything was.
async fn record_use(state: &AppState, identity: &mut Identity) -> Result<bool, ApiError> {
    let now = ferrohub_core::time::now();
    let mut touched = false;
    if let Some(record) = identity.token.as_mut()
        && stale(state, record.last_activity.as_ref())
    {
        state.store.touch_token(record.id, &now).await?;
        record.last_activity = Some(now);
        touched = true;
    }
    let server_token = identity
        .token
        .as_ref()
        .and_then(|t| t.note.as_deref())
        .is_some_and(|n| n.starts_with("Server at "));
    if let Principal::User(user) = &mut identity.principal
        && !server_token
        && stale(state, user.last_activity.as_ref())
    {
        state.store.touch_user(user.id, &now).await?;
        user.last_activity = Some(now);
        touched = true;
    }
    Ok(touched)
}

/// Resolves a token to an identity; `Ok(None)` if it is unknown or expired.
/// Uses and fills the credential cache (see `credential_cache`).
pub(crate) async fn from_token(
    state: &AppState,
    token: &str,
) -> Result<Option<Identity>, ApiError> {
    let key = CredentialKey::token(token);
    // Read before resolving: a write that lands meanwhile makes the entry stale.
    let generation = state.store.generation();
    let (identity, resolved) = match state.credentials.get(&key, generation) {
        Some(identity) => (identity, None),
        None => {
            let Some((identity, expires)) = resolve_token(state, token).await? else {
                return Ok(None);
            };
            (identity, Some(expires))
        }
    };
    if !still_authenticated(state, &identity).await? {
        return Ok(None);
    }
    remember_use(state, key, generation, identity, resolved)
        .await
        .map(Some)
}

/// Whether the authenticator still vouches for a user credential's owner
/// (see `auth_refresh`): an expired authentication makes the credential
/// count for nothing until the user logs in again, as upstream.
async fn still_authenticated(state: &AppState, identity: &Identity) -> Result<bool, ApiError> {
    match &identity.principal {
        Principal::User(user) => Ok(crate::service::auth_refresh::check(
            state,
            user,
            crate::service::auth_refresh::Why::Request,
        )
        .await?),
        Principal::Service(_) => Ok(true),
    }
}

/// Resolves a token from the database: owner, effective scopes, and when the
/// result stops being valid (token or share expiry).
async fn resolve_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(Identity, Option<Timestamp>)>, ApiError> {
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
    let (scopes, shares_expire) = access::token_scopes_until(state, &record, &principal).await?;
    let expires = earliest(record.expires_at, shares_expire);
    Ok(Some((
        Identity {
            session_id: record.session_id.clone(),
            principal,
            token: Some(record),
            scopes: Arc::new(scopes),
        },
        expires,
    )))
}

/// Resolves the login cookie to an identity (always a user).
pub(crate) async fn from_cookie(
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
    let session_id = cookies::get(headers, cookies::SESSION_COOKIE);
    let key = CredentialKey::Cookie(cookie_id.clone());
    let generation = state.store.generation();
    let (mut identity, resolved) = match state.credentials.get(&key, generation) {
        Some(identity) => (identity, None),
        None => {
            let Some(user) = state.store.user_by_cookie_id(&cookie_id).await? else {
                return Ok(None);
            };
            if state.auth.is_blocked(&user.name) {
                return Ok(None);
            }
            let (scopes, shares_expire) = access::user_scopes_until(state, &user).await?;
            let identity = Identity {
                principal: Principal::User(user),
                token: None,
                scopes: Arc::new(scopes),
                session_id: None,
            };
            (identity, Some(shares_expire))
        }
    };
    identity.session_id = session_id;
    if !still_authenticated(state, &identity).await? {
        return Ok(None);
    }
    remember_use(state, key, generation, identity, resolved)
        .await
        .map(Some)
}

/// Token first, then cookie.
pub(crate) async fn identify(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Identity>, ApiError> {
    if let Some(token) = bearer_token(headers) {
        return from_token(state, &token).await;
    }
    from_cookie(state, headers).await
}
