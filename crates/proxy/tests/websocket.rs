//! WebSocket upgrades spliced through the proxy (proxy-spec §5, §4.6).

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::{proxy, ws_backend};
use tokio_tungstenite::tungstenite::{self, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_message(ws: &mut Ws) -> Message {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a message within 5 s")
        .expect("stream open")
        .expect("valid frame")
}

/// Connects through the proxy and reads the backend's greeting.
async fn connect(url: &str) -> (Ws, Value) {
    let (mut ws, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    assert_eq!(response.status(), 101);
    let greeting = next_message(&mut ws).await;
    let greeting: Value = serde_json::from_str(greeting.to_text().expect("text")).expect("JSON");
    (ws, greeting)
}

#[tokio::test]
async fn echo_text_and_binary() {
    let backend = ws_backend().await;
    let proxy = proxy().await;
    proxy
        .add_route("/user/a", &format!("http://{backend}"))
        .await;
    let (mut ws, greeting) =
        connect(&proxy.ws_url("/user/a/api/kernels/k1/channels?token=t")).await;
    assert_eq!(greeting["path"], "/user/a/api/kernels/k1/channels?token=t");
    let headers = &greeting["headers"];
    assert_eq!(headers["x-forwarded-proto"], "ws");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert!(headers.get("x-forwarded-host").is_none(), "{headers}");
    assert_eq!(headers["host"], proxy.public.to_string().as_str());

    let big: Vec<u8> = support::payload(200 * 1024, 3);
    let messages = [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 254, 255]),
        Message::text("ünïcödé ✓"),
        Message::binary(big),
        Message::text(""),
    ];
    for message in &messages {
        ws.send(message.clone()).await.expect("send");
        assert_eq!(&next_message(&mut ws).await, message);
    }
    // Pipelined: several in flight at once, answered in order.
    for i in 0..20 {
        ws.send(Message::text(format!("m{i}"))).await.expect("send");
    }
    for i in 0..20 {
        assert_eq!(next_message(&mut ws).await, Message::text(format!("m{i}")));
    }
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn websocket_traffic_alone_moves_last_activity() {
    let backend = ws_backend().await;
    let proxy = proxy().await;
    proxy
        .add_route("/user/a", &format!("http://{backend}"))
        .await;
    let (mut ws, _) = connect(&proxy.ws_url("/user/a/terminals/websocket/1")).await;

    let connected = proxy.last_activity("/user/a").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        proxy.last_activity("/user/a").await,
        connected,
        "an idle websocket does not count as activity"
    );

    for i in 0..3 {
        let message = Message::text(format!("ls {i}"));
        ws.send(message.clone()).await.expect("send");
        assert_eq!(next_message(&mut ws).await, message);
    }
    let after = proxy.last_activity("/user/a").await;
    assert!(
        after >= connected + chrono::Duration::milliseconds(200),
        "{connected} -> {after}"
    );
}

#[tokio::test]
async fn websocket_errors() {
    let proxy = proxy().await;
    proxy
        .add_route(
            "/user/gone",
            &format!("http://127.0.0.1:{}", support::dead_port()),
        )
        .await;
    for (path, status) in [("/nowhere/ws", 404), ("/user/gone/ws", 503)] {
        match tokio_tungstenite::connect_async(proxy.ws_url(path)).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status, "{path}");
            }
            Err(other) => panic!("{path}: {other}"),
            Ok(_) => panic!("{path}: upgraded"),
        }
    }
}
