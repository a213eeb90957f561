//! `--auto-rewrite` and `--protocol-rewrite`: when a target redirects to
//! itself (`Location: http://127.0.0.1:8888/x`), the client should be sent
//! back through the proxy instead. Only `201`, `301`, `302`, `307` and `308`
//! responses whose `Location` names the target's own host and port are
//! touched, as in http-proxy (which CHP uses). URLs are handled with WHATWG
//! semantics (the `url` crate), like Node's `URL`.

use http::header::{self, HeaderValue};
use http::{HeaderMap, StatusCode};
use url::Url;

/// Which parts of a redirect location to rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationRewrite {
    /// Replace the host with the client's `Host` (`--auto-rewrite`).
    pub auto: bool,
    /// Replace the scheme (`--protocol-rewrite`).
    pub protocol: Option<String>,
}

impl LocationRewrite {
    /// Whether any rewriting is configured (the data path skips all work if not).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.auto || self.protocol.is_some()
    }

    /// Rewrites `Location` in a response from `target` to a client that sent
    /// `client_host` (its `Host` header or HTTP/2 authority).
    pub fn apply(
        &self,
        status: StatusCode,
        headers: &mut HeaderMap,
        target: &str,
        client_host: Option<&str>,
    ) {
        if !self.is_active() || !matches!(status.as_u16(), 201 | 301 | 302 | 307 | 308) {
            return;
        }
        let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
            return;
        };
        let (Some(mut url), Ok(target)) = (resolve(location), Url::parse(target)) else {
            return;
        };
        if host_and_port(&url) != host_and_port(&target) {
            return;
        }
        if self.auto {
            set_host(&mut url, client_host.unwrap_or_default());
        }
        if let Some(scheme) = &self.protocol {
            let _ = url.set_scheme(scheme);
        }
        if let Ok(value) = HeaderValue::from_str(url.as_str()) {
            headers.insert(header::LOCATION, value);
        }
    }
}

/// Parses a location as http-proxy does: relative ones against a placeholder
/// base, so they never match a target and stay untouched.
fn resolve(location: &str) -> Option<Url> {
    let base = Url::parse("http://base.invalid").ok()?;
    if location.starts_with("//") {
        return Url::parse(&format!("http://base.invalid{location}")).ok();
    }
    base.join(location).ok()
}

/// WHATWG `URL.host`: the host, plus `:port` unless it is the scheme's default.
fn host_and_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// WHATWG `URL.host = value`: a value without a port keeps the old port.
fn set_host(url: &mut Url, value: &str) {
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, port.parse::<u16>().ok())
        }
        _ => (value, None),
    };
    if url.set_host(Some(host)).is_ok()
        && let Some(port) = port
    {
        let _ = url.set_port(Some(port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(rewrite: &LocationRewrite, status: u16, location: &str, host: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, location.parse().unwrap());
        rewrite.apply(
            StatusCode::from_u16(status).unwrap(),
            &mut headers,
            "http://127.0.0.1:9000/base",
            Some(host),
        );
        headers[header::LOCATION].to_str().unwrap().to_owned()
    }

    #[test]
    fn redirects_to_the_target_come_back_through_the_proxy() {
        let both = LocationRewrite {
            auto: true,
            protocol: Some("https".into()),
        };
        assert_eq!(
            rewritten(
                &both,
                302,
                "http://127.0.0.1:9000/whatever?x=1",
                "127.0.0.1:8000"
            ),
            "https://127.0.0.1:8000/whatever?x=1"
        );
        let auto = LocationRewrite {
            auto: true,
            protocol: None,
        };
        assert_eq!(
            rewritten(&auto, 301, "http://127.0.0.1:9000/a", "hub.example:8000"),
            "http://hub.example:8000/a"
        );
        // A Host without a port keeps the location's port, as Node's URL does.
        assert_eq!(
            rewritten(&auto, 307, "http://127.0.0.1:9000/a", "hub.example"),
            "http://hub.example:9000/a"
        );
    }

    #[test]
    fn other_redirects_are_left_alone() {
        let auto = LocationRewrite {
            auto: true,
            protocol: Some("https".into()),
        };
        let external = "http://example.org/x";
        assert_eq!(rewritten(&auto, 302, external, "h:1"), external);
        assert_eq!(rewritten(&auto, 302, "/relative", "h:1"), "/relative");
        assert_eq!(
            rewritten(&auto, 303, "http://127.0.0.1:9000/a", "h:1"),
            "http://127.0.0.1:9000/a"
        );
        assert_eq!(
            rewritten(
                &LocationRewrite::default(),
                302,
                "http://127.0.0.1:9000/a",
                "h:1"
            ),
            "http://127.0.0.1:9000/a"
        );
    }
}
