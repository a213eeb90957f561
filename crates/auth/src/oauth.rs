//! [`OAuthenticator`]: logins through an OAuth2 / OpenID Connect provider
//! (upstream's OAuthenticator: `GenericOAuthenticator` and the GitHub,
//! GitLab, Google and Azure AD presets, which are defaults on this code).
//!
//! The authorization code flow, by hand: [`RedirectLogin::begin`] makes a
//! random `state` (upstream's format: base64 JSON `{"state_id"}` in the
//! URL; `{"state_id", "next_url", "code_verifier", ...}` kept in the
//! browser's signed `oauthenticator-state` cookie), a PKCE S256 challenge
//! and an OIDC nonce; [`RedirectLogin::finish`] checks the state against the
//! cookie, exchanges the code, checks the ID token (signature against the
//! provider's JWKS, `iss`, `aud`, `exp`, `nonce`) when the issuer is known,
//! reads the user info and builds upstream's `auth_state`.
//! `refresh_user` renews an expired access token with the refresh token.
//!
//! Modules: `settings` (options and presets), `provider` (HTTP, discovery,
//! JWKS), `id_token` (ID-token checks).

mod id_token;
mod provider;
mod settings;

use std::collections::BTreeSet;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ferrohub_config::{Config, OAuthClass};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::{OnceCell, RwLock};

use self::provider::{Endpoints, FetchError, Http};
use self::settings::Settings;
use crate::{
    AuthError, AuthUpdate, Authenticated, Authenticator, CallbackParams, Finished, LoginStart,
    RedirectError, RedirectLogin, Refreshed,
};

/// The cookie that binds a login's state to the browser (upstream's name).
pub const STATE_COOKIE_NAME: &str = "oauthenticator-state";

/// ferrohub's addition to `auth_state`: when the access token expires (Unix
/// seconds, from the token response's `expires_in` and the time it came),
/// so a refresh knows without asking the provider.
const EXPIRES_AT_KEY: &str = "access_token_expires_at";

/// A token counts as expired this many seconds before its end, so a server
/// started now does not get a token that dies in its first request.
const EXPIRY_MARGIN_SECS: i64 = 5;

/// What the browser keeps between `oauth_login` and `oauth_callback`
/// (upstream's cookie state, plus the nonce and redirect URI).
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    state_id: String,
    #[serde(default)]
    next_url: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// The state parameter in the authorization URL.
#[derive(Debug, Serialize, Deserialize)]
struct UrlState {
    state_id: String,
}

/// The OAuth2 / OIDC back end.
pub struct OAuthenticator {
    settings: Settings,
    http: Http,
    /// Configured endpoints, or discovery's (fetched once it succeeds).
    endpoints: OnceCell<Endpoints>,
    /// The provider's signing keys (fetched again for an unknown key id).
    keys: RwLock<Option<jsonwebtoken::jwk::JwkSet>>,
}

impl std::fmt::Debug for OAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthenticator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OAuthenticator {
    /// Builds the back end for `class` from the configuration; bad options
    /// are refused here, at start-up. The provider is not contacted until
    /// the first login (discovery then).
    pub fn from_config(config: &Config, class: OAuthClass) -> Result<Self, AuthError> {
        Ok(Self {
            settings: Settings::from_config(config, class)?,
            http: Http::new()?,
            endpoints: OnceCell::new(),
            keys: RwLock::new(None),
        })
    }

