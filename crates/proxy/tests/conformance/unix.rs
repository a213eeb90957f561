//! Unix sockets: the public listener on one (`--socket`) and targets on one
//! (`http+unix://`, `unix+http://`), error target included (proxy-spec §2,
//! §4.3, §7, §11).

use std::path::Path;
use std::sync::Arc;

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::backends::{Seen, describe, scripted_unix};
use super::harness::{Impl, Proxy, TempDir, tick};
use super::raw;
use super::support::{echo_backend, ws_backend};
use super::websocket::{greeting, next_message};

fn socket_url(scheme: &str, path: &Path, rest: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(
        path.to_str().expect("utf-8"),
        percent_encoding::NON_ALPHANUMERIC,
    );
    format!("{scheme}://{encoded}{rest}")
}

/// `--socket <path>`: HTTP and websockets over the socket are proxied and
/// count as activity.
pub async fn public_socket(imp: Impl) {
    let dir = TempDir::new();
    let socket = dir.join("proxy.sock");
    let backend = echo_backend("b").await;
    let ws = ws_backend().await;
    let proxy = Proxy::launch(imp).socket(socket.clone()).start().await;
    proxy.add_route("/", &backend.url("")).await;
    proxy.add_route("/ws", &format!("http://{ws}")).await;

    let before = proxy.last_activity("/").await;
    tick().await;
    let mut stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("connect");
    let response = raw::exchange(
        &mut stream,
        b"GET /x?y=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["url"], "/x?y=1");
    assert_eq!(seen["headers"]["host"], "localhost");
    assert!(proxy.last_activity("/").await > before, "activity recorded");

    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("connect");
    let (mut socket_ws, response) = tokio_tungstenite::client_async("ws://localhost/ws/x", stream)
        .await
        .expect("websocket over the unix socket");
    assert_eq!(response.status(), 101);
    let hello = greeting(&mut socket_ws).await;
    assert_eq!(hello["path"], "/ws/x");
    socket_ws.send(Message::text("hi")).await.expect("send");
    assert_eq!(next_message(&mut socket_ws).await, Message::text("hi"));
}

/// Targets (and the error target) on unix sockets.
pub async fn socket_targets(imp: Impl) {
    let dir = TempDir::new();
    let target = dir.join("target.sock");
    let errors = dir.join("errors.sock");
    let seen = scripted_unix(&target, Arc::new(describe));
    scripted_unix(
        &errors,
        Arc::new(|seen: &Seen| {
            hyper::Response::builder()
                .header("content-type", "text/plain")
                .body(http_body_util::Full::new(bytes::Bytes::from(format!(
                    "error page for {}",
                    seen.url
                ))))
                .expect("response")
        }),
    );
    let error_target = socket_url("http+unix", &errors, "/err");
    let proxy = Proxy::start(imp, &["--error-target", &error_target]).await;
    proxy
        .add_route("/unix", &socket_url("http+unix", &target, ""))
        .await;
    proxy
        .add_route("/unix2", &socket_url("unix+http", &target, "/base"))
        .await;

    let response = proxy.raw_get("/unix/x?y=1").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(body["url"], "/unix/x?y=1");
    let response = proxy.raw_get("/unix2/x").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(body["url"], "/base/unix2/x");
    assert_eq!(seen.lock().expect("lock").len(), 2);

    let missing = proxy.raw_get("/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "error page for /err/404?url=%2Fnope");
    assert_eq!(missing.header("content-type"), Some("text/plain"));
}

/// Public, API and metrics listeners all on unix sockets.
pub async fn all_sockets(imp: Impl) {
    let dir = TempDir::new();
    let (public, api, metrics) = (
        dir.join("public.sock"),
        dir.join("api.sock"),
        dir.join("metrics.sock"),
    );
    let backend = echo_backend("b").await;
    let _proxy = Proxy::launch(imp)
        .socket(public.clone())
        .api_socket(api.clone())
        .args(["--metrics-socket", metrics.to_str().expect("utf-8")])
        .wait_for_socket(metrics.clone())
        .start()
        .await;
    let over = |path: &Path, request: String| {
        let path = path.to_owned();
        async move {
            let mut stream = tokio::net::UnixStream::connect(&path)
                .await
                .expect("connect");
            raw::exchange(&mut stream, request.as_bytes()).await
        }
    };
    let body = format!(r#"{{"target": "{}"}}"#, backend.url("/t"));
    let added = over(
        &api,
        format!(
            "POST /api/routes/user/a HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: token secret\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(added.status, 201);
    let refused = over(
        &api,
        "GET /api/routes HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!(refused.status, 403);
    let proxied = over(
        &public,
        "GET /user/a/x HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!(proxied.status, 200);
    let seen: Value = serde_json::from_slice(&proxied.body).expect("JSON");
    assert_eq!(seen["url"], "/t/user/a/x");
    let scraped = over(
        &metrics,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!(scraped.status, 200);
    let text = scraped.text();
    assert!(text.lines().any(|l| l == "api_route_add 1"), "{text}");
    assert!(text.lines().any(|l| l == "requests_web 1"), "{text}");
}
