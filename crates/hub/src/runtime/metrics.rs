//! The metrics the runtime records itself: spawn outcomes (with upstream's
//! labels) and the loops behind `active_users` and `event_loop_interval`.
//! Request timing and `/hub/metrics` are HTTP and live in `crate::metrics`.

use std::time::{Duration, Instant};

use ferrohub_core::time;
use ferrohub_metrics::{Period, SpawnLabels, SpawnReason};
use ferrohub_spawn::SpawnError;

use super::spawn::SpawnFailure;
use super::{Phase, Runtime};

/// How often `active_users` is recomputed (upstream's
/// `PeriodicMetricsCollector.active_users_update_interval`: hourly, to spare
/// the database).
const ACTIVE_USERS_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Recomputes `active_users` for 24h, 7d and 30d from `users.last_activity`,
/// all from one fixed "now", as upstream's `update_active_users`.
pub(crate) async fn update_active_users(rt: &Runtime) {
    let now = time::now();
    let mut found = Vec::new();
    for period in Period::ALL {
        let since = now
            - chrono::Duration::seconds(
                i64::try_from(period.duration().as_secs()).unwrap_or(i64::MAX),
            );
        match rt.store.count_users_active_since(&since).await {
            Ok(count) => {
                rt.metrics.active_users.set(*period, count as f64);
                found.push(format!("{count} in the last {}", period.as_str()));
            }
            Err(e) => tracing::warn!("counting active users: {e}"),
        }
    }
    tracing::info!("active users: {}", found.join(", "));
}

/// Refreshes `active_users` every [`ACTIVE_USERS_INTERVAL`] (start-up computes
/// it once before the hub serves).
pub(crate) async fn update_active_users_forever(rt: Runtime) {
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + ACTIVE_USERS_INTERVAL,
        ACTIVE_USERS_INTERVAL,
    );
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        update_active_users(&rt).await;
    }
}

/// The labels of a finished spawn, or `None` for one a stop request
/// interrupted (upstream cancels that future, and a cancelled spawn is not
/// recorded).
///
/// Upstream's labels follow from which failure it was: a process that exited
/// → `error`/`exited`; anything else, timeouts included → `error` with no
/// reason. (`user.py` sets `timeout` on the error, but `_track_failure_count`
/// drops it for non-HTTP errors, so upstream's real output has `reason=""`;
/// dashboards see the same here.)
#[must_use]
pub(crate) fn spawn_labels(
    result: &Result<(), SpawnFailure>,
    interrupted: bool,
) -> Option<SpawnLabels> {
    match result {
        Ok(()) => Some(SpawnLabels::SUCCESS),
        Err(_) if interrupted => None,
        Err(SpawnFailure::Spawner(SpawnError::Exited(_))) => {
            Some(SpawnLabels::error(SpawnReason::Exited))
        }
        Err(_) => Some(SpawnLabels::error(SpawnReason::None)),
    }
}

/// Records a finished spawn that started at `started` (see [`spawn_labels`]).
pub(crate) fn record_spawn(
    rt: &Runtime,
    user: &str,
    server: &str,
    result: &Result<(), SpawnFailure>,
    started: Instant,
) {
    let interrupted = rt.servers.phase(user, server) == Phase::Stopping;
    if let Some(labels) = spawn_labels(result, interrupted) {
        rt.metrics
            .server_spawn_duration
            .observe(labels, started.elapsed().as_secs_f64());
    }
}

/// Upstream's event-loop probe (`_measure_event_loop_interval`): sleep 50 ms,
/// record how much longer than that it took (at least the 50 ms resolution),
/// and warn when the runtime was unresponsive for a second or more.
pub(crate) async fn sample_event_loop(rt: Runtime) {
    const RESOLUTION: Duration = Duration::from_millis(50);
    const LOG_THRESHOLD: Duration = Duration::from_secs(1);
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(RESOLUTION).await;
        let now = Instant::now();
        let tick = now - last;
        last = now;
        let delay = if tick < 2 * RESOLUTION {
            // Below the measurement's resolution: nothing to tell.
            RESOLUTION
        } else {
            let delay = tick.saturating_sub(RESOLUTION);
            if delay >= LOG_THRESHOLD {
                tracing::warn!(
                    "Event loop was unresponsive for at least {:.2}s!",
                    delay.as_secs_f64()
                );
            }
            delay
        };
        rt.metrics
            .event_loop_interval
            .observe((), delay.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_failures_get_upstream_labels() {
        let labels = |r: Result<(), SpawnFailure>| spawn_labels(&r, false);
        assert_eq!(labels(Ok(())), Some(SpawnLabels::SUCCESS));
        assert_eq!(
            labels(Err(SpawnError::Exited(1).into())),
            Some(SpawnLabels::error(SpawnReason::Exited))
        );
        assert_eq!(
            labels(Err(SpawnError::Timeout {
                url: "http://x/api".to_owned(),
                seconds: 30
            }
            .into())),
            Some(SpawnLabels::error(SpawnReason::None)),
            "upstream exports timeouts without a reason"
        );
        assert_eq!(
            labels(Err(SpawnError::NoSuchUser("x".to_owned()).into())),
            Some(SpawnLabels::error(SpawnReason::None))
        );
        assert_eq!(
            labels(Err(SpawnFailure::StartTimeout(30))),
            Some(SpawnLabels::error(SpawnReason::None))
        );
        assert_eq!(spawn_labels(&Err(SpawnFailure::Interrupted), true), None);
    }
}
