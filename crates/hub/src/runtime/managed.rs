//! Managed services (`JupyterHub.services` entries with a `command`): started
//! once the hub's API answers, started again whenever they exit, their process
//! group stopped at shutdown; and the health check of services with a url.
//! Registration (tokens, OAuth clients, rows) is `crate::services`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use ferrohub_config::ServiceConfig;
use ferrohub_store::ServerAddress;
use serde_json::json;
use tokio::sync::watch;

use super::{Runtime, ShutdownRequest};
use crate::urls::HubUrls;

/// How long a managed service that exited waits before it is started again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// A service with a url that did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("service {name} did not come up: {source}")]
pub(crate) struct ServiceDown {
    /// The service.
    name: String,
    /// Why the check gave up.
    source: ferrohub_spawn::SpawnError,
}

/// The OAuth client id of a service.
#[must_use]
pub(crate) fn oauth_client_id(spec: &ServiceConfig) -> String {
    if spec.oauth_client_id.is_empty() {
        format!("service-{}", spec.name)
    } else {
        spec.oauth_client_id.clone()
    }
}

/// The service's URL prefix, `{base}services/<name>/`.
#[must_use]
pub(crate) fn prefix(urls: &HubUrls, name: &str) -> String {
    format!("{}services/{name}/", urls.base)
}

/// The address a service's URL points at, as a `servers` row.
pub(crate) fn address(urls: &HubUrls, spec: &ServiceConfig) -> Option<ServerAddress> {
    let url = url::Url::parse(&spec.url).ok()?;
    Some(ServerAddress {
        proto: url.scheme().to_owned(),
        ip: url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: url.port_or_known_default()?,
        base_url: prefix(urls, &spec.name),
    })
}

/// The environment of a managed service, as upstream sets it.
fn environment(rt: &Runtime, spec: &ServiceConfig, token: &str) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = rt
        .config
        .spawner
        .env_keep
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
        .collect();
    let client_id = oauth_client_id(spec);
    let access = json!([
        ferrohub_rbac::scopes::ACCESS_SERVICES.as_str(),
        ferrohub_rbac::access_scope_for_service(&spec.name)
    ])
    .to_string();
    let prefix = prefix(&rt.urls, &spec.name);
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("JUPYTERHUB_SERVICE_NAME", spec.name.clone());
    set("JUPYTERHUB_API_TOKEN", token.to_owned());
    set("JPY_API_TOKEN", token.to_owned());
    set("JUPYTERHUB_API_URL", rt.urls.api_url());
    set("JUPYTERHUB_BASE_URL", rt.urls.base.clone());
    set("JUPYTERHUB_CLIENT_ID", client_id);
    set("JUPYTERHUB_HOST", rt.urls.hub_host());
    set(
        "JUPYTERHUB_OAUTH_CALLBACK_URL",
        format!("{}oauth_callback", rt.urls.service_url(&spec.name, &prefix)),
    );
    set("JUPYTERHUB_OAUTH_ACCESS_SCOPES", access.clone());
    set("JUPYTERHUB_OAUTH_SCOPES", access);
    set(
        "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES",
        json!(spec.oauth_client_allowed_scopes).to_string(),
    );
    set("JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED", "0".to_owned());
    set("JUPYTERHUB_PUBLIC_URL", String::new());
    set("JUPYTERHUB_PUBLIC_HUB_URL", String::new());
    set("JUPYTERHUB_USER", String::new());
    set("JUPYTERHUB_SERVER_NAME", String::new());
    if !spec.url.is_empty() {
        set("JUPYTERHUB_SERVICE_URL", spec.url.clone());
        set("JUPYTERHUB_SERVICE_PREFIX", prefix);
    }
    for (k, v) in &spec.environment {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// Runs a managed service until the hub stops: started after the API listens,
/// started again whenever it exits, its process group stopped at shutdown.
pub(crate) async fn supervise(rt: Runtime, spec: ServiceConfig, token: String) {
    let mut shutdown = rt.shutdown.subscribe();
    loop {
        let env = environment(&rt, &spec, &token);
        let mut command = tokio::process::Command::new(&spec.command[0]);
        command
            .args(&spec.command[1..])
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .process_group(0);
        let cwd = (!spec.cwd.is_empty()).then(|| std::path::Path::new(&spec.cwd));
        if spec.user.is_empty() {
            if let Some(cwd) = cwd {
                command.current_dir(cwd);
            }
        } else if let Err(e) =
            ferrohub_spawn::run_as_local_user(&mut command, &spec.user, cwd).await
        {
            tracing::error!(service = %spec.name, user = %spec.user, "cannot run as that user: {e}");
            if wait_or_shutdown(&mut shutdown, RESTART_DELAY * 10).await {
                return;
            }
            continue;
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(service = %spec.name, "cannot start {:?}: {e}", spec.command);
                if wait_or_shutdown(&mut shutdown, RESTART_DELAY * 10).await {
                    return;
                }
                continue;
            }
        };
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        tracing::info!(service = %spec.name, pid, "started managed service");
        if let Ok(Some(record)) = rt.store.service_by_name(&spec.name).await
            && let Err(e) = rt
                .store
                .set_service_pid(record.id, pid.map(i64::from))
                .await
        {
            tracing::warn!(service = %spec.name, "could not record the pid: {e}");
        }
        tokio::select! {
            status = child.wait() => {
                tracing::warn!(service = %spec.name, "managed service exited ({status:?}); restarting");
            }
            _ = shutdown.changed() => {
                stop_group(&spec.name, &mut child).await;
                return;
            }
        }
        if wait_or_shutdown(&mut shutdown, RESTART_DELAY).await {
            return;
        }
    }
}

