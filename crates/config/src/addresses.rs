//! The public-address options as upstream's traitlets validate them:
//! `ssl_cert`/`ssl_key` (set together; they decide `bind_url`'s scheme),
//! `public_url` (a full URL ending in the base URL) and
//! `trusted_downstream_ips` (addresses), `subdomain_host` (a scheme and a
//! host, no path) with its `subdomain_hook`, and `hub_bind_url`/`hub_connect_url`
//! on a unix socket (`http+unix://<percent-encoded path>`, upstream 0.9's
//! `unix+http://` read the same). Run at load, so the hub, the proxy
//! command line and `--show-config` all see the same normalized values.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::JupyterHubConfig;
use crate::bind_url::BindUrl;
use crate::credentials::Refusal;

/// A `http+unix://` URL whose host part is not an absolute socket path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{url:?} does not name a socket: expected http+unix:// followed by the socket's \
     absolute path with each / written %2F (http+unix://%2Fsrv%2Fhub.sock)"
)]
pub struct NotASocket {
    /// The URL as given.
    pub url: String,
}

/// The socket path of an `http+unix://` (or `unix+http://`) URL: `None`
/// for any other URL.
pub fn unix_socket(url: &str) -> Option<Result<PathBuf, NotASocket>> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http+unix") || scheme.eq_ignore_ascii_case("unix+http")) {
        return None;
    }
    let netloc = rest.split('/').next().unwrap_or_default();
    let path = percent_encoding::percent_decode_str(netloc)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default();
    Some(if path.starts_with('/') && path.len() > 1 {
        Ok(PathBuf::from(path))
    } else {
        Err(NotASocket {
            url: url.to_owned(),
        })
    })
}

/// `unix+http://` → `http+unix://`, as upstream's `bind_url` validator does.
fn unix_spelling(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("unix+http") => {
            format!("http+unix://{rest}")
        }
        _ => url.to_owned(),
    }
}

/// Checks the options and normalizes `bind_url` and `public_url` as upstream.
pub(crate) fn check(hub: &mut JupyterHubConfig) -> Result<(), Refusal> {
    for (option, url) in [
        ("hub_bind_url", &mut hub.hub_bind_url),
        ("hub_connect_url", &mut hub.hub_connect_url),
    ] {
        if let Some(socket) = unix_socket(url) {
            socket.map_err(|e| Refusal {
                option,
                problem: e.to_string(),
            })?;
            *url = unix_spelling(url);
        } else if option == "hub_connect_url" && !url.is_empty() {
            BindUrl::parse(url).map_err(|e| Refusal {
                option,
                problem: e.to_string(),
            })?;
        }
    }
    if hub.hub_socket_mode > 0o777 {
        return Err(Refusal {
            option: "hub_socket_mode",
            problem: format!(
                "expected permission bits (at most 0o777, 511), found {}",
                hub.hub_socket_mode
            ),
        });
    }
    match (hub.ssl_cert.is_empty(), hub.ssl_key.is_empty()) {
        (true, false) => return Err(pair("ssl_cert", "ssl_key")),
        (false, true) => return Err(pair("ssl_key", "ssl_cert")),
        _ => {}
    }
    hub.bind_url = bind_url_scheme(&hub.bind_url, !hub.ssl_cert.is_empty());
    let base_url = BindUrl::parse(&hub.bind_url)
        .map_err(|e| Refusal {
            option: "bind_url",
            problem: e.to_string(),
        })?
        .base_url;
    if !hub.public_url.is_empty() {
        hub.public_url = public_url(&hub.public_url, &base_url).map_err(|problem| Refusal {
            option: "public_url",
            problem,
        })?;
    }
    if !hub.subdomain_host.is_empty() {
        hub.subdomain_host = subdomain_host(&hub.subdomain_host).map_err(|problem| Refusal {
            option: "subdomain_host",
            problem,
        })?;
    }
    if ferrohub_core::subdomain::Hook::from_name(&hub.subdomain_hook).is_none() {
        return Err(Refusal {
            option: "subdomain_hook",
            problem: format!(
                "expected \"idna\" or \"legacy\" (a Python function is not supported), found {:?}",
                hub.subdomain_hook
            ),
        });
    }
    for ip in &hub.trusted_downstream_ips {
        if ip.trim().parse::<IpAddr>().is_err() {
            return Err(Refusal {
                option: "trusted_downstream_ips",
                problem: format!(
                    "expected IP addresses (each is compared with the X-Forwarded-For entries, \
                     as upstream; networks are not supported), found {ip:?}"
                ),
            });
        }
    }
    Ok(())
}

