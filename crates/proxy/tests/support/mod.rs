//! Shared test fixtures: a proxy on real sockets, an HTTP echo backend, a
//! websocket echo backend, and small helpers around the REST API.
//!
//! Every server listens on 127.0.0.1 port 0 and lives until the test ends.

#![allow(dead_code, reason = "each test binary uses a different part of it")]
#![allow(
    unreachable_pub,
    reason = "test support: `pub` is what the test files that include it see"
)]

mod ports;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferrohub_proxy::{ProxyOptions, ProxyServer, RouteTable};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// The API token every test proxy is started with.
pub const TOKEN: &str = "secret";

/// A reqwest client that never goes through a system proxy.
#[must_use]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// Options for a proxy on 127.0.0.1 with both ports picked by the OS.
#[must_use]
pub fn options() -> ProxyOptions {
    ProxyOptions {
        ip: "127.0.0.1".into(),
        port: 0,
        api_ip: "127.0.0.1".into(),
        api_port: Some(0),
        ..ProxyOptions::default()
    }
}

/// A running proxy; stopped when dropped.
pub struct Proxy {
    pub public: SocketAddr,
    pub api: SocketAddr,
    pub table: Arc<RouteTable>,
    pub http: reqwest::Client,
    /// The metrics listener, when `--metrics-port` was set.
    pub metrics: Option<SocketAddr>,
    /// The HTTP→HTTPS redirect listener, when `--redirect-port` was set.
    pub redirect: Option<SocketAddr>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a proxy with [`options`] and token [`TOKEN`].
pub async fn proxy() -> Proxy {
    proxy_with(options()).await
}

/// Starts a proxy with the given options and token [`TOKEN`].
pub async fn proxy_with(options: ProxyOptions) -> Proxy {
    let server = ProxyServer::bind(options, Some(TOKEN.to_owned()))
        .await
        .expect("bind proxy");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let proxy = Proxy {
        public: server.public_addr().expect("public addr"),
        api: server.api_addr().expect("api addr"),
        table: server.table(),
        http: client(),
        metrics: match server.metrics_endpoint() {
            Some(ferrohub_proxy::listen::Endpoint::Tcp(addr)) => Some(addr),
            _ => None,
        },
        redirect: server.redirect_addr(),
        shutdown: Some(tx),
    };
    tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    proxy
}

impl Proxy {
    /// `http://<public>/<path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public)
    }

    /// `ws://<public>/<path>`.
    #[must_use]
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.public)
    }

    /// `http://<api>/api/routes<path>`.
    #[must_use]
    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}/api/routes{path}", self.api)
    }

    /// An authenticated API request.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.api_url(path))
            .header("Authorization", format!("token {TOKEN}"))
    }

    /// A plain GET through the public port.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// A GET through the proxy that must reach an echo backend; returns what it saw.
    pub async fn get_echo(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("echo JSON")
    }

    /// Adds a route through the API (asserts 201).
    pub async fn add_route(&self, path: &str, target: &str) {
        self.add_route_data(path, json!({ "target": target })).await;
    }

    /// Adds a route with arbitrary data (asserts 201).
    pub async fn add_route_data(&self, path: &str, data: Value) {
        let response = self
            .api(reqwest::Method::POST, path)
            .json(&data)
            .send()
            .await
            .expect("POST route");
        assert_eq!(response.status(), 201, "POST {path}");
    }

    /// The whole table via `GET /api/routes`.
    pub async fn routes(&self) -> Map<String, Value> {
        let response = self
            .api(reqwest::Method::GET, "")
            .send()
            .await
            .expect("GET routes");
        assert_eq!(response.status(), 200);
        match response.json().await.expect("routes JSON") {
            Value::Object(map) => map,
            other => panic!("routes are not an object: {other}"),
        }
    }

    /// One route via `GET /api/routes/<path>`, `None` on 404.
    pub async fn route(&self, path: &str) -> Option<Value> {
        let response = self
            .api(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET route");
        match response.status().as_u16() {
            200 => Some(response.json().await.expect("route JSON")),
            404 => None,
            other => panic!("GET route {path}: {other}"),
        }
    }

    /// A route's `last_activity`, read through the API.
    pub async fn last_activity(&self, path: &str) -> DateTime<Utc> {
        let route = self.route(path).await.expect("route exists");
        parse_activity(&route["last_activity"])
    }
}

/// Parses `last_activity`, checking CHP's exact shape (`2026-11-22T10:24:06.006Z`).
#[must_use]
pub fn parse_activity(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("last_activity is a string");
    assert_eq!(text.len(), 24, "ISO with milliseconds: {text}");
    assert!(text.ends_with('Z') && &text[19..20] == ".", "{text}");
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// A port on 127.0.0.1 that nothing listens on right now.
#[must_use]
pub fn dead_port() -> u16 {
    ports::unused_port()
}

// ---------------------------------------------------------------------------
// Clean-up. It must go on whatever fails, so failures are reported on stderr
// (shown with a failing test's output) rather than raised.

/// Kills and reaps a process a test started (a proxy binary, a backend).
pub fn kill_and_reap(child: &mut std::process::Child, what: &str) {
    if let Err(e) = child.kill() {
        eprintln!("killing {what}: {e}");
    }
    if let Err(e) = child.wait() {
        eprintln!("reaping {what}: {e}");
    }
}

/// Removes a file or unix socket a test made; already gone is fine.
pub fn remove_if_present(path: &std::path::Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("removing {}: {e}", path.display()),
    }
}

