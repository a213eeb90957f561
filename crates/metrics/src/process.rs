//! `process_*` metrics of the hub itself, as `prometheus_client`'s process
//! collector exports them on Linux (read from `/proc/self`).

use std::fmt::Write as _;

use crate::format::float;
use crate::header;

/// Clock ticks per second for `/proc` CPU times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

pub(crate) fn encode(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let mut gauge = |name: &str, help: &str, kind: &str, value: Option<f64>| {
        if let Some(value) = value {
            header(out, name, help, kind);
            let _ = writeln!(out, "{name} {}", float(value));
        }
    };
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        field(23),
    );
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        field(24).map(|pages| pages * PAGE_SIZE),
    );
    gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        "gauge",
        field(22)
            .zip(boot_time)
            .map(|(ticks, boot)| boot + ticks / TICKS_PER_SECOND),
    );
    gauge(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        field(14)
            .zip(field(15))
            .map(|(user, system)| (user + system) / TICKS_PER_SECOND),
    );
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as f64)
        .ok();
    gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        "gauge",
        open_fds,
    );
    gauge(
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
    match row.split_whitespace().next()? {
        "unlimited" => Some(f64::INFINITY),
        soft => soft.parse().ok(),
    }
}
