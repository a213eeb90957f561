//! A small HTTP/1.1 client for the hub's own calls (proxy API), on hyper.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A pooled client.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built.
    #[error("bad request to {0}")]
    Build(String),
    /// Connection or protocol failure.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl Default for HttpClient {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
        Self {
            // configurable-http-proxy and ferrohub-proxy close idle API
            // connections after 5 s; reusing one at that moment fails the
            // call, so pooled connections are dropped well before that.
            inner: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .pool_timer(TokioTimer::new())
                .build(connector),
        }
    }
}

impl HttpClient {
    /// Sends a request and reads the whole (small) response.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| HttpError::Build(url.to_owned()))?;
        let transport = |reason: String| HttpError::Transport {
            url: url.to_owned(),
            reason,
        };
        let response = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            self.inner.request(request),
        )
        .await
        .map_err(|_| transport("timed out".into()))?
        .map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}
