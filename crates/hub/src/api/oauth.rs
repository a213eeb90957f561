//! The hub as OAuth 2 provider for single-user servers: authorization-code
//! grant with optional PKCE and exact redirect-URI match (upstream §4.5).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrohub_core::token;
use ferrohub_store::{NewToken, OAuthClient, OAuthCode, TokenOwner, UserRecord};
use http::{HeaderMap, StatusCode, Uri, header};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cookies;
use crate::error::PageError;
use crate::identity;
use crate::state::AppState;

/// `JupyterHub.oauth_token_expires_in`, in seconds; 0 (unset) means the
/// login cookie's lifetime, upstream's default.
fn oauth_token_lifetime(config: &ferrohub_config::JupyterHubConfig) -> i64 {
    match i64::try_from(config.oauth_token_expires_in) {
        Ok(0) => config.cookie_max_age_secs(),
        Ok(seconds) => seconds,
        Err(_) => i64::MAX / 2,
    }
}

/// How long an authorization code lives (upstream: 300 s).
const CODE_LIFETIME_SECS: i64 = 300;
/// The largest token request body read, in bytes. Its fields are the grant
/// type, client id and secret, code and PKCE verifier (each at most
/// [`token::MAX_SECRET_LEN`]) and the redirect URI (at most 1023, its column's
/// size): under 8 KiB even if every byte is percent-encoded.
const TOKEN_FORM_LIMIT: usize = 16 * 1024;

fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// A checked authorization request: who asks, for which client, what to grant.
struct AuthorizeRequest {
    user: UserRecord,
    session_id: Option<String>,
    client: OAuthClient,
    oauth_state: String,
    granted: Vec<String>,
    challenge: Option<String>,
    method: Option<String>,
}

/// Either a request to answer, or the answer already (login redirect, OAuth error redirect).
enum Checked {
    Request(Box<AuthorizeRequest>),
    Answered(Response),
}

/// Validates the authorize parameters for the logged-in user (upstream's
/// `OAuthAuthorizeHandler` checks): client, exact redirect URI, response type,
/// scopes the client may ask for, access to the client's server or service, PKCE method.
async fn check_request(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Checked, PageError> {
    let Some(who) = identity::from_cookie(state, headers)
        .await
        .map_err(|e| PageError::new(e.status, e.message))?
    else {
        let next = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let login = format!(
            "{}login?next={}",
            state.urls.hub,
            ferrohub_core::url::quote_query(&next)
        );
        return Ok(Checked::Answered(crate::redirect::found(&login)));
    };
    let Some(user) = who.user().cloned() else {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Only users can authorize OAuth clients.",
        ));
    };
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let client = state
        .store
        .oauth_client(param("client_id"))
        .await?
        .filter(|c| !c.secret.is_empty())
        .ok_or_else(|| PageError::new(StatusCode::BAD_REQUEST, "Invalid OAuth client id."))?;
    if param("redirect_uri") != client.redirect_uri {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "The redirect URI does not match the one registered for this client.",
        ));
    }
    let oauth_state = param("state").to_owned();
    let fail = |error: &str| {
        Ok(Checked::Answered(crate::redirect::found(&with_query(
            &client.redirect_uri,
            &[("error", error), ("state", &oauth_state)],
        ))))
    };
    if param("response_type") != "code" {
        return fail("unsupported_response_type");
    }
    let name = &user.name;
    let identify = [
        format!("read:users:name!user={name}"),
        format!("read:users:groups!user={name}"),
    ];
    let mut allowed: Vec<String> = client.allowed_scopes.clone();
    allowed.extend(identify.iter().cloned());
    let requested: Vec<String> = match params.get("scope").map(String::as_str) {
        None | Some("") => allowed.clone(),
        Some(scopes) => scopes
            .split_whitespace()
            .filter(|s| *s != "identify")
            .map(|s| {
                if s.ends_with("!user") {
                    format!("{s}={name}")
                } else {
                    s.to_owned()
                }
            })
            .collect(),
    };
    if requested.iter().any(|s| !allowed.contains(s)) {
        return fail("invalid_scope");
    }
    let access = client
        .allowed_scopes
        .iter()
        .find(|s| s.starts_with("access:"));
    let may_access = match access {
        Some(scope) => who.allows_str(state, scope).await?,
        None => true,
    };
    if !may_access {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            format!(
                "User {name} is not allowed to access {}.",
                client.description
            ),
        ));
    }
    let mut granted: Vec<String> = Vec::new();
    for scope in requested {
        if who.allows_str(state, &scope).await? {
            granted.push(scope);
        }
    }
    granted.extend(access.cloned());
    granted.sort();
    granted.dedup();
    let challenge = params
        .get("code_challenge")
        .filter(|c| !c.is_empty())
        .cloned();
    let method = challenge.as_ref().map(|_| {
        params
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".into())
    });
    if method
        .as_deref()
        .is_some_and(|m| m != "S256" && m != "plain")
    {
        return fail("invalid_request");
    }
    Ok(Checked::Request(Box::new(AuthorizeRequest {
        user,
        session_id: who.session_id.clone(),
        client,
        oauth_state,
        granted,
        challenge,
        method,
    })))
}

