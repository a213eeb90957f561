//! CHP's Prometheus metrics (`--metrics-port` / `--metrics-socket`), with the
//! names, types and labels of CHP 5.3 (prom-client 15): counters without a
//! `_total` suffix, two summaries, plus the `process_*` series.
//!
//! The hub's `ferrohub-metrics` crate writes Python `prometheus_client`'s
//! dialect (`_total`, `_created`, histograms, mutex-guarded series), which is
//! not what CHP exports, so this module is separate and small. Everything on
//! the data path is a relaxed atomic add: counters by status code are a
//! fixed array indexed by the code, and the summaries keep a log-scale
//! histogram of atomics (8 buckets per power of two, ≤ 12.5 % error) from
//! which the quantiles are computed at scrape time. Like prom-client's default
//! summary, quantiles cover every observation since start. When no metrics
//! listener is configured nothing is recorded and no clock is read.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::body::{Body, full};
use crate::routes::Route;

/// `Content-Type` of the exposition, as prom-client sends it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The quantiles prom-client's summaries report.
const QUANTILES: [f64; 7] = [0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999];

/// The proxy's counters and summaries; one per proxy, shared by its listeners.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    enabled: bool,
    /// Whole-table `GET /api/routes` answered.
    pub api_route_get: Counter,
    /// Routes added through the API.
    pub api_route_add: Counter,
    /// `DELETE /api/routes/...` answered (204 or 404).
    pub api_route_delete: Counter,
    /// Route lookups, in seconds.
    pub find_target_for_req: Summary,
    /// `last_activity` updates, in seconds.
    pub last_activity_updating: Summary,
    /// Upgrade (websocket) requests on the public listener.
    pub requests_ws: Counter,
    /// Other requests on the public listener (the health check excluded).
    pub requests_web: Counter,
    /// Target responses and proxy errors, by status.
    pub requests_proxy: StatusCounter,
    /// API responses, by status.
    pub requests_api: StatusCounter,
}

impl ProxyMetrics {
    /// Metrics that record (`enabled`, a metrics listener exists) or ignore
    /// everything (no listener: CHP uses no-op metrics then too).
    #[must_use]
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Whether anything is recorded.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn inc(&self, counter: &Counter) {
        if self.enabled {
            counter.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A whole-table `GET /api/routes` was answered.
    pub fn route_listed(&self) {
        self.inc(&self.api_route_get);
    }

    /// A route was added through the API.
    pub fn route_added(&self) {
        self.inc(&self.api_route_add);
    }

    /// A `DELETE` was answered (204 or 404).
    pub fn route_deleted(&self) {
        self.inc(&self.api_route_delete);
    }

    /// A non-upgrade request arrived on the public listener.
    pub fn web_request(&self) {
        self.inc(&self.requests_web);
    }

    /// An upgrade request arrived on the public listener.
    pub fn ws_request(&self) {
        self.inc(&self.requests_ws);
    }

    /// A target answered, or the proxy answered an error itself.
    pub fn proxy_response(&self, status: StatusCode) {
        if self.enabled {
            self.requests_proxy.inc(status);
        }
    }

    /// The API answered.
    pub fn api_response(&self, status: StatusCode) {
        if self.enabled {
            self.requests_api.inc(status);
        }
    }

    /// Records traffic on `route` (its `last_activity`), timed.
    pub fn touch(&self, route: &Route) {
        let timer = self.time_activity();
        route.touch();
        timer.stop();
    }

    /// Starts timing a route lookup (no clock read when disabled).
    pub fn time_lookup(&self) -> Timer<'_> {
        self.start(&self.find_target_for_req)
    }

    /// Starts timing a `last_activity` update (no clock read when disabled).
    pub fn time_activity(&self) -> Timer<'_> {
        self.start(&self.last_activity_updating)
    }

