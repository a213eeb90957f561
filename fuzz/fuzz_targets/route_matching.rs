//! Route keys, request paths and upstream URLs against a reference model.
//!
//! The input is text, one operation per line (seeds stay readable):
//!
//! - `+KEY` inserts a route, `-KEY` removes one, `=KEY` gets one by key;
//! - `?PATH` resolves dot segments in a raw request path, decodes it and
//!   looks it up, as the data path does;
//! - `>FLAGS TARGET PREFIX REQUEST` rewrites a request URL for a target
//!   (`FLAGS`: two of `0`/`1`, prepend-path then include-prefix);
//! - `<STATUS LOCATION TARGET HOST` rewrites a redirect's `Location`;
//! - any other line is looked up as a path too.
//!
//! Every argument is also fed to `decode_path` and `normalize_key`.
#![no_main]

use std::sync::OnceLock;

use ferrohub_proxy::forward::{decode_path, resolve_dot_segments};
use ferrohub_proxy::location::LocationRewrite;
use ferrohub_proxy::rewrite::{Rewrite, parse_target};
use ferrohub_proxy::routes::{RouteTable, normalize_key};
use ferrohub_proxy_fuzz::{Model, decode_strict, normalize};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use libfuzzer_sys::fuzz_target;
use serde_json::Map;

/// Bounds the work per input (the table is rebuilt for every input).
const MAX_OPS: usize = 256;

/// Reused: a table has 1024 shards, too many to build per input. Each input
/// leaves it empty again (checked at the end).
static TABLE: OnceLock<RouteTable> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let table = TABLE.get_or_init(RouteTable::default);
    // The model stores the target each insert used, to tell replaced routes apart.
    let mut model: Model<String> = Model::default();
    for (n, line) in text.split('\n').take(MAX_OPS).enumerate() {
        let (op, arg) = match line.chars().next() {
            Some(c @ ('+' | '-' | '=' | '?' | '>' | '<')) => (c, &line[1..]),
            _ => ('?', line),
        };
        check_strings(arg);
        match op {
            '+' => {
                let target = format!("http://t{n}");
                let route = table.insert(arg, &target, Map::new());
                assert_eq!(route.path(), normalize(arg));
                model.insert(arg, target);
                check_get(table, &model, arg);
            }
            '-' => {
                assert_eq!(table.remove(arg), model.remove(arg), "remove {arg:?}");
                check_get(table, &model, arg);
            }
            '=' => check_get(table, &model, arg),
            '?' => {
                check_lookup(table, &model, arg);
                if let Some(decoded) = decode_path(arg) {
                    check_lookup(table, &model, &decoded);
                }
                // As the data path does: resolve dot segments, decode, match.
                if let Some(resolved) = check_dot_segments(arg)
                    && let Some(decoded) = decode_path(&resolved)
                {
                    check_lookup(table, &model, &decoded);
                }
            }
            '>' => check_rewrite(arg),
            _ => check_location(arg),
        }
    }
    check_table(table, &model);
    for route in &model.routes {
        assert!(table.remove(&format!("{}/", route.key)));
    }
    assert!(table.is_empty(), "routes the model does not know");
});

/// `decode_path` is strict percent-decoding; `normalize_key` is CHP's rule,
/// a fixed point once the key does not end in `/`, and keeps the key
/// reachable: `K + "/"` normalises back to `K` for every stored key `K`.
fn check_strings(s: &str) {
    assert_eq!(decode_path(s).as_deref(), decode_strict(s).as_deref(), "decode_path({s:?})");
    let key = normalize_key(s);
    assert_eq!(key, normalize(s), "normalize_key({s:?})");
    assert!(key.starts_with('/'));
    if key == "/" || !key.ends_with('/') {
        assert_eq!(normalize_key(&key), key, "idempotent on {key:?}");
    }
    assert_eq!(normalize_key(&format!("{key}/")), key);
}

fn check_get(table: &RouteTable, model: &Model<String>, key: &str) {
    let got = table
        .get(key)
        .map(|r| (r.path().to_owned(), r.target().to_owned()));
    let want = model.get(key).map(|r| (r.key.clone(), r.value.clone()));
    assert_eq!(got, want, "get {key:?}");
}

