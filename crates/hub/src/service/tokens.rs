//! API tokens: list, create (scopes, expiry, note), read, revoke, and the
//! password login that scripts may use to get their first token. The token
//! text is returned once, at creation; only its hash is stored.

use ferrohub_auth::LoginOutcome;
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS};
use ferrohub_rbac::{ExpandContext, Owner, scopes};
use ferrohub_store::{BUILTIN_CLIENT, NewToken, TokenOwner, TokenRecord, UserRecord};

use crate::access::{self, Identity, Principal};
use crate::capability::{ManageTokens, OnUser, ReadTokens, TokenIssuer};
use crate::error::HubError;
use crate::state::AppState;

/// The longest note a token may carry, in bytes (the column's size).
const MAX_NOTE_LEN: usize = 1023;
/// The longest lifetime a token may ask for: 100 years, in seconds.
const MAX_EXPIRES_IN: i64 = 100 * 365 * 86_400;

/// What `POST /users/{name}/tokens` asks for, its JSON types already checked.
#[derive(Debug, Default)]
pub(crate) struct TokenRequest {
    /// A note; `None` (or empty) for the default one.
    pub note: Option<String>,
    /// Scopes; at most one of `scopes` and `roles`.
    pub scopes: Option<Vec<String>>,
    /// Roles, resolved to their scopes now.
    pub roles: Option<Vec<String>>,
    /// Lifetime in seconds; `None` for the hub's default.
    pub expires_in: Option<i64>,
}

/// A token just created: the stored record and the secret, shown only now.
#[derive(Debug)]
pub(crate) struct NewTokenIssued {
    /// The stored token.
    pub record: TokenRecord,
    /// The token text.
    pub secret: String,
}

/// `JupyterHub.token_expires_in_max_seconds` (0 = no limit).
#[must_use]
pub(crate) fn max_lifetime(state: &AppState) -> i64 {
    i64::try_from(state.config.jupyterhub.token_expires_in_max_seconds).unwrap_or(i64::MAX)
}

/// A user's token by its API id `a<N>`; 404 for anything else.
async fn find_token(
    state: &AppState,
    user: &UserRecord,
    token_id: &str,
) -> Result<TokenRecord, HubError> {
    let not_found =
        || HubError::NotFound(format!("No such token {token_id} for user {}", user.name));
    let id: i64 = token_id
        .strip_prefix('a')
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_found)?;
    state
        .store
        .token_by_id(id)
        .await?
        .filter(|t| t.owner == TokenOwner::User(user.id))
        .ok_or_else(not_found)
}

/// The user's tokens (expired ones are not returned by the store).
pub(crate) async fn list(
    state: &AppState,
    may: &OnUser<ReadTokens>,
) -> Result<Vec<TokenRecord>, HubError> {
    let user = super::users::find(state, may.name()).await?;
    Ok(state
        .store
        .tokens_of_owner(TokenOwner::User(user.id))
        .await?)
}

/// One of the user's tokens by its API id.
pub(crate) async fn get(
    state: &AppState,
    may: &OnUser<ReadTokens>,
    token_id: &str,
) -> Result<TokenRecord, HubError> {
    let user = super::users::find(state, may.name()).await?;
    find_token(state, &user, token_id).await
}

/// Revokes one of the user's tokens; revoking an OAuth token revokes all of
/// the user's tokens from that client, as upstream.
pub(crate) async fn revoke(
    state: &AppState,
    may: &OnUser<ManageTokens>,
    token_id: &str,
) -> Result<(), HubError> {
    let user = super::users::find(state, may.name()).await?;
    let token = find_token(state, &user, token_id).await?;
    if token.client_id == BUILTIN_CLIENT {
        state.store.delete_token(token.id).await?;
    } else {
        state
            .store
            .delete_client_tokens(TokenOwner::User(user.id), &token.client_id)
            .await?;
    }
    Ok(())
}

