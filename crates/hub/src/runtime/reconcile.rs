//! Keeping the hub's idea of its servers true: at start-up, stored servers
//! are re-adopted only if their process is still ours and answers HTTP (and
//! blocked users' servers are stopped); while running, ready servers are
//! polled and the proxy's routes made to match.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrohub_metrics::PollStatus;
use ferrohub_store::{ServerAddress, SpawnerRecord, UserRecord};
use serde_json::json;

use super::{Phase, Runtime, RuntimeError};

/// At start-up: re-adopt servers that are still running, clean up the rest,
/// then make the proxy's routes match. Servers are checked concurrently
/// (upstream's `init_spawners`), so one slow server does not hold up the rest.
pub(crate) async fn restore(rt: &Runtime) -> Result<(), RuntimeError> {
    let active = rt.store.active_spawners().await?;
    let mut checks = Vec::new();
    for record in active {
        let Some(user) = rt.store.user_by_id(record.user_id).await? else {
            continue;
        };
        checks.push(async move {
            let adopted = restore_one(rt, &user, &record).await;
            (record.id, adopted)
        });
    }
    // The records are written one after the other: SQLite refuses a write
    // transaction that read before a concurrent one committed.
    for (spawner_id, adopted) in futures_util::future::join_all(checks).await {
        if !adopted {
            rt.store.record_server_stopped(spawner_id).await?;
        }
    }
    check_routes(rt).await
}

/// Re-adopts one stored server only if the spawner still recognises its
/// process as ours (for processes: same pid, start time and uid) *and* it
/// answers HTTP at its stored address, as at spawn; returns whether it did.
/// A server whose process is gone, or whose pid now names another process, is
/// never signalled; one that is ours but does not answer is stopped (upstream).
async fn restore_one(rt: &Runtime, user: &UserRecord, record: &SpawnerRecord) -> bool {
    let polled = rt.spawner.poll(&record.state).await;
    if !matches!(polled, Ok(None)) {
        tracing::info!(user = %user.name, server = %record.name, "server is gone ({polled:?}); cleaning up");
        return false;
    }
    if let Some(addr) = &record.server {
        let url = format!("{}{}api", addr.host_url(), addr.base_url);
        let timeout = Duration::from_secs(rt.config.spawner.http_timeout);
        match ferrohub_spawn::wait_for_http_server(&url, timeout).await {
            Ok(_) => {
                tracing::info!(user = %user.name, server = %record.name, "re-adopted running server");
                rt.servers.set(&user.name, &record.name, Phase::Ready);
                return true;
            }
            Err(e) => {
                tracing::error!(user = %user.name, server = %record.name, "server does not appear to be running at {url} ({e}); shutting it down");
            }
        }
    } else {
        tracing::warn!(user = %user.name, server = %record.name, "running server has no stored address; shutting it down");
    }
    if let Err(e) = rt.spawner.stop(&record.state).await {
        tracing::warn!(user = %user.name, server = %record.name, "stop failed: {e}");
    }
    false
}

/// Makes the proxy's routes match the hub: hub route, one per ready server,
/// one per service with a url, nothing else.
pub(crate) async fn check_routes(rt: &Runtime) -> Result<(), RuntimeError> {
    let routes = rt.proxy.routes().await?;
    let hub_target = rt.urls.hub_connect.clone();
    let hub_route = rt.urls.hub_route();
    let mut wanted: BTreeMap<String, (String, serde_json::Value)> = BTreeMap::new();
    wanted.insert(hub_route, (hub_target, json!({"hub": true})));
    for record in rt.store.active_spawners().await? {
        let Some(user) = rt.store.user_by_id(record.user_id).await? else {
            continue;
        };
        if rt.servers.phase(&user.name, &record.name) != Phase::Ready {
            continue;
        }
        let route = |addr: &ServerAddress| rt.urls.user_route(&user.name, &addr.base_url);
        if let Some(addr) = &record.server {
            wanted.insert(
                route(addr),
                (
                    addr.host_url(),
                    json!({"user": user.name, "server_name": record.name}),
                ),
            );
        }
        // Activity the proxy saw counts as the user's activity.
        if let Some(seen) = record
            .server
            .as_ref()
            .and_then(|a| routes.get(&route(a)))
            .and_then(|r| r.last_activity)
        {
            let touched = rt.store.touch_spawner(record.id, &seen).await;
            if let Err(e) = touched.and(rt.store.touch_user(user.id, &seen).await) {
                tracing::warn!(user = %user.name, "recording proxy activity: {e}");
            }
        }
    }
    for service in rt.store.list_services().await? {
        if let Some(addr) = &service.server {
            wanted.insert(
                rt.urls.service_route(&service.name, &addr.base_url),
                (addr.host_url(), json!({"service": service.name})),
            );
        }
    }
    for (spec, (target, data)) in &wanted {
        if routes.get(spec).is_none_or(|r| &r.target != target) {
            tracing::info!("adding route {spec} -> {target}");
            rt.proxy.add_route(spec, target, data.clone()).await?;
        }
    }
    for spec in routes.keys().filter(|spec| !wanted.contains_key(*spec)) {
        tracing::info!("deleting stale route {spec}");
        rt.proxy.delete_route(spec).await?;
    }
    Ok(())
}

