//! `proxybench`: the fast pieces of bench/proxy, driven by bench/proxy/bench.py.
//!
//! ```text
//! proxybench serve --port P [--threads N]
//!     The backend: HTTP/1.1 on 127.0.0.1:P answering every request with the
//!     same small JSON body (the size of a Jupyter server's /api/status), and
//!     websocket echo on the same port (any path with `Upgrade: websocket`).
//! proxybench ws-load --url ws://... [--connections 32] [--duration 10]
//!                    [--warmup 2] [--size 256]
//!     N connections, each sending a text message, waiting for its echo and
//!     repeating. Prints one JSON line: messages/s and round-trip percentiles
//!     over `duration` after `warmup`, and every round trip done (total_messages,
//!     warm-up and the last in-flight ones included, for CPU per message).
//! proxybench ws-hold --url ws://... --connections 1000
//!     Opens N connections, checks one echo on each, prints `ready N` and holds
//!     them open until stdin is closed.
//! proxybench add-routes --api http://127.0.0.1:A --token T --target URL
//!                       [--first 0] [--count 10000] [--concurrency 10]
//!     POST /api/routes/user/u<i> (i zero-padded to 5 digits) with the body
//!     JupyterHub sends, over `concurrency` keep-alive connections; every
//!     answer must be 201. Prints one JSON line with the time taken.
//! proxybench get-routes --api URL --token T [--times 5]
//!     GET /api/routes (the whole table) `times` times on one connection;
//!     prints one JSON line: each time to the last byte, size, route count.
//! ```
//!
//! The load clients run on a single-threaded runtime: they share their CPU
//! with the backend, and one thread is the cheapest way to drive sockets.

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::{WebSocketStream, connect_async};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the backend answers to every plain HTTP request: the shape and size
/// of a Jupyter server's `GET /api/status`.
const BODY: &str = r#"{"connections": 0, "kernels": 1, "last_activity": "2026-11-22T10:24:06.006000Z", "started": "2026-11-22T10:20:00.000000Z"}"#;

/// Connections opened at once by the websocket clients (a thousand at once
/// would overflow a listen backlog; nothing is measured while opening).
const OPEN_CONCURRENCY: usize = 64;

struct Args(HashMap<String, String>);

impl Args {
    fn parse(raw: &[String]) -> Result<Self, Error> {
        let mut map = HashMap::new();
        let mut it = raw.iter();
        while let Some(key) = it.next() {
            let Some(name) = key.strip_prefix("--") else {
                return Err(format!("unexpected argument {key}").into());
            };
            if let Some((name, value)) = name.split_once('=') {
                map.insert(name.to_owned(), value.to_owned());
            } else {
                let value = it.next().ok_or_else(|| format!("{key} needs a value"))?;
                map.insert(name.to_owned(), value.clone());
            }
        }
        Ok(Self(map))
    }

    fn str(&self, key: &str) -> Result<&str, Error> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("--{key} is required").into())
    }

    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: not a number: {v}").into()),
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = raw.split_first() else {
        eprintln!("usage: proxybench serve|ws-load|ws-hold|add-routes|get-routes [--option value ...]");
        return ExitCode::from(2);
    };
    let result = Args::parse(rest).and_then(|args| match command.as_str() {
        "serve" => {
            let threads = args.num("threads", 0usize)?;
            let mut builder = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                if threads > 1 {
                    b.worker_threads(threads);
                }
                b
            };
            builder.enable_all().build()?.block_on(serve(&args))
        }
        "ws-load" => current_thread()?.block_on(ws_load(&args)),
        "ws-hold" => current_thread()?.block_on(ws_hold(&args)),
        "add-routes" => current_thread()?.block_on(add_routes(&args)),
        "get-routes" => current_thread()?.block_on(get_routes(&args)),
        other => Err(format!("unknown command {other}").into()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxybench {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

// ---------------------------------------------------------------- backend

async fn serve(args: &Args) -> Result<(), Error> {
    let port: u16 = args.num("port", 0)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    let body = Bytes::from_static(BODY.as_bytes());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, body.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn answer(mut req: Request<Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade {
        // Plain request: the body (none, for the GETs of the benchmark) is
        // drained so the connection can be reused.
        let _ = req.body_mut().collect().await;
        let mut resp = Response::new(Full::new(body));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(resp);
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"no Sec-WebSocket-Key")));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(resp);
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            echo(ws).await;
        }
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(resp)
}

async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            _ => {}
        }
    }
}

// --------------------------------------------------------- websocket load

