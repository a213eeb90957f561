//! How the proxy reaches targets: TCP for `http://`, TCP + TLS for
//! `https://` (client certificate and CA from `--client-ssl-*`, no
//! verification with `--insecure`), and a unix socket for
//! `http+unix://<percent-encoded socket path>[/path]` (also spelled
//! `unix+http://`), as CHP does for JupyterHub's internal SSL and
//! socket-based servers.
//!
//! `http::Uri` refuses a `%` in the authority, so a unix target is carried
//! internally as `unix+http://<socket path in hex>/path`; [`target_uri`] does
//! the translation and [`Connector`] undoes it. Connection pools are keyed by
//! scheme and authority, so plain, TLS and per-socket connections never mix.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tower_service::Service;

use crate::body::BoxError;
use crate::forward::CONNECT_TIMEOUT;
use crate::rewrite::TargetError;

/// The internal scheme of unix-socket targets (authority = hex socket path).
const UNIX_SCHEME: &str = "unix+http";

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
    /// keep-alive, connecting bounded by [`CONNECT_TIMEOUT`].
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
                let path = socket_path(&uri)?;
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

/// The socket path of an internal unix URI.
fn socket_path(uri: &Uri) -> Result<PathBuf, BoxError> {
    use std::os::unix::ffi::OsStringExt;
    let hex = uri.host().unwrap_or_default();
    let bytes = from_hex(hex).ok_or_else(|| format!("bad unix socket authority '{hex}'"))?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Parses a unix-socket target (`http+unix://%2Fpath%2Fto%2Fsock/base`)
/// into the internal form; `None` if `target` is not a unix-socket URL.
pub(crate) fn unix_target(target: &str) -> Option<Result<Uri, TargetError>> {
    let rest = ["http+unix://", "unix+http://"].iter().find_map(|prefix| {
        target
            .get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .map(|_| &target[prefix.len()..])
    })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (socket, tail) = rest.split_at(end);
    let path: Vec<u8> = percent_encoding::percent_decode_str(socket).collect();
    if path.is_empty() {
        return Some(Err(TargetError::NotAbsolute(target.to_owned())));
    }
    let tail = tail.split('#').next().unwrap_or_default();
    let internal = format!("{UNIX_SCHEME}://{}{tail}", to_hex(&path));
    Some(
        internal
            .parse()
            .map_err(|e: http::uri::InvalidUri| TargetError::Invalid(e.to_string())),
    )
}

/// A URL for the upstream client (route targets, error targets): unix
/// targets in their internal form, others parsed as they are.
///
/// # Errors
/// Not an absolute URL.
pub fn target_uri(url: &str) -> Result<Uri, TargetError> {
    if let Some(uri) = unix_target(url) {
        return uri;
    }
    url.parse()
        .map_err(|_| TargetError::NotAbsolute(url.to_owned()))
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_targets_round_trip() {
        let uri = unix_target("http+unix://%2Ftmp%2Fhub.sock/base/x?q=1")
            .unwrap()
            .unwrap();
        assert_eq!(uri.scheme_str(), Some(UNIX_SCHEME));
        assert_eq!(uri.path_and_query().unwrap().as_str(), "/base/x?q=1");
        assert_eq!(socket_path(&uri).unwrap(), PathBuf::from("/tmp/hub.sock"));
        let other = unix_target("unix+http://%2Fa%20b").unwrap().unwrap();
        assert_eq!(socket_path(&other).unwrap(), PathBuf::from("/a b"));
        assert_eq!(other.path(), "/");
        assert!(unix_target("http://127.0.0.1:80").is_none());
        assert!(unix_target("http+unix:///x").unwrap().is_err());
    }

    #[test]
    fn target_uris() {
        assert_eq!(
            target_uri("https://hub:8081/x").unwrap().scheme_str(),
            Some("https")
        );
        assert!(target_uri("not a url").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(b"/t\xff"), "2f74ff");
        assert_eq!(from_hex("2f74ff").unwrap(), b"/t\xff");
        assert_eq!(from_hex("2f7"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
