//! The hub as OAuth 2 provider for single-user servers and services:
//! authorization-code grant with optional PKCE and exact redirect-URI match
//! (upstream §4.5), and the end of a browser session's OAuth tokens.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrohub_core::token;
use ferrohub_rbac::scopes;
use ferrohub_store::{NewToken, OAuthClient, OAuthCode, TokenOwner, UserRecord};
use http::StatusCode;
use sha2::{Digest, Sha256};

use crate::access::Identity;
use crate::capability::ClientAccess;
use crate::error::{HubError, OAuthError};
use crate::state::AppState;

/// How long an authorization code lives (upstream: 300 s).
const CODE_LIFETIME_SECS: i64 = 300;

/// `JupyterHub.oauth_token_expires_in`, in seconds; 0 (unset) means the
/// login cookie's lifetime, upstream's default.
fn oauth_token_lifetime(config: &ferrohub_config::JupyterHubConfig) -> i64 {
    match i64::try_from(config.oauth_token_expires_in) {
        Ok(0) => config.cookie_max_age_secs(),
        Ok(seconds) => seconds,
        Err(_) => i64::MAX / 2,
    }
}

/// `uri` with `params` added to its query.
#[must_use]
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// A checked authorization request: who asks, for which client, what to grant.
#[derive(Debug)]
pub(crate) struct AuthorizeRequest {
    /// The user's permission to let the client in, with the scopes to grant.
    pub access: ClientAccess,
    /// The browser session the code (and its token) will belong to.
    pub session_id: Option<String>,
    /// The client.
    pub client: OAuthClient,
    /// The client's `state`, passed back unchanged.
    pub oauth_state: String,
    /// The PKCE challenge, if any.
    pub challenge: Option<String>,
    /// The PKCE method (`S256` or `plain`) when there is a challenge.
    pub method: Option<String>,
}

/// What an authorization request leads to.
#[derive(Debug)]
pub(crate) enum Authorize {
    /// A valid request, to confirm or to answer with a code.
    Request(Box<AuthorizeRequest>),
    /// An OAuth error for the client: redirect the browser here.
    Redirect(String),
}

