//! A user's API tokens: list, create (with scopes, expiry and a note), look
//! at one, revoke. The token text is shown once, at creation; only its hash
//! is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_auth::LoginOutcome;
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS};
use ferrohub_rbac::scopes;
use ferrohub_rbac::{ExpandContext, Owner};
use ferrohub_store::{BUILTIN_CLIENT, NewToken, TokenOwner, TokenRecord, UserRecord};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::users::find_user;
use super::{Caller, Request, json_body};
use crate::access::{self, Identity, Target};
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::models::token_model;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// `GET /users/{name}/tokens`: `{"api_tokens": [...]}`; expired tokens are dropped.
pub(super) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::READ_TOKENS], Target::User(&name))
        .await?;
    let user = find_user(&state, &name).await?;
    let mut models = Vec::new();
    for token in state
        .store
        .tokens_of_owner(TokenOwner::User(user.id))
        .await?
    {
        models.push(token_model(&state, &token).await?);
    }
    Ok(Json(json!({"api_tokens": models})).into_response())
}

/// The caller of a token request: a credential as usual, or — upstream's way for
/// scripts without a token yet — a login form in `{"auth": {...}}`, which goes
/// through the same login throttle as the login page (429 when refused).
async fn requester(
    state: &AppState,
    request: &Request,
    client: Option<std::net::IpAddr>,
    body: &Map<String, Value>,
) -> Result<Identity, ApiError> {
    if crate::identity::bearer_token(&request.headers).is_some()
        || crate::cookies::get(&request.headers, crate::cookies::LOGIN_COOKIE).is_some()
    {
        return super::require_identity(state, &request.method, &request.headers).await;
    }
    let auth = body.get("auth").and_then(Value::as_object);
    let field = |name: &str| {
        auth.and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() {
        return Err(ApiError::forbidden("Missing or invalid credentials."));
    }
    let normalized = state.auth.normalize_username(&username);
    let exists = state.store.user_by_name(&normalized).await?.is_some();
    let outcome = state
        .auth
        .login_from(client, &username, &password, exists)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let name = match outcome {
        LoginOutcome::Accepted { name, .. } => name,
        LoginOutcome::Rejected(_) => {
            return Err(ApiError::forbidden("Missing or invalid credentials."));
        }
        LoginOutcome::Throttled { retry_after } => {
            return Err(ApiError::too_many(
                ferrohub_auth::THROTTLED_MESSAGE,
                Some(ferrohub_auth::retry_after_secs(retry_after)),
            ));
        }
    };
    let user = state
        .store
        .user_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::forbidden("Missing or invalid credentials."))?;
    let scopes = access::user_scopes(state, &user).await?;
    Ok(Identity {
        principal: access::Principal::User(user),
        token: None,
        scopes: std::sync::Arc::new(scopes),
        session_id: None,
    })
}

fn optional_strings(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => super::string_list(value, key).map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "token {key} must be null or a list of strings, not {value}"
            ))
        }),
    }
}

/// The scopes a new token gets: requested scopes (or roles, resolved now), which
/// must all be held by the owner; `inherit` by default.
async fn token_scopes(
    state: &AppState,
    owner: &UserRecord,
    scopes: Option<Vec<String>>,
    roles: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    let requested = match (scopes, roles) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Can only assign one of scopes or roles to a token",
            ));
        }
        (Some(scopes), None) => scopes,
        (None, Some(roles)) => {
            let mut scopes = Vec::new();
            for name in roles {
                let role =
                    state.store.role_by_name(&name).await?.ok_or_else(|| {
                        ApiError::bad_request(format!("Role {name} does not exist"))
                    })?;
                scopes.extend(role.scopes);
            }
            scopes
        }
        (None, None) => return Ok(vec!["inherit".to_owned()]),
    };
    if requested.iter().any(|s| s == "inherit") {
        return Ok(vec!["inherit".to_owned()]);
    }
    for scope in &requested {
        ferrohub_rbac::validate(scope, &state.custom_scopes)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let cx = ExpandContext {
        owner: Owner::User { name: &owner.name },
        client_server: None,
        client_service: None,
        custom: &state.custom_scopes,
    };
    let expanded =
        ferrohub_rbac::expand(&requested, &cx).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let held = access::user_scopes(state, owner).await?;
    let excess = access::excess(state, &expanded, &held).await?;
    if !excess.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Not assigning requested scopes {} not held by User {}",
            excess.join(","),
            owner.name
        )));
    }
    Ok(requested)
}