fn check_lookup(table: &RouteTable, model: &Model<String>, path: &str) {
    let got = table
        .lookup(path)
        .map(|r| (r.path().to_owned(), r.target().to_owned()));
    let want = model.lookup(path).map(|r| (r.key.clone(), r.value.clone()));
    assert_eq!(got, want, "lookup {path:?}");
}

fn check_table(table: &RouteTable, model: &Model<String>) {
    let keys: Vec<String> = table.all().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(keys, model.keys());
    for route in &model.routes {
        let stored = table
            .get(&format!("{}/", route.key))
            .expect("key reachable");
        assert_eq!(stored.target(), route.value);
    }
}

/// `resolve_dot_segments` never panics, leaves no `.`/`..` segment (also
/// as `%2e`) and no `\`, keeps the query, is idempotent, and leaves paths
/// without dot segments alone. Returns the resolved path.
fn check_dot_segments(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let mut req = Request::new(());
    *req.uri_mut() = uri.clone();
    resolve_dot_segments(&mut req);
    let resolved = req.uri().clone();
    let dotted = |path: &str| {
        path.contains('\\')
            || path.split('/').any(|segment| {
                let segment = segment.to_ascii_lowercase().replace("%2e", ".");
                segment == "." || segment == ".."
            })
    };
    if !dotted(uri.path()) {
        assert_eq!(resolved, uri, "nothing to resolve in {url:?}");
    } else if uri.path().starts_with('/') {
        assert!(!dotted(resolved.path()), "{url:?} resolved to {resolved}");
        assert!(resolved.path().starts_with('/'), "{url:?} → {resolved}");
        assert_eq!(resolved.query(), uri.query(), "{url:?} → {resolved}");
        resolve_dot_segments(&mut req);
        assert_eq!(req.uri(), &resolved, "resolving {url:?} twice");
    }
    Some(resolved.path().to_owned())
}

/// `upstream_uri` never panics; when it succeeds the URL keeps the target's
/// scheme and authority and, with prepend-path, starts with the target's path
/// (exactly one `/` at the seam, spec §4.3).
fn check_rewrite(arg: &str) {
    let mut parts = arg.splitn(4, ' ');
    let (flags, target, prefix, request) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let rewrite = Rewrite {
        prepend_path: !flags.starts_with('0'),
        include_prefix: flags.as_bytes().get(1) != Some(&b'0'),
    };
    let Ok(request) = request.parse::<Uri>() else {
        return;
    };
    let result = rewrite.upstream_uri(target, prefix, &request);
    let (Ok(uri), Ok(target)) = (result, parse_target(target)) else {
        return;
    };
    assert_eq!(uri.scheme(), target.scheme(), "{uri} for {target}");
    assert_eq!(uri.authority(), target.authority(), "{uri} for {target}");
    if rewrite.prepend_path {
        let base = target.path().trim_end_matches('/');
        let rest = uri.path().strip_prefix(base);
        assert!(
            // Nothing left of the request path (authority form, or exactly
            // the prefix under --no-include-prefix) leaves the target's path.
            rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            "{uri} does not start with the path of {target} (request {request:?}, prefix {prefix:?}, {rewrite:?})"
        );
    }
    if !rewrite.prepend_path && rewrite.include_prefix && request.path().starts_with('/') {
        assert_eq!(uri.path(), request.path(), "path forwarded as sent");
    }
}

/// Redirect rewriting never panics and leaves a valid header behind.
fn check_location(arg: &str) {
    let mut parts = arg.splitn(4, ' ');
    let (status, location, target, host) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next(),
    );
    let Ok(status) = StatusCode::from_bytes(status.as_bytes()) else {
        return;
    };
    let Ok(value) = HeaderValue::from_str(location) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::LOCATION, value);
    for (auto, protocol) in [(true, None), (false, Some("https")), (true, Some("ws"))] {
        let rewrite = LocationRewrite {
            auto,
            protocol: protocol.map(str::to_owned),
        };
        rewrite.apply(status, &mut headers, target, host);
        assert!(headers.contains_key(header::LOCATION));
    }
}
