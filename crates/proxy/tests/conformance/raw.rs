//! A tiny HTTP/1.1 client over raw sockets: the request goes out byte for
//! byte (no URL normalisation, exact headers) and the response comes back
//! with its reason phrase, repeated headers and framing visible.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long a raw exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The whole status line, e.g. `HTTP/1.1 404 Not Found`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header (name compared case-insensitively).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    #[must_use]
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// All values joined by `, ` (how repeated fields combine, RFC 9110 §5.3).
    #[must_use]
    pub fn header_joined(&self, name: &str) -> Option<String> {
        let all = self.header_all(name);
        (!all.is_empty()).then(|| all.join(", "))
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects to `addr`, sends `request`, reads one response.
pub async fn request(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    exchange(&mut stream, request).await
}

/// Sends `request` on an open stream and reads one response.
pub async fn exchange<S>(stream: &mut S, request: &[u8]) -> RawResponse
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request).await.expect("write request");
    let head_request = request.starts_with(b"HEAD ");
    tokio::time::timeout(TIMEOUT, read_response(stream, head_request))
        .await
        .expect("a response within 10 s")
}

/// Reads one response from a stream (after the request was written).
pub async fn read_response<S>(stream: &mut S, head_request: bool) -> RawResponse
where
    S: AsyncRead + Unpin,
{
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = read_more(stream, &mut buf).await;
        assert!(
            n > 0,
            "connection closed before a complete response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let reason = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut response = RawResponse {
        status_line,
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    if head_request || status < 200 || status == 204 || status == 304 {
        return response;
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    if chunked {
        response.body = read_chunked(stream, rest).await;
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().expect("numeric content-length");
        while rest.len() < len {
            let n = read_more(stream, &mut rest).await;
            assert!(n > 0, "connection closed inside the body");
        }
        rest.truncate(len);
        response.body = rest;
    } else {
        while read_more(stream, &mut rest).await > 0 {}
        response.body = rest;
    }
    response
}

async fn read_chunked<S: AsyncRead + Unpin>(stream: &mut S, mut buf: Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = find(&buf, b"\r\n") {
                break pos;
            }
            assert!(
                read_more(stream, &mut buf).await > 0,
                "closed in chunk size"
            );
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            while find(&buf, b"\r\n").is_none() {
                if read_more(stream, &mut buf).await == 0 {
                    break;
                }
            }
            return body;
        }
        while buf.len() < size + 2 {
            assert!(read_more(stream, &mut buf).await > 0, "closed in chunk");
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            n
        }
        // A reset after the response counts as the end.
        Err(_) => 0,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the peer sent until it closed the connection or `wait` passed.
#[derive(Debug)]
pub struct Drained {
    /// Bytes received.
    pub bytes: Vec<u8>,
    /// Whether the peer closed (EOF or reset) within the wait.
    pub closed: bool,
}

/// Reads everything until the peer closes or `wait` passes.
pub async fn drain<S: AsyncRead + Unpin>(stream: &mut S, wait: Duration) -> Drained {
    let mut bytes = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, read_more(stream, &mut bytes)).await {
            Ok(0) => {
                return Drained {
                    bytes,
                    closed: true,
                };
            }
            Ok(_) => {}
            Err(_) => {
                return Drained {
                    bytes,
                    closed: false,
                };
            }
        }
    }
}
