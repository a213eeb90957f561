//! Recording a route's `last_activity` from the traffic itself, the way
//! configurable-http-proxy does: every chunk of request body, the end of a
//! successful response, and every read from a websocket client.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics::ProxyMetrics;
use crate::routes::Route;

/// When a body counts as activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    /// On every data chunk (request bodies).
    EveryChunk,
    /// When the body has been sent completely (successful responses).
    AtEnd,
}

/// A body that touches its route as it streams.
pub(crate) struct ActivityBody<B> {
    inner: B,
    route: Arc<Route>,
    moment: Moment,
    metrics: Arc<ProxyMetrics>,
}

impl<B> ActivityBody<B> {
    /// Wraps `inner` so traffic through it bumps `route`'s activity (each
    /// update timed into `metrics`).
    pub(crate) fn new(
        inner: B,
        route: Arc<Route>,
        moment: Moment,
        metrics: Arc<ProxyMetrics>,
    ) -> Self {
        Self {
            inner,
            route,
            moment,
            metrics,
        }
    }
}

impl<B> Body for ActivityBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match (&frame, self.moment) {
            (Some(Ok(f)), Moment::EveryChunk) if f.is_data() => self.metrics.touch(&self.route),
            (None, Moment::AtEnd) => self.metrics.touch(&self.route),
            _ => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A byte stream (the websocket client side) that touches its route whenever
/// data arrives from it.
pub(crate) struct TouchingStream<S> {
    inner: S,
    route: Arc<Route>,
    metrics: Arc<ProxyMetrics>,
}

impl<S> TouchingStream<S> {
    /// Wraps `inner`; reads from it count as activity on `route` (each
    /// update timed into `metrics`).
    pub(crate) fn new(inner: S, route: Arc<Route>, metrics: Arc<ProxyMetrics>) -> Self {
        Self {
            inner,
            route,
            metrics,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TouchingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.metrics.touch(&self.route);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TouchingStream<S> {
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
