//! The hub's URL layout, computed once from the configuration.

use ferrohub_config::{BindUrl, Config};
use ferrohub_core::subdomain::{Hook, Kind};
use ferrohub_core::url::quote_name;

/// Where everything lives, derived from `bind_url`, `hub_*` and the proxy settings.
#[derive(Debug, Clone)]
pub struct HubUrls {
    /// Public base URL path, e.g. `/` or `/jh/`.
    pub base: String,
    /// The hub's prefix, `{base}hub/`.
    pub hub: String,
    /// Public proxy listen address (`""` = all interfaces) and port.
    pub public_ip: String,
    /// Public port.
    pub public_port: u16,
    /// Public scheme (`http`/`https`), for the Secure cookie flag.
    pub public_scheme: String,
    /// Hub listen address.
    pub hub_ip: String,
    /// Hub listen port (0 = pick one; tests).
    pub hub_port: u16,
    /// The unix socket the hub listens on instead of `hub_ip:hub_port`
    /// (`hub_bind_url = "http+unix://..."`).
    pub hub_socket: Option<std::path::PathBuf>,
    /// How servers and the proxy reach the hub: `http://host:port` or
    /// `http+unix://<percent-encoded socket path>` (no path).
    pub hub_connect: String,
    /// The proxy's REST API, `http://host:port`.
    pub proxy_api: String,
    /// `JupyterHub.ssl_cert` and `ssl_key`: the proxy serves the public port
    /// over TLS with them.
    pub public_tls: Option<PublicTls>,
    /// `JupyterHub.public_url`'s scheme and host (`https://hub.example.org`,
    /// no path): when set, what the browser sees, whatever the request says.
    pub public_origin: Option<String>,
    /// `JupyterHub.trusted_downstream_ips`: proxies in front whose
    /// `X-Forwarded-For` entries say nothing about the client.
    pub trusted_downstream: Vec<std::net::IpAddr>,
    /// `JupyterHub.subdomain_host`: each user's servers on a host of their own.
    pub subdomains: Option<Subdomains>,
}

/// How hosts are made under `JupyterHub.subdomain_host` (upstream's
/// `User.host`): `<scheme>://<hook(name)>.<domain>[:<port>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subdomains {
    /// `subdomain_host`'s scheme, `http` or `https`.
    scheme: String,
    /// The hub's domain (`hub.example.org`): `public_url`'s host if set, else
    /// `subdomain_host`'s, as upstream's `JupyterHub.domain`.
    domain: String,
    /// `:port` when `subdomain_host` names one, else empty.
    port: String,
    /// `JupyterHub.subdomain_hook`.
    hook: Hook,
}

impl Subdomains {
    /// The host name (no scheme, no port) of `name`'s servers or service.
    #[must_use]
    pub fn host_name(&self, name: &str, kind: Kind) -> String {
        self.hook.host(name, kind, &self.domain)
    }

    /// The origin of `name`'s servers or service, `scheme://host[:port]`.
    #[must_use]
    pub fn origin(&self, name: &str, kind: Kind) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.host_name(name, kind),
            self.port
        )
    }

    /// The hub's domain, on which the session cookie is set (as upstream).
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

/// `scheme://host[:port]` of an absolute URL, the scheme lower-cased.
fn origin_of(option: &'static str, url: &str) -> Result<(String, String), UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| UrlError {
        option,
        reason: "expected scheme://host/path".to_owned(),
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    Ok((scheme.to_ascii_lowercase(), host.to_owned()))
}

/// The public port's certificate and key files, handed to the proxy as
/// configurable-http-proxy's `--ssl-cert`/`--ssl-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicTls {
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key.
    pub key: String,
}

/// A bad URL in the configuration.
#[derive(Debug, thiserror::Error)]
#[error("{option}: {reason}")]
pub struct UrlError {
    option: &'static str,
    reason: String,
}

/// Parses a configured URL with the config crate's parser, naming the option on error.
fn parse(option: &'static str, text: &str) -> Result<BindUrl, UrlError> {
    BindUrl::parse(text).map_err(|e| UrlError {
        option,
        reason: e.to_string(),
    })
}

