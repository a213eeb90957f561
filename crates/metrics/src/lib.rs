//! The hub's Prometheus metrics under upstream JupyterHub 6.1.1's names,
//! labels, label values and buckets, so dashboards and alerts written for
//! JupyterHub keep working.
//!
//! # Output format
//!
//! Upstream serves Python `prometheus_client`'s classic text format
//! (`Content-Type: text/plain; version=1.0.0; charset=utf-8` with
//! `prometheus_client` 0.26): label names sorted, a `_created` gauge family
//! beside every histogram and counter, counters typed under their `_total`
//! name, Go-style floats, no `# EOF`. This crate writes exactly that, by hand.
//!
//! The Rust `prometheus-client` crate was considered and not used: it only
//! writes OpenMetrics. Served as `text/plain`, Prometheus' classic parser would
//! see `# TYPE jupyterhub_csp_reports counter` and then a sample named
//! `jupyterhub_csp_reports_total`, i.e. an untyped metric; served as
//! `application/openmetrics-text` it scrapes fine but differs from upstream
//! for every other consumer (no `_created` families, `# EOF`, `# UNIT`), and
//! it has no notion of upstream's quirks (e.g. `status="LoginStatus.success"`).
//! Matching upstream byte for byte takes less code than rewriting a library's
//! output, and the test in `tests.rs` diffs our exposition against one
//! produced by JupyterHub 6.1.1 itself (`testdata/upstream-6.1.1.prom`).
//!
//! Each hub owns its own [`HubMetrics`]; there is no global registry, so tests
//! can run hubs side by side. Families are typed by their label set
//! ([`LabelSet`]): a wrong or missing label value does not compile.

mod family;
mod format;
mod labels;
mod process;

pub use family::{Counter, Gauge, Histogram};
pub use labels::{
    LabelSet, LoginStatus, Outcome, Period, PollStatus, RequestLabels, SpawnLabels, SpawnReason,
    SpawnStatus,
};

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

