//! Request paths as the data path and the REST API read them: strict
//! percent-decoding (a route key is a decoded path), dot segments resolved
//! as CHP's URL parser does, and the forms used in log lines. Both the data
//! path and the API depend on this module, never on each other.

use std::borrow::Cow;

use http::{Request, Uri};

/// Resolves `.` and `..` path segments (also written `%2e`, and `\` as a
/// separator) the way a WHATWG URL parser does, as CHP does before it both
/// matches and forwards: `/user/a/../b/x` is routed and forwarded as
/// `/user/b/x`, so a route never receives a path outside its prefix.
/// Unlike CHP, a path starting with `//` is not taken for a host name.
pub fn resolve_dot_segments<B>(req: &mut Request<B>) {
    let path = req.uri().path();
    if !needs_resolving(path) {
        return;
    }
    let Ok(parsed) = url::Url::parse(&format!("http://base.invalid{path}")) else {
        return;
    };
    let mut resolved = parsed.path().to_owned();
    if let Some(query) = req.uri().query() {
        resolved.push('?');
        resolved.push_str(query);
    }
    let mut parts = req.uri().clone().into_parts();
    let Ok(path_and_query) = resolved.parse() else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// Whether a path has a dot segment or a backslash (cheap check first).
fn needs_resolving(path: &str) -> bool {
    if !path.contains('.') && !path.contains('%') && !path.contains('\\') {
        return false;
    }
    path.contains('\\')
        || path.split('/').any(|segment| {
            let segment = segment.to_ascii_lowercase();
            let segment = segment.replace("%2e", ".");
            segment == "." || segment == ".."
        })
}

/// The request URL as the client sent it (path and query).
pub(crate) fn request_target(uri: &Uri) -> &str {
    uri.path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
}

/// A URL without its query, for log lines (queries may carry tokens).
pub(crate) fn log_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

/// Percent-decodes a request path strictly, like JavaScript's
/// `decodeURIComponent`: a stray `%` or invalid UTF-8 is refused (→ 500).
#[must_use]
pub fn decode_path(path: &str) -> Option<Cow<'_, str>> {
    let bytes = path.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_path_decoding() {
        assert_eq!(
            decode_path("/user/foo%40bar/x").as_deref(),
            Some("/user/foo@bar/x")
        );
        assert_eq!(decode_path("/a%2Fb").as_deref(), Some("/a/b"));
        assert_eq!(decode_path("/%"), None);
        assert_eq!(decode_path("/%4"), None);
        assert_eq!(decode_path("/%zz"), None);
        assert_eq!(decode_path("/%ff"), None);
    }

    #[test]
    fn dot_segments_resolve_like_a_url_parser() {
        let resolved = |path: &str| {
            let mut req = Request::get(path).body(()).unwrap();
            resolve_dot_segments(&mut req);
            req.uri().to_string()
        };
        assert_eq!(resolved("/a/b/../x?q=1"), "/a/x?q=1");
        assert_eq!(resolved("/x/../a/b"), "/a/b");
        assert_eq!(resolved("/a/./b/x"), "/a/b/x");
        assert_eq!(resolved("/a/%2e%2E/b"), "/b");
        assert_eq!(resolved("/a/.%2e/b"), "/b");
        assert_eq!(resolved("/../../etc"), "/etc");
        assert_eq!(resolved("/user/a/.."), "/user/");
        // Untouched: no dot segments (dots inside names are fine).
        assert_eq!(resolved("/user/a.b/..c/x.ipynb"), "/user/a.b/..c/x.ipynb");
        assert_eq!(resolved("/b%40r/b%20r/x"), "/b%40r/b%20r/x");
        assert_eq!(resolved("//a/b"), "//a/b");
    }

    #[test]
    fn log_urls_drop_queries() {
        assert_eq!(log_url("/a/b?token=secret"), "/a/b");
        assert_eq!(log_url("/a"), "/a");
    }
}