/// Upstream's way for scripts without a token yet: a user name and password
/// in the token request. It goes through the same login throttle as the
/// login page; a refusal is 403 whether or not the user exists, or 429.
pub(crate) async fn password_login(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    username: &str,
    password: &str,
) -> Result<Identity, HubError> {
    let refused = || HubError::Forbidden("Missing or invalid credentials.".to_owned());
    if username.is_empty() {
        return Err(refused());
    }
    let normalized = state.auth.normalize_username(username);
    let exists = state.store.user_by_name(&normalized).await?.is_some();
    let outcome = state
        .auth
        .login_from(client, username, password, exists)
        .await
        .map_err(|e| HubError::Internal(e.to_string()))?;
    let name = match outcome {
        LoginOutcome::Accepted { name, .. } => name,
        LoginOutcome::Rejected(_) => return Err(refused()),
        LoginOutcome::Throttled { retry_after } => {
            return Err(HubError::Throttled {
                message: ferrohub_auth::THROTTLED_MESSAGE.to_owned(),
                retry_after: Some(ferrohub_auth::retry_after_secs(retry_after)),
            });
        }
    };
    let user = state.store.user_by_name(&name).await?.ok_or_else(refused)?;
    let scopes = access::user_scopes(state, &user).await?;
    Ok(Identity {
        principal: Principal::User(user),
        token: None,
        scopes: std::sync::Arc::new(scopes),
        session_id: None,
    })
}

/// The lifetime a new token gets under the hub's cap: the cap when none is
/// asked for; refused when it would outlive the cap.
fn capped_expiry(state: &AppState, expires_in: Option<i64>) -> Result<Option<i64>, HubError> {
    let max = max_lifetime(state);
    let expires_in = match expires_in {
        None if max > 0 => Some(max),
        // Upstream lets 0 ("never") through the cap (GHSA-pvm9 class); here a
        // capped hub never issues a token that outlives the cap.
        Some(seconds) if max > 0 && seconds <= 0 => {
            return Err(HubError::Invalid(format!(
                "token expires_in: {seconds} is not allowed; tokens on this hub \
                 must expire within {max} seconds"
            )));
        }
        Some(seconds) if max > 0 && seconds > max => {
            return Err(HubError::Invalid(format!(
                "token expires_in: {seconds} must not exceed {max}"
            )));
        }
        other => other,
    };
    if expires_in.is_some_and(|s| !(0..=MAX_EXPIRES_IN).contains(&s)) {
        return Err(HubError::Invalid(
            "token expires_in must be between 0 and 100 years, in seconds".to_owned(),
        ));
    }
    Ok(expires_in)
}

/// The scopes a new token gets: requested scopes (or roles, resolved now),
/// which the owner must all hold; `inherit` by default.
async fn new_token_scopes(
    state: &AppState,
    owner: &UserRecord,
    scopes: Option<Vec<String>>,
    roles: Option<Vec<String>>,
) -> Result<Vec<String>, HubError> {
    let inherit = || vec![scopes::INHERIT.as_str().to_owned()];
    let requested = match (scopes, roles) {
        (Some(_), Some(_)) => {
            return Err(HubError::Invalid(
                "Can only assign one of scopes or roles to a token".to_owned(),
            ));
        }
        (Some(scopes), None) => scopes,
        (None, Some(roles)) => {
            let mut scopes = Vec::new();
            for name in roles {
                let role = state
                    .store
                    .role_by_name(&name)
                    .await?
                    .ok_or_else(|| HubError::Invalid(format!("Role {name} does not exist")))?;
                scopes.extend(role.scopes);
            }
            scopes
        }
        (None, None) => return Ok(inherit()),
    };
    if requested.iter().any(|s| s == scopes::INHERIT.as_str()) {
        return Ok(inherit());
    }
    for scope in &requested {
        ferrohub_rbac::validate(scope, &state.custom_scopes)
            .map_err(|e| HubError::Invalid(e.to_string()))?;
    }
    let cx = ExpandContext {
        owner: Owner::User { name: &owner.name },
        client_server: None,
        client_service: None,
        custom: &state.custom_scopes,
    };
    let expanded =
        ferrohub_rbac::expand(&requested, &cx).map_err(|e| HubError::Invalid(e.to_string()))?;
    let held = access::user_scopes(state, owner).await?;
    let excess = access::excess(state, &expanded, &held).await?;
    if !excess.is_empty() {
        return Err(HubError::Invalid(format!(
            "Not assigning requested scopes {} not held by User {}",
            excess.join(","),
            owner.name
        )));
    }
    Ok(requested)
}

