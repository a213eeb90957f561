//! The data path: find the route for a public request, forward it to the
//! route's target over a pooled keep-alive client, and stream both bodies
//! without buffering. Websocket upgrades branch off to the child module
//! `websocket`; failures become the error pages of [`crate::errors`].

use std::error::Error as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;

use crate::activity::{ActivityBody, Moment};
use crate::body::{Body, BoxError, boxed, full};
use crate::connect::{Connector, UpstreamClient, upstream_client};
use crate::errors::ErrorPages;
use crate::headers::{self as hop, Exchange};
use crate::location::LocationRewrite;
use crate::metrics::ProxyMetrics;
use crate::paths::{log_url, request_target};
use crate::peer::Peer;
use crate::relay::Gather;
use crate::rewrite::Rewrite;
use crate::routes::{Route, RouteTable};
use crate::target::TargetError;
use crate::timeout::{IdleBody, shortest};

// Kept under their old path for callers outside the crate (the fuzz
// targets); they are defined in `paths`, which the REST API shares.
pub use crate::paths::{decode_path, resolve_dot_segments};

/// Websocket upgrades: part of the forwarder (they share its route lookup,
/// URL and header rewriting and client), so a child module rather than a
/// sibling that would import `forward` while `forward` calls into it.
mod websocket;

/// How the data path behaves: the settings it reads, and only those. The
/// server builds them from [`crate::config::ProxyOptions`] (which the
/// command line or an embedder filled in), so the data path depends on
/// neither the command line nor the whole configuration.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// `--error-target`: the server asked for error pages.
    pub error_target: Option<String>,
    /// `--error-path`: the directory error pages are read from.
    pub error_path: Option<PathBuf>,
    /// `--no-prepend-path` / `--no-include-prefix`.
    pub rewrite: Rewrite,
    /// Add `X-Forwarded-*` headers (off with `--no-x-forward`).
    pub x_forward: bool,
    /// `--host-routing`: route keys start with the `Host` name.
    pub host_routing: bool,
    /// `--custom-header`s, parsed once at start, set on every request.
    pub custom_headers: Vec<(HeaderName, HeaderValue)>,
    /// `--change-origin`: the target's host as `Host`.
    pub change_origin: bool,
    /// `--auto-rewrite` / `--protocol-rewrite` of redirect locations.
    pub location: LocationRewrite,
    /// `--timeout`: drop an exchange that stalls this long.
    pub timeout: Option<Duration>,
    /// `--proxy-timeout`: 503 when the target is silent this long.
    pub proxy_timeout: Option<Duration>,
    /// `--ws-gather`: how long a websocket stream's data may wait for more.
    pub ws_gather: Gather,
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
    fn upstream(error: &hyper_util::client::legacy::Error) -> Self {
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
    table: Arc<RouteTable>,
    client: UpstreamClient,
    pages: ErrorPages,
    rewrite: Rewrite,
    x_forward: bool,
    host_routing: bool,
    custom_headers: Vec<(HeaderName, HeaderValue)>,
    change_origin: bool,
    location: LocationRewrite,
    timeout: Option<Duration>,
    proxy_timeout: Option<Duration>,
    ws_gather: Gather,
    metrics: Arc<ProxyMetrics>,
}

impl Forwarder {
    /// A forwarder over `table` with `settings`, reaching targets through
    /// `connector` and counting into `metrics`.
    #[must_use]
    pub fn new(
        settings: ForwardSettings,
        table: Arc<RouteTable>,
        connector: Connector,
        metrics: Arc<ProxyMetrics>,
    ) -> Self {
        let client = upstream_client(connector);
        let pages = ErrorPages::new(
            settings.error_target.as_deref(),
            settings.error_path,
            client.clone(),
        );
        Self {
            table,
            client,
            pages,
            rewrite: settings.rewrite,
            x_forward: settings.x_forward,
            host_routing: settings.host_routing,
            custom_headers: settings.custom_headers,
            change_origin: settings.change_origin,
            location: settings.location,
            timeout: settings.timeout,
            proxy_timeout: settings.proxy_timeout,
            ws_gather: settings.ws_gather,
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
    fn find_route(&self, headers: &HeaderMap, path: &str) -> Option<Arc<Route>> {
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
    fn upstream_uri(&self, route: &Route, request: &Uri) -> Result<Uri, TargetError> {
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
    fn upstream_headers(
        &self,
        headers: &mut HeaderMap,
        uri: &Uri,
        upstream: &Uri,
        peer: Peer,
        exchange: Exchange,
    ) {
        hop::ensure_host(headers, uri);
        hop::join_cookies(headers);
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
    req.uri()
        .path_and_query()
        .map(http::uri::PathAndQuery::as_str)
        == Some("/_chp_healthz")
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
