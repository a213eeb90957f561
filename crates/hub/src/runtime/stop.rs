//! Stopping a server: route first, then the process (the spawner signals its
//! process group), then the records, as upstream; and removing a stopped
//! named server for good.

use std::time::Instant;

use ferrohub_core::time;
use ferrohub_metrics::Outcome;
use ferrohub_store::UserRecord;

use super::registry::log_name;
use super::spawn::SLOW_TIMEOUT;
use super::{Phase, Runtime, RuntimeError};
use crate::urls::HubUrls;

/// What the pending page and the API show for a server whose stop failed
/// (the cause is in the log).
pub(crate) const STOP_FAILED: &str =
    "the server could not be stopped (internal error; details are in the hub log)";

/// Stops a user's server; waits for it up to [`SLOW_TIMEOUT`]. Returns true
/// if it has stopped (false: still stopping, the caller answers 202).
pub(crate) async fn request_stop(rt: &Runtime, user: &UserRecord, server: &str) -> bool {
    // A pending spawn is interrupted: its task sees `Stopping` and cleans up.
    if rt.servers.transition(
        &user.name,
        server,
        |p| *p == Phase::Spawning,
        Phase::Stopping,
    ) {
        tracing::warn!(user = %user.name, server, "interrupting a pending spawn");
        let phase = rt
            .servers
            .wait_settled(&user.name, server, SLOW_TIMEOUT)
            .await;
        return phase.pending().is_none();
    }
    let moved = rt.servers.transition(
        &user.name,
        server,
        |p| matches!(p, Phase::Ready | Phase::Failed(_)),
        Phase::Stopping,
    );
    if !moved {
        return rt.servers.phase(&user.name, server) != Phase::Stopping;
    }
    let task_rt = rt.clone();
    let task_user = user.clone();
    let task_server = server.to_owned();
    tokio::spawn(async move {
        if let Err(e) = stop_server(&task_rt, &task_user, &task_server).await {
            tracing::error!(user = %task_user.name, server = %task_server, "stop failed: {e}");
        }
        task_rt
            .servers
            .set(&task_user.name, &task_server, Phase::Stopped);
    });
    let phase = rt
        .servers
        .wait_settled(&user.name, server, SLOW_TIMEOUT)
        .await;
    phase == Phase::Stopped
}

/// Route first, then the process, then the records (upstream's order); timed
/// as `server_stop_seconds`.
pub(super) async fn stop_server(
    rt: &Runtime,
    user: &UserRecord,
    server: &str,
) -> Result<(), RuntimeError> {
    let started = Instant::now();
    let result = stop_server_steps(rt, user, server).await;
    rt.metrics
        .server_stop_duration
        .observe(Outcome::of(&result), started.elapsed().as_secs_f64());
    result
}

async fn stop_server_steps(
    rt: &Runtime,
    user: &UserRecord,
    server: &str,
) -> Result<(), RuntimeError> {
    let Some(record) = rt.store.spawner(user.id, server).await? else {
        return Ok(());
    };
    if let Some(addr) = &record.server {
        rt.proxy
            .delete_route(&rt.urls.user_route(&user.name, &addr.base_url))
            .await?;
    }
    rt.spawner.stop(&record.state).await?;
    rt.spawn_hooks.post_spawn_stop(&user.name).await;
    rt.store.touch_spawner(record.id, &time::now()).await?;
    rt.store.record_server_stopped(record.id).await?;
    tracing::info!(user = %user.name, server, "server stopped");
    Ok(())
}

/// Deletes a stopped server for good: its spawner row, OAuth client, and phase.
pub(crate) async fn remove_server(
    rt: &Runtime,
    user: &str,
    server: &str,
    spawner_id: i64,
) -> Result<(), RuntimeError> {
    if rt.servers.phase(user, server) != Phase::Stopped {
        return Err(RuntimeError::NotStopped(log_name(user, server)));
    }
    let client_id = HubUrls::oauth_client_id(user, server);
    rt.store.delete_oauth_client(&client_id).await?;
    rt.store.delete_spawner(spawner_id).await?;
    rt.servers.forget(user, server);
    tracing::info!(user, server, "removed server");
    Ok(())
}
