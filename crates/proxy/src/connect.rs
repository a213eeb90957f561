//! How the proxy reaches targets: TCP for `http://`, TCP + TLS for
//! `https://` (client certificate and CA from `--client-ssl-*`, no
//! verification with `--insecure`), and a unix socket for
//! `http+unix://<percent-encoded socket path>[/path]` (also spelled
//! `unix+http://`), as CHP does for JupyterHub's internal SSL and
//! socket-based servers.
//!
//! `http::Uri` refuses a `%` in the authority, so a unix target is carried
//! internally as `unix+http://<socket path in hex>/path`;
//! [`crate::target::target_uri`] does the translation and [`Connector`]
//! undoes it. Connection pools are keyed by scheme and authority, so plain,
//! TLS and per-socket connections never mix.
//!
//! The pooled [`UpstreamClient`] and the connect timeout live here, below
//! the data path and the error pages, which both send through it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower_service::Service;

use crate::body::{Body, BoxError};
use crate::target::{UNIX_SCHEME, socket_path};

/// The pooled HTTP client used to reach targets and the error server.
pub type UpstreamClient = Client<Connector, Body>;

/// Connecting to a target that neither accepts nor refuses gives up after
/// this long (CHP waits for the OS, minutes): the user gets a 503 instead.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle pooled connections to targets are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the keep-alive client over `connector` (http, https, unix sockets).
#[must_use]
pub fn upstream_client(connector: Connector) -> UpstreamClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector)
}

/// Opens connections to targets for the pooled upstream client.
#[derive(Clone)]
pub struct Connector {
    http: HttpConnector,
    tls: TlsConnector,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector whose `https` connections use `tls` (see
    /// [`crate::tls::client_config`]). TCP connections: no Nagle delay, TCP
    /// keep-alive, connecting bounded by `CONNECT_TIMEOUT` (10 s).
    #[must_use]
    pub fn new(tls: Arc<ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Self {
            http,
            tls: TlsConnector::from(tls),
        }
    }
}

impl Service<Uri> for Connector {
    type Response = TokioIo<Upstream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        match uri.scheme_str() {
            Some(UNIX_SCHEME) => Box::pin(async move {
                let path = socket_path(&uri).ok_or_else(|| {
                    let hex = uri.host().unwrap_or_default();
                    format!("bad unix socket authority '{hex}'")
                })?;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&path))
                    .await
                    .map_err(|_| timed_out("connecting to", &path))?
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("connect {}: {e}", path.display()))
                    })?;
                Ok(TokioIo::new(Upstream::Unix(stream)))
            }),
            Some("https") => {
                let tls = self.tls.clone();
                Box::pin(async move {
                    let name = server_name(&uri)?;
                    let tcp = http.call(uri).await?.into_inner();
                    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, tcp))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                        })??;
                    Ok(TokioIo::new(Upstream::Tls(Box::new(stream))))
                })
            }
            _ => Box::pin(async move {
                let tcp = http.call(uri).await?.into_inner();
                Ok(TokioIo::new(Upstream::Tcp(tcp)))
            }),
        }
    }
}

fn timed_out(what: &str, path: &std::path::Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} {} timed out", path.display()),
    )
}

/// The name the target's certificate must carry: its host (DNS name or IP).
fn server_name(uri: &Uri) -> Result<ServerName<'static>, BoxError> {
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|e| format!("invalid TLS server name '{host}': {e}").into())
}

/// A connection to a target.
pub enum Upstream {
    /// `http://`.
    Tcp(TcpStream),
    /// `https://`.
    Tls(Box<TlsStream<TcpStream>>),
    /// `http+unix://`.
    Unix(UnixStream),
}

impl Connection for Upstream {
    fn connected(&self) -> Connected {
        match self {
            Self::Tcp(tcp) => tcp.connected(),
            Self::Tls(tls) => tls.get_ref().0.connected(),
            Self::Unix(_) => Connected::new(),
        }
    }
}

impl AsyncRead for Upstream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Upstream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Self::Tls(s) => Pin::new(s).poll_write(cx, data),
            Self::Unix(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
            Self::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
