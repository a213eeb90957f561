//! Unix sockets as a user sees them: the proxy, its API and its metrics on
//! sockets (`--socket`, `--api-socket`, `--metrics-socket`), HTTP and
//! websockets through the socket, `http+unix://` targets and error targets,
//! and stale socket files left by a crashed proxy.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use ferrohub_proxy::ProxyServer;
use ferrohub_proxy::listen::Endpoint;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tokio::net::UnixStream;
use tokio_tungstenite::tungstenite::Message;

/// One HTTP/1.1 request over the unix socket at `path`.
async fn request(
    path: &Path,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let stream = UnixStream::connect(path).await.expect("connect socket");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let body = body.map_or_else(Bytes::new, |v| Bytes::from(v.to_string()));
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("authorization", format!("token {}", support::TOKEN))
        .body(Full::new(body))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, bytes)
}

struct UnixProxy {
    public: PathBuf,
    api: PathBuf,
    metrics: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for UnixProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn unix_proxy() -> UnixProxy {
    let (public, api, metrics) = (
        support::socket_path("proxy"),
        support::socket_path("api"),
        support::socket_path("metrics"),
    );
    let options = ferrohub_proxy::ProxyOptions {
        socket: Some(public.clone()),
        api_socket: Some(api.clone()),
        metrics_socket: Some(metrics.clone()),
        ..support::options()
    };
    let server = ProxyServer::bind(options, Some(support::TOKEN.to_owned()))
        .await
        .expect("bind");
    assert_eq!(
        server.public_endpoint().unwrap(),
        Endpoint::Unix(public.clone())
    );
    assert!(server.public_addr().is_err(), "no TCP address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    UnixProxy {
        public,
        api,
        metrics,
        shutdown: Some(tx),
    }
}

#[tokio::test]
async fn proxy_api_and_metrics_on_unix_sockets() {
    let backend = support::echo_backend("hub").await;
    let proxy = unix_proxy().await;
    let (status, _, _) = request(
        &proxy.api,
        Method::POST,
        "/api/routes/user/a",
        Some(json!({ "target": backend.url("") })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, _, body) = request(&proxy.public, Method::GET, "/user/a/x?y=1", None).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["url"], "/user/a/x?y=1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    assert!(
        seen["headers"].get("x-forwarded-for").is_none(),
        "a socket client has no address: {seen}"
    );

    let (status, _, body) = request(&proxy.api, Method::GET, "/api/routes/user/a", None).await;
    assert_eq!(status, StatusCode::OK);
    let route: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(route["target"], backend.url(""));

    let (status, headers, body) = request(&proxy.metrics, Method::GET, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\nrequests_web 1\n"), "{text}");
    assert!(text.contains("requests_api{status=\"201\"} 1"), "{text}");
}

#[tokio::test]
async fn websocket_through_a_unix_socket() {
    let ws = support::ws_backend().await;
    let proxy = unix_proxy().await;
    let (status, _, _) = request(
        &proxy.api,
        Method::POST,
        "/api/routes",
        Some(json!({ "target": format!("http://{ws}") })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let stream = UnixStream::connect(&proxy.public).await.expect("connect");
    let (mut socket, _) = tokio_tungstenite::client_async("ws://localhost/chat", stream)
        .await
        .expect("websocket over the socket");
    let hello = socket.next().await.expect("hello").expect("message");
    let hello: Value = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    assert_eq!(hello["path"], "/chat");
    assert_eq!(hello["headers"]["x-forwarded-proto"], "ws");
    socket.send(Message::text("hi")).await.expect("send");
    assert_eq!(
        socket.next().await.unwrap().unwrap().to_text().unwrap(),
        "hi"
    );
}

fn unix_url(path: &Path, rest: &str) -> String {
    let encoded = utf8_percent_encode(path.to_str().unwrap(), NON_ALPHANUMERIC);
    format!("http+unix://{encoded}{rest}")
}

#[tokio::test]
async fn http_unix_targets_and_error_targets() {
    let (target_socket, error_socket) = (
        support::socket_path("target"),
        support::socket_path("errors"),
    );
    support::unix_echo_backend("on-a-socket", &target_socket);
    support::unix_echo_backend("errors", &error_socket);
    let options = ferrohub_proxy::ProxyOptions {
        error_target: Some(unix_url(&error_socket, "/err")),
        ..support::options()
    };
    let proxy = support::proxy_with(options).await;
    proxy
        .add_route("/unix", &unix_url(&target_socket, "/base"))
        .await;
    proxy
        .add_route(
            "/unix2",
            &unix_url(&target_socket, "").replace("http+unix", "unix+http"),
        )
        .await;

    let seen = proxy.get_echo("/unix/x?y=1").await;
    assert_eq!(seen["name"], "on-a-socket");
    assert_eq!(seen["url"], "/base/unix/x?y=1");
    let seen = proxy.get_echo("/unix2/z").await;
    assert_eq!(seen["url"], "/unix2/z");

    let missing = proxy.get("/nope?a=b").await;
    assert_eq!(missing.status(), 404);
    let page: Value = missing.json().await.unwrap();
    assert_eq!(page["name"], "errors");
    assert_eq!(page["url"], "/err/404?url=%2Fnope%3Fa%3Db");

    proxy
        .add_route("/dead", &unix_url(&support::socket_path("nobody"), ""))
        .await;
    assert_eq!(proxy.get("/dead/x").await.status(), 503);
    support::remove_if_present(&target_socket);
    support::remove_if_present(&error_socket);
}

#[tokio::test]
async fn stale_sockets_are_replaced_live_ones_refused() {
    let path = support::socket_path("stale");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists(), "a stale socket file stays behind");
    let options = ferrohub_proxy::ProxyOptions {
        socket: Some(path.clone()),
        ..support::options()
    };
    let server = ProxyServer::bind(options.clone(), None)
        .await
        .expect("stale socket replaced");

    let error = ProxyServer::bind(options, None)
        .await
        .err()
        .expect("a live socket is not taken over")
        .to_string();
    assert!(error.contains("another process is listening"), "{error}");

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("stops")
        .expect("task");
    assert!(!path.exists(), "the socket file is removed at shutdown");
}
