//! Listen URLs (`JupyterHub.bind_url`, `hub_bind_url`, the proxy's `api_url`) split
//! into the parts a server binds to. Hand-written rather than the `url` crate,
//! because upstream's default `http://:8000` has an empty host (all interfaces),
//! which a WHATWG URL parser rejects for http.

use crate::Config;

/// A parsed `http(s)://host:port/path` listen URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindUrl {
    /// `http` or `https` (lowercased).
    pub scheme: String,
    /// Host or IP address to listen on, IPv6 without brackets (`::1`); empty means
    /// all interfaces, as upstream's `http://:8000`.
    pub host: String,
    /// Port; 80 or 443 when the URL has none.
    pub port: u16,
    /// The path, starting and ending with `/` (`/jh` becomes `/jh/`; none is `/`).
    pub base_url: String,
}

/// A listen URL that [`BindUrl::parse`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} is not a valid http(s) URL: {reason}")]
pub struct InvalidUrl {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl BindUrl {
    /// Parses `http(s)://[host][:port][/path]`; an empty host is allowed.
    pub fn parse(url: &str) -> Result<Self, InvalidUrl> {
        let invalid = |reason| InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host:port/path"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(invalid("only http and https are supported")),
        };
        if rest.contains(['?', '#']) {
            return Err(invalid("a listen URL cannot have a query or fragment"));
        }
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let (host, port) = split_host_port(authority).ok_or_else(|| invalid("bad host"))?;
        let port = match port {
            None => default_port,
            Some(port) => port.parse().map_err(|_| invalid("bad port"))?,
        };
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
            base_url: normalize_base_url(path),
        })
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `:port`; `None` if the host has
/// characters no host name or IP address has.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        if !host.contains(':')
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ".:".contains(c))
        {
            return None;
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        let (host, port) = authority
            .split_once(':')
            .map_or((authority, None), |(h, p)| (h, Some(p)));
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        {
            return None;
        }
        (host, port)
    };
    Some((host, port))
}

/// `/jh` → `/jh/`, `` → `/`, `jh` → `/jh/`.
fn normalize_base_url(path: &str) -> String {
    let path = path.trim_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{path}/")
    }
}

impl Config {
    /// Public base URL path (`/` or e.g. `/jh/`): the path of `JupyterHub.bind_url`.
    /// Fails only for a hand-built config; [`crate::load`] has checked the URL.
    pub fn base_url(&self) -> Result<String, InvalidUrl> {
        Ok(BindUrl::parse(&self.jupyterhub.bind_url)?.base_url)
    }

    /// Where the hub listens: `JupyterHub.hub_bind_url` if set, else
    /// `http://{hub_ip}:{hub_port}`; the path is always `{base_url}hub/`, as upstream.
    pub fn hub_bind(&self) -> Result<BindUrl, InvalidUrl> {
        let hub = &self.jupyterhub;
        let mut bind = if hub.hub_bind_url.is_empty() {
            BindUrl {
                scheme: "http".to_owned(),
                host: hub.hub_ip.clone(),
                port: hub.hub_port,
                base_url: String::new(),
            }
        } else {
            BindUrl::parse(&hub.hub_bind_url)?
        };
        bind.base_url = format!("{}hub/", self.base_url()?);
        Ok(bind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> BindUrl {
        BindUrl::parse(url).unwrap()
    }

    fn reason(url: &str) -> &'static str {
        BindUrl::parse(url).unwrap_err().reason
    }

    #[test]
    fn upstream_default_means_all_interfaces_on_8000_at_root() {
        let bind = parse("http://:8000");
        assert_eq!(bind.scheme, "http");
        assert_eq!(bind.host, "");
        assert_eq!(bind.port, 8000);
        assert_eq!(bind.base_url, "/");
    }

    #[test]
    fn base_path_is_normalized_to_start_and_end_with_slash() {
        assert_eq!(parse("http://:8000/jh").base_url, "/jh/");
        assert_eq!(parse("http://:8000/jh/").base_url, "/jh/");
        assert_eq!(parse("http://:8000/a/b").base_url, "/a/b/");
        assert_eq!(parse("http://:8000/").base_url, "/");
    }

    #[test]
    fn host_port_and_scheme_defaults() {
        let bind = parse("HTTPS://hub.example.org");
        assert_eq!(
            (bind.scheme.as_str(), bind.host.as_str(), bind.port),
            ("https", "hub.example.org", 443)
        );
        assert_eq!(parse("http://10.0.0.1").port, 80);
        assert_eq!(parse("http://0.0.0.0:9000/x").host, "0.0.0.0");
    }

    #[test]
    fn ipv6_host_is_kept_without_brackets() {
        let bind = parse("http://[::1]:8081/hub/");
        assert_eq!((bind.host.as_str(), bind.port), ("::1", 8081));
        assert_eq!(parse("http://[::]").port, 80);
    }

    #[test]
    fn refuses_what_cannot_be_bound() {
        assert_eq!(reason("ftp://:21"), "only http and https are supported");
        assert_eq!(reason("localhost:8000"), "expected scheme://host:port/path");
        assert_eq!(reason("http://:80000"), "bad port");
        assert_eq!(reason("http://:port"), "bad port");
        assert_eq!(reason("http://host:"), "bad port");
        assert_eq!(reason("http://user@host:80"), "bad host");
        assert_eq!(reason("http://[::1"), "bad host");
        assert_eq!(
            reason("http://:8000/?a=b"),
            "a listen URL cannot have a query or fragment"
        );
        assert_eq!(
            BindUrl::parse("ftp://:21").unwrap_err().to_string(),
            "\"ftp://:21\" is not a valid http(s) URL: only http and https are supported"
        );
    }

    #[test]
    fn config_base_url_and_hub_bind_follow_upstream() {
        let mut config = Config::default();
        assert_eq!(config.base_url().unwrap(), "/");
        let hub = config.hub_bind().unwrap();
        assert_eq!(
            (hub.host.as_str(), hub.port, hub.base_url.as_str()),
            ("127.0.0.1", 8081, "/hub/")
        );

        config.jupyterhub.bind_url = "http://:8000/jh".into();
        config.jupyterhub.hub_port = 9081;
        assert_eq!(config.base_url().unwrap(), "/jh/");
        assert_eq!(config.hub_bind().unwrap().base_url, "/jh/hub/");
        assert_eq!(config.hub_bind().unwrap().port, 9081);

        config.jupyterhub.hub_bind_url = "http://0.0.0.0:7000/ignored".into();
        let hub = config.hub_bind().unwrap();
        assert_eq!(
            (hub.host.as_str(), hub.port, hub.base_url.as_str()),
            ("0.0.0.0", 7000, "/jh/hub/")
        );
    }
}
