//! [`ClientAddr`]: the address a request came from, for the login backoff.
//!
//! Behind the proxy the TCP peer is always the proxy, so the client is taken from
//! `X-Forwarded-For`. Only its **right-most** entry is used: that is the one the
//! proxy appended (ferrohub-proxy and configurable-http-proxy both append the
//! peer's address to whatever the client sent); anything left of it was written
//! by the client and proves nothing. Tornado, upstream's server, reads the same
//! entry. Without the header (a request straight to the hub), the TCP peer.
//! This trusts whoever connects to the hub to be the proxy, as upstream does:
//! a client that can reach the hub's port directly could write the header
//! itself, which is one more reason the hub listens on 127.0.0.1 by default.
//!
//! With another proxy in front (nginx, Apache, a load balancer), the
//! right-most entry is that proxy's address. `JupyterHub.trusted_downstream_ips`
//! names such proxies: entries equal to one of them are skipped from the
//! right, as Tornado's `trusted_downstream` does for upstream, so the entry
//! the outermost trusted proxy appended (the browser's address) is used.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::HeaderMap;
use http::request::Parts;

/// The client's address, when it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl FromRequestParts<crate::state::AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(client_addr(
            &parts.headers,
            peer,
            &state.urls.trusted_downstream,
        )))
    }
}

/// The right-most `X-Forwarded-For` address (over all header lines) that is
/// not one of the `trusted` proxies, else `peer`. An entry that is not an
/// address (`unknown`, junk) gives `peer`: the proxy did not vouch for
/// anything. When every entry is trusted, the left-most one.
fn client_addr(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|line| line.to_str().unwrap_or("unknown"))
        .collect();
    if lines.is_empty() {
        return peer;
    }
    let mut chosen = None;
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        let parsed = entry
            .trim()
            .parse::<IpAddr>()
            .ok()
            .map(|a| a.to_canonical());
        chosen = parsed;
        match parsed {
            Some(addr) if trusted.contains(&addr) => {}
            _ => break,
        }
    }
    chosen.or(peer).map(|addr| addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn with_forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_right_most_forwarded_entry_wins_over_what_the_client_wrote() {
        let peer = ip("127.0.0.1");
        let cases: [(&[&str], Option<IpAddr>); 7] = [
            (&["203.0.113.9"], ip("203.0.113.9")),
            (&["1.2.3.4,203.0.113.9"], ip("203.0.113.9")),
            (&["1.2.3.4, 5.6.7.8 , 203.0.113.9"], ip("203.0.113.9")),
            (&["1.2.3.4", "203.0.113.9"], ip("203.0.113.9")),
            (&["1.2.3.4,2001:db8::7"], ip("2001:db8::7")),
            (&["::ffff:203.0.113.9"], ip("203.0.113.9")),
            (&["1.2.3.4,unknown"], peer),
        ];
        for (lines, want) in cases {
            assert_eq!(
                client_addr(&with_forwarded(lines), peer, &[]),
                want,
                "{lines:?}"
            );
        }
    }

    #[test]
    fn without_the_header_the_peer_is_the_client() {
        assert_eq!(
            client_addr(&HeaderMap::new(), ip("198.51.100.4"), &[]),
            ip("198.51.100.4")
        );
        assert_eq!(client_addr(&HeaderMap::new(), None, &[]), None);
    }

    #[test]
    fn trusted_proxies_in_front_are_skipped_from_the_right() {
        let peer = ip("127.0.0.1");
        let nginx = ip("10.0.0.5").unwrap();
        let trusted = [nginx, ip("127.0.0.1").unwrap()];
        let cases: [(&[&str], Option<IpAddr>); 5] = [
            (&["203.0.113.9,10.0.0.5"], ip("203.0.113.9")),
            (
                &["1.2.3.4,203.0.113.9, 10.0.0.5,127.0.0.1"],
                ip("203.0.113.9"),
            ),
            (&["203.0.113.9", "10.0.0.5"], ip("203.0.113.9")),
            (&["10.0.0.5,127.0.0.1"], ip("10.0.0.5")),
            (&["junk,10.0.0.5"], peer),
        ];
        for (lines, want) in cases {
            let got = client_addr(&with_forwarded(lines), peer, &trusted);
            assert_eq!(got, want, "{lines:?}");
        }
        // Not trusted: the proxy in front is taken for the client, as upstream.
        assert_eq!(
            client_addr(&with_forwarded(&["203.0.113.9,10.0.0.5"]), peer, &[]),
            Some(nginx)
        );
    }
}
