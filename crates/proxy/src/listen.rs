//! Listening sockets and how each accepted connection is served: a TCP port
//! or a unix socket (`--socket`, `--api-socket`, `--metrics-socket`),
//! optionally TLS (`--ssl-*`, `--api-ssl-*`), then HTTP/1.1 with keep-alive
//! and upgrades, or HTTP/2 (chosen by ALPN over TLS, by prior knowledge on
//! plain connections).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::body::{Body, BoxError};
use crate::busy_poll::BusyPoll;
use crate::peer::Peer;

/// A client that takes this long to complete its TLS handshake is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A listener could not be opened. The server wraps it in its
/// `BindError` unchanged (same text), so this module needs nothing from
/// the server that uses it.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}: {source}")]
pub struct ListenError {
    /// What we tried to bind (`ip:port` or a socket path).
    pub address: String,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An IP address and port.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A bound listener, optionally with TLS. A unix socket file is removed
/// when the listener is dropped.
pub struct Listener {
    socket: Socket,
    tls: Option<TlsSlot>,
    /// Told of every read and write on accepted connections (`--busy-poll`).
    busy_poll: Option<Arc<BusyPoll>>,
}

/// A listener's current TLS configuration; swapped in place when the
/// certificate files are reloaded (SIGHUP), read once per new connection.
pub type TlsSlot = Arc<ArcSwap<ServerConfig>>;

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `ip:port`; an empty `ip` (or `*`, with a warning, as CHP) means
    /// all interfaces: dual-stack `::` where the host has IPv6, else
    /// `0.0.0.0`. Port 0 picks a free port.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn tcp(ip: &str, port: u16) -> Result<Self, ListenError> {
        if ip == "*" {
            tracing::warn!(
                "Interpreting ip='*' as all-interfaces. Preferred usage is 0.0.0.0 for all IPv4 or '' for all-interfaces."
            );
        }
        let listener = if ip.is_empty() || ip == "*" {
            match TcpListener::bind(("::", port)).await {
                Ok(listener) => listener,
                Err(_) => bind_tcp("0.0.0.0", port).await?,
            }
        } else {
            bind_tcp(ip, port).await?
        };
        Ok(Self {
            socket: Socket::Tcp(listener),
            tls: None,
            busy_poll: None,
        })
    }

    /// Binds a unix socket at `path`. A stale socket file (nobody accepting
    /// on it, e.g. after a crash) is removed first; a live one is an error.
    ///
    /// # Errors
    /// Someone listens there already, or the path cannot be bound.
    pub fn unix(path: &Path) -> Result<Self, ListenError> {
        let error = |source: io::Error| ListenError {
            address: path.display().to_string(),
            source,
        };
        let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
        if is_socket {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(error(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is listening on this socket",
                )));
            }
            tracing::info!("Removing stale socket {}", path.display());
            std::fs::remove_file(path).map_err(error)?;
        }
        let listener = UnixListener::bind(path).map_err(error)?;
        Ok(Self {
            socket: Socket::Unix(listener, path.to_owned()),
            tls: None,
            busy_poll: None,
        })
    }

    /// Serves TLS with `config` (when `Some`).
    #[must_use]
    pub fn with_tls(mut self, config: Option<Arc<ServerConfig>>) -> Self {
        self.tls = config.map(|config| Arc::new(ArcSwap::new(config)));
        self
    }

    /// Tells `busy_poll` of every read and write on this listener's
    /// connections (see [`crate::busy_poll`]).
    #[must_use]
    pub fn with_busy_poll(mut self, busy_poll: Option<Arc<BusyPoll>>) -> Self {
        self.busy_poll = busy_poll;
        self
    }

    /// The busy-poller its connections tell of their traffic, if any.
    #[must_use]
    pub fn busy_poll(&self) -> Option<Arc<BusyPoll>> {
        self.busy_poll.clone()
    }

    /// Where this listener's TLS configuration lives, to reload it.
    #[must_use]
    pub fn tls_slot(&self) -> Option<TlsSlot> {
        self.tls.clone()
    }

    /// Whether connections are TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `https` or `http`, for log lines.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        if self.is_tls() { "https" } else { "http" }
    }

    /// Where the listener listens.
    ///
    /// # Errors
    /// The OS cannot tell the TCP address.
    pub fn endpoint(&self) -> io::Result<Endpoint> {
        match &self.socket {
            Socket::Tcp(listener) => listener.local_addr().map(Endpoint::Tcp),
            Socket::Unix(_, path) => Ok(Endpoint::Unix(path.clone())),
        }
    }

    /// The TCP address (an error for a unix socket).
    ///
    /// # Errors
    /// A unix-socket listener, or the OS cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.endpoint()? {
            Endpoint::Tcp(addr) => Ok(addr),
            Endpoint::Unix(path) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("listening on unix socket {}", path.display()),
            )),
        }
    }

    async fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match &self.socket {
            Socket::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                // No Nagle delay, and TCP keep-alive so dead peers of
                // long-lived (websocket) connections are eventually noticed.
                // Both are optimisations: a socket that refuses them still works.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY on the connection from {addr}: {e}");
                }
                if let Err(e) = socket2::SockRef::from(&stream).set_keepalive(true) {
                    tracing::debug!("SO_KEEPALIVE on the connection from {addr}: {e}");
                }
                Ok((Stream::Tcp(stream), Some(addr)))
            }
            Socket::Unix(listener, _) => {
                let (stream, _) = listener.accept().await?;
                Ok((Stream::Unix(stream), None))
            }
        }
    }

    /// Accepts connections forever, serving each on its own task: TLS
    /// handshake first if configured, then HTTP/1.1 keep-alive (idle limit
    /// `keep_alive`) with upgrades, or HTTP/2. Every connection is watched
    /// by `graceful`, so a shutdown can let requests in flight finish.
    pub async fn serve<M, S, F, E>(
        self,
        keep_alive: Duration,
        graceful: Arc<GracefulShutdown>,
        make_service: M,
    ) where
        M: Fn(Peer) -> S,
        S: Fn(Request<Incoming>) -> F + Send + 'static,
        F: Future<Output = Result<Response<Body>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        loop {
            let (stream, addr) = match self.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::error!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let peer = Peer {
                addr,
                tls: self.is_tls(),
            };
            let service = service_fn(make_service(peer));
            let tls = self
                .tls
                .as_ref()
                .map(|slot| TlsAcceptor::from(slot.load_full()));
            let watcher = graceful.watcher();
            let busy = self.busy_poll.clone();
            tokio::spawn(async move {
                let io = match tls {
                    None => Conn::Plain(stream),
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                        {
                            Ok(Ok(tls)) => Conn::Tls(Box::new(tls)),
                            Ok(Err(e)) => {
                                tracing::debug!("TLS handshake with {peer} failed: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake with {peer} timed out");
                                return;
                            }
                        }
                    }
                };
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(keep_alive);
                let io = Polled { inner: io, busy };
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                let served = watcher.watch(connection).await;
                if let Err(e) = served {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
            });
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Socket::Unix(_, path) = &self.socket {
            // Gone already is fine; anything else leaves a stale socket file
            // that the next start has to replace, so say so.
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("removing unix socket {}: {e}", path.display()),
            }
        }
    }
}

