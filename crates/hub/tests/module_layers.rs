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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where a reference was found, for the failure message.
type Site = String;

/// module → (module it references → where).
type Graph = BTreeMap<String, BTreeMap<String, Vec<Site>>>;

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

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the source directory")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments and the contents of string and char literals
/// blanked out (newlines kept, so line numbers stay right).
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_ident = i > 0 && ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (!after_ident || (i == 1 || !ident(chars[i - 2])) && chars[i - 1] == 'b')
            && matches!(next, Some('"' | '#'))
        {
            // A raw string r"…", r#"…"# (or br…): ends at `"` and as many `#`.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('r');
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&other) => out.push(blank(other)),
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&escaped) = chars.get(i) {
                    out.push(blank(escaped));
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            // Code, or a lifetime ('a), which is code too.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The first path segment after each `crate::` (one per item of a
/// `crate::{a, b::c}` group), with its line number.
fn crate_references(code: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let line_at = |i: usize| chars[..i].iter().filter(|&&c| c == '\n').count() + 1;
    let read_ident = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let start = i;
        while chars.get(i).is_some_and(|&c| ident(c)) {
            i += 1;
        }
        (chars[start..i].iter().collect::<String>(), i)
    };
    let needle: Vec<char> = "crate".chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        let is_keyword = chars[i..i + needle.len()] == needle[..]
            && (i == 0 || !(ident(chars[i - 1]) || chars[i - 1] == '$'))
            && !chars.get(i + needle.len()).is_some_and(|&c| ident(c));
        if !is_keyword {
            i += 1;
            continue;
        }
        let mut j = i + needle.len();
        while chars.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        if chars.get(j) != Some(&':') || chars.get(j + 1) != Some(&':') {
            i = j; // `pub(crate)`, `crate` alone
            continue;
        }
        j += 2;
        while chars.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        if chars.get(j) == Some(&'{') {
            // `crate::{a, b::{c, d}, e}`: the first segment of each item at depth 1.
            let mut depth = 0;
            let mut item_start = true;
            while j < chars.len() {
                match chars[j] {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                        j += 1;
                    }
                    '}' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' => {
                        item_start = depth == 1;
                        j += 1;
                    }
                    c if item_start && ident(c) => {
                        let (name, end) = read_ident(j);
                        found.push((name, line_at(j)));
                        item_start = false;
                        j = end;
                    }
                    _ => j += 1,
                }
            }
        } else {
            let (name, end) = read_ident(j);
            if !name.is_empty() {
                found.push((name, line_at(j)));
            }
            j = end;
        }
        i = j;
    }
    found
}

/// The modules `start` reaches (itself included).
fn reachable(graph: &Graph, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_owned()];
    while let Some(module) = stack.pop() {
        if seen.insert(module.clone())
            && let Some(edges) = graph.get(&module)
        {
            stack.extend(edges.keys().cloned());
        }
    }
    seen
}

/// The groups of modules that reach each other (strongly connected
/// components of more than one module).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reachable(graph, m))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for module in graph.keys() {
        if done.contains(module) {
            continue;
        }
        let group: Vec<String> = graph
            .keys()
            .filter(|other| reach[module].contains(*other) && reach[other].contains(module))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        if group.len() > 1 {
            found.push(group);
        }
    }
    found
}

/// Layer n = modules whose dependencies all lie in layers below n (modules
/// on a cycle get no layer and are listed last).
fn describe_layers(graph: &Graph) -> String {
    let mut placed: BTreeMap<String, usize> = BTreeMap::new();
    let mut layers: Vec<Vec<String>> = Vec::new();
    loop {
        let layer: Vec<String> = graph
            .iter()
            .filter(|(m, edges)| {
                !placed.contains_key(*m) && edges.keys().all(|to| placed.contains_key(to))
            })
            .map(|(m, _)| m.clone())
            .collect();
        if layer.is_empty() {
            break;
        }
        for m in &layer {
            placed.insert(m.clone(), layers.len());
        }
        layers.push(layer);
    }
    let mut text: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(n, layer)| format!("  {n}: {}", layer.join(", ")))
        .collect();
    let stuck: Vec<&String> = graph.keys().filter(|m| !placed.contains_key(*m)).collect();
    if !stuck.is_empty() {
        text.push(format!(
            "  (on or above a cycle): {}",
            stuck
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text.join("\n")
}

#[test]
fn the_scanner_reads_code_only() {
    let code = strip_comments_and_literals(
        r##"
use crate::{alpha::A, beta::{self, B}, gamma};
pub(crate) fn f<'a>(x: &'a str) -> char {
    // crate::commented
    /* crate::block /* nested crate::inner */ */
    /// [`crate::doc_link`]
    let _ = "crate::in_a_string \" crate::escaped";
    let _ = r#"crate::raw "# ;
    let _ = '"'; let _ = '\''; let _ = crate::delta::f();
    $crate::macro_path; notcrate::x;
    crate :: epsilon ::g()
}
"##,
    );
    let names: Vec<String> = crate_references(&code)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma", "delta", "epsilon"]);
}

#[test]
fn cycles_and_reach_are_found() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "d")] {
        graph
            .entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default();
        graph.entry(to.into()).or_default();
    }
    assert_eq!(cycles(&graph), [["a", "b", "c"]]);
    assert!(reachable(&graph, "e").contains("d"));
    assert!(!reachable(&graph, "d").contains("e"));
    assert!(describe_layers(&graph).contains("0: d\n  1: e"));
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
