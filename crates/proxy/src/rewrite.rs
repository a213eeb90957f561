//! The URL a request is forwarded to: the route's target, joined with the
//! request path (optionally without the route prefix, optionally without the
//! target's own path), query strings kept. The path is forwarded as the
//! client sent it: never re-encoded or normalised.

use http::Uri;

// Kept under their old path for callers outside the crate (the fuzz
// targets); they are defined with the rest of the target parsing.
pub use crate::target::{TargetError, parse_target};

/// The `--no-prepend-path` / `--no-include-prefix` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    /// Join the target's path (and query) in front of the request path.
    pub prepend_path: bool,
    /// Keep the matched route prefix in the forwarded path.
    pub include_prefix: bool,
}

impl Rewrite {
    /// The absolute upstream URL for `request` matched by route `prefix` → `target`.
    pub fn upstream_uri(
        &self,
        target: &str,
        prefix: &str,
        request: &Uri,
    ) -> Result<Uri, TargetError> {
        self.upstream_uri_for(&parse_target(target)?, prefix, request)
    }

    /// [`Rewrite::upstream_uri`] for a target parsed already (routes keep
    /// theirs parsed, so the data path does not parse it per request).
    pub fn upstream_uri_for(
        &self,
        target: &Uri,
        prefix: &str,
        request: &Uri,
    ) -> Result<Uri, TargetError> {
        let mut path = if self.include_prefix {
            request.path().to_owned()
        } else {
            strip_prefix_segments(request.path(), prefix)
        };
        let mut queries: [Option<&str>; 2] = [None, request.query()];
        if self.prepend_path {
            path = join_paths(target.path(), &path);
            queries[0] = target.query().filter(|q| !q.is_empty());
        } else if path.is_empty() {
            path.push('/');
        }
        let mut separator = '?';
        for query in queries.into_iter().flatten() {
            path.push(separator);
            path.push_str(query);
            separator = '&';
        }
        let (Some(scheme), Some(authority)) = (target.scheme(), target.authority()) else {
            return Err(TargetError::NotAbsolute(target.to_string()));
        };
        Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| TargetError::Invalid(e.to_string()))
    }
}

/// Joins two paths with exactly one `/` at the seam (`/base/` + `/x` → `/base/x`).
/// An empty `path` (the request was exactly the stripped prefix) adds
/// nothing: `/t` + `` → `/t`, as http-proxy's `urlJoin`.
fn join_paths(base: &str, path: &str) -> String {
    if path.is_empty() {
        return if base.is_empty() {
            "/".to_owned()
        } else {
            base.to_owned()
        };
    }
    let base = base.trim_end_matches('/');
    let rest = path.strip_prefix('/').unwrap_or(path);
    format!("{base}/{rest}")
}

/// Removes the route's segments from the front of the raw request path
/// (`--no-include-prefix`). CHP slices the raw URL by the length of the decoded
/// key, which breaks for percent-encoded prefixes; counting segments does not.
fn strip_prefix_segments(path: &str, prefix: &str) -> String {
    let count = prefix
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    let mut rest = path.trim_start_matches('/');
    let mut slash_after = true;
    for _ in 0..count {
        (rest, slash_after) = rest
            .split_once('/')
            .map_or(("", false), |(_, tail)| (tail, true));
    }
    // Exactly the prefix (`/user/a`, no slash after it) leaves nothing, as
    // CHP's slicing does; `/user/a/` leaves `/`.
    if rest.is_empty() && !slash_after {
        String::new()
    } else {
        format!("/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(
        prepend_path: bool,
        include_prefix: bool,
        target: &str,
        prefix: &str,
        url: &str,
    ) -> String {
        let rewrite = Rewrite {
            prepend_path,
            include_prefix,
        };
        rewrite
            .upstream_uri(target, prefix, &url.parse().unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn chp_rewrite_table() {
        let (t, p, u) = ("http://b:1/t", "/user/a", "/user/a/x?y=1");
        assert_eq!(forwarded(true, true, t, p, u), "http://b:1/t/user/a/x?y=1");
        assert_eq!(forwarded(true, false, t, p, u), "http://b:1/t/x?y=1");
        assert_eq!(forwarded(false, true, t, p, u), "http://b:1/user/a/x?y=1");
        assert_eq!(forwarded(false, false, t, p, u), "http://b:1/x?y=1");
    }

    #[test]
    fn seams_and_queries() {
        assert_eq!(
            forwarded(true, true, "http://b/base/", "/pre", "/pre/x"),
            "http://b/base/pre/x"
        );
        assert_eq!(
            forwarded(true, true, "http://b:8888", "/", "/"),
            "http://b:8888/"
        );
        assert_eq!(
            forwarded(true, true, "http://b/foo?t=1", "/bar", "/bar?query=foo"),
            "http://b/foo/bar?t=1&query=foo"
        );
        assert_eq!(
            forwarded(true, false, "http://b", "/user/a", "/user/a"),
            "http://b/"
        );
        // Exactly the prefix adds nothing to the target's path (CHP).
        assert_eq!(
            forwarded(true, false, "http://b/t", "/user/a", "/user/a?y=1"),
            "http://b/t?y=1"
        );
        assert_eq!(
            forwarded(true, false, "http://b/t", "/user/a", "/user/a/"),
            "http://b/t/"
        );
        assert_eq!(
            forwarded(true, false, "http://b/t?k=v", "/q", "/q"),
            "http://b/t?k=v"
        );
        assert_eq!(
            forwarded(false, false, "http://b/t", "/user/a", "/user/a?y=1"),
            "http://b/?y=1"
        );
    }

    #[test]
    fn path_is_forwarded_as_sent() {
        assert_eq!(
            forwarded(
                true,
                true,
                "http://b/foo",
                "/b@r/b r",
                "/b%40r/b%20r/rest/of/it"
            ),
            "http://b/foo/b%40r/b%20r/rest/of/it"
        );
    }

    #[test]
    fn scheme_of_the_target_is_kept() {
        assert_eq!(
            forwarded(true, true, "https://hub:8081/base", "/", "/x?y=1"),
            "https://hub:8081/base/x?y=1"
        );
        let unix = forwarded(true, true, "http+unix://%2Ftmp%2Fs/base", "/", "/x");
        assert!(
            unix.starts_with("unix+http://") && unix.ends_with("/base/x"),
            "{unix}"
        );
    }
}
