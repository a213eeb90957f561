//! The hub's Prometheus metrics under upstream JupyterHub 6.1.1's names,
//! labels and buckets, so dashboards and alerts written for JupyterHub keep
//! working.
//!
//! Written by hand rather than with a client library: upstream serves the
//! classic Prometheus text format from Python's `prometheus_client` (label
//! names sorted, `_created` gauges, Go-style floats), and matching that exactly
//! takes less code than bending a library's OpenMetrics output. Each hub owns
//! its own [`HubMetrics`]; there is no global registry.

mod family;
mod format;
mod process;

pub use family::{Counter, Gauge, Histogram};

use std::fmt::Write as _;

/// `Content-Type` of the exposition, as `prometheus_client` 0.26 sends it.
pub const CONTENT_TYPE: &str = "text/plain; version=1.0.0; charset=utf-8";

/// Prometheus' default histogram buckets (`request_duration_seconds` and the other timers).
pub const DEFAULT_BUCKETS: [f64; 15] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    f64::INFINITY,
];

/// Upstream's `server_spawn_duration_seconds` buckets.
pub const SPAWN_BUCKETS: [f64; 13] = [
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    180.0,
    300.0,
    600.0,
    f64::INFINITY,
];

/// Upstream's `server_stop_seconds` buckets.
pub const STOP_BUCKETS: [f64; 15] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    f64::INFINITY,
];

/// Upstream's `event_loop_interval_seconds` buckets (5 ms steps from 50 ms:
/// the loop is sampled every 50 ms).
pub const EVENT_LOOP_BUCKETS: [f64; 16] = [
    0.05,
    0.055,
    0.06,
    0.065,
    0.07,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    f64::INFINITY,
];

/// `status` of `server_spawn_duration_seconds`.
pub mod spawn_status {
    /// The server started.
    pub const SUCCESS: &str = "success";
    /// It was refused or failed in a way the hub expected (limits, pending).
    pub const FAILURE: &str = "failure";
    /// It failed unexpectedly.
    pub const ERROR: &str = "error";
}

/// `reason` of a failed spawn, as upstream's `ServerSpawnFailureReason`.
pub mod spawn_reason {
    /// No particular reason (success, or an error).
    pub const NONE: &str = "";
    /// `concurrent_spawn_limit` reached.
    pub const THROTTLED: &str = "throttled";
    /// `active_server_limit` reached.
    pub const TOO_MANY_USERS: &str = "too-many-users";
    /// A spawn was asked for while one was pending.
    pub const ALREADY_PENDING: &str = "already-pending";
    /// The process exited before it was ready.
    pub const EXITED: &str = "exited";
}

/// Every metric the hub exports, in upstream's registration order.
pub struct HubMetrics {
    /// Every hub request, by method, upstream handler class and status code.
    pub request_duration: Histogram,
    /// Spawns, by `status` and `reason`.
    pub server_spawn_duration: Histogram,
    /// User servers running now.
    pub running_servers: Gauge,
    /// Users in the database.
    pub total_users: Gauge,
    /// Users active in the last 24h / 7d / 30d (`period`).
    pub active_users: Gauge,
    /// Reconciling the proxy's routes with the database.
    pub check_routes_duration: Histogram,
    /// From process start until the hub serves.
    pub hub_startup_duration: Histogram,
    /// Restoring servers at start-up.
    pub init_spawners_duration: Histogram,
    /// Reading the proxy's route table.
    pub proxy_poll_duration: Histogram,
    /// Login attempts, by `status` (success/failure).
    pub login_duration: Histogram,
    /// Logouts.
    pub logout_duration: Histogram,
    /// Content-Security-Policy violation reports received.
    pub csp_reports: Counter,
    /// Adding a route to the proxy, by `status`.
    pub proxy_add_duration: Histogram,
    /// Polling a server, by `status` (running/stopped).
    pub server_poll_duration: Histogram,
    /// Stopping a server, by `status`.
    pub server_stop_duration: Histogram,
    /// Deleting a route from the proxy, by `status`.
    pub proxy_delete_duration: Histogram,
    /// How late the runtime wakes a 50 ms timer (upstream's event-loop lag probe).
    pub event_loop_interval: Histogram,
}

impl std::fmt::Debug for HubMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubMetrics").finish_non_exhaustive()
    }
}

