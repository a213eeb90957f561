//! Services (`JupyterHub.services`): checking their definitions and
//! registering them (API tokens, OAuth clients, server rows). A service with a
//! `url` gets the proxy route `{base}services/<name>/`; one with a url or OAuth
//! settings is an OAuth client. Managed ones (with a `command`) are run by
//! `crate::runtime::managed`, which starts them once the API listens, restarts
//! them when they exit and stops them at shutdown.

use std::collections::BTreeMap;

use ferrohub_config::ServiceConfig;
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS, USER_PROVIDED_TOKEN_ROUNDS};
use ferrohub_store::{NewService, NewToken, OAuthClient, ServiceRecord, TokenOwner};
use serde_json::json;

use crate::runtime::managed::{address, prefix};
use crate::state::AppState;

pub(crate) use crate::runtime::managed::oauth_client_id;

/// A configuration mistake in `JupyterHub.services`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad entry.
    #[error("JupyterHub.services: {0}")]
    Config(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
}

/// Whether the service takes part in OAuth (upstream: it has a url or any oauth_ setting).
fn uses_oauth(spec: &ServiceConfig) -> bool {
    !spec.url.is_empty()
        || !spec.oauth_client_id.is_empty()
        || !spec.oauth_redirect_uri.is_empty()
        || !spec.oauth_client_allowed_scopes.is_empty()
}

