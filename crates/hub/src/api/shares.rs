//! Sharing a server: grants to users or groups (`/shares`), what a user or
//! group has been granted (`/users/{name}/shared`, `/groups/{name}/shared`),
//! and share codes that a recipient exchanges for a grant (`/share-codes`).
//! The rules live in `service::shares`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_store::{ShareCodeRecord, ShareRecord};
use http::StatusCode;
use http::request::Parts;
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request, json_body};
use crate::capability::{
    LeaveGroupShares, LeaveUserShares, ManageShares, ReadGroupShares, ReadShares, ReadUserShares,
    ShareWith,
};
use crate::error::ApiError;
use crate::models::ts;
use crate::runtime::Phase;
use crate::service::shares::{self, CodeSelector, Paged};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The path parameters of the share endpoints. Routes without `{server}` are
/// upstream's trailing-slash forms (`/shares/alice/`), which name the default
/// server, so `server` is then empty.
pub(super) struct ShareParams {
    /// The user or group the share was granted to (`{name}` / `{group}`), if in the path.
    holder: String,
    /// The server's owner.
    owner: String,
    /// The server's name; empty for the default server.
    server: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ShareParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(mut params) = Path::<BTreeMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let mut take = |key: &str| params.remove(key).unwrap_or_default();
        let holder = match take("name") {
            name if name.is_empty() => take("group"),
            name => name,
        };
        Ok(Self {
            holder,
            owner: take("owner"),
            server: take("server"),
        })
    }
}

/// The truncated server model shares carry.
fn shared_server(state: &AppState, owner: &str, server: &str) -> Value {
    json!({
        "user": {"name": owner},
        "name": server,
        "url": state.urls.server_url(owner, server),
        "full_url": state.urls.full_server_url(owner, server),
        "ready": state.servers.phase(owner, server) == Phase::Ready,
    })
}

fn share_model(state: &AppState, share: &ShareRecord) -> Value {
    json!({
        "server": shared_server(state, &share.owner_name, &share.server_name),
        "scopes": share.scopes,
        "user": share.user.as_ref().map(|(_, name)| json!({"name": name})),
        "group": share.group.as_ref().map(|(_, name)| json!({"name": name})),
        "kind": if share.group.is_some() { "group" } else { "user" },
        "created_at": ts(Some(&share.created_at)),
    })
}

fn code_model(
    state: &AppState,
    owner: &str,
    server: &str,
    code: &ShareCodeRecord,
    secret: Option<&str>,
) -> Value {
    let mut model = json!({
        "server": shared_server(state, owner, server),
        "scopes": code.scopes,
        "id": format!("sc_{}", code.id),
        "created_at": ts(Some(&code.created_at)),
        "expires_at": ts(code.expires_at.as_ref()),
        "exchange_count": code.exchange_count,
        "last_exchanged_at": ts(code.last_exchanged_at.as_ref()),
    });
    if let Some(secret) = secret {
        model["code"] = json!(secret);
        model["accept_url"] = json!(format!(
            "{}accept-share?code={}",
            state.urls.hub,
            ferrohub_core::url::quote_query(secret)
        ));
        model["full_accept_url"] = Value::Null;
    }
    model
}

fn list_response(request: &Request, page: &Page, items: Vec<Value>, total: i64) -> Response {
    // Share lists are always paginated, whatever the Accept header says.
    let envelope = Page {
        envelope: true,
        ..page.clone()
    };
    Json(envelope.envelope(
        Value::Array(items),
        total,
        &request.headers,
        &request.uri,
        request.scheme(),
    ))
    .into_response()
}

/// A page of shares as the API lists them.
fn shares_response(
    state: &AppState,
    request: &Request,
    page: &Page,
    found: Paged<ShareRecord>,
) -> Response {
    let (shares, total) = found;
    let items = shares.iter().map(|s| share_model(state, s)).collect();
    list_response(request, page, items, total)
}

