//! The data path: find the route for a public request, forward it to the
//! route's target over a pooled keep-alive client, and stream both bodies
//! without buffering. Websocket upgrades branch off to the `websocket` module;
//! failures become the error pages of [`crate::errors`].

use std::borrow::Cow;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::activity::{ActivityBody, Moment};
use crate::body::{Body, BoxError, boxed, full};
use crate::cli::ProxyOptions;
use crate::connect::Connector;
use crate::errors::ErrorPages;
use crate::headers::{self as hop, Exchange};
use crate::listen::Peer;
use crate::location::LocationRewrite;
use crate::metrics::ProxyMetrics;
use crate::rewrite::{Rewrite, TargetError};
use crate::routes::{Route, RouteTable};
use crate::timeout::{IdleBody, shortest};

/// The pooled HTTP client used to reach targets and the error server.
pub type UpstreamClient = Client<Connector, Body>;

/// Connecting to a target that neither accepts nor refuses gives up after
/// this long (CHP waits for the OS, minutes): the user gets a 503 instead.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle pooled connections to targets are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the keep-alive client over `connector` (http, https, unix sockets).
#[must_use]
pub fn upstream_client(connector: Connector) -> UpstreamClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector)
}

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The route's target is unusable (→ 500).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The target could not be reached or hung up (→ 503).
    #[error("{0}")]
    Upstream(String),
    /// `--proxy-timeout`: the target did not answer in time (→ 503).
    #[error("no response from the target within {0:?}")]
    ProxyTimeout(Duration),
    /// `--timeout`: the exchange stalled; the client connection is dropped.
    #[error("request timed out after {0:?}")]
    ClientTimeout(Duration),
}

impl ForwardError {
    /// The status CHP answers with; `None` means drop the connection.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Target(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
            Self::Upstream(_) | Self::ProxyTimeout(_) => Some(StatusCode::SERVICE_UNAVAILABLE),
            Self::ClientTimeout(_) => None,
        }
    }

    /// Wraps a client error with its causes (hyper's own text is terse).
    pub(crate) fn upstream(error: &hyper_util::client::legacy::Error) -> Self {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Upstream(text)
    }
}

/// Shared state of the data path.
pub struct Forwarder {
    pub(crate) table: Arc<RouteTable>,
    pub(crate) client: UpstreamClient,
    pub(crate) pages: ErrorPages,
    pub(crate) rewrite: Rewrite,
    pub(crate) x_forward: bool,
    host_routing: bool,
    custom_headers: Vec<(HeaderName, HeaderValue)>,
    change_origin: bool,
    location: LocationRewrite,
    timeout: Option<Duration>,
    proxy_timeout: Option<Duration>,
    pub(crate) metrics: Arc<ProxyMetrics>,
}