/// Removes a directory tree a test made; already gone is fine.
pub fn remove_dir_if_present(path: &std::path::Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("removing {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------
// Hashing and payloads.

/// FNV-1a 64, fed incrementally (chunk boundaries do not matter).
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    #[must_use]
    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// FNV-1a of a whole buffer, as hex.
#[must_use]
pub fn hash(bytes: &[u8]) -> String {
    let mut h = Fnv::default();
    h.update(bytes);
    h.hex()
}

/// `len` deterministic pseudo-random bytes (xorshift), seeded.
#[must_use]
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------
// HTTP echo backend.

type Body = BoxBody<Bytes, Infallible>;

/// A running backend.
pub struct Backend {
    pub addr: SocketAddr,
    pub name: String,
}

impl Backend {
    /// `http://127.0.0.1:<port>` followed by `path`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// An HTTP/1.1 server that answers every request with JSON describing it:
/// `{name, method, path, url, headers, body_len, body_hash}`.
///
/// - `GET .../download/<n>` streams `payload(n, 7)` in 64 KiB chunks instead;
/// - a query containing `status=<code>` makes the answer use that status.
pub async fn echo_backend(name: &str) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("addr");
    let name_owned: Arc<str> = Arc::from(name);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let name = Arc::clone(&name_owned);
            tokio::spawn(async move {
                let service = service_fn(move |req| echo(Arc::clone(&name), req));
                // Tests drop connections half-way on purpose: not an error.
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("echo backend: {e}");
                }
            });
        }
    });
    Backend {
        addr,
        name: name.to_owned(),
    }
}

/// [`echo_backend`] on a unix socket at `path` (for `http+unix://` targets).
/// Listening already when it returns; must be called inside a runtime.
pub fn unix_echo_backend(name: &str, path: &std::path::Path) {
    remove_if_present(path);
    let listener = tokio::net::UnixListener::bind(path).expect("bind unix backend");
    let name: Arc<str> = Arc::from(name);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let name = Arc::clone(&name);
            tokio::spawn(async move {
                let service = service_fn(move |req| echo(Arc::clone(&name), req));
                // Tests drop connections half-way on purpose: not an error.
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("echo backend: {e}");
                }
            });
        }
    });
}

/// A fresh path for a unix socket in the temp directory.
#[must_use]
pub fn socket_path(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("fhp-{}-{n}-{name}.sock", std::process::id()))
}

async fn echo(
    name: Arc<str>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    if let Some(size) = path
        .rsplit_once("/download/")
        .and_then(|(_, n)| n.parse::<usize>().ok())
    {
        let data = Bytes::from(payload(size, 7));
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> = (0..size)
            .step_by(64 * 1024)
            .map(|start| {
                Ok(Frame::data(
                    data.slice(start..(start + 64 * 1024).min(size)),
                ))
            })
            .collect();
        let body = BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)));
        return Ok(hyper::Response::new(body));
    }
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let status = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("status="))
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(200);
    let method = req.method().to_string();
    let mut headers = Map::new();
    for (key, value) in req.headers() {
        let value = value.to_str().unwrap_or("<binary>");
        let joined = match headers.get(key.as_str()).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.to_owned(),
        };
        headers.insert(key.as_str().to_owned(), Value::String(joined));
    }
    let mut body = req.into_body();
    let (mut len, mut h) = (0usize, Fnv::default());
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            len += data.len();
            h.update(data);
        }
    }
    let answer = json!({
        "name": &*name,
        "method": method,
        "path": path,
        "url": url,
        "headers": headers,
        "body_len": len,
        "body_hash": h.hex(),
    });
    let mut response = hyper::Response::new(Full::new(Bytes::from(answer.to_string())).boxed());
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("x-backend", name.parse().expect("header value"));
    Ok(response)
}

// ---------------------------------------------------------------------------
// WebSocket echo backend.

/// A websocket server: on connect it sends one text message, JSON
/// `{"path": <request URI>, "headers": {...}}`, then echoes every text and
/// binary message back unchanged.
pub async fn ws_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(ws_session(stream));
        }
    });
    addr
}

#[allow(
    clippy::result_large_err,
    reason = "the handshake callback's error type is tungstenite's, large but not ours to shrink"
)]
pub(crate) async fn ws_session<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut seen = Value::Null;
    let callback =
        |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
         resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
            let headers: Map<String, Value> = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        Value::String(v.to_str().unwrap_or_default().to_owned()),
                    )
                })
                .collect();
            seen = json!({ "path": req.uri().to_string(), "headers": headers });
            Ok(resp)
        };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    if ws.send(Message::text(seen.to_string())).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        if message.is_close() {
            return;
        }
        let echo = message.is_text() || message.is_binary();
        if echo && ws.send(message).await.is_err() {
            return;
        }
    }
}