/// A page of share codes as the API lists them (without their secrets).
fn codes_response(
    state: &AppState,
    request: &Request,
    page: &Page,
    owner: &str,
    found: Paged<(ShareCodeRecord, String)>,
) -> Response {
    let (codes, total) = found;
    let items = codes
        .iter()
        .map(|(code, server)| code_model(state, owner, server, code, None))
        .collect();
    list_response(request, page, items, total)
}

/// `GET /users/{name}/shared`: shares granted to the user, directly or through groups.
pub(super) async fn list_for_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadUserShares>(&state, &name).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::list_for_user(&state, &may, page.offset, page.limit).await?;
    Ok(shares_response(&state, &request, &page, found))
}

/// `GET /users/{name}/shared/{owner}/{server}`.
pub(super) async fn get_for_user(
    State(state): State<AppState>,
    ShareParams {
        holder: name,
        owner,
        server,
    }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadUserShares>(&state, &name).await?;
    let share = shares::get_for_user(&state, &may, &owner, &server).await?;
    Ok(Json(share_model(&state, &share)).into_response())
}

/// `DELETE /users/{name}/shared/{owner}/{server}`: the user leaves a share.
pub(super) async fn leave_for_user(
    State(state): State<AppState>,
    ShareParams {
        holder: name,
        owner,
        server,
    }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<LeaveUserShares>(&state, &name).await?;
    shares::leave_for_user(&state, &may, &owner, &server).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /groups/{group}/shared`.
pub(super) async fn list_for_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_group::<ReadGroupShares>(&state, &name).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::list_for_group(&state, &may, page.offset, page.limit).await?;
    Ok(shares_response(&state, &request, &page, found))
}

/// `GET /groups/{group}/shared/{owner}/{server}`.
pub(super) async fn get_for_group(
    State(state): State<AppState>,
    ShareParams {
        holder: name,
        owner,
        server,
    }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_group::<ReadGroupShares>(&state, &name).await?;
    let share = shares::get_for_group(&state, &may, &owner, &server).await?;
    Ok(Json(share_model(&state, &share)).into_response())
}

/// `DELETE /groups/{group}/shared/{owner}/{server}`.
pub(super) async fn leave_for_group(
    State(state): State<AppState>,
    ShareParams {
        holder: name,
        owner,
        server,
    }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_group::<LeaveGroupShares>(&state, &name).await?;
    shares::leave_for_group(&state, &may, &owner, &server).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /shares/{owner}`: every share of the owner's servers.
pub(super) async fn list_of_owner(
    State(state): State<AppState>,
    Path(owner): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadShares>(&state, &owner).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::list_of_owner(&state, &may, page.offset, page.limit).await?;
    Ok(shares_response(&state, &request, &page, found))
}

/// `GET /shares/{owner}/{server}`.
pub(super) async fn list_of_server(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_server::<ReadShares>(&state, &owner, &server).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::list_of_server(&state, &may, page.offset, page.limit).await?;
    Ok(shares_response(&state, &request, &page, found))
}

/// A share or share-code request body: optional scopes plus the listed keys only.
fn share_body(body: &[u8], keys: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let map = match json_body(body)? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON object")),
    };
    if let Some(key) = map
        .keys()
        .find(|k| k.as_str() != "scopes" && !keys.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Unexpected field {key:?}; allowed: scopes, {}",
            keys.join(", ")
        )));
    }
    Ok(map)
}

/// The body's `scopes`, if given (`null` counts as not given).
fn requested_scopes(body: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    match body.get("scopes") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => super::string_list(value, "scopes").map(Some),
    }
}

fn exactly_one_target(body: &Map<String, Value>) -> Result<ShareWith, ApiError> {
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!(
                "{key} must be a non-empty string"
            ))),
        }
    };
    match (text("user")?, text("group")?) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "Expected exactly one of `user` or `group`, not both.",
        )),
        (None, None) => Err(ApiError::bad_request(
            "Specify exactly one of `user` or `group`",
        )),
        (Some(user), None) => Ok(ShareWith::User(user)),
        (None, Some(group)) => Ok(ShareWith::Group(group)),
    }
}