/// Checks one entry: a usable name, a parsable url, a `service-` client id.
pub(crate) fn check(spec: &ServiceConfig) -> Result<(), ServiceError> {
    let name = &spec.name;
    let bad = |why: &str| ServiceError::Config(format!("service {name:?}: {why}"));
    if name.is_empty()
        || name.contains('/')
        || name.chars().all(|c| c == '.')
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(bad(
            "name must be non-empty, without '/', surrounding spaces, or only dots",
        ));
    }
    if ferrohub_core::url::quote_name(name) != *name {
        return Err(bad("name must not need URL escaping"));
    }
    if !spec.url.is_empty() {
        let url = url::Url::parse(&spec.url).map_err(|e| bad(&format!("url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(bad("url must be http(s)://host:port"));
        }
    }
    if !spec.oauth_client_id.is_empty() && !spec.oauth_client_id.starts_with("service-") {
        return Err(bad("oauth_client_id must start with 'service-'"));
    }
    if !spec.user.is_empty() && spec.command.is_empty() {
        return Err(bad(
            "user only applies to managed services (with a command)",
        ));
    }
    if spec.command.is_empty() && !spec.environment.is_empty() {
        return Err(bad(
            "environment only applies to managed services (with a command)",
        ));
    }
    Ok(())
}

/// Checks every service definition and that no name is used twice.
pub(crate) fn check_all(specs: &[ServiceConfig]) -> Result<(), ServiceError> {
    let mut seen = std::collections::BTreeSet::new();
    for spec in specs {
        check(spec)?;
        if !seen.insert(spec.name.clone()) {
            return Err(ServiceError::Config(format!(
                "service {:?} is defined more than once",
                spec.name
            )));
        }
    }
    Ok(())
}

/// Refuses an OAuth client id that belongs to something else: another
/// service (`service_id` is the registering service's own row, if it has
/// one), a user's server, or the hub itself. Registering upserts the client
/// row, so without this a service could take over another's client (its
/// secret and redirect URI) and receive the codes meant for it. A service
/// that is no OAuth client claims nothing.
pub(crate) async fn check_client_free(
    state: &AppState,
    spec: &ServiceConfig,
    service_id: Option<i64>,
) -> Result<(), ServiceError> {
    if !uses_oauth(spec) {
        return Ok(());
    }
    let client_id = oauth_client_id(spec);
    let taken = |owner: String| {
        ServiceError::Config(format!(
            "service {:?}: oauth_client_id {client_id:?} already belongs to {owner}",
            spec.name
        ))
    };
    if client_id == ferrohub_store::BUILTIN_CLIENT {
        return Err(taken("the hub".to_owned()));
    }
    let other = state.store.list_services().await?.into_iter().find(|s| {
        Some(s.id) != service_id && s.oauth_client_id.as_deref() == Some(client_id.as_str())
    });
    if let Some(other) = other {
        return Err(taken(format!("service {:?}", other.name)));
    }
    if let Some((user, server)) = state.store.spawner_by_oauth_client(&client_id).await? {
        return Err(taken(format!("server {user:?}/{server:?}")));
    }
    Ok(())
}

/// Registers the configured services at start-up: records, tokens, OAuth
/// clients and server rows; services no longer configured are removed. Returns
/// the API token of each managed service (generated when not configured).
pub(crate) async fn register(state: &AppState) -> Result<BTreeMap<String, String>, ServiceError> {
    let specs = &state.config.jupyterhub.services;
    check_all(specs)?;
    for old in state.store.list_services().await? {
        if old.from_config && !specs.iter().any(|s| s.name == old.name) {
            tracing::info!("removing service {} (no longer configured)", old.name);
            if let Some(client) = &old.oauth_client_id {
                state.store.delete_oauth_client(client).await?;
            }
            state.store.delete_service(old.id).await?;
        }
    }
    // Every configured service's row first (which clears the client ids they
    // held before), so that a client id moving from one service to another
    // between runs is not taken for a claim on someone else's.
    let mut records = Vec::with_capacity(specs.len());
    for spec in specs {
        let record = state
            .store
            .upsert_service(&NewService {
                name: spec.name.clone(),
                admin: spec.admin,
                url: (!spec.url.is_empty()).then(|| spec.url.clone()),
                oauth_client_allowed_scopes: spec.oauth_client_allowed_scopes.clone(),
                info: serde_json::to_value(&spec.info).unwrap_or_else(|_| json!({})),
                display: spec.display,
                oauth_no_confirm: spec.oauth_no_confirm,
                command: spec.command.clone(),
                cwd: (!spec.cwd.is_empty()).then(|| spec.cwd.clone()),
                environment: serde_json::to_value(&spec.environment).unwrap_or_else(|_| json!({})),
                user: (!spec.user.is_empty()).then(|| spec.user.clone()),
                timeout: i64::try_from(spec.timeout).unwrap_or(i64::MAX),
                from_config: true,
                oauth_client_id: None,
            })
            .await?;
        records.push(record);
    }
    let mut tokens = BTreeMap::new();
    for (spec, record) in specs.iter().zip(&records) {
        let token = register_one(state, spec, record).await?;
        if let Some(token) = token
            && !spec.command.is_empty()
        {
            tokens.insert(spec.name.clone(), token);
        }
    }
    Ok(tokens)
}

/// A service's token, OAuth client and server row; returns its token if it has one.
pub(crate) async fn register_one(
    state: &AppState,
    spec: &ServiceConfig,
    record: &ServiceRecord,
) -> Result<Option<String>, ServiceError> {
    check_client_free(state, spec, Some(record.id)).await?;
    let token = service_token(state, spec, record).await?;
    if uses_oauth(spec) {
        let client_id = oauth_client_id(spec);
        let secret = token.as_deref().unwrap_or_default();
        let redirect = if spec.oauth_redirect_uri.is_empty() {
            let prefix = prefix(&state.urls, &spec.name);
            format!(
                "{}oauth_callback",
                state.urls.service_url(&spec.name, &prefix)
            )
        } else {
            spec.oauth_redirect_uri.clone()
        };
        let mut allowed = spec.oauth_client_allowed_scopes.clone();
        allowed.push(ferrohub_rbac::access_scope_for_service(&spec.name));
        state
            .store
            .upsert_oauth_client(&OAuthClient {
                identifier: client_id.clone(),
                description: format!("JupyterHub service {}", spec.name),
                secret: if secret.is_empty() {
                    String::new()
                } else {
                    ferrohub_store::hashing::hash_secret(secret, USER_PROVIDED_TOKEN_ROUNDS)
                        .await
                        .ok_or(ferrohub_store::StoreError::ShuttingDown)?
                },
                redirect_uri: redirect,
                allowed_scopes: allowed,
            })
            .await?;
        state
            .store
            .set_service_oauth_client(record.id, Some(&client_id))
            .await?;
    }
    state
        .store
        .set_service_server(record.id, address(&state.urls, spec).as_ref())
        .await?;
    Ok(token)
}

/// The service's token: the configured one (stored once, hashed), or for a
/// managed service without one, a new token generated at each start.
async fn service_token(
    state: &AppState,
    spec: &ServiceConfig,
    record: &ServiceRecord,
) -> Result<Option<String>, ServiceError> {
    let owner = TokenOwner::Service(record.id);
    if !spec.api_token.is_empty() {
        if spec.api_token.len() < 8 {
            return Err(ServiceError::Config(format!(
                "service {:?}: api_token is too short (at least 8 characters)",
                spec.name
            )));
        }
        match state.store.find_token(&spec.api_token).await? {
            Some(existing) if existing.owner == owner => {}
            Some(_) => {
                return Err(ServiceError::Config(format!(
                    "service {:?}: api_token is already used by another user or service",
                    spec.name
                )));
            }
            None => {
                state
                    .store
                    .create_token(&NewToken {
                        token: &spec.api_token,
                        rounds: USER_PROVIDED_TOKEN_ROUNDS,
                        owner,
                        client_id: ferrohub_store::BUILTIN_CLIENT,
                        session_id: None,
                        scopes: &["inherit".to_owned()],
                        note: Some("from config"),
                        expires_at: None,
                    })
                    .await?;
            }
        }
        return Ok(Some(spec.api_token.clone()));
    }
    if spec.command.is_empty() {
        return Ok(None);
    }
    let generated = token::new_token();
    state
        .store
        .create_token(&NewToken {
            token: &generated,
            rounds: GENERATED_TOKEN_ROUNDS,
            owner,
            client_id: ferrohub_store::BUILTIN_CLIENT,
            session_id: None,
            scopes: &["inherit".to_owned()],
            note: Some("generated at startup"),
            expires_at: None,
        })
        .await?;
    Ok(Some(generated))
}