/// Upstream's `_needs_oauth_confirm`: no page for the user's own servers, for
/// services with `oauth_no_confirm`, or when an earlier grant already covers the scopes.
async fn needs_confirmation(
    state: &AppState,
    request: &AuthorizeRequest,
) -> Result<bool, PageError> {
    let client_id = request.client.identifier.as_str();
    let own = state
        .store
        .spawners_of(request.user.id)
        .await?
        .iter()
        .any(|s| s.oauth_client_id.as_deref() == Some(client_id));
    if own {
        return Ok(false);
    }
    let no_confirm = state
        .store
        .list_services()
        .await?
        .iter()
        .any(|s| s.oauth_no_confirm && s.oauth_client_id.as_deref() == Some(client_id));
    if no_confirm {
        return Ok(false);
    }
    let authorized: Vec<String> = state
        .store
        .tokens_of_owner(TokenOwner::User(request.user.id))
        .await?
        .into_iter()
        .filter(|t| t.client_id == client_id)
        .flat_map(|t| t.scopes)
        .collect();
    let covered = !authorized.is_empty() && request.granted.iter().all(|s| authorized.contains(s));
    Ok(!covered)
}

/// `GET {hub}api/oauth2/authorize`: a code straight away when no confirmation is
/// needed, else the page asking the user to authorize the client.
pub(super) async fn authorize(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let request = match check_request(&state, &uri, &headers, &params).await? {
        Checked::Answered(response) => return Ok(response),
        Checked::Request(request) => request,
    };
    if !needs_confirmation(&state, &request).await? {
        return issue_code(&state, *request).await;
    }
    let scopes = ferrohub_rbac::describe_raw_scopes(
        &request.granted,
        Some(&request.user.name),
        &state.custom_scopes,
    )
    .unwrap_or_default();
    let scopes: Vec<_> = scopes
        .into_iter()
        .map(|s| minijinja::context! { description => s.description, filter => s.filter })
        .collect();
    let owner = crate::xsrf::Owner::Session {
        session_id: request.session_id.as_deref().unwrap_or(""),
        cookie_id: &request.user.cookie_id,
    };
    let (xsrf, stale) = crate::xsrf::token(&state.cookie_secret, owner, &headers);
    let cookie = stale.then(|| crate::pages::xsrf_cookie(&state, &xsrf));
    let html = state.templates.render(
        "oauth.html",
        minijinja::context! {
            hub => &state.urls.hub,
            user => &request.user.name,
            client => &request.client.description,
            redirect_uri => &request.client.redirect_uri,
            scopes => scopes,
            granted => &request.granted,
            xsrf => xsrf,
        },
    );
    let mut response = axum::response::Html(html).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST {hub}api/oauth2/authorize`: the confirmation form; grants the scopes
/// the form lists, as far as the request allows them.
pub(super) async fn authorize_confirmed(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "Malformed form."))?;
    let xsrf = form
        .iter()
        .find(|(k, _)| k == "_xsrf")
        .map(|(_, v)| v.as_str());
    let mut request = match check_request(&state, &uri, &headers, &params).await? {
        Checked::Answered(response) => return Ok(response),
        Checked::Request(request) => request,
    };
    let owner = crate::xsrf::Owner::Session {
        session_id: request.session_id.as_deref().unwrap_or(""),
        cookie_id: &request.user.cookie_id,
    };
    if !crate::xsrf::check(&state.cookie_secret, owner, &headers, xsrf) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "The form was invalid or expired (XSRF check failed). Reload the page and try again.",
        ));
    }
    let confirmed: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(extra) = confirmed
        .iter()
        .find(|s| !request.granted.iter().any(|g| g == *s))
    {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!("Scope {extra} was not requested or may not be granted."),
        ));
    }
    request.granted.retain(|s| confirmed.contains(&s.as_str()));
    issue_code(&state, *request).await
}

/// Stores a single-use code for the request and redirects to the client with it.
async fn issue_code(state: &AppState, request: AuthorizeRequest) -> Result<Response, PageError> {
    let mut response_cookies = Vec::new();
    let session_id = match request.session_id {
        Some(id) => id,
        None => {
            let id = token::new_token();
            let opts = cookies::CookieOptions {
                path: &state.urls.base,
                http_only: true,
                secure: state.urls.secure_cookies(),
                max_age: None,
            };
            response_cookies.push(cookies::set_cookie(cookies::SESSION_COOKIE, &id, opts));
            id
        }
    };
    let code = token::random_alphanumeric(30);
    let redirect_uri = request.client.redirect_uri;
    state
        .store
        .create_oauth_code(&OAuthCode {
            client_id: request.client.identifier,
            code: code.clone(),
            expires_at: chrono::Utc::now().timestamp() + CODE_LIFETIME_SECS,
            redirect_uri: redirect_uri.clone(),
            session_id: Some(session_id),
            user_id: request.user.id,
            scopes: request.granted,
            code_challenge: request.challenge,
            code_challenge_method: request.method,
        })
        .await?;
    let location = with_query(
        &redirect_uri,
        &[("code", &code), ("state", &request.oauth_state)],
    );
    let mut response = crate::redirect::found(&location);
    for cookie in response_cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Client credentials from the form or HTTP Basic auth.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    match (form.get("client_id"), form.get("client_secret"), basic) {
        (Some(id), Some(secret), _) => (id.clone(), secret.clone()),
        (_, _, Some(pair)) => pair,
        (id, _, None) => (id.cloned().unwrap_or_default(), String::new()),
    }
}

/// The client these credentials authenticate, if any. Over-long credentials
/// are refused before any look-up or hashing (issue 11, hole 1); the secret's
/// 16,384-round hash is checked off the async workers.
async fn authenticate_client(
    state: &AppState,
    client_id: &str,
    secret: &str,
) -> Result<Option<OAuthClient>, ferrohub_store::StoreError> {
    if !token::within_length_cap(client_id) || !token::within_length_cap(secret) {
        return Ok(None);
    }
    let Some(client) = state.store.oauth_client(client_id).await? else {
        return Ok(None);
    };
    let valid = !client.secret.is_empty()
        && ferrohub_store::hashing::verify_secret(&client.secret, secret).await;
    Ok(valid.then_some(client))
}

fn pkce_ok(code: &OAuthCode, verifier: Option<&String>) -> bool {
    let Some(challenge) = &code.code_challenge else {
        return true;
    };
    let Some(verifier) = verifier else {
        return false;
    };
    match code.code_challenge_method.as_deref() {
        Some("S256") => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge,
        _ => verifier == challenge,
    }
}

/// `POST {hub}api/oauth2/token`: exchanges a code for an access token.
pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // A form bigger than any valid request is refused unparsed: decoding a
    // megabyte costs the async worker more than all the rest of the request.
    if body.len() > TOKEN_FORM_LIMIT {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token request is too large.",
        );
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (client_id, secret) = client_credentials(&headers, &form);
    let client = match authenticate_client(&state, &client_id, &secret).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            );
        }
        Err(e) => return crate::error::ApiError::internal(&e).into_response(),
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only authorization_code is supported.",
        );
    }
    // An over-long code or verifier is as wrong as an unknown one; refused
    // before the code is looked up (and so consumed).
    let over_long = ["code", "code_verifier"]
        .iter()
        .any(|k| form.get(*k).is_some_and(|v| !token::within_length_cap(v)));
    if over_long {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Unknown, used or expired code.",
        );
    }
    let now = chrono::Utc::now().timestamp();
    let code = match state
        .store
        .take_oauth_code(
            form.get("code").map(String::as_str).unwrap_or_default(),
            now,
        )
        .await
    {
        Ok(Some(code)) if code.client_id == client.identifier => code,
        Ok(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Unknown, used or expired code.",
            );
        }
        Err(e) => return crate::error::ApiError::internal(&e).into_response(),
    };
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match.",
        );
    }
    if !pkce_ok(&code, form.get("code_verifier")) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed.",
        );
    }
    let access_token = token::new_token();
    let expires_in = oauth_token_lifetime(&state.config.jupyterhub);
    let stored = state
        .store
        .create_token(&NewToken {
            token: &access_token,
            rounds: token::GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::User(code.user_id),
            client_id: &client.identifier,
            session_id: code.session_id.as_deref(),
            scopes: &code.scopes,
            note: None,
            expires_at: Some(ferrohub_core::time::now() + chrono::Duration::seconds(expires_in)),
        })
        .await;
    if let Err(e) = stored {
        return crate::error::ApiError::internal(&e).into_response();
    }
    let body = json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "token_type": "Bearer",
        "scope": code.scopes.join(" "),
    });
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}