/// `POST /shares/{owner}/{server}`: grants (adds to) a user's or group's access.
pub(super) async fn grant(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who
        .on_server::<ManageShares>(&state, &owner, &server)
        .await?;
    let body = share_body(&body, &["user", "group"])?;
    let with = exactly_one_target(&body)?;
    let requested = requested_scopes(&body)?;
    let share = shares::grant(&state, &who, &may, with, requested).await?;
    tracing::info!(owner, server, by = %who.name(), "granted share {:?}", share.scopes);
    Ok(Json(share_model(&state, &share)).into_response())
}

/// `PATCH /shares/{owner}/{server}`: revokes some (or all) scopes of one share;
/// answers the remaining share, or `{}` when nothing is left.
pub(super) async fn revoke(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who
        .on_server::<ManageShares>(&state, &owner, &server)
        .await?;
    let body = share_body(&body, &["user", "group"])?;
    let with = exactly_one_target(&body)?;
    let requested = requested_scopes(&body)?;
    Ok(
        match shares::revoke(&state, &may, &with, requested).await? {
            Some(share) => Json(share_model(&state, &share)).into_response(),
            None => Json(json!({})).into_response(),
        },
    )
}

/// `DELETE /shares/{owner}/{server}`: revokes every share of the server.
pub(super) async fn revoke_all(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    let may = who
        .on_server::<ManageShares>(&state, &owner, &server)
        .await?;
    let deleted = shares::revoke_all(&state, &may).await?;
    tracing::info!(owner, server, by = %who.name(), "deleted {deleted} shares");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /share-codes/{owner}`.
pub(super) async fn codes_of_owner(
    State(state): State<AppState>,
    Path(owner): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_user::<ReadShares>(&state, &owner).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::codes_of_owner(&state, &may, page.offset, page.limit).await?;
    Ok(codes_response(&state, &request, &page, &owner, found))
}

/// `GET /share-codes/{owner}/{server}`.
pub(super) async fn codes_of_server(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who.on_server::<ReadShares>(&state, &owner, &server).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let found = shares::codes_of_server(&state, &may, page.offset, page.limit).await?;
    Ok(codes_response(&state, &request, &page, &owner, found))
}

/// `POST /share-codes/{owner}/{server}`: a new code (shown once) and its accept URL.
pub(super) async fn create_code(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    let may = who
        .on_server::<ManageShares>(&state, &owner, &server)
        .await?;
    let body = share_body(&body, &["expires_in"])?;
    let expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => shares::CODE_DEFAULT_SECS,
        // Not an integer: out of range, refused with the range in the message.
        Some(Value::Number(n)) => n.as_i64().unwrap_or(i64::MIN),
        Some(_) => {
            return Err(ApiError::bad_request(
                "expires_in must be an integer number of seconds",
            ));
        }
    };
    let requested = requested_scopes(&body)?;
    let (code, secret) = shares::create_code(&state, &who, &may, requested, expires_in).await?;
    tracing::info!(owner, server, by = %who.name(), "created share code sc_{}", code.id);
    Ok(Json(code_model(&state, &owner, &server, &code, Some(&secret))).into_response())
}

/// `DELETE /share-codes/{owner}/{server}`: by `code=`, by `id=sc_N`, or all of the server's codes.
pub(super) async fn delete_codes(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    let may = who
        .on_server::<ManageShares>(&state, &owner, &server)
        .await?;
    let which = match (
        request.query("code").filter(|c| !c.is_empty()),
        request.query("id").filter(|c| !c.is_empty()),
    ) {
        (Some(code), _) => CodeSelector::Code(code),
        (None, Some(id)) => CodeSelector::Id(id),
        (None, None) => CodeSelector::All,
    };
    let deleted = shares::delete_codes(&state, &may, which).await?;
    tracing::info!(owner, server, by = %who.name(), "deleted {deleted} share codes");
    Ok(StatusCode::NO_CONTENT.into_response())
}
