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
}