/// Sleeps; true if the hub is shutting down meanwhile.
async fn wait_or_shutdown(
    shutdown: &mut watch::Receiver<Option<ShutdownRequest>>,
    delay: Duration,
) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => shutdown.borrow().is_some(),
        _ = shutdown.changed() => true,
    }
}

/// Waits after each stop signal of a managed service (upstream stops services
/// like servers, SIGINT then SIGTERM then SIGKILL; shorter waits keep shutdown quick).
const SERVICE_STOP: ferrohub_spawn::StopTimeouts = ferrohub_spawn::StopTimeouts {
    interrupt: Duration::from_secs(5),
    term: Duration::from_secs(5),
    kill: Duration::from_secs(5),
};

/// Stops the service's process group through the spawn crate's one stop routine.
async fn stop_group(name: &str, child: &mut tokio::process::Child) {
    if let Err(e) = ferrohub_spawn::stop_child_group(child, SERVICE_STOP).await {
        tracing::warn!(service = %name, "stopping managed service: {e}");
    }
    tracing::info!(service = %name, "stopped managed service");
}

/// Waits until a service with a url answers (any status below 500), at most its `timeout`.
pub(crate) async fn wait_until_up(urls: &HubUrls, spec: &ServiceConfig) -> Result<(), ServiceDown> {
    let Some(addr) = address(urls, spec) else {
        return Ok(());
    };
    let url = format!("{}{}", addr.host_url(), addr.base_url);
    ferrohub_spawn::wait_for_http_server(&url, Duration::from_secs(spec.timeout.max(1)))
        .await
        .map(drop)
        .map_err(|source| ServiceDown {
            name: spec.name.clone(),
            source,
        })
}

/// `JupyterHub.service_check_interval`: every so many seconds, each service
/// with a url is asked whether it answers; one that does not is logged, as
/// upstream's `check_services_health` (0 turns the check off).
pub(crate) async fn check_health_forever(rt: Runtime) {
    let interval = rt.config.jupyterhub.service_check_interval;
    if interval == 0 {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once; start-up already waited for the services.
    ticker.tick().await;
    loop {
        ticker.tick().await;
        for spec in rt
            .config
            .jupyterhub
            .services
            .iter()
            .filter(|s| !s.url.is_empty())
        {
            let kind = if spec.command.is_empty() {
                "external"
            } else {
                "managed"
            };
            match wait_until_up(&rt.urls, spec).await {
                Ok(()) => tracing::debug!("{kind} service {} running at {}", spec.name, spec.url),
                Err(_) => tracing::warn!(
                    "Cannot connect to {kind} service {} at {}",
                    spec.name,
                    spec.url
                ),
            }
        }
    }
}