    /// The endpoints: configured ones over what discovery says.
    async fn endpoints(&self) -> Result<&Endpoints, RedirectError> {
        self.endpoints
            .get_or_try_init(|| async {
                let s = &self.settings;
                let discovered = match &s.issuer {
                    Some(issuer) => Some(self.http.discover(issuer).await.map_err(|e| {
                        RedirectError::Provider {
                            detail: format!("OpenID Connect discovery: {e}"),
                        }
                    })?),
                    None => None,
                };
                let pick = |configured: &Option<String>, found: Option<&String>| {
                    configured.clone().or_else(|| found.cloned())
                };
                let d = discovered.as_ref();
                let missing = |what: &str| RedirectError::Provider {
                    detail: format!("no {what} configured or discovered"),
                };
                Ok(Endpoints {
                    authorize: pick(&s.authorize_url, d.map(|d| &d.authorize))
                        .ok_or_else(|| missing("authorize_url"))?,
                    token: pick(&s.token_url, d.map(|d| &d.token))
                        .ok_or_else(|| missing("token_url"))?,
                    userdata: pick(&s.userdata_url, d.and_then(|d| d.userdata.as_ref())),
                    jwks: d.and_then(|d| d.jwks.clone()),
                    issuer: d.and_then(|d| d.issuer.clone()),
                })
            })
            .await
    }

    /// The code (or refresh token) for tokens, at the token endpoint.
    async fn token_request(&self, mut form: Vec<(String, String)>) -> Result<Value, FetchError> {
        let s = &self.settings;
        let endpoints = self.endpoints().await.map_err(|e| FetchError::Transport {
            url: "discovery".into(),
            detail: e.to_string(),
        })?;
        if !s.basic_auth {
            form.push(("client_id".into(), s.client_id.clone()));
            form.push(("client_secret".into(), s.client_secret.clone()));
        }
        let basic = s
            .basic_auth
            .then_some((s.client_id.as_str(), s.client_secret.as_str()));
        let answer = self.http.post_form(&endpoints.token, &form, basic).await?;
        // Some providers answer 200 with an error object.
        if answer.get("access_token").and_then(Value::as_str).is_none() {
            let error = answer
                .get("error_description")
                .or_else(|| answer.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("no access_token in the answer");
            return Err(FetchError::Status {
                url: endpoints.token.clone(),
                status: 400,
                body: json!({ "error": error }).to_string(),
            });
        }
        Ok(answer)
    }

    /// Upstream's `_token_to_auth_model`: the user info (from the userinfo
    /// endpoint or the ID token), the user name, `auth_state`, and with
    /// `manage_groups` the groups and the `admin_groups` decision.
    /// `nonce` is checked in the ID token when given (logins, not refreshes).
    async fn auth_model(
        &self,
        token: Map<String, Value>,
        nonce: Option<&str>,
        previous_user: Option<&Value>,
    ) -> Result<Authenticated, RedirectError> {
        let s = &self.settings;
        let endpoints = self.endpoints().await?;
        let id_claims = match token.get("id_token").and_then(Value::as_str) {
            Some(id_token) => Some(self.check_id_token(endpoints, id_token, nonce).await?),
            None => None,
        };
        let user_info = if s.userdata_from_id_token {
            match (id_claims, previous_user) {
                (Some(claims), _) => claims,
                // A refresh answer without a new ID token keeps the user info.
                (None, Some(previous)) if nonce.is_none() => previous.clone(),
                (None, _) => {
                    return Err(RedirectError::Provider {
                        detail: "the token answer has no id_token to read the user from \
                                 (userdata_from_id_token)"
                            .into(),
                    });
                }
            }
        } else {
            self.user_info(endpoints, &token).await?
        };
        let name = claim(&user_info, &s.username_claim)
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| RedirectError::Refused {
                message: "The identity provider did not say who you are; the hub cannot \
                          sign you in. Please contact the hub administrator."
                    .into(),
                detail: format!(
                    "no {:?} in the user info (keys: {:?}); maybe more scopes are needed",
                    s.username_claim,
                    user_info.as_object().map(|o| o.keys().collect::<Vec<_>>())
                ),
            })?
            .to_owned();
        let auth_state = self.auth_state(token, user_info);
        let (admin, groups) = if s.manage_groups {
            let groups = self.groups(&auth_state);
            let admin = (!s.admin_groups.is_empty())
                .then(|| groups.iter().any(|g| s.admin_groups.contains(g)));
            (admin, Some(groups.into_iter().collect()))
        } else {
            (None, None)
        };
        Ok(Authenticated {
            name,
            auth_state: Some(auth_state),
            admin,
            groups,
        })
    }

