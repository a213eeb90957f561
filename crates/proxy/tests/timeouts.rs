//! `--proxy-timeout`, `--timeout` and `--keep-alive-timeout` against a
//! backend that stalls (proxy-spec §2 "Routing / proxy behaviour", §6).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrohub_proxy::ProxyOptions;
use support::{options, proxy_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the stalling backend does after reading a request head.
#[derive(Clone, Copy)]
enum Stall {
    /// Never answers.
    Silent,
    /// Sends headers announcing 10 bytes, 3 of them, then nothing.
    MidBody,
}

/// A backend that reads each request head and then stalls, keeping the
/// connection open for 30 s.
async fn stalling_backend(stall: Stall) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_head(&mut stream).await;
                if let Stall::MidBody = stall {
                    let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
                    if let Err(e) = stream.write_all(head.as_bytes()).await {
                        eprintln!("stalling backend: {e}");
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    addr
}

async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    seen
}

fn with(change: impl FnOnce(&mut ProxyOptions)) -> ProxyOptions {
    let mut o = options();
    change(&mut o);
    o
}

#[tokio::test]
async fn proxy_timeout_answers_503() {
    let backend = stalling_backend(Stall::Silent).await;
    let proxy = proxy_with(with(|o| o.proxy_timeout = Some(Duration::from_millis(300)))).await;
    proxy
        .add_route("/user/a", &format!("http://{backend}"))
        .await;
    let started = Instant::now();
    let response = proxy.get("/user/a/slow").await;
    assert_eq!(response.status(), 503);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn proxy_timeout_cuts_a_stalled_body() {
    let backend = stalling_backend(Stall::MidBody).await;
    let proxy = proxy_with(with(|o| o.proxy_timeout = Some(Duration::from_millis(300)))).await;
    proxy
        .add_route("/user/a", &format!("http://{backend}"))
        .await;
    let response = proxy.get("/user/a/partial").await;
    assert_eq!(response.status(), 200, "headers arrived in time");
    let body = tokio::time::timeout(Duration::from_secs(5), response.bytes())
        .await
        .expect("the proxy gives up on the body");
    assert!(body.is_err(), "a cut body is an error, not a short body");
}

#[tokio::test]
async fn client_timeout_drops_the_connection() {
    let backend = stalling_backend(Stall::Silent).await;
    let proxy = proxy_with(with(|o| o.timeout = Some(Duration::from_millis(300)))).await;
    proxy
        .add_route("/user/a", &format!("http://{backend}"))
        .await;
    let started = Instant::now();
    let result = proxy.http.get(proxy.url("/user/a/slow")).send().await;
    assert!(result.is_err(), "no response at all: {result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let proxy = proxy_with(with(|o| {
        o.keep_alive_timeout = Duration::from_millis(300);
    }))
    .await;
    let mut stream = TcpStream::connect(proxy.public).await.expect("connect");
    stream
        .write_all(b"GET /_chp_healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("response");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let started = Instant::now();
    let eof = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed within 5 s");
    assert_eq!(eof.expect("clean close"), 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
}