impl HubUrls {
    /// Computes the layout; errors name the option at fault.
    pub fn from_config(config: &Config) -> Result<Self, UrlError> {
        let jh = &config.jupyterhub;
        let public = parse("JupyterHub.bind_url", &jh.bind_url)?;
        let base = public.base_url.clone();
        let hub = format!("{base}hub/");
        let unix = |option: &'static str, url: &str| {
            ferrohub_config::unix_socket(url).map(|socket| {
                socket.map_err(|e| UrlError {
                    option,
                    reason: e.to_string(),
                })
            })
        };
        let mut hub_socket = None;
        let (hub_ip, hub_port) = if jh.hub_bind_url.is_empty() {
            (jh.hub_ip.clone(), jh.hub_port)
        } else if let Some(socket) = unix("JupyterHub.hub_bind_url", &jh.hub_bind_url) {
            hub_socket = Some(socket?);
            (String::new(), 0)
        } else {
            let bind = parse("JupyterHub.hub_bind_url", &jh.hub_bind_url)?;
            (bind.host, bind.port)
        };
        // As upstream's `Server`: only the scheme and the host part.
        let origin_of_unix = |url: &str| {
            let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
            format!("http+unix://{}", rest.split('/').next().unwrap_or_default())
        };
        let hub_connect = if !jh.hub_connect_url.is_empty() {
            if let Some(socket) = unix("JupyterHub.hub_connect_url", &jh.hub_connect_url) {
                socket?;
                origin_of_unix(&jh.hub_connect_url)
            } else {
                let connect = parse("JupyterHub.hub_connect_url", &jh.hub_connect_url)?;
                format!("{}://{}:{}", connect.scheme, connect.host, connect.port)
            }
        } else if hub_socket.is_some() {
            // Upstream connects through the socket too: the proxy and
            // jupyterhub-singleuser both speak http+unix.
            origin_of_unix(&jh.hub_bind_url)
        } else {
            let host = match hub_ip.as_str() {
                "" | "0.0.0.0" => "127.0.0.1".to_owned(),
                "::" => "[::1]".to_owned(),
                ip if ip.contains(':') => format!("[{ip}]"),
                ip => ip.to_owned(),
            };
            format!("http://{host}:{hub_port}")
        };
        let api = parse("ConfigurableHTTPProxy.api_url", &config.proxy.api_url)?;
        let public_tls = (!jh.ssl_cert.is_empty()).then(|| PublicTls {
            cert: jh.ssl_cert.clone(),
            key: jh.ssl_key.clone(),
        });
        // Upstream's `public_url` defaults to `subdomain_host` + base URL.
        let public_origin = if !jh.public_url.is_empty() {
            let (scheme, host) = origin_of("JupyterHub.public_url", &jh.public_url)?;
            Some(format!("{scheme}://{host}"))
        } else if !jh.subdomain_host.is_empty() {
            let (scheme, host) = origin_of("JupyterHub.subdomain_host", &jh.subdomain_host)?;
            Some(format!("{scheme}://{host}"))
        } else {
            None
        };
        let subdomains = if jh.subdomain_host.is_empty() {
            None
        } else {
            let sub = parse("JupyterHub.subdomain_host", &jh.subdomain_host)?;
            let hub_origin = public_origin.as_deref().unwrap_or(&jh.subdomain_host);
            let domain = parse("JupyterHub.public_url", hub_origin)?.host;
            // `:port` as written (upstream: `if parsed.port`); the config
            // crate refused addresses, so a `:` can only start a port.
            let authority = jh
                .subdomain_host
                .split_once("://")
                .map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
            Some(Subdomains {
                port: authority
                    .rsplit_once(':')
                    .map(|(_, port)| format!(":{port}"))
                    .unwrap_or_default(),
                scheme: sub.scheme,
                domain: domain.to_ascii_lowercase(),
                hook: Hook::from_name(&jh.subdomain_hook).ok_or_else(|| UrlError {
                    option: "JupyterHub.subdomain_hook",
                    reason: format!("{:?} is neither \"idna\" nor \"legacy\"", jh.subdomain_hook),
                })?,
            })
        };
        let trusted_downstream = jh
            .trusted_downstream_ips
            .iter()
            .map(|ip| {
                ip.trim().parse().map_err(|_| UrlError {
                    option: "JupyterHub.trusted_downstream_ips",
                    reason: format!("{ip:?} is not an IP address"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            base,
            hub,
            public_ip: public.host,
            public_port: public.port,
            public_scheme: public.scheme,
            hub_ip,
            hub_port,
            hub_socket,
            hub_connect,
            proxy_api: format!("{}://{}:{}", api.scheme, api.host, api.port),
            public_tls,
            public_origin,
            trusted_downstream,
            subdomains,
        })
    }

    /// With the real hub port once bound (when configured as 0).
    #[must_use]
    pub fn with_hub_port(mut self, port: u16) -> Self {
        if self.hub_port == 0 && self.hub_socket.is_none() {
            let old = format!(":{}", self.hub_port);
            if let Some(stripped) = self.hub_connect.strip_suffix(&old) {
                self.hub_connect = format!("{stripped}:{port}");
            }
            self.hub_port = port;
        }
        self
    }

    /// `JUPYTERHUB_API_URL` for servers: `{connect}{hub}api` (no trailing slash).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}{}api", self.hub_connect, self.hub)
    }

    /// The URL prefix of a user's server, `{base}user/<name>/[<server>/]`.
    #[must_use]
    pub fn server_prefix(&self, user: &str, server: &str) -> String {
        if server.is_empty() {
            format!("{}user/{}/", self.base, quote_name(user))
        } else {
            format!(
                "{}user/{}/{}/",
                self.base,
                quote_name(user),
                quote_name(server)
            )
        }
    }

    /// Where a browser opens a server: its prefix, or under `subdomain_host`
    /// the full URL on the user's host (upstream's `User.url`).
    #[must_use]
    pub fn server_url(&self, user: &str, server: &str) -> String {
        let prefix = self.server_prefix(user, server);
        match &self.subdomains {
            Some(sub) => format!("{}{prefix}", sub.origin(user, Kind::User)),
            None => prefix,
        }
    }

    /// A server model's `full_url`: its URL when that has a host (under
    /// `subdomain_host`), as upstream; `None` otherwise.
    #[must_use]
    pub fn full_server_url(&self, user: &str, server: &str) -> Option<String> {
        self.subdomains
            .as_ref()
            .map(|_| self.server_url(user, server))
    }

    /// The proxy route (CHP API path) of a user's server at `prefix`: the
    /// prefix, or under `subdomain_host` `/<user's host><prefix>`, which
    /// ferrohub-proxy and CHP match with `--host-routing`.
    #[must_use]
    pub fn user_route(&self, user: &str, prefix: &str) -> String {
        self.route(user, Kind::User, prefix)
    }

    /// The proxy route of a service at `prefix` (its host under `subdomain_host`).
    #[must_use]
    pub fn service_route(&self, service: &str, prefix: &str) -> String {
        self.route(service, Kind::Service, prefix)
    }

    fn route(&self, name: &str, kind: Kind, prefix: &str) -> String {
        match &self.subdomains {
            Some(sub) => format!("/{}{prefix}", sub.host_name(name, kind)),
            None => prefix.to_owned(),
        }
    }

    /// The hub's own route: the base URL, or `/` (every host) under
    /// `subdomain_host`, so requests for servers that are not running reach
    /// the hub whatever their host (upstream's `hub_routespec`).
    #[must_use]
    pub fn hub_route(&self) -> String {
        if self.subdomains.is_some() {
            "/".to_owned()
        } else {
            self.base.clone()
        }
    }

    /// A service's public prefix as a browser opens it: under
    /// `subdomain_host`, on the service's own host (upstream's `Service.host`).
    #[must_use]
    pub fn service_url(&self, service: &str, prefix: &str) -> String {
        match &self.subdomains {
            Some(sub) => format!("{}{prefix}", sub.origin(service, Kind::Service)),
            None => prefix.to_owned(),
        }
    }

    /// `JUPYTERHUB_HOST` for servers and services, upstream's
    /// `Hub.public_host`: `public_url`'s origin (by default
    /// `subdomain_host`'s), where single-user servers send browsers to log
    /// in; empty when neither is set (the browser stays on the host it uses).
    #[must_use]
    pub fn hub_host(&self) -> String {
        self.public_origin.clone().unwrap_or_default()
    }

    /// A login's or redirect's `next`, if it is safe: a path under the base
    /// URL, or an absolute URL on this hub's own host (`public_url`'s, else
    /// the request's) or, under `subdomain_host`, one of its subdomains,
    /// reduced to its path as upstream's `_validate_next_url` does.
    #[must_use]
    pub fn safe_next(&self, next: &str, headers: &http::HeaderMap) -> Option<String> {
        let request_host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let host = self
            .public_origin
            .as_deref()
            .and_then(|origin| origin.split_once("://"))
            .map_or(request_host, |(_, host)| host);
        let domain = self
            .subdomains
            .as_ref()
            .map(|sub| format!("{}{}", sub.domain, sub.port));
        let own = ferrohub_core::url::OwnHost {
            scheme: self.browser_scheme(headers),
            host,
            domain: domain.as_deref(),
        };
        let next = ferrohub_core::url::own_host_to_path(next, own);
        ferrohub_core::url::safe_next_url(&next, &self.base)
    }

    /// The OAuth client id of a server, `jupyterhub-user-<name>[-<server>]`.
    #[must_use]
    pub fn oauth_client_id(user: &str, server: &str) -> String {
        if server.is_empty() {
            format!("jupyterhub-user-{}", quote_name(user))
        } else {
            format!(
                "jupyterhub-user-{}-{}",
                quote_name(user),
                quote_name(server)
            )
        }
    }

    /// The scheme the browser used for this request, as upstream's
    /// `get_browser_protocol`: `public_url`'s when set, else the first
    /// `Forwarded: proto=`, `X-Scheme` or `X-Forwarded-Proto` entry (the
    /// outermost proxy's, which is what the browser sees: nginx or Apache
    /// terminating TLS in front write `https` there, and ferrohub-proxy
    /// appends its own hop after it), else the public port's.
    #[must_use]
    pub fn browser_scheme(&self, headers: &http::HeaderMap) -> &'static str {
        if let Some(origin) = &self.public_origin {
            return if origin.starts_with("https:") {
                "https"
            } else {
                "http"
            };
        }
        let first = |name: &str, split: char| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(split).next())
                .map(|v| v.trim().to_ascii_lowercase())
        };
        let forwarded = first("forwarded", ',').and_then(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key.trim() == "proto").then(|| value.trim().trim_matches('"').to_owned())
            })
        });
        let claimed = forwarded
            .or_else(|| first("x-scheme", ','))
            .or_else(|| first("x-forwarded-proto", ','));
        match claimed.as_deref() {
            Some("https" | "wss") => "https",
            Some("http" | "ws") => "http",
            _ if self.public_scheme == "https" => "https",
            _ => "http",
        }
    }

    /// The public URL of `path` (`/user/alice/`) with `JupyterHub.public_url`'s
    /// scheme and host; empty without `public_url` (upstream's
    /// `JUPYTERHUB_PUBLIC_URL` and `JUPYTERHUB_PUBLIC_HUB_URL`).
    #[must_use]
    pub fn public_url_of(&self, path: &str) -> String {
        self.public_origin
            .as_ref()
            .map_or_else(String::new, |origin| format!("{origin}{path}"))
    }

    /// The `Domain` of the session-id cookie: under `subdomain_host` the
    /// hub's domain, so single-user servers on its subdomains see the
    /// session (upstream's `set_session_cookie`); the login cookie never
    /// has one and stays on the hub's host.
    #[must_use]
    pub fn session_cookie_domain(&self) -> Option<&str> {
        self.subdomains.as_ref().map(Subdomains::domain)
    }

    /// Whether cookies set in answer to this request must be Secure: the
    /// browser reached the hub over https (upstream: `public_url`'s scheme
    /// if set, else the request's).
    #[must_use]
    pub fn secure_cookies(&self, headers: &http::HeaderMap) -> bool {
        self.browser_scheme(headers) == "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream_layout() {
        let urls = HubUrls::from_config(&Config::default()).unwrap();
        assert_eq!(urls.base, "/");
        assert_eq!(urls.hub, "/hub/");
        assert_eq!(urls.public_ip, "");
        assert_eq!(urls.public_port, 8000);
        assert_eq!(urls.api_url(), "http://127.0.0.1:8081/hub/api");
        assert_eq!(urls.proxy_api, "http://127.0.0.1:8001");
        assert_eq!(urls.server_prefix("alice", ""), "/user/alice/");
        assert_eq!(urls.server_prefix("a b", "x"), "/user/a%20b/x/");
        assert_eq!(
            HubUrls::oauth_client_id("alice", ""),
            "jupyterhub-user-alice"
        );
    }

    #[test]
    fn base_path_and_bad_urls() {
        let mut config = Config::default();
        config.jupyterhub.bind_url = "http://127.0.0.1:9000/jh".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(urls.base, "/jh/");
        assert_eq!(urls.hub, "/jh/hub/");
        config.jupyterhub.bind_url = "ftp://x".into();
        let err = HubUrls::from_config(&config).unwrap_err().to_string();
        assert!(err.starts_with("JupyterHub.bind_url:"), "{err}");
    }

    #[test]
    fn a_unix_socket_hub_is_reached_through_its_socket() {
        let mut config = Config::default();
        config.jupyterhub.hub_bind_url = "http+unix://%2Frun%2Fhub.sock".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.hub_socket.as_deref(),
            Some(std::path::Path::new("/run/hub.sock"))
        );
        assert_eq!(urls.api_url(), "http+unix://%2Frun%2Fhub.sock/hub/api");
        config.jupyterhub.hub_connect_url = "http://10.0.0.2:8081/ignored".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(urls.api_url(), "http://10.0.0.2:8081/hub/api");
    }

    #[test]
    fn public_url_gives_the_scheme_and_host_browsers_use() {
        let mut config = Config::default();
        config.jupyterhub.bind_url = "http://127.0.0.1:8000/jupyter".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(urls.public_url_of("/jupyter/hub/"), "");
        let mut headers = http::HeaderMap::new();
        assert_eq!(urls.browser_scheme(&headers), "http");
        headers.insert("x-forwarded-proto", "https,http".parse().unwrap());
        assert!(urls.secure_cookies(&headers));
        headers.insert("x-scheme", "http".parse().unwrap());
        assert_eq!(urls.browser_scheme(&headers), "http", "X-Scheme first");
        headers.insert(
            "forwarded",
            "for=1.2.3.4;proto=https, proto=http".parse().unwrap(),
        );
        assert_eq!(urls.browser_scheme(&headers), "https", "Forwarded first");

        config.jupyterhub.public_url = "http://hub.example.org/jupyter/".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.public_url_of("/jupyter/user/alice/"),
            "http://hub.example.org/jupyter/user/alice/"
        );
        assert!(!urls.secure_cookies(&headers), "public_url's scheme wins");
        assert_eq!(urls.hub_host(), "http://hub.example.org");
    }

    #[test]
    fn next_may_name_our_own_host_in_full() {
        let mut config = Config::default();
        config.jupyterhub.bind_url = "http://:8000/jh".into();
        let urls = HubUrls::from_config(&config).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, "lab.example.org:8000".parse().unwrap());
        let next = |given: &str, headers: &http::HeaderMap| urls.safe_next(given, headers);
        // Without public_url, the request's host and scheme are ours.
        assert_eq!(
            next("http://lab.example.org:8000/jh/hub/home", &headers).as_deref(),
            Some("/jh/hub/home")
        );
        assert_eq!(
            next("/jh/user/a/", &headers).as_deref(),
            Some("/jh/user/a/")
        );
        assert_eq!(
            next("https://lab.example.org:8000/jh/hub/home", &headers),
            None
        );
        assert_eq!(next("http://evil.example/jh/hub/home", &headers), None);
        assert_eq!(
            next("http://lab.example.org:8000/elsewhere", &headers),
            None
        );

        // With public_url, its host is ours whatever the request says.
        config.jupyterhub.public_url = "https://hub.example.org/jh/".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.safe_next("https://hub.example.org/jh/hub/home?x=1", &headers)
                .as_deref(),
            Some("/jh/hub/home?x=1")
        );
        assert_eq!(
            urls.safe_next("http://lab.example.org:8000/jh/hub/home", &headers),
            None
        );
    }

    #[test]
    fn subdomain_host_puts_each_user_on_a_host_of_their_own() {
        let mut config = Config::default();
        config.jupyterhub.bind_url = "http://:8000/jh".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(urls.server_url("alice", ""), "/jh/user/alice/");
        assert_eq!(
            urls.user_route("alice", "/jh/user/alice/"),
            "/jh/user/alice/"
        );
        assert_eq!(urls.hub_route(), "/jh/");
        assert_eq!(urls.hub_host(), "");

        config.jupyterhub.subdomain_host = "https://hub.example.org".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.server_url("alice", "lab"),
            "https://alice.hub.example.org/jh/user/alice/lab/"
        );
        assert_eq!(
            urls.server_url("élise", ""),
            "https://xn--lise-9oa.hub.example.org/jh/user/%C3%A9lise/"
        );
        assert_eq!(
            urls.user_route("alice", "/jh/user/alice/"),
            "/alice.hub.example.org/jh/user/alice/"
        );
        assert_eq!(
            urls.service_route("cull", "/jh/services/cull/"),
            "/cull--service.hub.example.org/jh/services/cull/"
        );
        assert_eq!(
            urls.service_url("cull", "/jh/services/cull/"),
            "https://cull--service.hub.example.org/jh/services/cull/"
        );
        assert_eq!(urls.hub_route(), "/");
        assert_eq!(urls.hub_host(), "https://hub.example.org");
        assert_eq!(
            urls.public_url_of("/jh/hub/"),
            "https://hub.example.org/jh/hub/",
            "public_url defaults to subdomain_host + base URL"
        );
        assert!(urls.secure_cookies(&http::HeaderMap::new()));

        config.jupyterhub.subdomain_host = "http://hub.test:8000".into();
        config.jupyterhub.subdomain_hook = "legacy".into();
        let urls = HubUrls::from_config(&config).unwrap();
        assert_eq!(
            urls.server_url("a b", ""),
            "http://a_20b.hub.test:8000/jh/user/a%20b/"
        );
        assert_eq!(urls.subdomains.as_ref().unwrap().domain(), "hub.test");
        assert!(!urls.secure_cookies(&http::HeaderMap::new()));
    }
}