type Client = WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn open_all(url: &str, n: usize) -> Result<Vec<Client>, Error> {
    let results: Vec<Result<Client, Error>> = stream::iter(0..n)
        .map(|_| async move {
            let (ws, resp) = connect_async(url).await?;
            if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
                return Err(format!("handshake answered {}", resp.status()).into());
            }
            Ok(ws)
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn round_trip(ws: &mut Client, msg: &Message, size: usize) -> Result<(), Error> {
    ws.send(msg.clone()).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.len() == size => return Ok(()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("unexpected message {other:?}").into()),
            Some(Err(e)) => return Err(e.into()),
            None => return Err("connection closed".into()),
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

async fn ws_load(args: &Args) -> Result<(), Error> {
    let url = args.str("url")?.to_owned();
    let connections: usize = args.num("connections", 32)?;
    let duration = Duration::from_secs_f64(args.num("duration", 10.0)?);
    let warmup = Duration::from_secs_f64(args.num("warmup", 2.0)?);
    let size: usize = args.num("size", 256)?;
    let msg = Message::text("x".repeat(size));

    let sockets = open_all(&url, connections).await?;
    let begin = Instant::now() + warmup;
    let end = begin + duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let msg = msg.clone();
            tokio::spawn(async move {
                let mut rtts: Vec<u32> = Vec::with_capacity(1 << 14);
                let mut total = 0u64;
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    round_trip(&mut ws, &msg, size).await?;
                    total += 1;
                    let done = Instant::now();
                    if sent >= begin && done <= end {
                        rtts.push(u32::try_from((done - sent).as_micros()).unwrap_or(u32::MAX));
                    }
                }
                let _ = ws.close(None).await;
                Ok::<_, Error>((rtts, total))
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut total = 0;
    for task in tasks {
        let (rtts, n) = task.await??;
        all.extend(rtts);
        total += n;
    }
    all.sort_unstable();
    let secs = duration.as_secs_f64();
    let out = serde_json::json!({
        "connections": connections,
        "size": size,
        "messages": all.len(),
        "total_messages": total,
        "seconds": secs,
        "rate": all.len() as f64 / secs,
        "p50_ms": percentile(&all, 50.0),
        "p99_ms": percentile(&all, 99.0),
    });
    println!("{out}");
    Ok(())
}

async fn ws_hold(args: &Args) -> Result<(), Error> {
    let url = args.str("url")?.to_owned();
    let connections: usize = args.num("connections", 1000)?;
    let size = 64;
    let msg = Message::text("h".repeat(size));
    let mut sockets = open_all(&url, connections).await?;
    for ws in &mut sockets {
        round_trip(ws, &msg, size).await?;
    }
    let mut stdout = tokio::io::stdout();
    stdout.write_all(format!("ready {}\n", sockets.len()).as_bytes()).await?;
    stdout.flush().await?;
    // Hold until the parent closes our stdin.
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while lines.next_line().await?.is_some() {}
    for ws in &mut sockets {
        let _ = ws.close(None).await;
    }
    Ok(())
}

// ------------------------------------------------------------ route table

struct ApiConn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    auth: HeaderValue,
}

impl ApiConn {
    async fn open(api: &str, token: &str) -> Result<Self, Error> {
        let authority = api
            .strip_prefix("http://")
            .ok_or("--api must be http://host:port")?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(authority.as_str()).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            authority,
            auth: HeaderValue::from_str(&format!("token {token}"))?,
        })
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<String>) -> Result<(StatusCode, Bytes), Error> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, self.auth.clone());
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.map(Bytes::from).unwrap_or_default()))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

async fn add_routes(args: &Args) -> Result<(), Error> {
    let api = args.str("api")?.to_owned();
    let token = args.str("token")?.to_owned();
    let target = args.str("target")?.to_owned();
    let first: usize = args.num("first", 0)?;
    let count: usize = args.num("count", 10_000)?;
    let concurrency: usize = args.num("concurrency", 10)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (api, token, target, next) = (api.clone(), token.clone(), target.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut conn = ApiConn::open(&api, &token).await?;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, Error>(());
                    }
                    let name = format!("u{:05}", first + i);
                    // What JupyterHub 6 posts for a user's default server.
                    let body = serde_json::json!({
                        "user": name,
                        "server_name": "",
                        "jupyterhub": true,
                        "target": target,
                    });
                    let path = format!("/api/routes/user/{name}");
                    let (status, reply) = conn.call("POST", &path, Some(body.to_string())).await?;
                    if status != StatusCode::CREATED {
                        return Err(format!(
                            "POST {path}: {status} {}",
                            String::from_utf8_lossy(&reply)
                        )
                        .into());
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let out = serde_json::json!({"routes": count, "seconds": started.elapsed().as_secs_f64()});
    println!("{out}");
    Ok(())
}

async fn get_routes(args: &Args) -> Result<(), Error> {
    let api = args.str("api")?;
    let token = args.str("token")?;
    let times: usize = args.num("times", 5)?;
    let mut conn = ApiConn::open(api, token).await?;
    let mut ms = Vec::new();
    let mut size = 0;
    let mut routes = 0;
    for _ in 0..times {
        let started = Instant::now();
        let (status, body) = conn.call("GET", "/api/routes", None).await?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if status != StatusCode::OK {
            return Err(format!("GET /api/routes: {status}").into());
        }
        size = body.len();
        routes = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)?.len();
    }
    let out = serde_json::json!({"ms": ms, "bytes": size, "routes": routes});
    println!("{out}");
    Ok(())
}
