//! The routing flags: `--host-routing`, `--custom-header`, `--change-origin`,
//! `--auto-rewrite` and `--protocol-rewrite` (proxy-spec §2, §4.2, §4.5),
//! over real sockets, for HTTP and websockets.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use support::{echo_backend, options, proxy_with, ws_backend};
use tokio::net::TcpListener;

/// A GET with an explicit `Host` header.
async fn get_with_host(proxy: &support::Proxy, host: &str, path: &str) -> reqwest::Response {
    proxy
        .http
        .get(proxy.url(path))
        .header("Host", host)
        .send()
        .await
        .expect("GET")
}

/// A websocket handshake through the proxy; returns the backend's greeting
/// (`{"path", "headers"}`).
async fn ws_greeting(url: &str, host: Option<&str>) -> Value {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("ws request");
    if let Some(host) = host {
        request
            .headers_mut()
            .insert("host", host.parse().expect("host"));
    }
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(response.status(), 101);
    let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("greeting within 5 s")
        .expect("open")
        .expect("frame");
    serde_json::from_str(message.to_text().expect("text")).expect("JSON")
}

#[tokio::test]
async fn host_routing_routes_by_host_then_path() {
    let app = echo_backend("app").await;
    let user = echo_backend("user").await;
    let fallback = echo_backend("fallback").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        host_routing: true,
        ..options()
    })
    .await;
    proxy.add_route("/app.example.org", &app.url("")).await;
    proxy
        .add_route("/users.example.org/user/x", &user.url(""))
        .await;
    proxy.add_route("/", &fallback.url("")).await;

    // The port is ignored, the path arrives as sent (no host segment in it).
    let seen: Value = get_with_host(&proxy, "app.example.org:8000", "/some/path?q=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["name"], "app");
    assert_eq!(seen["url"], "/some/path?q=1");
    let seen: Value = get_with_host(&proxy, "users.example.org", "/user/x/lab")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["name"], "user");
    assert_eq!(seen["url"], "/user/x/lab");
    // Host names are not lower-cased (as CHP); unmatched hosts fall back to `/`.
    for host in ["APP.example.org", "other.example.org", "users.example.org"] {
        let seen: Value = get_with_host(&proxy, host, "/some/path")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["name"], "fallback", "{host}");
    }

    // The API stores the host beside the route, except for `/`.
    let route = proxy.route("/app.example.org").await.expect("route");
    assert_eq!(route["host"], "app.example.org");
    let route = proxy
        .route("/users.example.org/user/x")
        .await
        .expect("route");
    assert_eq!(route["host"], "users.example.org");
    assert!(proxy.route("/").await.expect("route").get("host").is_none());

    // Websockets are routed the same way.
    let ws = ws_backend().await;
    proxy
        .add_route("/ws.example.org", &format!("http://{ws}"))
        .await;
    let greeting = ws_greeting(
        &proxy.ws_url("/api/kernels/k/channels"),
        Some("ws.example.org"),
    )
    .await;
    assert_eq!(greeting["path"], "/api/kernels/k/channels");
}

#[tokio::test]
async fn host_routing_without_include_prefix_strips_only_the_path_part() {
    let user = echo_backend("user").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        host_routing: true,
        include_prefix: false,
        ..options()
    })
    .await;
    proxy
        .add_route("/users.example.org/user/x", &user.url("/base"))
        .await;
    let seen: Value = get_with_host(&proxy, "users.example.org", "/user/x/lab?a=b")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["url"], "/base/lab?a=b");
}

#[tokio::test]
async fn custom_headers_reach_the_target_and_win() {
    let backend = echo_backend("b").await;
    let ws = ws_backend().await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        custom_headers: vec![("k1".into(), "v1".into()), ("k2".into(), "host:123".into())],
        ..options()
    })
    .await;
    proxy.add_route("/", &backend.url("")).await;
    proxy.add_route("/ws", &format!("http://{ws}")).await;

    let response = proxy
        .http
        .get(proxy.url("/x"))
        .header("k1", "from-client")
        .send()
        .await
        .unwrap();
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["headers"]["k1"], "v1");
    assert_eq!(seen["headers"]["k2"], "host:123");

    let greeting = ws_greeting(&proxy.ws_url("/ws/x"), None).await;
    assert_eq!(greeting["headers"]["k1"], "v1");
    assert_eq!(greeting["headers"]["k2"], "host:123");
}

#[tokio::test]
async fn change_origin_sends_the_target_host() {
    let backend = echo_backend("b").await;
    let plain = proxy_with(options()).await;
    let changed = proxy_with(ferrohub_proxy::ProxyOptions {
        change_origin: true,
        ..options()
    })
    .await;
    for proxy in [&plain, &changed] {
        proxy.add_route("/", &backend.url("/t")).await;
    }
    let seen = plain.get_echo("/x").await;
    assert_eq!(seen["headers"]["host"], plain.public.to_string());
    let seen = changed.get_echo("/x").await;
    assert_eq!(seen["headers"]["host"], backend.addr.to_string());
    // X-Forwarded-Host still tells the target what the client asked for.
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        changed.public.to_string()
    );
}

/// A target that redirects every request to `location`, with `{port}`
/// replaced by its own port.
async fn redirecting_backend(status: u16, location: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let location = location.replace("{port}", &addr.port().to_string());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let location = location.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let response = http::Response::builder()
                        .status(status)
                        .header("location", location.as_str())
                        .body(Full::new(bytes::Bytes::new()))
                        .unwrap();
                    async move { Ok::<_, Infallible>(response) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("redirecting backend: {e}");
                }
            });
        }
    });
    addr
}

/// The `Location` a client sees for `/r` through a proxy with these flags.
async fn location_through(
    auto: bool,
    protocol: Option<&str>,
    backend: SocketAddr,
) -> (String, String) {
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        auto_rewrite: auto,
        protocol_rewrite: protocol.map(str::to_owned),
        ..options()
    })
    .await;
    proxy.add_route("/", &format!("http://{backend}")).await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(proxy.url("/r")).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    (location, proxy.public.to_string())
}

#[tokio::test]
async fn redirects_to_the_target_are_rewritten_only_when_asked() {
    let to_itself = redirecting_backend(302, "http://127.0.0.1:{port}/whatever?x=1").await;
    let external = redirecting_backend(301, "https://example.org/elsewhere").await;

    let (location, _) = location_through(false, None, to_itself).await;
    assert_eq!(
        location,
        format!("http://{to_itself}/whatever?x=1"),
        "untouched by default"
    );

    let (location, public) = location_through(true, Some("https"), to_itself).await;
    assert_eq!(location, format!("https://{public}/whatever?x=1"));

    let (location, public) = location_through(true, None, to_itself).await;
    assert_eq!(location, format!("http://{public}/whatever?x=1"));

    let (location, _) = location_through(false, Some("https"), to_itself).await;
    assert_eq!(location, format!("https://{to_itself}/whatever?x=1"));

    let (location, _) = location_through(true, Some("https"), external).await;
    assert_eq!(
        location, "https://example.org/elsewhere",
        "other hosts untouched"
    );

    let see_other = redirecting_backend(303, "http://127.0.0.1:{port}/x").await;
    let (location, _) = location_through(true, Some("https"), see_other).await;
    assert_eq!(
        location,
        format!("http://{see_other}/x"),
        "303 is not rewritten"
    );
}