/// Stores a new API token of `user`.
async fn store_token(
    state: &AppState,
    user: &UserRecord,
    scopes: &[String],
    note: &str,
    expires_in: Option<i64>,
) -> Result<NewTokenIssued, HubError> {
    let secret = token::new_token();
    let expires_at = expires_in
        .filter(|s| *s > 0)
        .map(|s| ferrohub_core::time::now() + chrono::Duration::seconds(s));
    let id = state
        .store
        .create_token(&NewToken {
            token: &secret,
            rounds: GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::User(user.id),
            client_id: BUILTIN_CLIENT,
            session_id: None,
            scopes,
            note: Some(note),
            expires_at,
        })
        .await?;
    let record = state
        .store
        .token_by_id(id)
        .await?
        .ok_or_else(|| HubError::Internal("token vanished after creation".to_owned()))?;
    Ok(NewTokenIssued { record, secret })
}

/// Creates an API token for the issuer's user: default note naming who asked,
/// expiry within the hub's cap, scopes the owner holds.
pub(crate) async fn create(
    state: &AppState,
    issuer: &TokenIssuer,
    by: &Identity,
    request: TokenRequest,
) -> Result<NewTokenIssued, HubError> {
    let user = issuer.user();
    let note = match request.note.filter(|n| !n.is_empty()) {
        Some(note) => note,
        None if by.user().is_some_and(|u| u.id == user.id) => "Requested via api".to_owned(),
        None => format!("Requested via api by {} {}", by.kind(), by.name()),
    };
    if note.len() > MAX_NOTE_LEN {
        return Err(HubError::Invalid(format!(
            "token note is longer than {MAX_NOTE_LEN} bytes"
        )));
    }
    let expires_in = capped_expiry(state, request.expires_in)?;
    let scopes = new_token_scopes(state, user, request.scopes, request.roles).await?;
    store_token(state, user, &scopes, &note, expires_in).await
}

/// The tokens a user made with the API or the token page (not OAuth tokens).
pub(crate) async fn own_tokens(
    state: &AppState,
    user: &UserRecord,
) -> Result<Vec<TokenRecord>, HubError> {
    Ok(state
        .store
        .tokens_of_owner(TokenOwner::User(user.id))
        .await?
        .into_iter()
        .filter(|t| t.client_id == BUILTIN_CLIENT)
        .collect())
}

/// A token made on the token page: `scopes` as requested there (empty: the
/// owner's own permissions, `inherit`, as upstream's page), which the owner
/// must all hold; `expires_in` 0 means never, refused under a lifetime cap.
pub(crate) async fn create_from_page(
    state: &AppState,
    issuer: &TokenIssuer,
    note: &str,
    expires_in: i64,
    scopes: Vec<String>,
) -> Result<NewTokenIssued, HubError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(HubError::Invalid(format!(
            "The note is longer than {MAX_NOTE_LEN} bytes."
        )));
    }
    let max = max_lifetime(state);
    if max > 0 && (expires_in <= 0 || expires_in > max) {
        return Err(HubError::Invalid(format!(
            "Tokens on this hub expire within {max} seconds; choose a shorter expiry."
        )));
    }
    let requested = (!scopes.is_empty()).then_some(scopes);
    let scopes = new_token_scopes(state, issuer.user(), requested, None).await?;
    store_token(state, issuer.user(), &scopes, note, Some(expires_in)).await
}

/// An OAuth client (a service, a user's server) holding tokens of a user,
/// as the token page's "Authorized Applications" shows it.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizedClient {
    /// The client's identifier (`jupyterhub-user-ann`, `service-x`).
    pub client_id: String,
    /// Its description, or the identifier when it has none.
    pub description: String,
    /// The scopes of all its tokens, sorted, without repeats.
    pub scopes: Vec<String>,
    /// The earliest of its tokens' creation times.
    pub created: Option<ferrohub_core::time::Timestamp>,
    /// The latest use of any of its tokens.
    pub last_activity: Option<ferrohub_core::time::Timestamp>,
    /// How many tokens it holds.
    pub token_count: usize,
}

