//! The source scanner behind the module-layer tests of the proxy and the
//! hub (`tests/module_layers.rs` in each crate, which include this file):
//! reads a crate's sources as code only (no comments or string literals),
//! finds its `crate::` references between top-level modules, and finds
//! cycles and reach in the resulting graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where a reference was found, for the failure message.
pub(crate) type Site = String;

/// module → (module it references → where).
pub(crate) type Graph = BTreeMap<String, BTreeMap<String, Vec<Site>>>;

pub(crate) fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
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
pub(crate) fn strip_comments_and_literals(source: &str) -> String {
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
pub(crate) fn crate_references(code: &str) -> Vec<(String, usize)> {
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
pub(crate) fn reachable(graph: &Graph, start: &str) -> BTreeSet<String> {
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
pub(crate) fn cycles(graph: &Graph) -> Vec<Vec<String>> {
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
pub(crate) fn describe_layers(graph: &Graph) -> String {
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
