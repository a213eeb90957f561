//! Per-hop HTTP details: hop-by-hop headers, the `Connection` header CHP
//! sets on responses, bodiless DELETE, and upgrades that are not websockets
//! (proxy-spec §4.4, §4.5, §5).

mod support;

use std::time::Duration;

use support::{echo_backend, proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite;

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_proxy() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let response = proxy
        .http
        .get(proxy.url("/user/a/x"))
        .header("Connection", "keep-alive, x-private")
        .header("X-Private", "hop secret")
        .header("Keep-Alive", "timeout=5")
        .header("X-End-To-End", "kept")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["connection"],
        "keep-alive",
        "CHP answers with the client's keep-alive"
    );
    let seen: serde_json::Value = response.json().await.expect("JSON");
    let headers = seen["headers"].as_object().expect("headers");
    for gone in ["x-private", "keep-alive", "connection"] {
        assert!(!headers.contains_key(gone), "{gone} leaked: {headers:?}");
    }
    assert_eq!(headers["x-end-to-end"], "kept");
}

#[tokio::test]
async fn bodiless_delete_gets_content_length_zero() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let response = proxy
        .http
        .delete(proxy.url("/user/a/api/sessions/1"))
        .send()
        .await
        .expect("DELETE");
    let seen: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(seen["method"], "DELETE");
    assert_eq!(seen["headers"]["content-length"], "0");
}

#[tokio::test]
async fn target_refusing_the_upgrade_is_relayed() {
    let backend = echo_backend("plain-http").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    match tokio_tungstenite::connect_async(proxy.ws_url("/user/a/ws")).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 200);
            let body = String::from_utf8(response.into_body().unwrap_or_default()).expect("utf-8");
            assert!(body.contains("plain-http"), "{body}");
        }
        other => panic!("expected the target's own answer, got {other:?}"),
    }
}

#[tokio::test]
async fn non_websocket_upgrade_is_dropped_without_answer() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.public)
        .await
        .expect("connect");
    stream
        .write_all(
            b"GET /user/a/x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        )
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed within 5 s");
    assert!(matches!(read, Ok(0) | Err(_)), "got an answer: {read:?}");
}
