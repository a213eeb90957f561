//! The hub's modules form layers that point one way (ARCHITECTURE.md,
//! "ferrohub-hub"): HTTP edge (`api`, `pages`, the router in `app`) →
//! access and capabilities → `service` → `runtime` → engines (store,
//! spawner, proxy client). This test reads `src/`, collects every `crate::X`
//! reference of each top-level module (a file `src/x.rs` together with its
//! children in `src/x/`), and asserts that
//!
//! - the module graph has no cycle, so each module can be read, tested and
//!   changed knowing only the modules below it (the composition root,
//!   `state` and `app`, may know everything, so nothing it uses may use it);
//! - `runtime` (server registry, spawn, stop, reconcile, the background
//!   loops) reaches no HTTP layer (`api`, `pages`, `app`, `error` with its
//!   `ApiError`/`PageError`) and no `state`, and its code never names axum
//!   or the HTTP error types: background work has no request to answer;
//! - the service layer reaches no handler module;
//! - no function in the hub returns `Result<_, String>`: failures are typed
//!   (`HubError` or a module's own `thiserror` enum), so what a client is
//!   told is decided once, in `error.rs`, never by passing internal text on.
//!
//! Comments (doc links included) and string literals are skipped: only code
//! makes a dependency. `lib.rs` (the root, which declares everything) is not
//! a module of the graph.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(
    dead_code,
    reason = "shared by the proxy's and the hub's layer tests; each uses part"
)]
#[path = "../../proxy/tests/support/source_scan.rs"]
mod source_scan;
#[allow(
    unused_imports,
    reason = "shared by the proxy's and the hub's layer tests; each uses part"
)]
use source_scan::{
    Graph, Site, collect_rs, crate_references, cycles, describe_layers, reachable,
    strip_comments_and_literals,
};

/// Modules `runtime` must not reach: the HTTP edge, the HTTP error mapping
/// and the composition root that holds the runtime.
const ABOVE_THE_RUNTIME: [&str; 5] = ["api", "pages", "app", "error", "state"];

/// Names that are HTTP types; runtime code never uses them.
const HTTP_NAMES: [&str; 5] = [
    "axum",
    "ApiError",
    "PageError",
    "StatusCode",
    "IntoResponse",
];

/// Modules the service layer must not reach (handlers sit above it).
const ABOVE_THE_SERVICES: [&str; 3] = ["api", "pages", "app"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn hub_modules_form_layers() {
    let src = src_dir();
    let graph = module_graph(&src);
    for module in ["api", "pages", "state", "access", "service", "app"] {
        assert!(
            graph.contains_key(module),
            "module {module} not found in {}: is the scan broken?",
            src.display()
        );
    }
    let mut problems = Vec::new();

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

    let mut below = |start: &str, above: &[&str], what: &str| {
        if !graph.contains_key(start) {
            problems.push(format!("module {start} not found; {what}"));
            return;
        }
        let reach = reachable(&graph, start);
        for module in above {
            if reach.contains(*module) {
                let users: Vec<String> = reach
                    .iter()
                    .filter_map(|m| {
                        graph[m]
                            .get(*module)
                            .map(|sites| format!("{m} ({})", sites.join(", ")))
                    })
                    .collect();
                problems.push(format!(
                    "`{start}` reaches `{module}`, a layer above it ({what}): {}",
                    users.join("; ")
                ));
            }
        }
    };
    below(
        "runtime",
        &ABOVE_THE_RUNTIME,
        "background work knows no HTTP and is handed what it needs",
    );
    below(
        "service",
        &ABOVE_THE_SERVICES,
        "operations are called by handlers, never the reverse",
    );

    for (file, line, name) in http_names_in(&src.join("runtime")) {
        problems.push(format!(
            "runtime code names the HTTP type `{name}` at {file}:{line}"
        ));
    }

    assert!(
        problems.is_empty(),
        "the hub's module layers are broken:\n{}\n\nlayers found (bottom first):\n{}",
        problems.join("\n"),
        describe_layers(&graph)
    );
    // `cargo test -- --nocapture` shows the layering the docs describe.
    println!("{}", describe_layers(&graph));
}

#[test]
fn no_result_with_string_errors_in_the_hub() {
    let src = src_dir();
    let mut files = Vec::new();
    collect_rs(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        let code = strip_comments_and_literals(&text);
        let shown = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        for line in string_error_results(&code) {
            found.push(format!("src/{shown}:{line}"));
        }
    }
    assert!(
        found.is_empty(),
        "`Result<_, String>` in the hub (use HubError or a thiserror enum): {}",
        found.join(", ")
    );
}

/// Lines where a `Result<…, String>` type is written in `code`.
fn string_error_results(code: &str) -> Vec<usize> {
    let chars: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut lines = Vec::new();
    let needle: Vec<char> = "Result".chars().collect();
    let mut i = 0;
    while i + needle.len() < chars.len() {
        let at_word = chars[i..i + needle.len()] == needle[..]
            && (i == 0 || !ident(chars[i - 1]))
            && chars[i + needle.len()] == '<';
        if !at_word {
            i += 1;
            continue;
        }
        // The generic arguments up to the matching `>`, split at depth-1 commas.
        let mut depth = 0;
        let mut j = i + needle.len();
        let mut last_arg = String::new();
        let mut args = 1;
        while j < chars.len() {
            match chars[j] {
                '<' | '(' | '[' => {
                    depth += 1;
                    if depth > 1 {
                        last_arg.push(chars[j]);
                    }
                }
                '>' | ')' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    last_arg.push(chars[j]);
                }
                ',' if depth == 1 => {
                    args += 1;
                    last_arg.clear();
                }
                c => last_arg.push(c),
            }
            j += 1;
        }
        if args == 2 && last_arg.trim() == "String" {
            lines.push(chars[..i].iter().filter(|&&c| c == '\n').count() + 1);
        }
        i = j;
    }
    lines
}