    /// GET `userdata_url` with the access token.
    async fn user_info(
        &self,
        endpoints: &Endpoints,
        token: &Map<String, Value>,
    ) -> Result<Value, RedirectError> {
        let s = &self.settings;
        let url = endpoints
            .userdata
            .as_ref()
            .ok_or_else(|| RedirectError::Provider {
                detail: "no userdata_url configured or discovered".into(),
            })?;
        let access_token = token
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let token_type = match token.get("token_type").and_then(Value::as_str) {
            Some(t) if !t.eq_ignore_ascii_case("bearer") => t,
            _ => "Bearer",
        };
        let mut query: Vec<(String, String)> = s
            .userdata_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let authorization = if s.userdata_token_in_url {
            query.push(("access_token".into(), access_token.to_owned()));
            None
        } else {
            Some(format!("{token_type} {access_token}"))
        };
        self.http
            .get_json(url, &query, authorization)
            .await
            .map_err(|e| {
                if e.is_refusal() {
                    RedirectError::Refused {
                        message: "The identity provider did not accept the hub's access \
                                  token. Please sign in again."
                            .into(),
                        detail: format!("reading the user info: {e}"),
                    }
                } else {
                    provider_failure("reading the user info", &e)
                }
            })
    }

    /// Upstream's `build_auth_state_dict`, plus the expiry time.
    fn auth_state(&self, token: Map<String, Value>, user_info: Value) -> Value {
        let scope = match token.get("scope") {
            Some(Value::String(s)) if s.contains(' ') => s.split(' ').map(Value::from).collect(),
            Some(Value::String(s)) if s.contains(',') => s.split(',').map(Value::from).collect(),
            Some(Value::String(s)) => vec![Value::from(s.as_str())],
            Some(Value::Array(list)) => list.clone(),
            _ => vec![Value::from("")],
        };
        let expires_at = token
            .get("expires_in")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .map(|secs| chrono_now() + secs);
        let mut state = Map::new();
        state.insert(
            "access_token".into(),
            token.get("access_token").cloned().unwrap_or(Value::Null),
        );
        state.insert(
            "refresh_token".into(),
            token.get("refresh_token").cloned().unwrap_or(Value::Null),
        );
        state.insert(
            "id_token".into(),
            token.get("id_token").cloned().unwrap_or(Value::Null),
        );
        state.insert("scope".into(), Value::Array(scope));
        state.insert(
            EXPIRES_AT_KEY.into(),
            expires_at.map_or(Value::Null, Value::from),
        );
        state.insert("token_response".into(), Value::Object(token));
        state.insert(self.settings.user_key.into(), user_info);
        Value::Object(state)
    }