impl Forwarder {
    /// A forwarder over `table`, configured by the command-line options,
    /// reaching targets through `connector` and counting into `metrics`.
    #[must_use]
    pub fn new(
        options: &ProxyOptions,
        table: Arc<RouteTable>,
        connector: Connector,
        metrics: Arc<ProxyMetrics>,
    ) -> Self {
        let client = upstream_client(connector);
        let pages = ErrorPages::new(
            options.error_target.as_deref(),
            options.error_path.clone(),
            client.clone(),
        );
        Self {
            table,
            client,
            pages,
            rewrite: Rewrite {
                prepend_path: options.prepend_path,
                include_prefix: options.include_prefix,
            },
            x_forward: options.x_forward,
            host_routing: options.host_routing,
            custom_headers: options
                .custom_headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((
                        HeaderName::from_bytes(name.as_bytes()).ok()?,
                        HeaderValue::from_str(value).ok()?,
                    ))
                })
                .collect(),
            change_origin: options.change_origin,
            location: LocationRewrite {
                auto: options.auto_rewrite,
                protocol: options.protocol_rewrite.clone(),
            },
            timeout: options.timeout,
            proxy_timeout: options.proxy_timeout,
            metrics,
        }
    }

    /// The route table requests are matched against.
    #[must_use]
    pub fn table(&self) -> &Arc<RouteTable> {
        &self.table
    }

    /// The route for a request with decoded `path`: with `--host-routing`
    /// the key starts with the `Host` name (`/<host>/<path>`), as in CHP.
    pub(crate) fn find_route(&self, headers: &HeaderMap, path: &str) -> Option<Arc<Route>> {
        let timer = self.metrics.time_lookup();
        let route = if self.host_routing {
            let key = format!("/{}{path}", hop::routing_host(headers));
            self.table.lookup(&key)
        } else {
            self.table.lookup(path)
        };
        timer.stop();
        route
    }

    /// The upstream URL for `request` on `route`. Under host routing the
    /// route's first segment is the host, not part of the request path.
    pub(crate) fn upstream_uri(&self, route: &Route, request: &Uri) -> Result<Uri, TargetError> {
        let prefix = if self.host_routing {
            let key = route.path().trim_start_matches('/');
            key.find('/').map_or("/", |i| &key[i..])
        } else {
            route.path()
        };
        self.rewrite
            .upstream_uri_for(route.target_uri()?, prefix, request)
    }

    /// The request headers the target sees: hop-by-hop ones gone,
    /// `X-Forwarded-*` added, then `--custom-header`s, then `--change-origin`
    /// (the order http-proxy applies them in).
    pub(crate) fn upstream_headers(
        &self,
        headers: &mut HeaderMap,
        uri: &Uri,
        upstream: &Uri,
        peer: Peer,
        exchange: Exchange,
    ) {
        hop::ensure_host(headers, uri);
        hop::strip_hop_by_hop(headers, exchange);
        if self.x_forward {
            hop::add_forwarded(headers, peer, exchange);
        }
        hop::apply_custom(headers, &self.custom_headers);
        if self.change_origin {
            hop::change_origin(headers, upstream);
        }
    }

    /// Handles one public request. An `Err` makes the server drop the
    /// connection without answering (CHP destroys the socket in those cases).
    pub async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        peer: Peer,
    ) -> Result<Response<Body>, BoxError> {
        if is_health_check(&req) {
            return Ok(health());
        }
        // Error pages get the URL as the client sent it, as in CHP (a
        // clone of the URI shares its bytes: no copy unless it is used).
        let original = req.uri().clone();
        let url = request_target(&original);
        resolve_dot_segments(&mut req);
        if hop::is_upgrade(req.headers()) {
            return self.handle_upgrade(req, peer).await;
        }
        self.metrics.web_request();
        let method = req.method().clone();
        let Some(path) = decode_path(req.uri().path()) else {
            tracing::error!("500 {method} {} undecodable path", log_url(url));
            return Ok(self
                .error_page(StatusCode::INTERNAL_SERVER_ERROR, url)
                .await);
        };
        let Some(route) = self.find_route(req.headers(), &path) else {
            tracing::warn!("404 {method} {} no route", log_url(url));
            return Ok(self.error_page(StatusCode::NOT_FOUND, url).await);
        };
        tracing::debug!("PROXY WEB {} to {}", log_url(url), route.target());
        match self.forward(req, &route, peer).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let Some(status) = e.status() else {
                    tracing::warn!("{method} {} {e}; dropping the connection", log_url(url));
                    return Err(e.into());
                };
                tracing::error!("{} {method} {} {e}", status.as_u16(), log_url(url));
                Ok(self.error_page(status, url).await)
            }
        }
    }

    async fn error_page(&self, status: StatusCode, url: &str) -> Response<Body> {
        self.metrics.proxy_response(status);
        let mut response = self.pages.render(status, url).await;
        response.extensions_mut().insert(hop::Generated);
        response
    }

    /// Forwards a plain HTTP request and relays the response.
    async fn forward(
        &self,
        req: Request<Incoming>,
        route: &Arc<Route>,
        peer: Peer,
    ) -> Result<Response<Body>, ForwardError> {
        let uri = self.upstream_uri(route, req.uri())?;
        let (mut parts, body) = req.into_parts();
        let connection = hop::client_connection(&parts.headers, parts.version);
        let client_host = self.location.is_active().then(|| client_host(&parts));
        self.upstream_headers(&mut parts.headers, &parts.uri, &uri, peer, Exchange::Http);
        if matches!(parts.method, Method::DELETE | Method::OPTIONS)
            && !parts.headers.contains_key(header::CONTENT_LENGTH)
        {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        let body = self.wrap(body, route, Some(Moment::EveryChunk), self.timeout);
        let mut upstream = Request::new(body);
        *upstream.method_mut() = parts.method;
        *upstream.uri_mut() = uri;
        *upstream.version_mut() = Version::HTTP_11;
        *upstream.headers_mut() = parts.headers;
        let mut response = self.send(upstream).await?;
        self.metrics.proxy_response(response.status());
        if let Some(client_host) = client_host {
            let status = response.status();
            self.location.apply(
                status,
                response.headers_mut(),
                route.target(),
                client_host.as_deref(),
            );
        }
        Ok(self.relay(response, route, connection))
    }

    /// Sends upstream, bounded by `--proxy-timeout` (503) and `--timeout` (drop).
    async fn send(&self, request: Request<Body>) -> Result<Response<Incoming>, ForwardError> {
        let sent = async {
            let request = self.client.request(request);
            let answer = match self.proxy_timeout {
                Some(limit) => tokio::time::timeout(limit, request)
                    .await
                    .map_err(|_| ForwardError::ProxyTimeout(limit))?,
                None => request.await,
            };
            answer.map_err(|e| ForwardError::upstream(&e))
        };
        match self.timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| ForwardError::ClientTimeout(limit))?,
            None => sent.await,
        }
    }

    /// The target's response for the client: hop-by-hop headers replaced,
    /// body streamed; a successful (< 300) response counts as activity.
    fn relay(
        &self,
        response: Response<Incoming>,
        route: &Arc<Route>,
        connection: Option<HeaderValue>,
    ) -> Response<Body> {
        let (mut parts, body) = response.into_parts();
        let success = parts.status.as_u16() < 300;
        if success {
            self.metrics.touch(route);
        }
        hop::strip_hop_by_hop(&mut parts.headers, Exchange::Http);
        if let Some(connection) = connection {
            parts.headers.insert(header::CONNECTION, connection);
        }
        let moment = success.then_some(Moment::AtEnd);
        let idle = shortest(self.timeout, self.proxy_timeout);
        Response::from_parts(parts, self.wrap(body, route, moment, idle))
    }

    /// Adds activity tracking and an idle limit to a streamed body.
    fn wrap(
        &self,
        body: Incoming,
        route: &Arc<Route>,
        moment: Option<Moment>,
        idle: Option<Duration>,
    ) -> Body {
        let body = match moment {
            Some(moment) => boxed(ActivityBody::new(
                body,
                Arc::clone(route),
                moment,
                Arc::clone(&self.metrics),
            )),
            None => boxed(body),
        };
        match idle {
            Some(limit) => boxed(IdleBody::new(body, limit)),
            None => body,
        }
    }
}

