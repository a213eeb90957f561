//! Header rewriting at the proxy hop: hop-by-hop headers (RFC 9110 §7.6.1)
//! are removed, `X-Forwarded-*` added the way configurable-http-proxy adds
//! them, and the client-facing `Connection` header chosen as CHP does.

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Uri, Version};

use crate::peer::Peer;

/// Headers that describe one connection, never the message, so they must not
/// cross the proxy. `Expect` is handled by our own server (100-continue).
/// Names are parsed at compile time: removing by `&str` would parse each
/// name again on every request.
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What kind of exchange the headers belong to: websocket upgrades keep
/// `Connection: upgrade` and `Upgrade`, and get `ws` as forwarded proto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// A plain HTTP request/response.
    Http,
    /// A websocket upgrade handshake.
    WebSocket,
}

/// Whether the request asks for a protocol upgrade (`Connection: upgrade`
/// plus an `Upgrade` header); `Upgrade` with `Connection: keep-alive` is an
/// ordinary request, as in Node.
#[must_use]
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has(headers, "upgrade")
}

/// Whether the `Connection` header lists `token` (case-insensitive).
fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    connection_tokens(headers).any(|t| t.eq_ignore_ascii_case(token))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
/// For a websocket handshake, `Connection: upgrade` and `Upgrade` stay.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, exchange: Exchange) {
    let listed: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    let upgrade = headers.get(header::UPGRADE).cloned();
    for name in &listed {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if let (Exchange::WebSocket, Some(upgrade)) = (exchange, upgrade) {
        headers.insert(header::UPGRADE, upgrade);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Makes sure the upstream request has a `Host`: HTTP/2 clients send the
/// authority in the URI instead, and the target must still see the client's host.
pub(crate) fn ensure_host(headers: &mut HeaderMap, uri: &Uri) {
    if headers.contains_key(header::HOST) {
        return;
    }
    if let Some(value) = uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, value);
    }
}

/// Joins several `Cookie` fields into one, with `; `. HTTP/2 clients
/// (Chromium) send each cookie as its own field, which RFC 9113 §8.2.3 says
/// must be joined this way before the request goes on over HTTP/1.1: a
/// target such as Tornado (jupyterhub-singleuser) joins repeated fields with
/// `,` instead, and then cannot read any of them (its OAuth state cookie
/// goes missing and the login fails with 403).
pub(crate) fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(header::COOKIE).iter().nth(1).is_none() {
        return;
    }
    let joined: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if let Ok(value) = HeaderValue::from_bytes(&joined.join(b"; ".as_slice())) {
        headers.insert(header::COOKIE, value);
    }
}

/// CHP's `X-Forwarded-*`: `For`, `Port` and `Proto` are appended to any
/// existing value (joined by `,`), `Host` is set only if absent and not for
/// websockets. `Port` comes from the `Host` header, else 443 on TLS, else 80;
/// `Proto` is `https`/`wss` on TLS. A unix-socket client has no address:
/// `For` is left as it was (CHP appends the text `undefined`).
pub(crate) fn add_forwarded(headers: &mut HeaderMap, peer: Peer, exchange: Exchange) {
    // A cheap clone (shared bytes), so the map can be changed meanwhile.
    let host = headers
        .get(header::HOST)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(""));
    let default_port = if peer.tls { "443" } else { "80" };
    let port = host_port(host.to_str().unwrap_or_default()).unwrap_or(default_port);
    let proto = match (exchange, peer.tls) {
        (Exchange::Http, false) => "http",
        (Exchange::Http, true) => "https",
        (Exchange::WebSocket, false) => "ws",
        (Exchange::WebSocket, true) => "wss",
    };
    if let Some(addr) = peer.addr {
        append(
            headers,
            X_FORWARDED_FOR,
            &addr.ip().to_canonical().to_string(),
        );
    }
    append(headers, X_FORWARDED_PORT, port);
    append(headers, X_FORWARDED_PROTO, proto);
    if exchange == Exchange::Http && !headers.contains_key(&X_FORWARDED_HOST) {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// The explicit port of a `Host` value (`h:8000`, `[::1]:8000`), if any.
fn host_port(host: &str) -> Option<&str> {
    let after_ipv6 = host.rfind(']').map_or(host, |i| &host[i + 1..]);
    let (_, port) = after_ipv6.rsplit_once(':')?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(port)
}

fn append(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(existing) => HeaderValue::from_str(&format!("{existing},{value}")),
        None => HeaderValue::from_str(value),
    };
    if let Ok(value) = joined {
        headers.insert(name, value);
    }
}

