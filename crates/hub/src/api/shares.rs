//! Sharing a server: grants to users or groups (`/shares`), what a user or
//! group has been granted (`/users/{name}/shared`, `/groups/{name}/shared`),
//! and share codes that a recipient exchanges for a grant (`/share-codes`).

use axum::Json;
use axum::body::Bytes;
use ferrohub_rbac::scopes;
use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use ferrohub_store::{ShareCodeRecord, ShareRecord, ShareTarget, SpawnerRecord, UserRecord};
use http::StatusCode;
use http::request::Parts;
use serde_json::{Map, Value, json};

use super::pagination::Page;
use super::{Caller, Request, json_body};
use crate::access::Target;
use crate::error::ApiError;
use crate::models::ts;
use crate::runtime::Phase;
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

/// Share codes live between one minute and one year; a day unless asked.
const CODE_MIN_SECS: i64 = 60;
const CODE_MAX_SECS: i64 = 525_600 * 60;
const CODE_DEFAULT_SECS: i64 = 86_400;

/// The truncated server model shares carry.
fn shared_server(state: &AppState, owner: &str, server: &str) -> Value {
    json!({
        "user": {"name": owner},
        "name": server,
        "url": state.urls.server_prefix(owner, server),
        "full_url": null,
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

async fn lookup_spawner(
    state: &AppState,
    owner: &str,
    server: &str,
) -> Result<(UserRecord, SpawnerRecord), ApiError> {
    let not_found = || ApiError::not_found(format!("No such server: {owner}/{server}"));
    let user = state
        .store
        .user_by_name(owner)
        .await?
        .ok_or_else(not_found)?;
    let spawner = state
        .store
        .spawner(user.id, server)
        .await?
        .ok_or_else(not_found)?;
    Ok((user, spawner))
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

/// `GET /users/{name}/shared`: shares granted to the user, directly or through groups.
pub(super) async fn list_for_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::READ_USERS_SHARES], Target::User(&name))
        .await?;
    let user = super::users::find_user(&state, &name).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (shares, total) = state
        .store
        .shares_for_user(user.id, page.offset, page.limit)
        .await?;
    let items = shares.iter().map(|s| share_model(&state, s)).collect();
    Ok(list_response(&request, &page, items, total))
}

async fn user_share(
    state: &AppState,
    name: &str,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, ApiError> {
    let not_found =
        || ApiError::not_found(format!("No such share for user {name} on {owner}/{server}"));
    let user = state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(not_found)?;
    let Ok((_, spawner)) = lookup_spawner(state, owner, server).await else {
        return Err(not_found());
    };
    state
        .store
        .share_for(spawner.id, ShareTarget::User(user.id))
        .await?
        .ok_or_else(not_found)
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
    who.require(&state, &[scopes::READ_USERS_SHARES], Target::User(&name))
        .await?;
    let share = user_share(&state, &name, &owner, &server).await?;
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
    who.require(&state, &[scopes::USERS_SHARES], Target::User(&name))
        .await?;
    let share = user_share(&state, &name, &owner, &server).await?;
    state.store.delete_share(share.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn find_group(state: &AppState, name: &str) -> Result<ferrohub_store::GroupRecord, ApiError> {
    state
        .store
        .group_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such group: {name}")))
}

/// `GET /groups/{group}/shared`.
pub(super) async fn list_for_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::READ_GROUPS_SHARES], Target::Group(&name))
        .await?;
    let group = find_group(&state, &name).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (shares, total) = state
        .store
        .shares_for_group(group.id, page.offset, page.limit)
        .await?;
    let items = shares.iter().map(|s| share_model(&state, s)).collect();
    Ok(list_response(&request, &page, items, total))
}

async fn group_share(
    state: &AppState,
    name: &str,
    owner: &str,
    server: &str,
) -> Result<ShareRecord, ApiError> {
    let group = find_group(state, name).await?;
    let not_found = || {
        ApiError::not_found(format!(
            "No such share for group {name} on {owner}/{server}"
        ))
    };
    let Ok((_, spawner)) = lookup_spawner(state, owner, server).await else {
        return Err(not_found());
    };
    state
        .store
        .share_for(spawner.id, ShareTarget::Group(group.id))
        .await?
        .ok_or_else(not_found)
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
    who.require(&state, &[scopes::READ_GROUPS_SHARES], Target::Group(&name))
        .await?;
    let share = group_share(&state, &name, &owner, &server).await?;
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
    who.require(&state, &[scopes::GROUPS_SHARES], Target::Group(&name))
        .await?;
    let share = group_share(&state, &name, &owner, &server).await?;
    state.store.delete_share(share.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /shares/{owner}`: every share of the owner's servers.
pub(super) async fn list_of_owner(
    State(state): State<AppState>,
    Path(owner): Path<String>,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::READ_SHARES], Target::User(&owner))
        .await?;
    let user = super::users::find_user(&state, &owner).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (shares, total) = state
        .store
        .shares_of_owner(user.id, None, page.offset, page.limit)
        .await?;
    let items = shares.iter().map(|s| share_model(&state, s)).collect();
    Ok(list_response(&request, &page, items, total))
}

/// `GET /shares/{owner}/{server}`.
pub(super) async fn list_of_server(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::READ_SHARES],
        Target::Server(&owner, &server),
    )
    .await?;
    let (user, spawner) = lookup_spawner(&state, &owner, &server).await?;
    let page = Page::from_request(&state, &request.query_pairs, &request.headers)?;
    let (shares, total) = state
        .store
        .shares_of_owner(user.id, Some(spawner.id), page.offset, page.limit)
        .await?;
    let items = shares.iter().map(|s| share_model(&state, s)).collect();
    Ok(list_response(&request, &page, items, total))
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

/// Requested scopes, each restricted to this server (`!server=owner/name`, the
/// only filter allowed); the default is access to the server.
fn share_scopes(
    state: &AppState,
    body: &Map<String, Value>,
    owner: &str,
    server: &str,
) -> Result<Vec<String>, ApiError> {
    let filter = format!("server={owner}/{server}");
    let requested = match body.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => super::string_list(value, "scopes")?,
    };
    if requested.is_empty() {
        return Ok(vec![format!("access:servers!{filter}")]);
    }
    let mut scopes = Vec::new();
    for scope in requested {
        ferrohub_rbac::validate(&scope, &state.custom_scopes)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        match scope.split_once('!') {
            Some((_, f)) if f == filter => scopes.push(scope.clone()),
            Some((_, f)) => {
                return Err(ApiError::bad_request(format!(
                    "!{f} not allowed on share {owner}/{server}, only !{filter}"
                )));
            }
            None => scopes.push(format!("{scope}!{filter}")),
        }
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn exactly_one_target(
    body: &Map<String, Value>,
) -> Result<(Option<String>, Option<String>), ApiError> {
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
        pair => Ok(pair),
    }
}

/// `POST /shares/{owner}/{server}`: grants (adds to) a user's or group's access.
pub(super) async fn grant(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::SHARES], Target::Server(&owner, &server))
        .await?;
    let body = share_body(&body, &["user", "group"])?;
    let (user, group) = exactly_one_target(&body)?;
    let scopes = share_scopes(&state, &body, &owner, &server)?;
    let (_, spawner) = lookup_spawner(&state, &owner, &server).await?;
    for scope in &scopes {
        if !who.allows_str(&state, scope).await? {
            return Err(ApiError::forbidden(format!(
                "Do not have permission to grant share with scope {scope}"
            )));
        }
    }
    let target = if let Some(name) = user {
        if !who
            .allows(&state, scopes::READ_USERS_NAME, Target::User(&name))
            .await?
        {
            return Err(ApiError::forbidden(
                "Need scope 'read:users:name' to share with users by name",
            ));
        }
        let user = state
            .store
            .user_by_name(&name)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("No such user: {name}")))?;
        ShareTarget::User(user.id)
    } else {
        let name = group.unwrap_or_default();
        if !who
            .allows(&state, scopes::READ_GROUPS_NAME, Target::Group(&name))
            .await?
        {
            return Err(ApiError::forbidden(
                "Need scope 'read:groups:name' to share with groups by name",
            ));
        }
        let group = state
            .store
            .group_by_name(&name)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("No such group: {name}")))?;
        ShareTarget::Group(group.id)
    };
    let share = state
        .store
        .upsert_share(spawner.user_id, spawner.id, target, &scopes)
        .await?;
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
    who.require(&state, &[scopes::SHARES], Target::Server(&owner, &server))
        .await?;
    let body = share_body(&body, &["user", "group"])?;
    let (user, group) = exactly_one_target(&body)?;
    let revoke_all = body.get("scopes").is_none_or(Value::is_null);
    let scopes = share_scopes(&state, &body, &owner, &server)?;
    let (_, spawner) = lookup_spawner(&state, &owner, &server).await?;
    let target = if let Some(name) = user {
        match state.store.user_by_name(&name).await? {
            Some(user) => ShareTarget::User(user.id),
            None => return Ok(Json(json!({})).into_response()),
        }
    } else {
        let name = group.unwrap_or_default();
        match state.store.group_by_name(&name).await? {
            Some(group) => ShareTarget::Group(group.id),
            None => return Ok(Json(json!({})).into_response()),
        }
    };
    let Some(share) = state.store.share_for(spawner.id, target).await? else {
        return Ok(Json(json!({})).into_response());
    };
    let remaining: Vec<String> = if revoke_all {
        Vec::new()
    } else {
        share
            .scopes
            .iter()
            .filter(|s| !scopes.contains(s))
            .cloned()
            .collect()
    };
    if remaining.is_empty() {
        state.store.delete_share(share.id).await?;
        return Ok(Json(json!({})).into_response());
    }
    state.store.set_share_scopes(share.id, &remaining).await?;
    let share = state
        .store
        .share_for(spawner.id, target)
        .await?
        .ok_or_else(|| ApiError::internal(&"share vanished"))?;
    Ok(Json(share_model(&state, &share)).into_response())
}

/// `DELETE /shares/{owner}/{server}`: revokes every share of the server.
pub(super) async fn revoke_all(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
) -> ApiResult {
    who.require(&state, &[scopes::SHARES], Target::Server(&owner, &server))
        .await?;
    let (_, spawner) = lookup_spawner(&state, &owner, &server).await?;
    let deleted = state.store.delete_shares_of_spawner(spawner.id).await?;
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
    who.require(&state, &[scopes::READ_SHARES], Target::User(&owner))
        .await?;
    let user = super::users::find_user(&state, &owner).await?;
    codes_page(&state, &request, &user, None).await
}

/// `GET /share-codes/{owner}/{server}`.
pub(super) async fn codes_of_server(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    request: Request,
    Caller(who): Caller,
) -> ApiResult {
    who.require(
        &state,
        &[scopes::READ_SHARES],
        Target::Server(&owner, &server),
    )
    .await?;
    let (user, spawner) = lookup_spawner(&state, &owner, &server).await?;
    codes_page(&state, &request, &user, Some(&spawner)).await
}

async fn codes_page(
    state: &AppState,
    request: &Request,
    user: &UserRecord,
    spawner: Option<&SpawnerRecord>,
) -> ApiResult {
    let page = Page::from_request(state, &request.query_pairs, &request.headers)?;
    let (codes, total) = state
        .store
        .share_codes_of(user.id, spawner.map(|s| s.id), page.offset, page.limit)
        .await?;
    let spawners = state.store.spawners_of(user.id).await?;
    let items = codes
        .iter()
        .map(|code| {
            let server = spawners
                .iter()
                .find(|s| s.id == code.spawner_id)
                .map_or("", |s| s.name.as_str());
            code_model(state, &user.name, server, code, None)
        })
        .collect();
    Ok(list_response(request, &page, items, total))
}

/// `POST /share-codes/{owner}/{server}`: a new code (shown once) and its accept URL.
pub(super) async fn create_code(
    State(state): State<AppState>,
    ShareParams { owner, server, .. }: ShareParams,
    Caller(who): Caller,
    body: Bytes,
) -> ApiResult {
    who.require(&state, &[scopes::SHARES], Target::Server(&owner, &server))
        .await?;
    let body = share_body(&body, &["expires_in"])?;
    let expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => CODE_DEFAULT_SECS,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(s) if (CODE_MIN_SECS..=CODE_MAX_SECS).contains(&s) => s,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "expires_in must be an integer from {CODE_MIN_SECS} to {CODE_MAX_SECS} seconds"
                )));
            }
        },
        Some(_) => {
            return Err(ApiError::bad_request(
                "expires_in must be an integer number of seconds",
            ));
        }
    };
    let scopes = share_scopes(&state, &body, &owner, &server)?;
    for scope in &scopes {
        if !who.allows_str(&state, scope).await? {
            return Err(ApiError::forbidden(format!(
                "Do not have permission to grant share with scope {scope}"
            )));
        }
    }
    let (user, spawner) = lookup_spawner(&state, &owner, &server).await?;
    let expires_at = ferrohub_core::time::now() + chrono::Duration::seconds(expires_in);
    let (code, secret) = state
        .store
        .create_share_code(user.id, spawner.id, &scopes, Some(expires_at))
        .await?;
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
    who.require(&state, &[scopes::SHARES], Target::Server(&owner, &server))
        .await?;
    let (_, spawner) = lookup_spawner(&state, &owner, &server).await?;
    if let Some(code) = request.query("code").filter(|c| !c.is_empty()) {
        let found = state
            .store
            .find_share_code(code)
            .await?
            .filter(|c| c.spawner_id == spawner.id)
            .ok_or_else(|| ApiError::not_found("No matching code found"))?;
        state.store.delete_share_code(found.id).await?;
    } else if let Some(id) = request.query("id").filter(|c| !c.is_empty()) {
        let not_found = || ApiError::not_found(format!("No code found matching id={id}"));
        let number: i64 = id
            .strip_prefix("sc_")
            .and_then(|n| n.parse().ok())
            .ok_or_else(not_found)?;
        let (codes, _) = state
            .store
            .share_codes_of(spawner.user_id, Some(spawner.id), 0, i64::MAX)
            .await?;
        if !codes.iter().any(|c| c.id == number) {
            return Err(not_found());
        }
        state.store.delete_share_code(number).await?;
    } else {
        let deleted = state
            .store
            .delete_share_codes_of_spawner(spawner.id)
            .await?;
        tracing::info!(owner, server, by = %who.name(), "deleted {deleted} share codes");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