    /// The groups at `groups_key` in `auth_state` (upstream's
    /// `get_user_groups`); missing or malformed: none, logged.
    fn groups(&self, auth_state: &Value) -> BTreeSet<String> {
        let Some(key) = &self.settings.groups_key else {
            return BTreeSet::new();
        };
        match dotted(auth_state, key) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => BTreeSet::from([one.clone()]),
            _ => {
                tracing::error!(
                    "the auth_state_groups_key {key} does not exist in auth_state (or is not a list)"
                );
                BTreeSet::new()
            }
        }
    }

    /// Checks an ID token: against the provider's keys when the issuer is
    /// known (discovery), else only `aud` and `exp` (upstream's check, for
    /// a token that came straight from the token endpoint).
    async fn check_id_token(
        &self,
        endpoints: &Endpoints,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Value, RedirectError> {
        let client_id = &self.settings.client_id;
        let checked = match (&endpoints.jwks, &endpoints.issuer) {
            (Some(jwks), Some(issuer)) => {
                let keys = self.keys_for(jwks, token).await?;
                id_token::verify(token, &keys, issuer, client_id, nonce)
            }
            _ => id_token::unverified(token, client_id),
        };
        checked.map_err(|e| RedirectError::Refused {
            message: "The identity provider's answer failed the hub's checks, so you \
                      were not signed in. Try again, or contact the hub administrator."
                .into(),
            detail: format!("ID token refused: {e}"),
        })
    }

    /// The key set, fetched again when the token names a key it lacks
    /// (the provider rotated its keys).
    async fn keys_for(
        &self,
        jwks_url: &str,
        token: &str,
    ) -> Result<jsonwebtoken::jwk::JwkSet, RedirectError> {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        {
            let keys = self.keys.read().await;
            if let Some(keys) = keys.as_ref()
                && kid.as_deref().is_none_or(|kid| keys.find(kid).is_some())
            {
                return Ok(keys.clone());
            }
        }
        let fresh = self
            .http
            .jwks(jwks_url)
            .await
            .map_err(|e| provider_failure("fetching the provider's keys", &e))?;
        *self.keys.write().await = Some(fresh.clone());
        Ok(fresh)
    }
}

#[async_trait]
impl Authenticator for OAuthenticator {
    fn name(&self) -> &'static str {
        self.settings.class.class_name()
    }

    /// No passwords here: the login form is not offered.
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(None)
    }

    fn login_url(&self, hub_base: &str) -> String {
        format!("{hub_base}oauth_login")
    }

    fn login_service(&self) -> &str {
        &self.settings.login_service
    }

    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        Some(self)
    }

    /// Upstream's `OAuthenticator.check_allowed` beyond `allow_all` and
    /// `allowed_users`: an admin by `admin_groups`, or a member of
    /// `allowed_groups` (with `manage_groups`).
    async fn check_allowed_model(
        &self,
        _username: &str,
        vouched: &Authenticated,
    ) -> Result<bool, AuthError> {
        let s = &self.settings;
        if vouched.admin == Some(true) {
            return Ok(true);
        }
        Ok(s.manage_groups
            && vouched
                .groups
                .as_ref()
                .is_some_and(|g| g.iter().any(|g| s.allowed_groups.contains(g))))
    }

    fn refreshes_users(&self) -> bool {
        self.settings.enable_auth_state
    }

    /// Upstream's `refresh_user`: nothing to do without `auth_state`; a new
    /// login when none is stored. A token that expired (by the stored
    /// expiry, or refused by the userinfo endpoint) is renewed with the
    /// refresh token; without one, or when the provider refuses it, the
    /// user must log in again.
    async fn refresh_user(
        &self,
        username: &str,
        auth_state: Option<&Value>,
    ) -> Result<Refreshed, AuthError> {
        let s = &self.settings;
        if !s.enable_auth_state {
            return Ok(Refreshed::Current);
        }
        let Some(auth_state) = auth_state else {
            tracing::info!(user = %username, "no auth_state to refresh; a new login is needed");
            return Ok(Refreshed::Expired);
        };
        let previous_user = auth_state.get(s.user_key);
        let expired = auth_state
            .get(EXPIRES_AT_KEY)
            .and_then(Value::as_i64)
            .is_some_and(|at| chrono_now() + EXPIRY_MARGIN_SECS >= at);
        if !expired {
            if s.userdata_from_id_token {
                return Ok(Refreshed::Current);
            }
            let Some(Value::Object(token)) = auth_state.get("token_response") else {
                return Ok(Refreshed::Expired);
            };
            match self.auth_model(token.clone(), None, previous_user).await {
                Ok(model) => return Ok(updated(model)),
                Err(RedirectError::Provider { detail }) => {
                    return Err(AuthError::Backend(format!(
                        "refreshing {username}: {detail}"
                    )));
                }
                Err(e) => {
                    tracing::info!(user = %username, "access token no longer accepted ({e}); refreshing it");
                }
            }
        }
        let Some(refresh_token) = auth_state.get("refresh_token").and_then(Value::as_str) else {
            tracing::info!(user = %username, "access token expired and no refresh token; a new login is needed");
            return Ok(Refreshed::Expired);
        };
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.to_owned()),
        ];
        let mut token = match self.token_request(form).await {
            Ok(Value::Object(token)) => token,
            Ok(_) => return Ok(Refreshed::Expired),
            Err(e) => {
                tracing::info!(user = %username, "refresh token refused ({e}); a new login is needed");
                return Ok(Refreshed::Expired);
            }
        };
        // Providers may keep the refresh token the same and not send it again.
        if token.get("refresh_token").and_then(Value::as_str).is_none() {
            token.insert("refresh_token".into(), Value::from(refresh_token));
        }
        match self.auth_model(token, None, previous_user).await {
            Ok(model) => {
                tracing::info!(user = %username, "access token refreshed");
                Ok(updated(model))
            }
            Err(e) => {
                tracing::warn!(user = %username, "the refreshed token did not work ({e}); a new login is needed");
                Ok(Refreshed::Expired)
            }
        }
    }
}

