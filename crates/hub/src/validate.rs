//! The configuration checks that need no file, database or network: run by
//! the command line before anything else, so a mistake exits with status 64
//! having written nothing (no cookie secret, no database, no pid file).

use ferrohub_config::Config;

use crate::app::StartError;

/// Everything about `config` (and the environment variables the hub reads)
/// that can be wrong without looking at the outside world.
pub fn check_config(config: &Config) -> Result<(), StartError> {
    check_config_with(config, |v| std::env::var(v).ok())
}

/// [`check_config`] with `JUPYTERHUB_CRYPT_KEY` read through `var` (the
/// in-process test hub has its own key).
pub(crate) fn check_config_with(
    config: &Config,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(), StartError> {
    crate::urls::HubUrls::from_config(config)?;
    crate::secret::check_env()?;
    crate::runtime::auth_state::keeper_from(config, var)?;
    ferrohub_metrics::HubMetrics::from_env().map_err(StartError::Io)?;
    let custom = crate::roles::custom_scopes(config)?;
    crate::services::check_all(&config.jupyterhub.services)?;
    crate::roles::check_roles(config, &custom)?;
    // Building them logs warnings the real start logs again; keep this quiet.
    let quiet = tracing::subscriber::NoSubscriber::default();
    let auth = tracing::subscriber::with_default(quiet, || {
        let auth = ferrohub_auth::Auth::from_config(config)?;
        crate::spawners::from_config(config)?;
        Ok::<_, StartError>(auth)
    })?;
    for (variable, field) in &config.spawner.auth_state_env {
        if variable.is_empty() || variable.contains(['=', '\0']) || field.is_empty() {
            return Err(StartError::Io(format!(
                "Spawner.auth_state_env: {variable:?} = {field:?} needs an environment \
                 variable name (no '=') and an auth_state field"
            )));
        }
    }
    let hub = &config.jupyterhub;
    // Upstream's `_add_tokens`: the authenticator's normalization and name
    // rules (`username_map`, `username_pattern`).
    for name in hub.api_tokens.values() {
        let normalized = auth.normalize_username(name);
        auth.validate_username(&normalized).map_err(|e| {
            StartError::Io(format!(
                "JupyterHub.api_tokens: invalid user name {name:?}: {e}"
            ))
        })?;
    }
    if !hub.default_server_name.is_empty()
        && !ferrohub_core::server_names::is_valid_server_name(&hub.default_server_name)
    {
        return Err(StartError::Io(format!(
            "JupyterHub.default_server_name {:?} is not a valid server name",
            hub.default_server_name
        )));
    }
    Ok(())
}