async fn bind_tcp(ip: &str, port: u16) -> Result<TcpListener, ListenError> {
    let host = ip.trim_start_matches('[').trim_end_matches(']');
    TcpListener::bind((host, port))
        .await
        .map_err(|source| ListenError {
            address: format!("{ip}:{port}"),
            source,
        })
}

/// An accepted connection before TLS.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// An accepted connection, plain or TLS.
enum Conn {
    Plain(Stream),
    Tls(Box<TlsStream<Stream>>),
}

/// Implements `AsyncRead`/`AsyncWrite` for an enum by delegating to the
/// variant's stream (vectored writes included: hyper relies on them).
macro_rules! delegate_io {
    ($ty:ident { $($variant:ident),+ }) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_read(cx, buf),)+
                }
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_write(cx, data),)+
                }
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_write_vectored(cx, bufs),)+
                }
            }

            fn is_write_vectored(&self) -> bool {
                match self {
                    $(Self::$variant(s) => s.is_write_vectored(),)+
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_flush(cx),)+
                }
            }

            fn poll_shutdown(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_shutdown(cx),)+
                }
            }
        }
    };
}

delegate_io!(Stream { Tcp, Unix });
delegate_io!(Conn { Plain, Tls });

/// An accepted connection whose traffic keeps the busy-poller, if any,
/// polling (websockets included: hyper hands this stream over on upgrade).
struct Polled {
    inner: Conn,
    busy: Option<Arc<BusyPoll>>,
}

impl Polled {
    fn traffic<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let (Some(busy), Poll::Ready(Ok(_))) = (&self.busy, &poll) {
            busy.touch();
        }
        poll
    }
}

impl AsyncRead for Polled {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.traffic(poll)
    }
}

impl AsyncWrite for Polled {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, data);
        this.traffic(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.traffic(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