/// The OAuth clients holding tokens of `user` (the signed-in user of the
/// token page, as [`own_tokens`]), most recently used first (upstream's
/// token page groups the user's tokens by client).
pub(crate) async fn authorized_clients(
    state: &AppState,
    user: &UserRecord,
) -> Result<Vec<AuthorizedClient>, HubError> {
    let mut by_client: std::collections::BTreeMap<String, Vec<TokenRecord>> =
        std::collections::BTreeMap::new();
    for token in state
        .store
        .tokens_of_owner(TokenOwner::User(user.id))
        .await?
        .into_iter()
        .filter(|t| t.client_id != BUILTIN_CLIENT)
    {
        by_client
            .entry(token.client_id.clone())
            .or_default()
            .push(token);
    }
    let mut clients = Vec::with_capacity(by_client.len());
    for (client_id, tokens) in by_client {
        let description = state
            .store
            .oauth_client(&client_id)
            .await?
            .map(|c| c.description)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| client_id.clone());
        clients.push(group_client(client_id, description, &tokens));
    }
    clients.sort_by_key(|c| std::cmp::Reverse((c.last_activity, c.created)));
    Ok(clients)
}

/// One client's tokens summed up: earliest creation, latest use, all scopes.
fn group_client(
    client_id: String,
    description: String,
    tokens: &[TokenRecord],
) -> AuthorizedClient {
    let mut scopes: Vec<String> = tokens.iter().flat_map(|t| t.scopes.clone()).collect();
    scopes.sort();
    scopes.dedup();
    AuthorizedClient {
        client_id,
        description,
        scopes,
        created: tokens.iter().filter_map(|t| t.created).min(),
        last_activity: tokens.iter().filter_map(|t| t.last_activity).max(),
        token_count: tokens.len(),
    }
}

/// Revokes every token of the issuer's user held by the OAuth client
/// `client_id` (the token page's Revoke of an authorized application; the
/// API does the same when one of them is deleted). 404 when it holds none.
pub(crate) async fn revoke_client(
    state: &AppState,
    issuer: &TokenIssuer,
    client_id: &str,
) -> Result<u64, HubError> {
    let not_found = || {
        HubError::NotFound("No such authorized application of yours (already revoked?).".to_owned())
    };
    if client_id == BUILTIN_CLIENT {
        return Err(not_found());
    }
    let owner = TokenOwner::User(issuer.user().id);
    let deleted = state.store.delete_client_tokens(owner, client_id).await?;
    if deleted == 0 {
        return Err(not_found());
    }
    Ok(deleted)
}

/// Revokes one of the issuer's user's own API tokens (not OAuth ones).
pub(crate) async fn revoke_own(
    state: &AppState,
    issuer: &TokenIssuer,
    token_id: &str,
) -> Result<(), HubError> {
    let id = token_id
        .strip_prefix('a')
        .and_then(|n| n.parse::<i64>().ok());
    let token = own_tokens(state, issuer.user())
        .await?
        .into_iter()
        .find(|t| Some(t.id) == id)
        .ok_or_else(|| {
            HubError::NotFound("No such token of yours (already revoked?).".to_owned())
        })?;
    state.store.delete_token(token.id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(client: &str, scopes: &[&str], created: i64, used: Option<i64>) -> TokenRecord {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0);
        TokenRecord {
            id: created,
            owner: TokenOwner::User(1),
            client_id: client.to_owned(),
            session_id: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            note: None,
            created: at(created),
            expires_at: None,
            last_activity: used.and_then(at),
        }
    }

    #[test]
    fn a_client_sums_up_its_tokens() {
        let tokens = [
            token(
                "jupyterhub-user-ann",
                &["access:servers!server=ann/", "identify"],
                200,
                None,
            ),
            token("jupyterhub-user-ann", &["identify"], 100, Some(300)),
            token(
                "jupyterhub-user-ann",
                &["read:users:name!user=ann"],
                150,
                Some(250),
            ),
        ];
        let client = group_client(
            "jupyterhub-user-ann".into(),
            "Server at /user/ann/".into(),
            &tokens,
        );
        assert_eq!(client.token_count, 3);
        assert_eq!(
            client.scopes,
            [
                "access:servers!server=ann/",
                "identify",
                "read:users:name!user=ann"
            ]
        );
        assert_eq!(client.created, tokens[1].created);
        assert_eq!(client.last_activity, tokens[1].last_activity);
    }
}