fn pair(missing: &'static str, set: &str) -> Refusal {
    Refusal {
        option: missing,
        problem: format!(
            "must be set together with JupyterHub.{set}: the proxy needs both the certificate \
             and its key to serve HTTPS"
        ),
    }
}

/// Upstream's `_validate_bind_url`: with a certificate the public port speaks
/// https whatever the URL says; without one, http (an `https://` bind URL
/// alone does not make the proxy speak TLS).
fn bind_url_scheme(url: &str, tls: bool) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let want = if tls { "https" } else { "http" };
    if scheme.eq_ignore_ascii_case(want) {
        url.to_owned()
    } else {
        format!("{want}://{rest}")
    }
}

/// Upstream's `_validate_public_url`: `https://` when no scheme is given, a
/// trailing slash, and the base URL as its path (added when it has none).
fn public_url(url: &str, base_url: &str) -> Result<String, String> {
    let mut url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    let parsed = BindUrl::parse(&url).map_err(|e| e.to_string())?;
    if parsed.host.is_empty() {
        return Err(format!("{url:?} has no host name"));
    }
    if parsed.base_url == "/" && base_url != "/" {
        url.pop();
        url.push_str(base_url);
    } else if parsed.base_url != base_url {
        return Err(format!(
            "{url:?} must end with the base URL {base_url:?} (the path of bind_url)"
        ));
    }
    Ok(url)
}