/// Polls ready servers every `Spawner.poll_interval`; a server that died is cleaned up.
pub(crate) async fn poll_forever(rt: Runtime) {
    let interval = Duration::from_secs(rt.config.spawner.poll_interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        let Ok(active) = rt.store.active_spawners().await else {
            continue;
        };
        for record in active {
            let Ok(Some(user)) = rt.store.user_by_id(record.user_id).await else {
                continue;
            };
            if rt.servers.phase(&user.name, &record.name) != Phase::Ready {
                continue;
            }
            poll_one(&rt, &user, &record).await;
        }
    }
}

/// Polls one ready server; one that exited loses its route and is marked stopped.
async fn poll_one(rt: &Runtime, user: &UserRecord, record: &SpawnerRecord) {
    let polling = Instant::now();
    let polled = rt.spawner.poll(&record.state).await;
    let running = matches!(polled, Ok(None));
    rt.metrics.server_poll_duration.observe(
        PollStatus::running(running),
        polling.elapsed().as_secs_f64(),
    );
    let Ok(Some(status)) = polled else {
        return;
    };
    tracing::warn!(user = %user.name, server = %record.name, status, "server exited on its own");
    if let Some(addr) = &record.server
        && let Err(e) = rt
            .proxy
            .delete_route(&rt.urls.user_route(&user.name, &addr.base_url))
            .await
    {
        tracing::warn!(user = %user.name, server = %record.name, "deleting the route of an exited server: {e}");
    }
    if let Err(e) = rt.store.record_server_stopped(record.id).await {
        tracing::warn!(user = %user.name, server = %record.name, "recording an exited server: {e}");
    }
    rt.servers.set(&user.name, &record.name, Phase::Stopped);
}

/// Reconciles routes (and collects proxy activity) every `last_activity_interval`.
pub(crate) async fn check_routes_forever(rt: Runtime) {
    let interval = Duration::from_secs(rt.config.jupyterhub.last_activity_interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        let checking = Instant::now();
        if let Err(e) = check_routes(&rt).await {
            tracing::warn!("route check failed: {e}");
        }
        rt.metrics
            .check_routes_duration
            .observe((), checking.elapsed().as_secs_f64());
    }
}

/// At start-up, after [`restore`]: stops every server of the `blocked` users
/// (`Authenticator.blocked_users`, upstream 5.2+). Failures are logged; the
/// hub still starts, and the identity check already refuses the user's
/// credentials.
pub(crate) async fn stop_blocked_users_servers<'a>(
    rt: &Runtime,
    blocked: impl Iterator<Item = &'a str>,
) {
    for name in blocked {
        let user = match rt.store.user_by_name(name).await {
            Ok(Some(user)) => user,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!("cannot look up blocked user {name}: {e}");
                continue;
            }
        };
        let spawners = match rt.store.spawners_of(user.id).await {
            Ok(spawners) => spawners,
            Err(e) => {
                tracing::error!("cannot list servers of blocked user {name}: {e}");
                continue;
            }
        };
        for record in spawners {
            if rt.servers.phase(&user.name, &record.name) == Phase::Stopped {
                continue;
            }
            tracing::warn!("Stopping server {name}/{} of blocked user", record.name);
            if !super::stop::request_stop(rt, &user, &record.name).await {
                tracing::warn!("{name}/{} is still stopping", record.name);
            }
        }
    }
}

/// At shutdown with `cleanup_servers`: stops every server the database knows as running.
pub(crate) async fn stop_all(rt: &Runtime) {
    let Ok(active) = rt.store.active_spawners().await else {
        return;
    };
    for record in active {
        if let Ok(Some(user)) = rt.store.user_by_id(record.user_id).await {
            tracing::info!(user = %user.name, "stopping server at shutdown");
            super::stop::request_stop(rt, &user, &record.name).await;
        }
    }
}