#[async_trait]
impl RedirectLogin for OAuthenticator {
    async fn begin(
        &self,
        callback_url: &str,
        next: Option<&str>,
    ) -> Result<LoginStart, RedirectError> {
        let s = &self.settings;
        let endpoints = self.endpoints().await?;
        let state_id = hex(&random::<16>());
        let mut url =
            url::Url::parse(&endpoints.authorize).map_err(|e| RedirectError::Provider {
                detail: format!("authorize URL {:?}: {e}", endpoints.authorize),
            })?;
        let mut kept = Kept {
            state_id: state_id.clone(),
            next_url: next.map(str::to_owned),
            code_verifier: None,
            nonce: None,
            redirect_uri: Some(callback_url.to_owned()),
        };
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &s.client_id)
                .append_pair("redirect_uri", callback_url);
            if !s.scope.is_empty() {
                query.append_pair("scope", &s.scope.join(" "));
            }
            for (k, v) in &s.extra_authorize_params {
                query.append_pair(k, v);
            }
            if s.enable_pkce {
                let verifier = URL_SAFE_NO_PAD.encode(random::<32>());
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                query
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
                kept.code_verifier = Some(verifier);
            }
            if s.scope.iter().any(|scope| scope == "openid") {
                let nonce = URL_SAFE_NO_PAD.encode(random::<16>());
                query.append_pair("nonce", &nonce);
                kept.nonce = Some(nonce);
            }
            query.append_pair("state", &encode_state(&UrlState { state_id }));
        }
        Ok(LoginStart {
            authorize_url: url.into(),
            kept: encode_state(&kept),
        })
    }

    async fn finish(
        &self,
        callback: &CallbackParams,
        kept: Option<&str>,
    ) -> Result<Finished, RedirectError> {
        let bad = |message: &str| RedirectError::BadRequest {
            message: message.to_owned(),
        };
        // Upstream's order: the provider's error, the code, the state.
        if let Some(error) = callback.error.as_deref().filter(|e| !e.is_empty()) {
            let text = callback
                .error_description
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or(error);
            return Err(bad(&format!("OAuth error: {text}")));
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(bad("OAuth callback made without a code"));
        };
        let kept: Kept = kept
            .and_then(decode_state)
            .ok_or_else(|| bad("OAuth state missing from cookies"))?;
        let url_state: UrlState = callback
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("OAuth state missing from URL"))
            .map(decode_state)?
            .ok_or_else(|| bad("OAuth state mismatch"))?;
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(url_state.state_id.as_bytes(), kept.state_id.as_bytes())
                .into();
        if !same {
            tracing::warn!("OAuth state mismatch");
            return Err(bad("OAuth state mismatch"));
        }
        let mut form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            (
                "redirect_uri".to_owned(),
                // A state cookie written by upstream has no redirect URI.
                kept.redirect_uri
                    .clone()
                    .or_else(|| self.settings.callback_url.clone())
                    .unwrap_or_default(),
            ),
        ];
        if self.settings.enable_pkce {
            let verifier = kept
                .code_verifier
                .clone()
                .ok_or_else(|| bad("Missing code_verifier"))?;
            form.push(("code_verifier".into(), verifier));
        }
        form.extend(
            self.settings
                .token_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let token = match self.token_request(form).await {
            Ok(Value::Object(token)) => token,
            Ok(_) => {
                return Err(RedirectError::Provider {
                    detail: "token answer is not an object".into(),
                });
            }
            Err(e) if e.is_refusal() => {
                let code = e.oauth_error().unwrap_or_else(|| "refused".into());
                return Err(RedirectError::Refused {
                    message: format!(
                        "The identity provider did not accept this sign-in ({code}); it may \
                         have been used already or have expired. Please sign in again."
                    ),
                    detail: format!("token request refused: {e}"),
                });
            }
            Err(e) => return Err(provider_failure("exchanging the code", &e)),
        };
        let authenticated = self.auth_model(token, kept.nonce.as_deref(), None).await?;
        Ok(Finished {
            authenticated,
            next: kept.next_url,
        })
    }

    fn callback_url(&self) -> Option<&str> {
        self.settings.callback_url.as_deref()
    }

    fn logout_redirect_url(&self) -> Option<&str> {
        self.settings.logout_redirect_url.as_deref()
    }

    fn refused_message(&self) -> &str {
        &self.settings.custom_403_message
    }
}