/// The host the client addressed (`Host`, or the HTTP/2 authority).
fn client_host(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
}

/// CHP answers exactly `/_chp_healthz` (no query) itself, routes or not.
fn is_health_check(req: &Request<Incoming>) -> bool {
    req.uri().path_and_query().map(|pq| pq.as_str()) == Some("/_chp_healthz")
}

fn health() -> Response<Body> {
    let mut response = Response::new(full(r#"{"status":"OK"}"#));
    response.extensions_mut().insert(hop::Generated);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Resolves `.` and `..` path segments (also written `%2e`, and `\` as a
/// separator) the way a WHATWG URL parser does, as CHP does before it both
/// matches and forwards: `/user/a/../b/x` is routed and forwarded as
/// `/user/b/x`, so a route never receives a path outside its prefix.
/// Unlike CHP, a path starting with `//` is not taken for a host name.
pub fn resolve_dot_segments<B>(req: &mut Request<B>) {
    let path = req.uri().path();
    if !needs_resolving(path) {
        return;
    }
    let Ok(parsed) = url::Url::parse(&format!("http://base.invalid{path}")) else {
        return;
    };
    let mut resolved = parsed.path().to_owned();
    if let Some(query) = req.uri().query() {
        resolved.push('?');
        resolved.push_str(query);
    }
    let mut parts = req.uri().clone().into_parts();
    let Ok(path_and_query) = resolved.parse() else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// Whether a path has a dot segment or a backslash (cheap check first).
fn needs_resolving(path: &str) -> bool {
    if !path.contains('.') && !path.contains('%') && !path.contains('\\') {
        return false;
    }
    path.contains('\\')
        || path.split('/').any(|segment| {
            let segment = segment.to_ascii_lowercase();
            let segment = segment.replace("%2e", ".");
            segment == "." || segment == ".."
        })
}

/// The request URL as the client sent it (path and query).
pub(crate) fn request_target(uri: &Uri) -> &str {
    uri.path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
}

/// A URL without its query, for log lines (queries may carry tokens).
pub(crate) fn log_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

/// Percent-decodes a request path strictly, like JavaScript's
/// `decodeURIComponent`: a stray `%` or invalid UTF-8 is refused (→ 500).
#[must_use]
pub fn decode_path(path: &str) -> Option<Cow<'_, str>> {
    let bytes = path.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_path_decoding() {
        assert_eq!(
            decode_path("/user/foo%40bar/x").as_deref(),
            Some("/user/foo@bar/x")
        );
        assert_eq!(decode_path("/a%2Fb").as_deref(), Some("/a/b"));
        assert_eq!(decode_path("/%"), None);
        assert_eq!(decode_path("/%4"), None);
        assert_eq!(decode_path("/%zz"), None);
        assert_eq!(decode_path("/%ff"), None);
    }

    #[test]
    fn dot_segments_resolve_like_a_url_parser() {
        let resolved = |path: &str| {
            let mut req = Request::get(path).body(()).unwrap();
            resolve_dot_segments(&mut req);
            req.uri().to_string()
        };
        assert_eq!(resolved("/a/b/../x?q=1"), "/a/x?q=1");
        assert_eq!(resolved("/x/../a/b"), "/a/b");
        assert_eq!(resolved("/a/./b/x"), "/a/b/x");
        assert_eq!(resolved("/a/%2e%2E/b"), "/b");
        assert_eq!(resolved("/a/.%2e/b"), "/b");
        assert_eq!(resolved("/../../etc"), "/etc");
        assert_eq!(resolved("/user/a/.."), "/user/");
        // Untouched: no dot segments (dots inside names are fine).
        assert_eq!(resolved("/user/a.b/..c/x.ipynb"), "/user/a.b/..c/x.ipynb");
        assert_eq!(resolved("/b%40r/b%20r/x"), "/b%40r/b%20r/x");
        assert_eq!(resolved("//a/b"), "//a/b");
    }

    #[test]
    fn log_urls_drop_queries() {
        assert_eq!(log_url("/a/b?token=secret"), "/a/b");
        assert_eq!(log_url("/a"), "/a");
    }
}