/// Upstream's `_validate_subdomain_host`: `https://` when no scheme is
/// given. ferrohub also refuses what upstream would silently misuse: a path
/// (servers live at `<name>.<host>{base_url}user/<name>/` whatever it says),
/// an empty host or an IP address (it has no subdomains).
fn subdomain_host(url: &str) -> Result<String, String> {
    let url = if url.contains("://") {
        url.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", url.trim_end_matches('/'))
    };
    let parsed = BindUrl::parse(&url).map_err(|e| e.to_string())?;
    if parsed.base_url != "/" {
        return Err(format!(
            "{url:?} must be only a scheme, a host and an optional port \
             (https://hub.example.org[:port]); the path comes from bind_url"
        ));
    }
    if parsed.host.is_empty() || parsed.host.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{url:?} must name a host whose subdomains reach the proxy \
             (wildcard DNS), not an address"
        ));
    }
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    Ok(format!(
        "{}://{}",
        parsed.scheme,
        url[scheme_end..].to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(edit: impl FnOnce(&mut JupyterHubConfig)) -> Result<JupyterHubConfig, String> {
        let mut hub = JupyterHubConfig::default();
        edit(&mut hub);
        check(&mut hub)
            .map(|()| hub)
            .map_err(|r| format!("{}: {}", r.option, r.problem))
    }

    #[test]
    fn a_certificate_makes_the_public_url_https_and_none_makes_it_http() {
        let hub = checked(|h| {
            h.ssl_cert = "c.pem".into();
            h.ssl_key = "k.pem".into();
        })
        .unwrap();
        assert_eq!(hub.bind_url, "https://:8000");
        let hub = checked(|h| h.bind_url = "https://127.0.0.1:9000/jh".into()).unwrap();
        assert_eq!(hub.bind_url, "http://127.0.0.1:9000/jh");
        let err = checked(|h| h.ssl_cert = "c.pem".into()).unwrap_err();
        assert!(
            err.starts_with("ssl_key: must be set together with JupyterHub.ssl_cert"),
            "{err}"
        );
        let err = checked(|h| h.ssl_key = "k.pem".into()).unwrap_err();
        assert!(err.starts_with("ssl_cert: must be set together"), "{err}");
    }

    #[test]
    fn subdomain_host_is_a_scheme_and_a_host() {
        let host =
            |value: &str| checked(|h| h.subdomain_host = value.into()).map(|h| h.subdomain_host);
        assert_eq!(host("hub.example.org").unwrap(), "https://hub.example.org");
        assert_eq!(
            host("http://Hub.Test:8000/").unwrap(),
            "http://hub.test:8000"
        );
        for bad in [
            "https://hub.example.org/jupyter",
            "ftp://hub.example.org",
            "https://",
            "http://127.0.0.1:8000",
            "https://hub.example.org?x",
        ] {
            let err = host(bad).unwrap_err();
            assert!(err.starts_with("subdomain_host: "), "{bad}: {err}");
        }
        let err = checked(|h| h.subdomain_hook = "mine".into()).unwrap_err();
        assert!(
            err.starts_with("subdomain_hook: expected \"idna\""),
            "{err}"
        );
        assert!(checked(|h| h.subdomain_hook = "legacy".into()).is_ok());
    }

    #[test]
    fn public_url_is_completed_as_upstream() {
        let with = |bind: &str, public: &str| {
            checked(|h| {
                h.bind_url = bind.into();
                h.public_url = public.into();
            })
            .map(|h| h.public_url)
        };
        assert_eq!(
            with("http://:8000", "hub.example.org").unwrap(),
            "https://hub.example.org/"
        );
        assert_eq!(
            with("http://:8000/jupyter", "http://hub.example.org:8080").unwrap(),
            "http://hub.example.org:8080/jupyter/"
        );
        assert_eq!(
            with("http://:8000/jupyter/", "https://h.example/jupyter").unwrap(),
            "https://h.example/jupyter/"
        );
        let err = with("http://:8000/jupyter", "https://h.example/other/").unwrap_err();
        assert!(
            err.contains("must end with the base URL \"/jupyter/\""),
            "{err}"
        );
        assert!(with("http://:8000", "https://:8000/").is_err());
    }

    #[test]
    fn trusted_downstream_ips_must_be_addresses() {
        let hub = checked(|h| h.trusted_downstream_ips = vec!["10.0.0.1".into(), "::1".into()]);
        assert!(hub.is_ok());
        let err = checked(|h| h.trusted_downstream_ips = vec!["10.0.0.0/8".into()]).unwrap_err();
        assert!(
            err.starts_with("trusted_downstream_ips: expected IP addresses"),
            "{err}"
        );
    }

    #[test]
    fn the_hub_may_listen_on_a_unix_socket() {
        let hub =
            checked(|h| h.hub_bind_url = "unix+http://%2Frun%2Fhub%2Fhub.sock".into()).unwrap();
        assert_eq!(hub.hub_bind_url, "http+unix://%2Frun%2Fhub%2Fhub.sock");
        assert_eq!(
            unix_socket(&hub.hub_bind_url).unwrap().unwrap(),
            PathBuf::from("/run/hub/hub.sock")
        );
        assert!(unix_socket("http://127.0.0.1:8081").is_none());
        let err = checked(|h| h.hub_bind_url = "http+unix://hub.sock".into()).unwrap_err();
        assert!(
            err.starts_with("hub_bind_url: \"http+unix://hub.sock\" does not name a socket"),
            "{err}"
        );
        let err = checked(|h| h.hub_connect_url = "ftp://x".into()).unwrap_err();
        assert!(err.starts_with("hub_connect_url:"), "{err}");
        let err = checked(|h| h.hub_socket_mode = 0o1777).unwrap_err();
        assert!(err.starts_with("hub_socket_mode:"), "{err}");
    }
}
