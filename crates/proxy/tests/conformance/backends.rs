//! Backends the shared fixtures (`support::echo_backend`, `support::ws_backend`)
//! do not cover: scripted responses, raw bytes, silence, unix sockets, and a
//! backend that reports request-body progress.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// A request as a scripted backend saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Request target as received (path and query).
    pub url: String,
    /// Headers, names lower-case, repeated values joined with `,`.
    pub headers: Map<String, Value>,
    /// The whole body.
    pub body: Bytes,
}

impl Seen {
    /// The value of query parameter `name` (not decoded).
    #[must_use]
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.url.split_once('?')?;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    }

    /// The request described as JSON `{method, url, headers, body_len}`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body_len": self.body.len(),
        })
    }
}

/// Builds the response for a request.
pub type Handler = Arc<dyn Fn(&Seen) -> hyper::Response<Full<Bytes>> + Send + Sync>;

/// A JSON response describing the request.
#[must_use]
pub fn describe(seen: &Seen) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(seen.to_json().to_string())))
        .expect("response")
}

/// A running scripted backend.
pub struct Scripted {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every request it answered, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    /// `http://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URLs requested so far.
    #[must_use]
    pub fn urls(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|s| s.url.clone())
            .collect()
    }
}

/// An HTTP/1.1 server on 127.0.0.1 answering with `handler`.
pub async fn scripted(handler: Handler) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(
                TokioIo::new(stream),
                Arc::clone(&handler),
                Arc::clone(&log),
            ));
        }
    });
    Scripted { addr, seen }
}

/// The same on a unix socket at `path`.
pub fn scripted_unix(path: &Path, handler: Handler) -> Arc<Mutex<Vec<Seen>>> {
    let listener = UnixListener::bind(path).expect("bind unix socket");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(
                TokioIo::new(stream),
                Arc::clone(&handler),
                Arc::clone(&log),
            ));
        }
    });
    seen
}

async fn serve<I>(io: I, handler: Handler, log: Arc<Mutex<Vec<Seen>>>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let handler = Arc::clone(&handler);
        let log = Arc::clone(&log);
        async move {
            let method = req.method().to_string();
            let url = req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().to_string(), |pq| pq.as_str().to_owned());
            let mut headers = Map::new();
            for (key, value) in req.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                let joined = match headers.get(key.as_str()).and_then(Value::as_str) {
                    Some(existing) => format!("{existing},{value}"),
                    None => value,
                };
                headers.insert(key.as_str().to_owned(), Value::String(joined));
            }
            let body = req
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            let seen = Seen {
                method,
                url,
                headers,
                body,
            };
            let response = handler(&seen);
            log.lock().expect("lock").push(seen);
            Ok::<_, Infallible>(response)
        }
    });
    // Both proxies under test drop connections half-way in some cases.
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        eprintln!("recording backend: {e}");
    }
}

/// A server that reads a request head and answers with exactly `response`,
/// then closes (for reason phrases and repeated headers hyper would tidy).
pub async fn raw_backend(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                // The proxy may hang up first (that is what some checks test).
                if let Err(e) = stream.write_all(response).await {
                    eprintln!("raw backend: writing: {e}");
                } else if let Err(e) = stream.shutdown().await {
                    eprintln!("raw backend: closing: {e}");
                }
            });
        }
    });
    addr
}

/// A server that accepts connections, reads, and never answers.
pub async fn silent_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// A backend that publishes how many request-body bytes it has received so
/// far (to show the proxy streams uploads), answering with the total.
pub async fn progress_backend() -> (SocketAddr, tokio::sync::watch::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::watch::channel(0usize);
    let tx = Arc::new(tx);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = Arc::clone(&tx);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let tx = Arc::clone(&tx);
                    async move {
                        let mut body = req.into_body();
                        let mut total = 0usize;
                        while let Some(Ok(frame)) = body.frame().await {
                            if let Some(data) = frame.data_ref() {
                                total += data.len();
                                tx.send_replace(total);
                            }
                        }
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                            total.to_string(),
                        ))))
                    }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("counting backend: {e}");
                }
            });
        }
    });
    (addr, rx)
}
