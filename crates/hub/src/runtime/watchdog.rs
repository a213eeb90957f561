//! `ConfigurableHTTPProxy.check_running_interval`: the hub checks every
//! interval that its proxy is up, so a crashed proxy does not leave every
//! user without a route until someone restarts the hub.
//!
//! A proxy the hub started (or adopted from a previous hub, which started it)
//! that has died is started again with the same command and auth token, its
//! pid file rewritten, and every route restored (hub, ready servers,
//! services), as upstream's `check_running` and `restore_routes`. Nothing else
//! is touched: servers keep running, and their routes point at them again.
//!
//! A proxy run by someone else (`should_start = false`) is never started by
//! the hub. While its API does not answer, the hub logs an error every
//! interval; once it answers again the routes are restored at once, rather
//! than at the next `last_activity_interval` (upstream does not watch an
//! external proxy at all).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::Runtime;
use crate::proxy::{self, ProxyProcess};

/// The proxy the watchdog looks after.
#[derive(Debug)]
pub(crate) enum Watched {
    /// Started (or adopted) by the hub, which starts it again with `token`.
    Started {
        /// The running process.
        process: ProxyProcess,
        /// The auth token it was started with.
        token: String,
    },
    /// Run outside the hub (`should_start = false`): only watched.
    External,
}

/// What the watchdog remembers between checks.
#[derive(Debug, Default)]
struct Memory {
    /// A restarted proxy whose routes are not restored yet (retried each interval).
    routes_lost: bool,
    /// When an external proxy's API stopped answering.
    down_since: Option<Instant>,
}

/// Checks the proxy every `check_running_interval` until the hub shuts down.
/// Returns the pid of the proxy the hub manages at that point (a restart
/// changes it), so the shutdown stops the right process. A restart under way
/// when the shutdown comes is finished first, so no proxy is left unaccounted.
pub(crate) async fn run(rt: Runtime, mut watched: Watched) -> Option<i32> {
    let interval = Duration::from_secs(rt.config.proxy.check_running_interval.max(1));
    let mut shutdown = rt.shutdown.subscribe();
    let mut memory = Memory::default();
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(Option::is_some) => break,
        }
        match &mut watched {
            Watched::Started { process, token } => {
                check_started(&rt, process, token, &mut memory).await;
            }
            Watched::External => check_external(&rt, &mut memory).await,
        }
    }
    match watched {
        Watched::Started { process, .. } => Some(process.pid()),
        Watched::External => None,
    }
}

/// Starts a dead proxy again and restores its routes.
async fn check_started(rt: &Runtime, process: &mut ProxyProcess, token: &str, memory: &mut Memory) {
    if let Some(status) = process.exited() {
        let config = &rt.config.proxy;
        tracing::error!(
            pid = process.pid(),
            "proxy stopped with exit status {status}; starting it again"
        );
        let pid_file = PathBuf::from(&config.pid_file);
        remove_stale_pid_file(&pid_file, process.pid());
        match proxy::start(
            &config.command,
            &rt.urls,
            &rt.proxy,
            token,
            &pid_file,
            &config.log_level,
        )
        .await
        {
            Ok(started) => {
                *process = started;
                memory.routes_lost = true;
            }
            Err(e) => {
                tracing::error!(
                    "could not start the proxy again: {e}; retrying in {} s",
                    config.check_running_interval
                );
                return;
            }
        }
    }
    if memory.routes_lost {
        restore_routes(rt, &mut memory.routes_lost).await;
    }
}

/// Logs an external proxy that does not answer; restores its routes when it does again.
async fn check_external(rt: &Runtime, memory: &mut Memory) {
    if rt.proxy.is_reachable().await {
        if memory.down_since.take().is_some() {
            tracing::info!("the proxy's API answers again");
            memory.routes_lost = true;
        }
        if memory.routes_lost {
            restore_routes(rt, &mut memory.routes_lost).await;
        }
        return;
    }
    let since = *memory.down_since.get_or_insert_with(Instant::now);
    tracing::error!(
        "the proxy's API at {} does not answer or refuses the hub's token (for {} s); \
         it is run outside the hub (ConfigurableHTTPProxy.should_start = false), so the hub does not restart it",
        rt.urls.proxy_api,
        since.elapsed().as_secs()
    );
}

/// Re-adds every route (the proxy's table is empty after a restart); clears
/// `pending` once that worked.
async fn restore_routes(rt: &Runtime, pending: &mut bool) {
    match super::reconcile::check_routes(rt).await {
        Ok(()) => {
            tracing::info!("routes restored on the proxy");
            *pending = false;
        }
        Err(e) => tracing::error!("restoring the proxy's routes failed: {e}; retrying"),
    }
}

/// Removes the pid file if it still names the dead proxy (as upstream), so
/// nothing mistakes a later process with that pid for the proxy.
fn remove_stale_pid_file(pid_file: &Path, dead: i32) {
    let names_dead = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        == Some(dead);
    if names_dead && let Err(e) = std::fs::remove_file(pid_file) {
        tracing::warn!("could not remove {}: {e}", pid_file.display());
    }
}
