//! `wait_for_http_server` against real sockets: nothing listening, a server
//! answering 503 for a while, and answers that count as "up".
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrohub_spawn::{SpawnError, wait_for_http_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// A real HTTP/1.1 server on 127.0.0.1 whose `n`-th answer (from 0) is
/// `respond(n)`; returns its URL and the number of requests seen.
async fn http_server(respond: fn(usize) -> &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/user/x/api", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
            }
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "{}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                respond(n)
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    (url, seen)
}

#[tokio::test]
async fn nothing_listening_times_out_after_the_given_time() {
    let port = ferrohub_spawn::port::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}/user/x/api");
    let waiting = Instant::now();
    let result = wait_for_http_server(&url, Duration::from_secs(2)).await;
    let took = waiting.elapsed();
    match result {
        Err(SpawnError::Timeout {
            url: polled,
            seconds,
        }) => {
            assert_eq!(polled, url);
            assert_eq!(seconds, 2);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(1900),
        "gave up after {took:?}"
    );
    assert!(took < Duration::from_secs(3), "overran to {took:?}");
}

#[tokio::test]
async fn a_server_answering_503_is_not_up() {
    let (url, seen) = http_server(|_| "HTTP/1.1 503 Service Unavailable").await;
    let waiting = Instant::now();
    let result = wait_for_http_server(&url, Duration::from_millis(1500)).await;
    assert!(
        matches!(result, Err(SpawnError::Timeout { .. })),
        "{result:?}"
    );
    assert!(waiting.elapsed() >= Duration::from_millis(1400));
    assert!(seen.load(Ordering::SeqCst) >= 3, "503 was not retried");
}

#[tokio::test]
async fn a_server_is_up_once_503_turns_into_200_and_its_version_is_returned() {
    let (url, seen) = http_server(|n| {
        if n < 3 {
            "HTTP/1.1 503 Service Unavailable"
        } else {
            "HTTP/1.1 200 OK\r\nX-JupyterHub-Version: 6.1.1"
        }
    })
    .await;
    let version = wait_for_http_server(&url, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(version.as_deref(), Some("6.1.1"));
    assert_eq!(seen.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn not_found_and_redirects_count_as_up_and_are_not_followed() {
    let answers: [fn(usize) -> &'static str; 2] = [
        |_| "HTTP/1.1 404 Not Found",
        |_| "HTTP/1.1 302 Found\r\nLocation: /elsewhere",
    ];
    for respond in answers {
        let status = respond(0);
        let (url, seen) = http_server(respond).await;
        let version = wait_for_http_server(&url, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(version, None, "{status}");
        assert_eq!(seen.load(Ordering::SeqCst), 1, "{status}: one request only");
    }
}

#[tokio::test]
async fn an_invalid_url_is_an_error_not_a_wait() {
    let result = wait_for_http_server("not a url", Duration::from_secs(30)).await;
    assert!(matches!(result, Err(SpawnError::Config(_))), "{result:?}");
}
