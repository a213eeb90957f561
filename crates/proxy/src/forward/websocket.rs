//! Websocket pass-through: the upgrade request is routed like any other,
//! sent to the target, and on `101 Switching Protocols` both upgraded
//! connections are spliced byte for byte (no frame parsing). Failures get a
//! bare status line, never an error page, as in CHP 5.1+.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{ForwardError, Forwarder};
use crate::activity::TouchingStream;
use crate::body::{Body, BoxError, boxed, empty};
use crate::headers::{self as hop, Exchange};
use crate::metrics::ProxyMetrics;
use crate::paths::{decode_path, log_url, request_target};
use crate::peer::Peer;
use crate::relay::{Gather, relay};
use crate::routes::Route;

/// The request asked to upgrade to something we cannot pass through.
#[derive(Debug, thiserror::Error)]
#[error("refusing upgrade: only GET with 'Upgrade: websocket' is proxied")]
pub(super) struct NotWebSocket;

impl Forwarder {
    /// Handles an upgrade request. Non-websocket upgrades are refused by
    /// dropping the connection (CHP destroys the socket).
    pub(super) async fn handle_upgrade(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: Peer,
    ) -> Result<Response<Body>, BoxError> {
        self.metrics.ws_request();
        if req.method() != Method::GET || !wants_websocket(&req) {
            return Err(NotWebSocket.into());
        }
        let original = req.uri().clone();
        let url = request_target(&original);
        let Some(path) = decode_path(req.uri().path()) else {
            tracing::error!("500 GET {} undecodable path", log_url(url));
            return Ok(self.bare(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let Some(route) = self.find_route(req.headers(), &path) else {
            tracing::warn!("404 GET {} no route", log_url(url));
            return Ok(self.bare(StatusCode::NOT_FOUND));
        };
        tracing::debug!("PROXY WS {} to {}", log_url(url), route.target());
        match self.forward_upgrade(req, &route, peer).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let status = e.status().unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                tracing::error!("{} GET {} {e}", status.as_u16(), log_url(url));
                Ok(self.bare(status))
            }
        }
    }

    async fn forward_upgrade(
        &self,
        mut req: Request<Incoming>,
        route: &Arc<Route>,
        peer: Peer,
    ) -> Result<Response<Body>, ForwardError> {
        let uri = self.upstream_uri(route, req.uri())?;
        let client_side = hyper::upgrade::on(&mut req);
        let (mut parts, _) = req.into_parts();
        self.upstream_headers(
            &mut parts.headers,
            &parts.uri,
            &uri,
            peer,
            Exchange::WebSocket,
        );
        let mut upstream = Request::new(empty());
        *upstream.uri_mut() = uri;
        *upstream.version_mut() = Version::HTTP_11;
        *upstream.headers_mut() = parts.headers;
        let mut response = self
            .client
            .request(upstream)
            .await
            .map_err(|e| ForwardError::upstream(&e))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Ok(refused(response));
        }
        let target_side = hyper::upgrade::on(&mut response);
        tokio::spawn(splice(
            client_side,
            target_side,
            Arc::clone(route),
            Arc::clone(&self.metrics),
            self.ws_gather,
        ));
        let (parts, _) = response.into_parts();
        Ok(Response::from_parts(parts, empty()))
    }
}

/// Whether the `Upgrade` header asks for websocket (case-insensitive).
fn wants_websocket<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// The target answered the handshake with something other than 101: relay
/// it, then close the client connection.
fn refused(response: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    hop::strip_hop_by_hop(&mut parts.headers, Exchange::Http);
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Response::from_parts(parts, boxed(body))
}

impl Forwarder {
    /// A proxy error on a websocket (counted like CHP's): see [`bare`].
    fn bare(&self, status: StatusCode) -> Response<Body> {
        self.metrics.proxy_response(status);
        bare(status)
    }
}

/// A bare status answer (`Content-Length: 0`) that closes the connection.
fn bare(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Relays bytes both ways between the upgraded connections until both
/// directions end (see [`relay`]); data from the client counts as route
/// activity.
async fn splice(
    client: OnUpgrade,
    target: OnUpgrade,
    route: Arc<Route>,
    metrics: Arc<ProxyMetrics>,
    gather: Gather,
) {
    let (client, target) = match (client.await, target.await) {
        (Ok(client), Ok(target)) => (client, target),
        (Err(e), _) | (_, Err(e)) => {
            tracing::debug!("websocket upgrade on {} failed: {e}", route.path());
            return;
        }
    };
    let client = TouchingStream::new(TokioIo::new(client), Arc::clone(&route), metrics);
    let target = TokioIo::new(target);
    match relay(client, target, gather).await {
        Ok((up, down)) => tracing::debug!(
            "websocket on {} closed ({up} bytes up, {down} down)",
            route.path()
        ),
        Err(e) => tracing::debug!("websocket on {} ended: {e}", route.path()),
    }
}