/// `POST /users/{name}/tokens`: 201 with the token model plus `token`, shown only now.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ClientAddr(client): ClientAddr,
    request: Request,
    body: Bytes,
) -> ApiResult {
    let body = match json_body(&body)? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON dict or empty")),
    };
    let who = requester(&state, &request, client, &body).await?;
    let allowed = who
        .allows(&state, scopes::TOKENS, Target::User(&name))
        .await?;
    let user = match state.store.user_by_name(&name).await? {
        Some(user) if allowed => user,
        _ => {
            return Err(ApiError::forbidden(format!(
                "{} {name} not found or no permissions to generate tokens",
                if who.kind() == "user" {
                    "User"
                } else {
                    "Service"
                }
            )));
        }
    };
    let note = match body.get("note") {
        Some(Value::String(note)) if !note.is_empty() => note.clone(),
        None | Some(Value::Null | Value::String(_)) => {
            if who.user().is_some_and(|u| u.id == user.id) {
                "Requested via api".to_owned()
            } else {
                format!("Requested via api by {} {}", who.kind(), who.name())
            }
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "token note must be a string, not {other}"
            )));
        }
    };
    if note.len() > 1023 {
        return Err(ApiError::bad_request(
            "token note is longer than 1023 bytes",
        ));
    }
    let scopes = optional_strings(&body, "scopes")?;
    let roles = optional_strings(&body, "roles")?;
    let mut expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "token expires_in must be null or integer, not {other}"
            )));
        }
    };
    let max =
        i64::try_from(state.config.jupyterhub.token_expires_in_max_seconds).unwrap_or(i64::MAX);
    if max > 0 {
        match expires_in {
            None => expires_in = Some(max),
            // Upstream lets 0 ("never") through the cap (GHSA-pvm9 class); here a
            // capped hub never issues a token that outlives the cap.
            Some(seconds) if seconds <= 0 => {
                return Err(ApiError::bad_request(format!(
                    "token expires_in: {seconds} is not allowed; tokens on this hub \
                     must expire within {max} seconds"
                )));
            }
            Some(seconds) if seconds > max => {
                return Err(ApiError::bad_request(format!(
                    "token expires_in: {seconds} must not exceed {max}"
                )));
            }
            Some(_) => {}
        }
    }
    if expires_in.is_some_and(|s| !(0..=100 * 365 * 86_400).contains(&s)) {
        return Err(ApiError::bad_request(
            "token expires_in must be between 0 and 100 years, in seconds",
        ));
    }
    let scopes = token_scopes(&state, &user, scopes, roles).await?;
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
            scopes: &scopes,
            note: Some(&note),
            expires_at,
        })
        .await?;
    let record = state
        .store
        .token_by_id(id)
        .await?
        .ok_or_else(|| ApiError::internal(&"token vanished after creation"))?;
    tracing::info!(user = %user.name, by = %who.name(), "created API token a{id}");
    let mut model = token_model(&state, &record).await?;
    model["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(model)).into_response())
}

/// A user's token by its API id `a<N>`; 404 for anything else.
async fn find_token(
    state: &AppState,
    user: &UserRecord,
    token_id: &str,
) -> Result<TokenRecord, ApiError> {
    let not_found =
        || ApiError::not_found(format!("No such token {token_id} for user {}", user.name));
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

/// `GET /users/{name}/tokens/{token_id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path((name, token_id)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::READ_TOKENS], Target::User(&name))
        .await?;
    let user = find_user(&state, &name).await?;
    let token = find_token(&state, &user, &token_id).await?;
    Ok(Json(token_model(&state, &token).await?).into_response())
}

/// `DELETE /users/{name}/tokens/{token_id}`: revoking an OAuth token revokes all
/// of the user's tokens from that client, as upstream.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((name, token_id)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::TOKENS], Target::User(&name))
        .await?;
    let user = find_user(&state, &name).await?;
    let token = find_token(&state, &user, &token_id).await?;
    if token.client_id == BUILTIN_CLIENT {
        state.store.delete_token(token.id).await?;
    } else {
        state
            .store
            .delete_client_tokens(TokenOwner::User(user.id), &token.client_id)
            .await?;
    }
    tracing::info!(user = %user.name, by = %who.name(), "deleted token {token_id}");
    Ok((
        StatusCode::NO_CONTENT,
        [(http::header::CONTENT_TYPE, "text/plain")],
    )
        .into_response())
}