    fn start<'a>(&self, summary: &'a Summary) -> Timer<'a> {
        Timer(self.enabled.then(|| (summary, Instant::now())))
    }

    /// The whole exposition, in prom-client's order: process metrics first.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        process(&mut out);
        counter(
            &mut out,
            "api_route_get",
            "Count of API route get requests",
            &self.api_route_get,
        );
        counter(
            &mut out,
            "api_route_add",
            "Count of API route add requests",
            &self.api_route_add,
        );
        counter(
            &mut out,
            "api_route_delete",
            "Count of API route delete requests",
            &self.api_route_delete,
        );
        self.find_target_for_req.encode(
            &mut out,
            "find_target_for_req",
            "Summary of find target requests",
        );
        self.last_activity_updating.encode(
            &mut out,
            "last_activity_updating",
            "Summary of last activity updating requests",
        );
        counter(
            &mut out,
            "requests_ws",
            "Count of websocket requests",
            &self.requests_ws,
        );
        counter(
            &mut out,
            "requests_web",
            "Count of web requests",
            &self.requests_web,
        );
        self.requests_proxy
            .encode(&mut out, "requests_proxy", "Count of proxy requests");
        self.requests_api
            .encode(&mut out, "requests_api", "Count of API requests");
        out
    }

    /// The metrics listener: `GET /metrics` (exact URL, any method, as CHP)
    /// → the exposition; anything else → 404 `Not Found`.
    #[must_use]
    pub fn handle<B>(&self, req: &Request<B>) -> Response<Body> {
        if req
            .uri()
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str)
            != Some("/metrics")
        {
            let mut response = Response::new(full("Not Found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
        let mut response = Response::new(full(self.encode()));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// The current count.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts by HTTP status (100–599), one atomic per code.
#[derive(Debug)]
pub struct StatusCounter(Box<[AtomicU64]>);

impl Default for StatusCounter {
    fn default() -> Self {
        Self((100..600).map(|_| AtomicU64::new(0)).collect())
    }
}

impl StatusCounter {
    fn inc(&self, status: StatusCode) {
        if let Some(slot) = self.0.get(usize::from(status.as_u16()).wrapping_sub(100)) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many responses had `status`.
    #[must_use]
    pub fn get(&self, status: u16) -> u64 {
        self.0
            .get(usize::from(status).wrapping_sub(100))
            .map_or(0, |slot| slot.load(Ordering::Relaxed))
    }

    /// Only statuses seen so far are exported, as prom-client does.
    fn encode(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "counter");
        for (code, slot) in (100u16..).zip(self.0.iter()) {
            let count = slot.load(Ordering::Relaxed);
            if count > 0 {
                let _ = writeln!(out, "{name}{{status=\"{code}\"}} {count}");
            }
        }
        out.push('\n');
    }
}

/// Buckets of the summaries' log-scale histogram over nanoseconds: values
/// below 8 ns exactly, above that 8 sub-buckets per power of two.
const SUB_BUCKETS: u32 = 8;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
const BUCKETS: usize = (SUB_BUCKETS + (64 - SUB_BITS) * SUB_BUCKETS) as usize;

/// A duration summary: count, sum and quantiles, lock-free to record.
#[derive(Debug)]
pub struct Summary {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Summary {
    /// Records one duration.
    pub fn observe_nanos(&self, nanos: u64) {
        self.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `q` quantile in seconds (0 without observations, as prom-client).
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        quantile_of(&counts, q)
    }

    fn encode(&self, out: &mut String, name: &str, help: &str) {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        header(out, name, help, "summary");
        for q in QUANTILES {
            let _ = writeln!(
                out,
                "{name}{{quantile=\"{q}\"}} {}",
                quantile_of(&counts, q)
            );
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {}", self.count());
        out.push('\n');
    }
}

/// The bucket of a value: exact below 8, else (power of two, top 3 bits after the leading one).
#[allow(
    clippy::cast_possible_truncation,
    reason = "both parts are below BUCKETS (496): nanos below 8, exponent below 64, sub below 8"
)]
fn bucket_of(nanos: u64) -> usize {
    if nanos < u64::from(SUB_BUCKETS) {
        return nanos as usize;
    }
    let exponent = 63 - nanos.leading_zeros();
    let sub = (nanos >> (exponent - SUB_BITS)) & u64::from(SUB_BUCKETS - 1);
    (SUB_BUCKETS + (exponent - SUB_BITS) * SUB_BUCKETS) as usize + sub as usize
}

/// The middle of a bucket, in nanoseconds.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "bucket indices are below BUCKETS (496), so exponents are below 64"
)]
fn bucket_middle(index: usize) -> f64 {
    let sub_buckets = SUB_BUCKETS as usize;
    if index < sub_buckets {
        return index as f64;
    }
    let exponent = (index - sub_buckets) / sub_buckets + SUB_BITS as usize;
    let sub = (index - sub_buckets) % sub_buckets;
    let width = 2f64.powi((exponent - SUB_BITS as usize) as i32);
    let low = 2f64.powi(exponent as i32) + sub as f64 * width;
    low + width / 2.0
}

fn quantile_of(counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    // The smallest value with at least q of the observations at or below it.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "q is one of QUANTILES, in [0, 1], so the product is in [0, total]"
    )]
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (index, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return bucket_middle(index) / 1e9;
        }
    }
    0.0
}

/// A running measurement; records when [`Timer::stop`] is called.
#[must_use = "a timer records nothing until stopped"]
pub struct Timer<'a>(Option<(&'a Summary, Instant)>);

impl Timer<'_> {
    /// Records the time since the timer started.
    pub fn stop(self) {
        if let Some((summary, started)) = self.0 {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            summary.observe_nanos(nanos);
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, counter: &Counter) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {}", counter.get());
    out.push('\n');
}

fn gauge(out: &mut String, name: &str, help: &str, kind: &str, value: Option<f64>) {
    if let Some(value) = value {
        header(out, name, help, kind);
        let _ = writeln!(out, "{name} {value}");
        out.push('\n');
    }
}

