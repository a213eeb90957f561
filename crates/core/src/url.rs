//! URL pieces: quoting names into paths and deciding which `next` targets are safe.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Python's `quote(s, safe='@~')`: everything but `A-Za-z0-9_.-~@` is escaped.
const NAME_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'@');

/// Quotes a user or server name for a URL path or a cookie name, as upstream does.
#[must_use]
pub fn quote_name(name: &str) -> String {
    utf8_percent_encode(name, NAME_SAFE).to_string()
}

/// Quotes a whole query-string value (`/` escaped too).
#[must_use]
pub fn quote_query(value: &str) -> String {
    utf8_percent_encode(value, NAME_SAFE).to_string()
}

/// Returns `next` if it is a safe local redirect target under `base_url`, else `None`.
///
/// Only absolute paths on this host are accepted: no scheme, no `//host`,
/// no backslashes (browsers treat `/\host` like `//host`), no control characters.
#[must_use]
pub fn safe_next_url(next: &str, base_url: &str) -> Option<String> {
    if next.is_empty()
        || !next.starts_with('/')
        || next.starts_with("//")
        || next.contains('\\')
        || next.chars().any(char::is_control)
    {
        return None;
    }
    if !next.starts_with(base_url) && next.trim_end_matches('/') != base_url.trim_end_matches('/') {
        return None;
    }
    Some(next.to_owned())
}

/// Where this hub is reached, for reading absolute `next` URLs as upstream's
/// `_validate_next_url` does.
#[derive(Debug, Clone, Copy)]
pub struct OwnHost<'a> {
    /// The browser's scheme, `http` or `https`.
    pub scheme: &'a str,
    /// The hub's host as the browser names it (`host[:port]`).
    pub host: &'a str,
    /// Under `subdomain_host`, its `host[:port]`: any subdomain of it is ours too.
    pub domain: Option<&'a str>,
}

/// An absolute `next` on this hub's own host (`<scheme>://<host>/...` or
/// `//<host>/...`), or on a subdomain of `subdomain_host`, reduced to its
/// path, query and fragment, as upstream does; anything else unchanged (an
/// absolute URL elsewhere is then refused by [`safe_next_url`]). Lets a
/// link built with the hub's full URL (`public_url`, or a server on its own
/// subdomain) be a login's `next`.
#[must_use]
pub fn own_host_to_path(next: &str, own: OwnHost<'_>) -> String {
    // Browsers read `///host` as `//host`.
    let next = if next.starts_with("///") {
        format!("//{}", next.trim_start_matches('/'))
    } else {
        next.to_owned()
    };
    let after_scheme = next.strip_prefix("//").or_else(|| {
        let (scheme, rest) = next.split_once("://")?;
        let is_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        is_scheme.then_some(rest)
    });
    let Some(after_scheme) = after_scheme else {
        return next;
    };
    let netloc_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (netloc, rest) = after_scheme.split_at(netloc_end);
    let with_slash = format!("{next}/");
    let ours = with_slash.starts_with(&format!("{}://{}/", own.scheme, own.host))
        || with_slash.starts_with(&format!("//{}/", own.host))
        || own.domain.is_some_and(|domain| {
            !netloc.is_empty() && format!(".{netloc}").ends_with(&format!(".{domain}"))
        });
    if !ours {
        return next;
    }
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, tail) = rest.split_at(path_end);
    format!("/{}{tail}", path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_python() {
        assert_eq!(quote_name("alice"), "alice");
        assert_eq!(quote_name("a b/c@d~e"), "a%20b%2Fc@d~e");
        assert_eq!(quote_name("ü"), "%C3%BC");
    }

    #[test]
    fn refuses_open_redirects() {
        for bad in [
            "http://evil.example/",
            "https://evil.example/x",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/hub/\nLocation: x",
            "",
            "evil.example",
        ] {
            assert_eq!(safe_next_url(bad, "/"), None, "{bad:?}");
        }
    }

    #[test]
    fn keeps_local_paths_under_base() {
        assert_eq!(
            safe_next_url("/user/alice/lab", "/").as_deref(),
            Some("/user/alice/lab")
        );
        assert_eq!(
            safe_next_url("/jh/hub/home", "/jh/").as_deref(),
            Some("/jh/hub/home")
        );
        assert_eq!(safe_next_url("/other/x", "/jh/"), None);
    }

    #[test]
    fn absolute_urls_on_our_own_host_become_paths() {
        let own = OwnHost {
            scheme: "https",
            host: "hub.example.org",
            domain: None,
        };
        for (given, want) in [
            ("https://hub.example.org/hub/home", "/hub/home"),
            ("https://hub.example.org", "/"),
            ("//hub.example.org/user/a/?x=1#f", "/user/a/?x=1#f"),
            ("///hub.example.org//user/a", "/user/a"),
            ("/hub/home", "/hub/home"),
            // Another host, scheme or port stays absolute (and is refused later).
            (
                "https://evil.example/hub/home",
                "https://evil.example/hub/home",
            ),
            ("http://hub.example.org/hub/", "http://hub.example.org/hub/"),
            (
                "https://hub.example.org:444/x",
                "https://hub.example.org:444/x",
            ),
            (
                "https://hub.example.org.evil.example/x",
                "https://hub.example.org.evil.example/x",
            ),
            (
                "https://hub.example.org@evil.example/x",
                "https://hub.example.org@evil.example/x",
            ),
            ("///evil.example", "//evil.example"),
        ] {
            assert_eq!(own_host_to_path(given, own), want, "{given}");
        }
        for refused in [
            "https://evil.example/hub/home",
            "http://hub.example.org/hub/",
            "https://hub.example.org@evil.example/x",
            "///evil.example",
        ] {
            assert_eq!(
                safe_next_url(&own_host_to_path(refused, own), "/"),
                None,
                "{refused}"
            );
        }
    }

    #[test]
    fn under_subdomain_host_every_subdomain_is_ours() {
        let own = OwnHost {
            scheme: "http",
            host: "hub.test:8000",
            domain: Some("hub.test:8000"),
        };
        for (given, want) in [
            (
                "http://alice.hub.test:8000/user/alice/lab",
                "/user/alice/lab",
            ),
            ("https://bob.hub.test:8000/user/bob/?a=b", "/user/bob/?a=b"),
            ("http://hub.test:8000/hub/home", "/hub/home"),
            ("http://evilhub.test:8000/x", "http://evilhub.test:8000/x"),
            ("http://alice.hub.test/x", "http://alice.hub.test/x"),
        ] {
            assert_eq!(own_host_to_path(given, own), want, "{given}");
        }
    }
}
