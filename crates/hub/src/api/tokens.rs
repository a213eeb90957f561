//! A user's API tokens: list, create (with scopes, expiry and a note), look
//! at one, revoke. The rules live in `service::tokens`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Caller, Request, json_body};
use crate::access::Identity;
use crate::capability::{ManageTokens, ReadTokens};
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::models::token_model;
use crate::service::tokens::{self, TokenRequest};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// `GET /users/{name}/tokens`: `{"api_tokens": [...]}`; expired tokens are dropped.
pub(super) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadTokens>(&state, &name).await?;
    let mut models = Vec::new();
    for token in tokens::list(&state, &may).await? {
        models.push(token_model(&state, &token).await?);
    }
    Ok(Json(json!({"api_tokens": models})).into_response())
}

/// The caller of a token request: a credential as usual, or a login form in
/// `{"auth": {...}}` (see `service::tokens::password_login`).
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
    };
    Ok(tokens::password_login(state, client, field("username"), field("password")).await?)
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

/// The body's fields, JSON types checked.
fn token_request(body: &Map<String, Value>) -> Result<TokenRequest, ApiError> {
    let note = match body.get("note") {
        Some(Value::String(note)) => Some(note.clone()),
        None | Some(Value::Null) => None,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "token note must be a string, not {other}"
            )));
        }
    };
    let scopes = optional_strings(body, "scopes")?;
    let roles = optional_strings(body, "roles")?;
    let expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "token expires_in must be null or integer, not {other}"
            )));
        }
    };
    Ok(TokenRequest {
        note,
        scopes,
        roles,
        expires_in,
    })
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
    let issuer = who.token_issuer(&state, &name).await?;
    let wanted = token_request(&body)?;
    let issued = tokens::create(&state, &issuer, &who, wanted).await?;
    tracing::info!(user = %name, by = %who.name(), "created API token a{}", issued.record.id);
    let mut model = token_model(&state, &issued.record).await?;
    model["token"] = json!(issued.secret);
    Ok((StatusCode::CREATED, Json(model)).into_response())
}

/// `GET /users/{name}/tokens/{token_id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    Path((name, token_id)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadTokens>(&state, &name).await?;
    let token = tokens::get(&state, &may, &token_id).await?;
    Ok(Json(token_model(&state, &token).await?).into_response())
}

/// `DELETE /users/{name}/tokens/{token_id}`: revoking an OAuth token revokes all
/// of the user's tokens from that client, as upstream.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((name, token_id)): Path<(String, String)>,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ManageTokens>(&state, &name).await?;
    tokens::revoke(&state, &may, &token_id).await?;
    tracing::info!(user = %name, by = %who.name(), "deleted token {token_id}");
    Ok((
        StatusCode::NO_CONTENT,
        [(http::header::CONTENT_TYPE, "text/plain")],
    )
        .into_response())
}