/// Clock ticks per second of `/proc` CPU times (`_SC_CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size of `/proc/self/stat`'s RSS (4 KiB on the platforms we run on).
const PAGE_SIZE: f64 = 4096.0;

/// prom-client's default process metrics, read from `/proc/self` (the
/// `nodejs_*` ones have no meaning here and are left out).
fn process(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let user = field(14).map(|t| t / TICKS_PER_SECOND);
    let system = field(15).map(|t| t / TICKS_PER_SECOND);
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    gauge(
        out,
        "process_cpu_user_seconds_total",
        "Total user CPU time spent in seconds.",
        "counter",
        user,
    );
    gauge(
        out,
        "process_cpu_system_seconds_total",
        "Total system CPU time spent in seconds.",
        "counter",
        system,
    );
    gauge(
        out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        user.zip(system).map(|(u, s)| u + s),
    );
    gauge(
        out,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        "gauge",
        field(22)
            .zip(boot_time)
            .map(|(ticks, boot)| (boot + ticks / TICKS_PER_SECOND).floor()),
    );
    gauge(
        out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        field(24).map(|pages| pages * PAGE_SIZE),
    );
    gauge(
        out,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        field(23),
    );
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count().saturating_sub(1) as f64);
    gauge(
        out,
        "process_open_fds",
        "Number of open file descriptors.",
        "gauge",
        open_fds,
    );
    gauge(
        out,
        "process_max_fds",
        "Maximum number of open file descriptors.",
        "gauge",
        max_open_files(),
    );
}

/// The soft `RLIMIT_NOFILE`, from the "Max open files" row of `/proc/self/limits`.
fn max_open_files() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let row = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    row.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for nanos in (0..5000).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let bucket = bucket_of(nanos);
            assert!(bucket >= last, "{nanos}");
            assert!(bucket < BUCKETS, "{nanos}");
            last = bucket;
            let middle = bucket_middle(bucket);
            let error = (middle - nanos as f64).abs() / (nanos as f64).max(1.0);
            assert!(error <= 0.125, "{nanos}: middle {middle}");
        }
    }

    #[test]
    fn quantiles_from_observations() {
        let summary = Summary::default();
        assert_eq!(summary.quantile(0.5), 0.0);
        for micros in 1..=1000u64 {
            summary.observe_nanos(micros * 1000);
        }
        let within = |q: f64, expected: f64| {
            let got = summary.quantile(q);
            assert!(
                (got - expected).abs() / expected < 0.13,
                "q{q}: {got} vs {expected}"
            );
        };
        within(0.5, 500e-6);
        within(0.9, 900e-6);
        within(0.01, 10e-6);
        within(0.999, 999e-6);
        assert_eq!(summary.count(), 1000);
    }

    #[test]
    fn exposition_has_chp_names_and_types() {
        let metrics = ProxyMetrics::new(true);
        metrics.web_request();
        metrics.route_listed();
        metrics.api_response(StatusCode::CREATED);
        metrics.proxy_response(StatusCode::SERVICE_UNAVAILABLE);
        metrics.time_lookup().stop();
        let text = metrics.encode();
        for line in [
            "# TYPE api_route_get counter\napi_route_get 1\n",
            "# TYPE api_route_add counter\napi_route_add 0\n",
            "# TYPE api_route_delete counter\n",
            "# TYPE find_target_for_req summary\nfind_target_for_req{quantile=\"0.01\"} ",
            "find_target_for_req{quantile=\"0.999\"} ",
            "find_target_for_req_count 1\n",
            "# TYPE last_activity_updating summary\n",
            "last_activity_updating{quantile=\"0.5\"} 0\n",
            "last_activity_updating_sum 0\nlast_activity_updating_count 0\n",
            "# TYPE requests_ws counter\nrequests_ws 0\n",
            "requests_web 1\n",
            "# TYPE requests_proxy counter\nrequests_proxy{status=\"503\"} 1\n",
            "# TYPE requests_api counter\nrequests_api{status=\"201\"} 1\n",
            "# TYPE process_resident_memory_bytes gauge\n",
            "# TYPE process_cpu_seconds_total counter\n",
            "# TYPE process_open_fds gauge\n",
            "# TYPE process_start_time_seconds gauge\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("_total counter\napi"), "{text}");
    }

    #[test]
    fn disabled_metrics_record_nothing() {
        let metrics = ProxyMetrics::new(false);
        metrics.ws_request();
        metrics.api_response(StatusCode::OK);
        metrics.time_activity().stop();
        assert_eq!(metrics.requests_ws.get(), 0);
        assert_eq!(metrics.requests_api.get(200), 0);
        assert_eq!(metrics.last_activity_updating.count(), 0);
    }

    #[test]
    fn only_the_exact_url_serves_metrics() {
        let metrics = ProxyMetrics::new(true);
        let get = |url: &str| metrics.handle(&Request::get(url).body(()).unwrap());
        let ok = get("/metrics");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(get("/metrics?x=1").status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/metrics/").status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/").status(), StatusCode::NOT_FOUND);
    }
}
