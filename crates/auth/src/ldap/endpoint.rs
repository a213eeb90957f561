//! Where and how to connect: `server_address` in the forms Python ldap3's
//! `Server` accepts (a host name or address, `host:port`, `[v6]:port` in a
//! URL, an `ldap://` or `ldaps://` URL), with `server_port` and the TLS
//! strategy.

use std::net::Ipv6Addr;

use ferrohub_config::{LdapAuthenticatorConfig, TlsStrategy};

use crate::AuthError;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// No TLS (`tls_strategy = "insecure"`).
    Plain,
    /// StartTLS before any bind (`before_bind`).
    StartTls,
    /// TLS from the first byte (`on_connect`, or an `ldaps://` address).
    Tls,
}

/// The server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// The URL ldap3 connects to (`ldap://host:port` or `ldaps://...`).
    pub(super) url: String,
    pub(super) transport: Transport,
}

fn refuse(message: impl std::fmt::Display) -> AuthError {
    AuthError::Config(format!("LDAPAuthenticator.server_address: {message}"))
}

fn parse_port(text: &str, address: &str) -> Result<Option<u16>, AuthError> {
    let port: u16 = text.parse().map_err(|_| {
        refuse(format_args!(
            "{address:?}: the port must be a number up to 65535"
        ))
    })?;
    // ldap3's `int(port) or port`: 0 means "the configured port".
    Ok((port != 0).then_some(port))
}

/// Works out the endpoint as upstream's ldap3 would, except where that
/// would silently weaken or break the connection: an `ldap://` URL with
/// `tls_strategy = "on_connect"` (ldap3 drops to clear text) is refused, and
/// an `ldaps://` URL without a port uses 636 (upstream passes 389).
pub(super) fn endpoint(config: &LdapAuthenticatorConfig) -> Result<Endpoint, AuthError> {
    let address = config.server_address.as_str();
    if address.is_empty() {
        return Err(AuthError::Config(
            "LDAPAuthenticator.server_address is required (the LDAP server's host name or address)"
                .to_owned(),
        ));
    }
    let lower = address.to_ascii_lowercase();
    let (ldaps, rest) = if lower.starts_with("ldaps://") {
        (Some(true), &address[8..])
    } else if lower.starts_with("ldap://") {
        (Some(false), &address[7..])
    } else if lower.starts_with("ldapi://") {
        return Err(refuse("ldapi:// (a Unix socket) is not supported"));
    } else {
        (None, address)
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (v6, after) = bracketed
            .split_once(']')
            .ok_or_else(|| refuse(format_args!("{address:?}: unclosed '['")))?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(refuse(format_args!("{address:?}: not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => parse_port(port, address)?,
                None => return Err(refuse(format_args!("{address:?}: not a URL"))),
            },
        };
        (format!("[{v6}]"), port)
    } else {
        match rest.matches(':').count() {
            0 => (rest.to_owned(), None),
            1 => {
                let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
                (host.to_owned(), parse_port(port, address)?)
            }
            _ if ldaps.is_none() && rest.parse::<Ipv6Addr>().is_ok() => (format!("[{rest}]"), None),
            _ => return Err(refuse(format_args!("{address:?}: not a host or URL"))),
        }
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(refuse(format_args!("{address:?}: not a host or URL")));
    }
    let strategy = config.effective_tls_strategy();
    let transport = match (ldaps, strategy) {
        (Some(true), _) => Transport::Tls,
        (Some(false), TlsStrategy::OnConnect) => {
            return Err(refuse(format_args!(
                "{address:?} is a clear-text ldap:// URL, but tls_strategy is \"on_connect\"; \
                 use an ldaps:// URL or a plain host name"
            )));
        }
        (_, TlsStrategy::OnConnect) => Transport::Tls,
        (_, TlsStrategy::BeforeBind) => Transport::StartTls,
        (_, TlsStrategy::Insecure) => Transport::Plain,
    };
    if host.starts_with('[') && transport != Transport::Plain {
        // ldap3 names the TLS server by the URL's host, brackets included,
        // which is no valid server name.
        return Err(refuse(format_args!(
            "{address:?}: TLS to an IPv6 address is not supported; use the server's host name"
        )));
    }
    let port = port.or(config.server_port).unwrap_or(match transport {
        Transport::Tls => 636,
        Transport::Plain | Transport::StartTls => 389,
    });
    let scheme = if transport == Transport::Tls {
        "ldaps"
    } else {
        "ldap"
    };
    Ok(Endpoint {
        url: format!("{scheme}://{host}:{port}"),
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_of(address: &str, extra: &str) -> Result<(String, Transport), String> {
        let config: LdapAuthenticatorConfig =
            toml::from_str(&format!("server_address = {address:?}\n{extra}")).unwrap();
        endpoint(&config)
            .map(|e| (e.url, e.transport))
            .map_err(|e| e.to_string())
    }

    fn ok(address: &str, extra: &str) -> (String, Transport) {
        endpoint_of(address, extra).unwrap()
    }

    #[test]
    fn host_names_take_the_port_and_transport_from_the_options() {
        use Transport::*;
        assert_eq!(
            ok("ldap.example.org", ""),
            ("ldap://ldap.example.org:389".into(), StartTls)
        );
        let on_connect = "tls_strategy = \"on_connect\"";
        assert_eq!(
            ok("10.0.0.1", on_connect),
            ("ldaps://10.0.0.1:636".into(), Tls)
        );
        assert_eq!(
            ok("h", "tls_strategy = \"insecure\"\nserver_port = 10389").0,
            "ldap://h:10389"
        );
        assert_eq!(ok("h", "use_ssl = true"), ("ldaps://h:636".into(), Tls));
        let insecure = "tls_strategy = \"insecure\"";
        assert_eq!(ok("::1", insecure), ("ldap://[::1]:389".into(), Plain));
    }

    #[test]
    fn addresses_with_a_port_or_a_scheme_work_as_in_ldap3() {
        use Transport::*;
        // host:port wins over server_port, as ldap3's `int(port) or port`.
        assert_eq!(ok("h:1389", "server_port = 389").0, "ldap://h:1389");
        assert_eq!(ok("h:0", "server_port = 10389").0, "ldap://h:10389");
        assert_eq!(ok("ldaps://h", ""), ("ldaps://h:636".into(), Tls));
        assert_eq!(ok("LDAPS://h:1636/", ""), ("ldaps://h:1636".into(), Tls));
        assert_eq!(ok("ldap://h", ""), ("ldap://h:389".into(), StartTls));
        let insecure = "tls_strategy = \"insecure\"";
        assert_eq!(ok("ldap://[::1]:1389", insecure).0, "ldap://[::1]:1389");
    }

    #[test]
    fn bad_or_weakening_addresses_are_refused() {
        let err = |address: &str, extra: &str| endpoint_of(address, extra).unwrap_err();
        assert!(err("", "").contains("server_address is required"));
        assert!(err("ldapi://%2Frun%2Fslapd", "").contains("not supported"));
        assert!(err("h:port", "").contains("port must be a number"));
        assert!(err("h:70000", "").contains("port must be a number"));
        assert!(err("a:b:c", "").contains("not a host"));
        assert!(err("ldap://h/dc=x?uid", "").contains("not a host"));
        assert!(err("ldap://[::1", "").contains("unclosed"));
        let on_connect = "tls_strategy = \"on_connect\"";
        assert!(err("ldap://h", on_connect).contains("clear-text ldap:// URL"));
        assert!(err("::1", "").contains("IPv6"));
    }
}