/// Every metric the hub exports, in upstream's registration order.
///
/// Each family is typed by its label set, so a call site cannot misspell a
/// label value or forget one.
pub struct HubMetrics {
    /// Every hub request, by method, upstream handler class and status code.
    pub request_duration: Histogram<RequestLabels>,
    /// Spawns, by `status` and `reason`.
    pub server_spawn_duration: Histogram<SpawnLabels>,
    /// User servers running now.
    pub running_servers: Gauge,
    /// Users in the database.
    pub total_users: Gauge,
    /// Users active in the last 24h / 7d / 30d (`period`).
    pub active_users: Gauge<Period>,
    /// Reconciling the proxy's routes with the database.
    pub check_routes_duration: Histogram,
    /// From process start until the hub serves.
    pub hub_startup_duration: Histogram,
    /// Restoring servers at start-up.
    pub init_spawners_duration: Histogram,
    /// Reading the proxy's route table.
    pub proxy_poll_duration: Histogram,
    /// Login attempts, by `status` (`LoginStatus.success`/`LoginStatus.failure`).
    pub login_duration: Histogram<LoginStatus>,
    /// Logouts.
    pub logout_duration: Histogram,
    /// Content-Security-Policy violation reports received.
    pub csp_reports: Counter,
    /// Adding a route to the proxy, by `status`.
    pub proxy_add_duration: Histogram<Outcome>,
    /// Polling a server, by `status` (`ServerPollStatus.running`/`.stopped`).
    pub server_poll_duration: Histogram<PollStatus>,
    /// Stopping a server, by `status`.
    pub server_stop_duration: Histogram<Outcome>,
    /// Deleting a route from the proxy, by `status`.
    pub proxy_delete_duration: Histogram<Outcome>,
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
    /// A bucket variable that is not an increasing comma-separated list of numbers.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`HubMetrics::from_env`] with the variables looked up by `var` (tests
    /// pass a map instead of changing the process environment).
    ///
    /// # Errors
    /// A bucket variable that is not an increasing comma-separated list of numbers.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let prefix = var("JUPYTERHUB_METRICS_PREFIX").unwrap_or_else(|| "jupyterhub".to_owned());
        // Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]* (prometheus_client
        // refuses others, so upstream does not start with one either).
        let valid_name = prefix.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        });
        if !valid_name {
            return Err(format!(
                "JUPYTERHUB_METRICS_PREFIX {prefix:?} is not a valid Prometheus metric name prefix \
                 (letters, digits, '_' and ':', not starting with a digit)"
            ));
        }
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
        let metrics = Self {
            request_duration: Histogram::new(
                name("request_duration_seconds"),
                "Request duration for all HTTP requests",
                &DEFAULT_BUCKETS,
            ),
            server_spawn_duration: Histogram::new(
                name("server_spawn_duration_seconds"),
                "Time taken for server spawning operation",
                spawn_buckets,
            ),
            running_servers: Gauge::new(
                name("running_servers"),
                "The number of user servers currently running",
            ),
            total_users: Gauge::new(name("total_users"), "Total number of users"),
            active_users: Gauge::new(
                name("active_users"),
                "Number of users who were active in the given time period",
            ),
            check_routes_duration: Histogram::unlabelled(
                name("check_routes_duration_seconds"),
                "Time taken to validate all routes in proxy",
                &DEFAULT_BUCKETS,
            ),
            hub_startup_duration: Histogram::unlabelled(
                name("hub_startup_duration_seconds"),
                "Time taken for Hub to start",
                &DEFAULT_BUCKETS,
            ),
            init_spawners_duration: Histogram::unlabelled(
                name("init_spawners_duration_seconds"),
                "Time taken for spawners to initialize",
                &DEFAULT_BUCKETS,
            ),
            proxy_poll_duration: Histogram::unlabelled(
                name("proxy_poll_duration_seconds"),
                "Duration for polling all routes from proxy",
                &DEFAULT_BUCKETS,
            ),
            login_duration: Histogram::new(
                name("login_duration_seconds"),
                "duration for all authentication attempts",
                &DEFAULT_BUCKETS,
            ),
            logout_duration: Histogram::unlabelled(
                name("logout_duration_seconds"),
                "duration for all logout requests",
                &DEFAULT_BUCKETS,
            ),
            csp_reports: Counter::new(
                name("csp_reports"),
                "content security policy violation reports",
            ),
            proxy_add_duration: Histogram::new(
                name("proxy_add_duration_seconds"),
                "Duration for adding user routes to proxy",
                &DEFAULT_BUCKETS,
            ),
            server_poll_duration: Histogram::new(
                name("server_poll_duration_seconds"),
                "Time taken to poll if server is running",
                &DEFAULT_BUCKETS,
            ),
            server_stop_duration: Histogram::new(
                name("server_stop_seconds"),
                "Time taken for server stopping operation",
                stop_buckets,
            ),
            proxy_delete_duration: Histogram::new(
                name("proxy_delete_duration_seconds"),
                "Duration for deleting user routes from proxy",
                &DEFAULT_BUCKETS,
            ),
            event_loop_interval: Histogram::unlabelled(
                name("event_loop_interval_seconds"),
                "Distribution of measured event loop intervals",
                &EVENT_LOOP_BUCKETS,
            ),
        };
        metrics.precreate();
        metrics
    }

    /// Label sets upstream creates at import, so dashboards see zeros rather
    /// than missing series. (Upstream does not pre-create `login_duration_seconds`
    /// series, nor set `running_servers`/`total_users` before start-up; the hub
    /// sets those two gauges before it serves, so they are created here too.)
    fn precreate(&self) {
        for status in SpawnStatus::ALL {
            self.server_spawn_duration.touch(SpawnLabels {
                status: *status,
                reason: SpawnReason::None,
            });
        }
        for reason in SpawnReason::PRECREATED {
            self.server_spawn_duration
                .touch(SpawnLabels::failure(*reason));
        }
        for outcome in Outcome::ALL {
            self.proxy_add_duration.touch(*outcome);
            self.server_stop_duration.touch(*outcome);
            self.proxy_delete_duration.touch(*outcome);
        }
        for status in PollStatus::ALL {
            self.server_poll_duration.touch(*status);
        }
        for period in Period::ALL {
            self.active_users.set(*period, 0.0);
        }
        self.running_servers.set((), 0.0);
        self.total_users.set((), 0.0);
    }

    /// The whole exposition: `process_*` for this process, then upstream's metrics.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // `prometheus_client` registers its process collector first.
        process::encode(&mut out);
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
        out
    }
}

/// Parses `"0.5,1,2.5"` as upstream's `float()` does (`inf`/`Infinity` too);
/// `+Inf` is appended when missing and at least two buckets must result, as
/// Python's `prometheus_client` requires.
fn parse_buckets(text: &str) -> Result<Vec<f64>, String> {
    let mut buckets = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let value: f64 = item
            .parse()
            .ok()
            .filter(|v: &f64| !v.is_nan())
            .ok_or_else(|| format!("{item:?} is not a number"))?;
        if buckets.last().is_some_and(|last| *last >= value) {
            return Err("buckets must be in increasing order".to_owned());
        }
        buckets.push(value);
    }
    if buckets.last() != Some(&f64::INFINITY) {
        buckets.push(f64::INFINITY);
    }
    if buckets.len() < 2 {
        return Err("at least one finite bucket is needed".to_owned());
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