/// Marks a response the proxy wrote itself (error pages, the health check,
/// API answers), as opposed to one relayed from a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generated;

/// The `Connection: keep-alive` / `Keep-Alive: timeout=<s>` pair Node's HTTP
/// server puts on responses it writes itself, so clients learn the idle
/// limit (`--keep-alive-timeout`). Only for HTTP/1.1 requests that did not
/// ask to close; relayed responses never get it (as in CHP).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeepAliveHint(Option<HeaderValue>);

impl KeepAliveHint {
    /// The hint for answers to `request`'s client.
    #[must_use]
    pub(crate) fn for_request<B>(
        request: &http::Request<B>,
        keep_alive: std::time::Duration,
    ) -> Self {
        if request.version() != Version::HTTP_11 || connection_has(request.headers(), "close") {
            return Self(None);
        }
        let seconds = keep_alive.as_secs();
        Self(HeaderValue::from_str(&format!("timeout={seconds}")).ok())
    }

    /// Adds the pair to a generated response's headers (unless it already
    /// says how its connection ends).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        let Some(value) = &self.0 else {
            return;
        };
        if headers.contains_key(header::CONNECTION) {
            return;
        }
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert("keep-alive", value.clone());
    }
}

/// `--custom-header` values: set on the upstream request after every other
/// header, replacing a same-named client header (CHP applies them last too).
pub(crate) fn apply_custom(headers: &mut HeaderMap, custom: &[(HeaderName, HeaderValue)]) {
    for (name, value) in custom {
        headers.insert(name.clone(), value.clone());
    }
}

/// `--change-origin`: the target's `host[:port]` as `Host`, the port left
/// out when it is the scheme's default (as http-proxy does).
pub(crate) fn change_origin(headers: &mut HeaderMap, target: &Uri) {
    let Some(host) = target.host() else {
        return;
    };
    let default_port = match target.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    };
    let value = match target.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(header::HOST, value);
    }
}

/// The `Host` header without its port, as CHP's host routing uses it (not
/// lower-cased; a missing header is the literal `undefined`, as in Node).
#[must_use]
pub(crate) fn routing_host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or("undefined", |host| host.split(':').next().unwrap_or(host))
}

