//! The proxy's modules form layers that point one way (ARCHITECTURE.md,
//! "ferrohub-proxy"): this test reads `src/`, collects every `crate::X`
//! reference of each top-level module (a file `src/x.rs` together with its
//! children in `src/x/`), and asserts that
//!
//! - the module graph has no cycle, so each module can be read, tested and
//!   changed knowing only the modules below it;
//! - the data path (everything `forward` reaches) never sees the command
//!   line, the whole configuration, the listeners or the wiring: it reads
//!   only the settings it is handed, so embedding the proxy or adding a flag
//!   cannot change how a request is forwarded by accident;
//! - nothing imports `cli`: the command line is one way to build a
//!   `ProxyOptions`, at the very top, beside `main`;
//! - items are named by their module (`crate::routes::RouteTable`), never
//!   through the crate root's re-exports, which would hide an edge.
//!
//! Comments (doc links included) and string literals are skipped: only code
//! makes a dependency. `lib.rs` (the root, which declares everything) and
//! `main.rs` (the binary, a crate of its own) are not modules of the graph.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

#[allow(
    dead_code,
    reason = "shared by the proxy's and the hub's layer tests; each uses part"
)]
#[path = "support/source_scan.rs"]
mod source_scan;
#[allow(
    unused_imports,
    reason = "shared by the proxy's and the hub's layer tests; each uses part"
)]
use source_scan::{
    Graph, Site, collect_rs, crate_references, cycles, describe_layers, reachable,
    strip_comments_and_literals,
};

/// Modules the data path must not reach (see the module docs).
const ABOVE_THE_DATA_PATH: [&str; 5] = ["cli", "config", "server", "listen", "api"];

#[test]
fn proxy_modules_form_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (graph, root_refs) = module_graph(&src);
    for module in ["forward", "connect", "errors", "server", "cli", "api"] {
        assert!(
            graph.contains_key(module),
            "module {module} not found in {}: is the scan broken?",
            src.display()
        );
    }
    let mut problems = Vec::new();

    for (module, site) in &root_refs {
        problems.push(format!(
            "{module} names a crate-root item instead of its module: {site}"
        ));
    }

    for cycle in cycles(&graph) {
        let mut text = format!("import cycle: {}", cycle.join(" ↔ "));
        for from in &cycle {
            for (to, sites) in &graph[from] {
                if cycle.contains(to) {
                    write!(text, "\n    {from} → {to}: {}", sites.join(", "))
                        .expect("writing to a String cannot fail");
                }
            }
        }
        problems.push(text);
    }

    let data_path = reachable(&graph, "forward");
    for above in ABOVE_THE_DATA_PATH {
        if data_path.contains(above) {
            let users: Vec<String> = data_path
                .iter()
                .filter_map(|m| {
                    graph[m]
                        .get(above)
                        .map(|sites| format!("{m} ({})", sites.join(", ")))
                })
                .collect();
            problems.push(format!(
                "the data path reaches `{above}`, a layer above it: {}",
                users.join("; ")
            ));
        }
    }

    for (module, edges) in &graph {
        if let Some(sites) = edges.get("cli") {
            problems.push(format!(
                "{module} imports `cli`, which only `main` may use: {}",
                sites.join(", ")
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "the proxy's module layers are broken:\n{}\n\nlayers found (bottom first):\n{}",
        problems.join("\n"),
        describe_layers(&graph)
    );
    // `cargo test -- --nocapture` shows the layering the docs describe.
    println!("{}", describe_layers(&graph));
}

/// Reads every module under `src` (without `lib.rs` and `main.rs`).
/// Returns the graph and the references to crate-root items.
fn module_graph(src: &Path) -> (Graph, Vec<(String, Site)>) {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    let module_of = |file: &Path| -> Option<String> {
        let relative = file.strip_prefix(src).ok()?;
        let first = relative.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "lib" && name != "main").then(|| name.to_owned())
    };
    let mut graph = Graph::new();
    for file in &files {
        if let Some(module) = module_of(file) {
            graph.entry(module).or_default();
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    let mut root_refs = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        let shown = file.strip_prefix(src).unwrap_or(file).display().to_string();
        for (name, line) in crate_references(&strip_comments_and_literals(&text)) {
            let site = format!("src/{shown}:{line}");
            if !modules.contains(&name) {
                root_refs.push((module.clone(), format!("crate::{name} at {site}")));
            } else if name != module {
                graph
                    .get_mut(&module)
                    .expect("every module has an entry")
                    .entry(name)
                    .or_default()
                    .push(site);
            }
        }
    }
    (graph, root_refs)
}