/// A refresh's result: the new auth model's fields.
fn updated(model: Authenticated) -> Refreshed {
    Refreshed::Updated(AuthUpdate {
        auth_state: model.auth_state,
        admin: model.admin,
        groups: model.groups,
    })
}

/// A failed request to the provider as the user's page sees it.
fn provider_failure(what: &str, e: &FetchError) -> RedirectError {
    RedirectError::Provider {
        detail: format!("{what}: {e}"),
    }
}

/// A claim by name, or by dotted path into nested objects
/// (`realm_access.roles`) when no claim has the whole name.
fn claim<'a>(info: &'a Value, name: &str) -> Option<&'a Value> {
    info.get(name).or_else(|| dotted(info, name))
}

/// The value at a dotted path.
fn dotted<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Upstream's `_serialize_state`: base64url (padded) of the JSON.
fn encode_state<T: Serialize>(state: &T) -> String {
    URL_SAFE.encode(serde_json::to_vec(state).expect("state structs serialize"))
}

/// Upstream's `_deserialize_state`; `None` for anything malformed.
fn decode_state<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    let bytes = URL_SAFE
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_in_upstreams_format() {
        let text = encode_state(&UrlState {
            state_id: "abc".into(),
        });
        // Upstream: base64.urlsafe_b64encode(json.dumps({"state_id": "abc"}))
        assert_eq!(
            URL_SAFE.decode(&text).unwrap(),
            br#"{"state_id":"abc"}"#.to_vec()
        );
        let back: UrlState = decode_state(&text).unwrap();
        assert_eq!(back.state_id, "abc");
        assert!(decode_state::<UrlState>("not base64!").is_none());
    }

    #[test]
    fn claims_by_name_or_dotted_path() {
        let info = json!({"a.b": "flat", "realm": {"roles": ["x"]}, "a": {"b": "nested"}});
        assert_eq!(claim(&info, "a.b"), Some(&json!("flat")));
        assert_eq!(claim(&info, "realm.roles"), Some(&json!(["x"])));
        assert_eq!(claim(&info, "realm.none"), None);
    }
}
