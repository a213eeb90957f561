//! The data path: forward a request to its route's target, streaming both
//! ways, with WebSocket upgrades spliced through.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::{Body, empty, full};
use crate::cli::ProxyOptions;
use crate::routes::{Route, RouteTable};

/// Shared state of the data path.
pub struct Forwarder {
    /// Parsed options.
    pub options: ProxyOptions,
    /// Routes.
    pub table: Arc<RouteTable>,
    /// Pooled client to targets.
    pub client: Client<HttpConnector, Body>,
}

/// Headers that describe one hop and are not forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Forwarder {
    /// A forwarder with a keep-alive pool.
    #[must_use]
    pub fn new(options: ProxyOptions, table: Arc<RouteTable>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build(connector);
        Self {
            options,
            table,
            client,
        }
    }

    /// Handles one public request.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        if req.uri().path_and_query().map(|pq| pq.as_str()) == Some("/_chp_healthz") {
            let mut response = Response::new(full(r#"{"status":"OK"}"#));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return response;
        }
        let original = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        let Ok(decoded) = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8()
        else {
            return crate::errors::page(&self, StatusCode::INTERNAL_SERVER_ERROR, &original).await;
        };
        let Some(route) = self.table.lookup(&decoded) else {
            return crate::errors::page(&self, StatusCode::NOT_FOUND, &original).await;
        };
        match self.forward(req, &route, peer).await {
            Ok(response) => response,
            Err(reason) => {
                tracing::error!("503 {} {original} {reason}", route.target);
                crate::errors::page(&self, StatusCode::SERVICE_UNAVAILABLE, &original).await
            }
        }
    }

    fn upstream_uri(&self, route: &Route, uri: &Uri) -> Result<Uri, String> {
        let target: Uri = route
            .target
            .parse()
            .map_err(|e| format!("bad target {}: {e}", route.target))?;
        let (scheme, authority) = (
            target.scheme_str().unwrap_or("http"),
            target.authority().ok_or("target has no host")?,
        );
        if scheme != "http" {
            return Err(format!("unsupported target scheme {scheme}"));
        }
        let mut path = uri.path().to_owned();
        if !self.options.include_prefix && route.path != "/" {
            path = strip_prefix_segments(&path, &route.path);
        }
        if self.options.prepend_path {
            let base = target.path().trim_end_matches('/');
            path = format!("{base}/{}", path.trim_start_matches('/'));
        }
        let mut query: Vec<&str> = Vec::new();
        if self.options.prepend_path {
            query.extend(target.query());
        }
        query.extend(uri.query());
        let pq = if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        };
        format!("{scheme}://{authority}{pq}")
            .parse()
            .map_err(|e| format!("bad upstream URL: {e}"))
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        route: &Arc<Route>,
        peer: SocketAddr,
    ) -> Result<Response<Body>, String> {
        let upgrade = is_upgrade(req.headers());
        let uri = self.upstream_uri(route, req.uri())?;
        let mut headers = req.headers().clone();
        strip_hop_by_hop(&mut headers, upgrade);
        if self.options.x_forward {
            add_forwarded(&mut headers, req.headers(), peer, upgrade);
        }
        if req.headers().get(header::HOST).is_none()
            && let Some(authority) = req.uri().authority()
        {
            headers.insert(
                header::HOST,
                HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
            );
        }
        route.touch();
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let method = req.method().clone();
        let touch_route = Arc::clone(route);
        let body: Body = if upgrade {
            empty()
        } else {
            req.into_body()
                .map_frame(move |frame| {
                    touch_route.touch();
                    frame
                })
                .boxed()
        };
        let mut upstream = Request::builder()
            .method(method)
            .uri(uri)
            .version(http::Version::HTTP_11)
            .body(body)
            .map_err(|e| e.to_string())?;
        *upstream.headers_mut() = headers;
        let sent = self.client.request(upstream);
        let mut response = match self.options.proxy_timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| "timed out".to_owned())?,
            None => sent.await,
        }
        .map_err(|e| format!("{e:?}"))?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(splice(client_upgrade, upstream_upgrade, Arc::clone(route)));
            }
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, empty()));
        }
        if response.status().as_u16() < 300 {
            route.touch();
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers, false);
        Ok(Response::from_parts(parts, body.boxed()))
    }
}

/// Removes the route's segments from the front of the path (`--no-include-prefix`).
fn strip_prefix_segments(path: &str, prefix: &str) -> String {
    let segments = prefix.trim_matches('/').split('/').count();
    let rest: Vec<&str> = path
        .trim_start_matches('/')
        .splitn(segments + 1, '/')
        .collect();
    if rest.len() > segments {
        format!("/{}", rest[segments])
    } else {
        "/".to_owned()
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        if !(keep_upgrade && name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        if !(keep_upgrade && (*name == "upgrade" || *name == "connection")) {
            headers.remove(*name);
        }
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

fn append(headers: &mut HeaderMap, name: &'static str, value: &str) {
    let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(existing) => format!("{existing},{value}"),
        None => value.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&joined) {
        headers.insert(name, value);
    }
}

/// CHP's `X-Forwarded-*`: For/Port/Proto appended, Host set if absent (not for websockets).
fn add_forwarded(headers: &mut HeaderMap, original: &HeaderMap, peer: SocketAddr, websocket: bool) {
    let host = original
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let port = host.rsplit_once(':').map_or("80", |(_, p)| p).to_owned();
    append(
        headers,
        "x-forwarded-for",
        &peer.ip().to_canonical().to_string(),
    );
    append(headers, "x-forwarded-port", &port);
    append(
        headers,
        "x-forwarded-proto",
        if websocket { "ws" } else { "http" },
    );
    if !websocket
        && !headers.contains_key("x-forwarded-host")
        && !host.is_empty()
        && let Ok(value) = HeaderValue::from_str(&host)
    {
        headers.insert("x-forwarded-host", value);
    }
}

/// Copies bytes between the upgraded client and target connections; client traffic counts as activity.
async fn splice(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    route: Arc<Route>,
) {
    let (Ok(client), Ok(upstream)) = (client.await, upstream.await) else {
        return;
    };
    let mut client = Touching {
        inner: TokioIo::new(client),
        route,
    };
    let mut upstream = TokioIo::new(upstream);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// A stream that records activity on its route whenever it yields data.
struct Touching<S> {
    inner: S,
    route: Arc<Route>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Touching<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.route.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Touching<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_stripping_by_segments() {
        assert_eq!(strip_prefix_segments("/user/a/x/y", "/user/a"), "/x/y");
        assert_eq!(strip_prefix_segments("/user/a", "/user/a"), "/");
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive, x-private".parse().unwrap());
        headers.insert("x-private", "1".parse().unwrap());
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        headers.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }
}
