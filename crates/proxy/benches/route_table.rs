//! Route table cost against table size: lookups (a user's kernel websocket
//! path, and a hub path that falls through to `/`), a route added and removed,
//! and lookups while another thread keeps changing the table. Plain timing
//! loops, no harness: `cargo bench -p ferrohub-proxy --bench route_table`.
//! Prints a markdown table; the ratios against the 1-route table are the
//! point (lookup cost should not depend on the number of routes).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrohub_proxy::RouteTable;
use serde_json::Map;

const SIZES: [usize; 4] = [1, 1_000, 10_000, 100_000];
const LOOKUPS: u32 = 1_000_000;
const CHANGES: u32 = 2_000;

fn table_with(routes: usize) -> RouteTable {
    let table = RouteTable::default();
    table.insert("/", "http://127.0.0.1:8081", Map::new());
    for i in 0..routes.saturating_sub(1) {
        table.insert(
            &format!("/user/u{i}"),
            &format!("http://127.0.0.1:{}", 20_000 + i % 40_000),
            Map::new(),
        );
    }
    table
}

/// Mean time of one lookup of `path`.
fn lookup_ns(table: &RouteTable, path: &str) -> f64 {
    let start = Instant::now();
    for _ in 0..LOOKUPS {
        black_box(table.lookup(black_box(path)));
    }
    start.elapsed().as_nanos() as f64 / f64::from(LOOKUPS)
}

/// Mean time to add a route and remove it again.
fn change_us(table: &RouteTable) -> f64 {
    let start = Instant::now();
    for i in 0..CHANGES {
        let path = format!("/user/new{i}");
        table.insert(&path, "http://127.0.0.1:9", Map::new());
        table.remove(&path);
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(CHANGES)
}

/// Mean lookup time while another thread adds and removes routes nonstop.
fn lookup_ns_under_writes(table: &Arc<RouteTable>, path: &str) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (table, stop) = (Arc::clone(table), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/user/w{}", i % 64);
                table.insert(&path, "http://127.0.0.1:9", Map::new());
                table.remove(&path);
                i += 1;
            }
            i
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let ns = lookup_ns(table, path);
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    assert!(writes > 0, "the writer ran");
    ns
}

fn main() {
    let user_path = |n: usize| format!("/user/u{}/api/kernels/0f1e2d/channels", n / 2);
    let hub_path = "/hub/api/users/alice/server";
    println!("| routes | build | lookup, user | lookup, hub | lookup during writes | add+remove |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut base: Option<(f64, f64)> = None;
    for n in SIZES {
        let start = Instant::now();
        let table = Arc::new(table_with(n));
        let build = start.elapsed();
        assert_eq!(table.len(), n);
        let path = user_path(n);
        let expected = if n > 1 {
            format!("/user/u{}", n / 2)
        } else {
            "/".into()
        };
        assert_eq!(table.lookup(&path).expect("route").path(), expected);
        let user = lookup_ns(&table, &path);
        let hub = lookup_ns(&table, hub_path);
        let busy = lookup_ns_under_writes(&table, &path);
        let change = change_us(&table);
        let (user0, change0) = *base.get_or_insert((user, change));
        println!(
            "| {n} | {:.0} ms | {user:.0} ns ({:.2}×) | {hub:.0} ns | {busy:.0} ns | {change:.1} µs ({:.1}×) |",
            build.as_secs_f64() * 1e3,
            user / user0,
            change / change0,
        );
    }
}