impl HubMetrics {
    /// Metrics named with `JUPYTERHUB_METRICS_PREFIX` (default `jupyterhub`),
    /// spawn and stop buckets from `JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS`
    /// and `JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS` when set, as upstream.
    ///
    /// # Errors
    /// A bucket variable that is not a comma-separated list of numbers.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let prefix = var("JUPYTERHUB_METRICS_PREFIX").unwrap_or_else(|| "jupyterhub".to_owned());
        let buckets = |name: &str, default: &[f64]| -> Result<Vec<f64>, String> {
            match var(name) {
                None => Ok(default.to_vec()),
                Some(text) => parse_buckets(&text).map_err(|e| format!("{name}: {e}")),
            }
        };
        Ok(Self::new(
            &prefix,
            &buckets(
                "JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS",
                &SPAWN_BUCKETS,
            )?,
            &buckets(
                "JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS",
                &STOP_BUCKETS,
            )?,
        ))
    }

    /// Metrics under `prefix` with the given spawn and stop buckets.
    #[must_use]
    pub fn new(prefix: &str, spawn_buckets: &[f64], stop_buckets: &[f64]) -> Self {
        let name = |n: &str| format!("{prefix}_{n}");
        let status = &["status"];
        let metrics = Self {
            request_duration: Histogram::new(
                name("request_duration_seconds"),
                "Request duration for all HTTP requests",
                &["method", "handler", "code"],
                &DEFAULT_BUCKETS,
            ),
            server_spawn_duration: Histogram::new(
                name("server_spawn_duration_seconds"),
                "Time taken for server spawning operation",
                &["status", "reason"],
                spawn_buckets,
            ),
            running_servers: Gauge::new(
                name("running_servers"),
                "The number of user servers currently running",
                &[],
            ),
            total_users: Gauge::new(name("total_users"), "Total number of users", &[]),
            active_users: Gauge::new(
                name("active_users"),
                "Number of users who were active in the given time period",
                &["period"],
            ),
            check_routes_duration: Histogram::new(
                name("check_routes_duration_seconds"),
                "Time taken to validate all routes in proxy",
                &[],
                &DEFAULT_BUCKETS,
            ),
            hub_startup_duration: Histogram::new(
                name("hub_startup_duration_seconds"),
                "Time taken for Hub to start",
                &[],
                &DEFAULT_BUCKETS,
            ),
            init_spawners_duration: Histogram::new(
                name("init_spawners_duration_seconds"),
                "Time taken for spawners to initialize",
                &[],
                &DEFAULT_BUCKETS,
            ),
            proxy_poll_duration: Histogram::new(
                name("proxy_poll_duration_seconds"),
                "Duration for polling all routes from proxy",
                &[],
                &DEFAULT_BUCKETS,
            ),
            login_duration: Histogram::new(
                name("login_duration_seconds"),
                "duration for all authentication attempts",
                status,
                &DEFAULT_BUCKETS,
            ),
            logout_duration: Histogram::new(
                name("logout_duration_seconds"),
                "duration for all logout requests",
                &[],
                &DEFAULT_BUCKETS,
            ),
            csp_reports: Counter::new(
                name("csp_reports"),
                "content security policy violation reports",
            ),
            proxy_add_duration: Histogram::new(
                name("proxy_add_duration_seconds"),
                "Duration for adding user routes to proxy",
                status,
                &DEFAULT_BUCKETS,
            ),
            server_poll_duration: Histogram::new(
                name("server_poll_duration_seconds"),
                "Time taken to poll if server is running",
                status,
                &DEFAULT_BUCKETS,
            ),
            server_stop_duration: Histogram::new(
                name("server_stop_seconds"),
                "Time taken for server stopping operation",
                status,
                stop_buckets,
            ),
            proxy_delete_duration: Histogram::new(
                name("proxy_delete_duration_seconds"),
                "Duration for deleting user routes from proxy",
                status,
                &DEFAULT_BUCKETS,
            ),
            event_loop_interval: Histogram::new(
                name("event_loop_interval_seconds"),
                "Distribution of measured event loop intervals",
                &[],
                &EVENT_LOOP_BUCKETS,
            ),
        };
        metrics.precreate();
        metrics
    }

    /// Label sets upstream creates at import, so dashboards see zeros rather
    /// than missing series.
    fn precreate(&self) {
        use spawn_reason as reason;
        use spawn_status as st;
        for status in [st::SUCCESS, st::FAILURE, st::ERROR] {
            self.server_spawn_duration.touch(&[status, reason::NONE]);
        }
        for why in [
            reason::NONE,
            reason::THROTTLED,
            reason::TOO_MANY_USERS,
            reason::ALREADY_PENDING,
        ] {
            self.server_spawn_duration.touch(&[st::FAILURE, why]);
        }
        for status in ["success", "failure"] {
            self.proxy_add_duration.touch(&[status]);
            self.server_stop_duration.touch(&[status]);
            self.proxy_delete_duration.touch(&[status]);
        }
        for status in ["running", "stopped"] {
            self.server_poll_duration.touch(&[status]);
        }
        for period in ["24h", "7d", "30d"] {
            self.active_users.set(&[period], 0.0);
        }
        self.running_servers.set(&[], 0.0);
        self.total_users.set(&[], 0.0);
    }

    /// The whole exposition: upstream's metrics, then `process_*` for this process.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.request_duration.encode(&mut out);
        self.server_spawn_duration.encode(&mut out);
        self.running_servers.encode(&mut out);
        self.total_users.encode(&mut out);
        self.active_users.encode(&mut out);
        self.check_routes_duration.encode(&mut out);
        self.hub_startup_duration.encode(&mut out);
        self.init_spawners_duration.encode(&mut out);
        self.proxy_poll_duration.encode(&mut out);
        self.login_duration.encode(&mut out);
        self.logout_duration.encode(&mut out);
        self.csp_reports.encode(&mut out);
        self.proxy_add_duration.encode(&mut out);
        self.server_poll_duration.encode(&mut out);
        self.server_stop_duration.encode(&mut out);
        self.proxy_delete_duration.encode(&mut out);
        self.event_loop_interval.encode(&mut out);
        process::encode(&mut out);
        out
    }
}

/// Parses `"0.5,1,2.5"`; `+Inf` is appended when missing, as Prometheus requires.
fn parse_buckets(text: &str) -> Result<Vec<f64>, String> {
    let mut buckets = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let value: f64 = match item {
            "inf" | "+inf" | "Inf" | "+Inf" => f64::INFINITY,
            _ => item
                .parse()
                .map_err(|_| format!("{item:?} is not a number"))?,
        };
        if buckets.last().is_some_and(|last| *last >= value) {
            return Err("buckets must be in increasing order".to_owned());
        }
        buckets.push(value);
    }
    if buckets.last() != Some(&f64::INFINITY) {
        buckets.push(f64::INFINITY);
    }
    Ok(buckets)
}

/// Writes one `# HELP` / `# TYPE` header.
fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", format::escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests;