/// The `Connection` value of a proxied response when the target sent none:
/// the client's own wish, else `keep-alive` (HTTP/1.1) or `close` (HTTP/1.0).
/// `None` for HTTP/2, where the header is not allowed.
#[must_use]
pub(crate) fn client_connection(request: &HeaderMap, version: Version) -> Option<HeaderValue> {
    let value = match version {
        Version::HTTP_11 if connection_has(request, "close") => "close",
        Version::HTTP_11 => "keep-alive",
        Version::HTTP_10 | Version::HTTP_09 if connection_has(request, "keep-alive") => {
            "keep-alive"
        }
        Version::HTTP_10 | Version::HTTP_09 => "close",
        _ => return None,
    };
    Some(HeaderValue::from_static(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = headers(&[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("trailer", "x-sum"),
            ("upgrade", "websocket"),
            ("x-kept", "1"),
        ]);
        strip_hop_by_hop(&mut h, Exchange::Http);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn websocket_handshake_keeps_upgrade() {
        let mut h = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "k"),
        ]);
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, Exchange::WebSocket);
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-key"], "k");
    }

    #[test]
    fn upgrade_needs_connection_upgrade() {
        let h = headers(&[("connection", "keep-alive"), ("upgrade", "websocket")]);
        assert!(!is_upgrade(&h));
    }

    #[test]
    fn forwarded_headers_append_like_chp() {
        let peer = Peer::tcp("127.0.0.1:5555".parse().unwrap());
        let mut h = headers(&[
            ("host", "hub.example:8000"),
            ("x-forwarded-for", "10.9.9.9"),
        ]);
        add_forwarded(&mut h, peer, Exchange::Http);
        assert_eq!(h["x-forwarded-for"], "10.9.9.9,127.0.0.1");
        assert_eq!(h["x-forwarded-port"], "8000");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "hub.example:8000");

        let mut ws = headers(&[("host", "hub.example")]);
        add_forwarded(&mut ws, peer, Exchange::WebSocket);
        assert_eq!(ws["x-forwarded-port"], "80");
        assert_eq!(ws["x-forwarded-proto"], "ws");
        assert!(!ws.contains_key("x-forwarded-host"));
    }

    #[test]
    fn forwarded_headers_on_tls_and_unix_sockets() {
        let tls = Peer {
            addr: Some("10.0.0.7:4000".parse().unwrap()),
            tls: true,
        };
        let mut h = headers(&[("host", "hub.example")]);
        add_forwarded(&mut h, tls, Exchange::Http);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-port"], "443");
        assert_eq!(h["x-forwarded-for"], "10.0.0.7");
        let mut ws = headers(&[("host", "hub.example:8443")]);
        add_forwarded(&mut ws, tls, Exchange::WebSocket);
        assert_eq!(ws["x-forwarded-proto"], "wss");
        assert_eq!(ws["x-forwarded-port"], "8443");

        let unix = Peer {
            addr: None,
            tls: false,
        };
        let mut h = headers(&[("host", "h"), ("x-forwarded-for", "10.9.9.9")]);
        add_forwarded(&mut h, unix, Exchange::Http);
        assert_eq!(h["x-forwarded-for"], "10.9.9.9");
        let mut h = headers(&[("host", "h")]);
        add_forwarded(&mut h, unix, Exchange::Http);
        assert!(!h.contains_key("x-forwarded-for"));
        assert_eq!(h["x-forwarded-proto"], "http");
    }

    #[test]
    fn ports_from_host_headers() {
        assert_eq!(host_port("h:8000"), Some("8000"));
        assert_eq!(host_port("[::1]:8000"), Some("8000"));
        assert_eq!(host_port("[::1]"), None);
        assert_eq!(host_port("h"), None);
        assert_eq!(host_port(""), None);
    }

    #[test]
    fn custom_headers_override_client_ones() {
        let mut h = headers(&[("k1", "client"), ("x-kept", "1")]);
        let custom = [(
            HeaderName::from_static("k1"),
            HeaderValue::from_static("v1"),
        )];
        apply_custom(&mut h, &custom);
        assert_eq!(h["k1"], "v1");
        assert_eq!(h.get_all("k1").iter().count(), 1);
        assert_eq!(h["x-kept"], "1");
    }

    #[test]
    fn change_origin_uses_the_target_host() {
        let mut h = headers(&[("host", "hub.example:8000")]);
        change_origin(&mut h, &"http://10.0.0.5:8888/x".parse().unwrap());
        assert_eq!(h["host"], "10.0.0.5:8888");
        change_origin(&mut h, &"http://backend:80/".parse().unwrap());
        assert_eq!(h["host"], "backend");
        change_origin(&mut h, &"https://backend:443/".parse().unwrap());
        assert_eq!(h["host"], "backend");
        change_origin(&mut h, &"https://backend:80/".parse().unwrap());
        assert_eq!(h["host"], "backend:80");
    }

    #[test]
    fn routing_host_drops_the_port_only() {
        assert_eq!(
            routing_host(&headers(&[("host", "App.Example:8000")])),
            "App.Example"
        );
        assert_eq!(routing_host(&headers(&[("host", "a.b")])), "a.b");
        assert_eq!(routing_host(&HeaderMap::new()), "undefined");
    }

    #[test]
    fn response_connection_follows_client() {
        let close = headers(&[("connection", "close")]);
        let none = HeaderMap::new();
        let ka = headers(&[("connection", "Keep-Alive")]);
        assert_eq!(
            client_connection(&none, Version::HTTP_11).unwrap(),
            "keep-alive"
        );
        assert_eq!(
            client_connection(&close, Version::HTTP_11).unwrap(),
            "close"
        );
        assert_eq!(client_connection(&none, Version::HTTP_10).unwrap(), "close");
        assert_eq!(
            client_connection(&ka, Version::HTTP_10).unwrap(),
            "keep-alive"
        );
        assert_eq!(client_connection(&none, Version::HTTP_2), None);
    }

    #[test]
    fn cookie_fields_of_http2_are_joined_for_http1_targets() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(header::COOKIE, HeaderValue::from_static("b=\"2|x\""));
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        join_cookies(&mut h);
        let all: Vec<_> = h.get_all(header::COOKIE).iter().collect();
        assert_eq!(all, ["a=1; b=\"2|x\"; c=3"]);
        let mut one = HeaderMap::new();
        one.insert(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        join_cookies(&mut one);
        assert_eq!(one[header::COOKIE], "a=1; b=2");
    }
}