/// `(file, line, name)` for each HTTP type named in code under `dir`.
fn http_names_in(dir: &Path) -> Vec<(String, usize, &'static str)> {
    let mut files = Vec::new();
    if dir.is_dir() {
        collect_rs(dir, &mut files);
    }
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    for file in &files {
        let code = strip_comments_and_literals(&std::fs::read_to_string(file).expect("read"));
        for (n, line) in code.lines().enumerate() {
            for name in HTTP_NAMES {
                let hit = line.match_indices(name).any(|(at, _)| {
                    let before = line[..at].chars().next_back();
                    let after = line[at + name.len()..].chars().next();
                    !before.is_some_and(ident) && !after.is_some_and(ident)
                });
                if hit {
                    found.push((file.display().to_string(), n + 1, name));
                }
            }
        }
    }
    found
}

/// Reads every module under `src` (without `lib.rs`).
/// References to crate-root items (`crate::Hub`) are not edges.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    let module_of = |file: &Path| -> Option<String> {
        let relative = file.strip_prefix(src).ok()?;
        let first = relative.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "lib").then(|| name.to_owned())
    };
    let mut graph = Graph::new();
    for file in &files {
        if let Some(module) = module_of(file) {
            graph.entry(module).or_default();
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        let shown = file.strip_prefix(src).unwrap_or(file).display().to_string();
        for (name, line) in crate_references(&strip_comments_and_literals(&text)) {
            let site = format!("src/{shown}:{line}");
            if modules.contains(&name) && name != module {
                graph
                    .get_mut(&module)
                    .expect("every module has an entry")
                    .entry(name)
                    .or_default()
                    .push(site);
            }
        }
    }
    graph
}

#[test]
fn string_error_results_are_found() {
    let code = strip_comments_and_literals(
        r#"
fn a() -> Result<(), String> {}
fn b() -> Result<Vec<(u8, String)>, MyError> {}
fn c() -> std::result::Result<BTreeMap<String, String>, String> {}
fn d() -> io::Result<String> {}
// fn e() -> Result<(), String>
"#,
    );
    assert_eq!(string_error_results(&code), [2, 4]);
}

#[test]
fn http_names_are_found_in_code_only() {
    let dir = std::env::temp_dir().join(format!("hub-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("x.rs"),
        "// axum::Json\nuse axum::Json;\nlet s = \"ApiError\";\nfn f() -> MyApiError {}\n",
    )
    .unwrap();
    let found: Vec<(usize, &str)> = http_names_in(&dir)
        .into_iter()
        .map(|(_, line, name)| (line, name))
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, [(2, "axum")]);
}

/// "Process-group stopping lives in one place": only `crates/spawn/src/process.rs`
/// may signal a process group (`killpg`, or `kill` with a negative pid), so
/// the SIGINT→SIGTERM→SIGKILL sequence and its identity checks cannot be
/// bypassed by servers, managed services or the proxy.
#[test]
fn process_groups_are_signalled_in_one_place() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let allowed = crates.join("spawn/src/process.rs");
    let mut files = Vec::new();
    for dir in ["hub/src", "spawn/src", "cli/src"] {
        collect_rs(&crates.join(dir), &mut files);
    }
    assert!(
        files.contains(&allowed),
        "{} not found: is the scan broken?",
        allowed.display()
    );
    let mut found = Vec::new();
    for file in files.iter().filter(|f| **f != allowed) {
        let code = strip_comments_and_literals(&std::fs::read_to_string(file).expect("read"));
        for (n, line) in code.lines().enumerate() {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if squeezed.contains("killpg") || squeezed.contains("from_raw(-") {
                found.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "process groups signalled outside ferrohub_spawn's process::stop_group: {}",
        found.join(", ")
    );
}