/// Validates the authorize parameters for the signed-in `who` (upstream's
/// `OAuthAuthorizeHandler` checks): client, exact redirect URI, response
/// type, scopes the client may ask for, access to the client's server or
/// service, PKCE method.
pub(crate) async fn check_authorize(
    state: &AppState,
    who: &Identity,
    params: &HashMap<String, String>,
) -> Result<Authorize, HubError> {
    let name = who.oauth_user()?.name.clone();
    let param = |key: &str| params.get(key).map(String::as_str).unwrap_or_default();
    let client = state
        .store
        .oauth_client(param("client_id"))
        .await?
        .filter(|c| !c.secret.is_empty())
        .ok_or_else(|| HubError::Invalid("Invalid OAuth client id.".to_owned()))?;
    if param("redirect_uri") != client.redirect_uri {
        return Err(HubError::Invalid(
            "The redirect URI does not match the one registered for this client.".to_owned(),
        ));
    }
    let oauth_state = param("state").to_owned();
    let fail = |error: &str| {
        Ok(Authorize::Redirect(with_query(
            &client.redirect_uri,
            &[("error", error), ("state", &oauth_state)],
        )))
    };
    if param("response_type") != "code" {
        return fail("unsupported_response_type");
    }
    let identify = [
        format!("{}!user={name}", scopes::READ_USERS_NAME.as_str()),
        format!("{}!user={name}", scopes::READ_USERS_GROUPS.as_str()),
    ];
    let mut allowed: Vec<String> = client.allowed_scopes.clone();
    allowed.extend(identify.iter().cloned());
    let requested: Vec<String> = match params.get("scope").map(String::as_str) {
        None | Some("") => allowed.clone(),
        Some(wanted) => wanted
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
    let access = who.client_access(state, &client, requested).await?;
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
    Ok(Authorize::Request(Box::new(AuthorizeRequest {
        access,
        session_id: who.session_id.clone(),
        client,
        oauth_state,
        challenge,
        method,
    })))
}

/// Upstream's `_needs_oauth_confirm`: no page for the user's own servers, for
/// services with `oauth_no_confirm`, or when an earlier grant already covers the scopes.
pub(crate) async fn needs_confirmation(
    state: &AppState,
    request: &AuthorizeRequest,
) -> Result<bool, HubError> {
    let client_id = request.client.identifier.as_str();
    let user = request.access.user();
    let own = state
        .store
        .spawners_of(user.id)
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
        .tokens_of_owner(TokenOwner::User(user.id))
        .await?
        .into_iter()
        .filter(|t| t.client_id == client_id)
        .flat_map(|t| t.scopes)
        .collect();
    let granted = request.access.granted();
    let covered = !authorized.is_empty() && granted.iter().all(|s| authorized.contains(s));
    Ok(!covered)
}

/// Keeps the scopes the user confirmed on the form; one that was not
/// offered is refused (400).
pub(crate) fn confirm(request: &mut AuthorizeRequest, confirmed: &[&str]) -> Result<(), HubError> {
    if let Some(extra) = confirmed
        .iter()
        .find(|s| !request.access.granted().iter().any(|g| g == *s))
    {
        return Err(HubError::Invalid(format!(
            "Scope {extra} was not requested or may not be granted."
        )));
    }
    request.access.narrow(|s| confirmed.contains(&s));
    Ok(())
}

/// A code issued: where to send the browser, and a new browser session id
/// when the request had none (to be set as the session cookie).
#[derive(Debug)]
pub(crate) struct IssuedCode {
    /// The client's redirect URI with `code` and `state`.
    pub location: String,
    /// A session id created for this grant.
    pub new_session: Option<String>,
}

/// Stores a single-use code for the request.
pub(crate) async fn issue_code(
    state: &AppState,
    request: AuthorizeRequest,
) -> Result<IssuedCode, HubError> {
    let (session_id, new_session) = match request.session_id {
        Some(id) => (id, None),
        None => {
            let id = token::new_token();
            (id.clone(), Some(id))
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
            user_id: request.access.user().id,
            scopes: request.access.granted().to_vec(),
            code_challenge: request.challenge,
            code_challenge_method: request.method,
        })
        .await?;
    let location = with_query(
        &redirect_uri,
        &[("code", &code), ("state", &request.oauth_state)],
    );
    Ok(IssuedCode {
        location,
        new_session,
    })
}

/// The client these credentials authenticate, if any. Over-long credentials
/// are refused before any look-up or hashing (issue 11, hole 1); the secret's
/// 16,384-round hash is checked off the async workers.
async fn authenticate_client(
    state: &AppState,
    client_id: &str,
    secret: &str,
) -> Result<Option<OAuthClient>, HubError> {
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

/// An access token issued for a code.
#[derive(Debug)]
pub(crate) struct OAuthToken {
    /// The token text.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

const INVALID_GRANT: &str = "invalid_grant";

/// Exchanges a code for an access token (`grant_type=authorization_code`),
/// checking the client's credentials, the code's client and redirect URI and
/// the PKCE verifier. A code is taken (deleted) when it is looked up, so it
/// is used at most once.
pub(crate) async fn exchange(
    state: &AppState,
    client_id: &str,
    secret: &str,
    form: &HashMap<String, String>,
) -> Result<OAuthToken, HubError> {
    let refuse = |status, error, description| OAuthError::new(status, error, description);
    let client = authenticate_client(state, client_id, secret)
        .await?
        .ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            )
        })?;
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only authorization_code is supported.",
        )
        .into());
    }
    let unknown_code = || {
        refuse(
            StatusCode::BAD_REQUEST,
            INVALID_GRANT,
            "Unknown, used or expired code.",
        )
    };
    // An over-long code or verifier is as wrong as an unknown one; refused
    // before the code is looked up (and so consumed).
    let over_long = ["code", "code_verifier"]
        .iter()
        .any(|k| form.get(*k).is_some_and(|v| !token::within_length_cap(v)));
    if over_long {
        return Err(unknown_code().into());
    }
    let now = chrono::Utc::now().timestamp();
    let code = state
        .store
        .take_oauth_code(
            form.get("code").map(String::as_str).unwrap_or_default(),
            now,
        )
        .await?
        .filter(|code| code.client_id == client.identifier)
        .ok_or_else(unknown_code)?;
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            INVALID_GRANT,
            "redirect_uri does not match.",
        )
        .into());
    }
    if !pkce_ok(&code, form.get("code_verifier")) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            INVALID_GRANT,
            "PKCE verification failed.",
        )
        .into());
    }
    let access_token = token::new_token();
    let expires_in = oauth_token_lifetime(&state.config.jupyterhub);
    state
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
        .await?;
    Ok(OAuthToken {
        access_token,
        expires_in,
        scopes: code.scopes,
    })
}

/// Logging out ends the browser session: the OAuth tokens issued in it are revoked.
pub(crate) async fn end_session(
    state: &AppState,
    user: &UserRecord,
    session_id: &str,
) -> Result<(), HubError> {
    state
        .store
        .delete_session_tokens(user.id, session_id)
        .await?;
    Ok(())
}
