//! Who is on the other end of a client connection. The listeners produce
//! it for each accepted connection and the data path reads it (for
//! `X-Forwarded-*`), so it lives below both: `forward` needs no listener
//! code and `listen` no data-path code.

use std::fmt;
use std::net::SocketAddr;

/// Who is on the other end of a connection, for `X-Forwarded-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address; `None` on a unix socket.
    pub addr: Option<SocketAddr>,
    /// Whether the connection is TLS (`https`/`wss`).
    pub tls: bool,
}

impl Peer {
    /// A plain TCP client at `addr`.
    #[must_use]
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            addr: Some(addr),
            tls: false,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("a unix socket client"),
        }
    }
}
