//! Command-line flags that change proxying (proxy-spec §2 "Routing / proxy
//! behaviour", §4.2, §6).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::backends::{Seen, scripted, silent_backend};
use super::harness::{Impl, Proxy};
use super::raw;
use super::support::{echo_backend, ws_backend};
use super::websocket::greeting;

/// `--default-target`: a route `/` that is listed, used and replaceable.
pub async fn default_target(imp: Impl) {
    let hub = echo_backend("hub").await;
    let other = echo_backend("other").await;
    let proxy = Proxy::start(imp, &["--default-target", &hub.url("")]).await;
    // CHP adds the route just after its listeners are up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !proxy.routes().await.contains_key("/") {
        assert!(Instant::now() < deadline, "route / never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let routes = proxy.routes().await;
    assert_eq!(routes.len(), 1);
    assert_eq!(routes["/"]["target"], hub.url(""));
    let seen = proxy.echo("/hub/login?next=x").await;
    assert_eq!(seen["name"], "hub");
    assert_eq!(seen["url"], "/hub/login?next=x");
    proxy.add_route("/", &other.url("")).await;
    assert_eq!(proxy.echo("/x").await["name"], "other");
}

/// `--keep-alive-timeout <ms>` shows in `Keep-Alive: timeout=<s>` on the
/// responses the public listener generates (not on the API's).
pub async fn keep_alive_timeout(imp: Impl) {
    let proxy = Proxy::start(imp, &["--keep-alive-timeout", "7000"]).await;
    let not_found = proxy.raw_get("/nope").await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.header("keep-alive"), Some("timeout=7"));
    let health = proxy.raw_get("/_chp_healthz").await;
    assert_eq!(health.header("keep-alive"), Some("timeout=7"));
    let api = raw::request(
        std::net::SocketAddr::from(([127, 0, 0, 1], proxy.api_port)),
        b"GET /api/routes HTTP/1.1\r\nHost: x\r\nAuthorization: token secret\r\n\r\n",
    )
    .await;
    assert_eq!(api.status, 200);
    assert_eq!(
        api.header("keep-alive"),
        Some("timeout=5"),
        "API unaffected"
    );
}

/// `--custom-header`: split at the first colon, trimmed, overriding the
/// client's header of the same name; also on websockets.
pub async fn custom_header(imp: Impl) {
    let backend = echo_backend("b").await;
    let ws = ws_backend().await;
    let proxy = Proxy::start(
        imp,
        &[
            "--custom-header",
            "k1: v1",
            "--custom-header",
            " k2 : host:123 ",
            "--custom-header",
            "X-Over: proxy",
        ],
    )
    .await;
    proxy.add_route("/", &backend.url("")).await;
    proxy.add_route("/ws", &format!("http://{ws}")).await;
    let response = proxy
        .raw(&format!(
            "GET /x HTTP/1.1\r\nHost: {}\r\nX-Over: client\r\n\r\n",
            proxy.host()
        ))
        .await;
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    let headers = &seen["headers"];
    assert_eq!(headers["k1"], "v1");
    assert_eq!(headers["k2"], "host:123");
    assert_eq!(headers["x-over"], "proxy", "overrides the client's value");

    let (mut socket, _) = tokio_tungstenite::connect_async(proxy.ws_url("/ws/x"))
        .await
        .expect("connect");
    let hello = greeting(&mut socket).await;
    assert_eq!(hello["headers"]["k1"], "v1");
    assert_eq!(hello["headers"]["k2"], "host:123");
}

/// `--host-routing`: keys start with the Host (port removed, case kept).
pub async fn host_routing(imp: Impl) {
    let app = echo_backend("app").await;
    let user = echo_backend("user").await;
    let root = echo_backend("root").await;
    let proxy = Proxy::start(imp, &["--host-routing"]).await;
    proxy
        .add_route("/test.localhost.jovyan.org", &app.url(""))
        .await;
    proxy
        .add_route("/hub.example.com/user/x", &user.url(""))
        .await;
    let stored = proxy
        .route("/test.localhost.jovyan.org")
        .await
        .expect("stored");
    assert_eq!(
        stored["host"], "test.localhost.jovyan.org",
        "host field added"
    );

    let get = |host: &str, path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let proxy = &proxy;
        async move { proxy.raw(&request).await }
    };
    let port = proxy.port;
    let response = get(&format!("test.localhost.jovyan.org:{port}"), "/some/path").await;
    assert_eq!(response.status, 200);
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["name"], "app");
    assert_eq!(seen["url"], "/some/path", "host is not part of the URL");

    let response = get("hub.example.com", "/user/x/lab?a=1").await;
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["name"], "user");
    assert_eq!(seen["url"], "/user/x/lab?a=1");

    for (host, path) in [
        ("TEST.localhost.jovyan.org", "/x"),
        ("hub.example.com", "/user/y"),
        ("other.example.com", "/test.localhost.jovyan.org/x"),
    ] {
        assert_eq!(get(host, path).await.status, 404, "{host} {path}");
    }
    proxy.add_route("/", &root.url("")).await;
    let response = get("TEST.localhost.jovyan.org", "/x").await;
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["name"], "root", "/ catches the rest");
}

/// `--change-origin`: the target's host:port is sent as `Host`.
pub async fn change_origin(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &["--change-origin"]).await;
    proxy.add_route("/", &backend.url("/t")).await;
    let seen = proxy.echo("/x").await;
    assert_eq!(seen["headers"]["host"], backend.addr.to_string().as_str());
    assert_eq!(seen["url"], "/t/x");
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        proxy.host().as_str(),
        "X-Forwarded-Host is still the client's Host"
    );
}

async fn redirect_backend() -> super::backends::Scripted {
    scripted(Arc::new(|seen: &Seen| {
        let to = seen.query("to").unwrap_or_default();
        let to = percent_encoding::percent_decode_str(&to)
            .decode_utf8_lossy()
            .into_owned();
        let code: u16 = seen
            .query("code")
            .and_then(|c| c.parse().ok())
            .unwrap_or(302);
        hyper::Response::builder()
            .status(code)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .expect("response")
    }))
    .await
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn location(proxy: &Proxy, code: u16, to: &str) -> (u16, Option<String>) {
    let response = proxy
        .raw_get(&format!("/r?code={code}&to={}", encode(to)))
        .await;
    (
        response.status,
        response.header("location").map(str::to_owned),
    )
}

/// Without rewrite flags `Location` is passed untouched.
pub async fn location_untouched(imp: Impl) {
    let backend = redirect_backend().await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &backend.url("")).await;
    let own = backend.url("/whatever");
    for (code, to) in [
        (301, "https://example.org/x"),
        (302, own.as_str()),
        (307, "/relative?x=1"),
    ] {
        assert_eq!(
            location(&proxy, code, to).await,
            (code, Some(to.to_owned())),
            "{code} {to}"
        );
    }
}

/// `--auto-rewrite --protocol-rewrite https`: in 201/301/302/307/308,
/// a Location at the target's host:port gets the request's Host and the
/// given scheme; anything else is untouched.
pub async fn auto_and_protocol_rewrite(imp: Impl) {
    let backend = redirect_backend().await;
    let proxy = Proxy::start(imp, &["--auto-rewrite", "--protocol-rewrite", "https"]).await;
    proxy.add_route("/", &backend.url("")).await;
    let rewritten = format!("https://{}/whatever?a=1", proxy.host());
    for code in [201u16, 301, 302, 307, 308] {
        assert_eq!(
            location(&proxy, code, &backend.url("/whatever?a=1")).await,
            (code, Some(rewritten.clone())),
            "{code}"
        );
    }
    let https_self = format!("https://{}/whatever", backend.addr);
    assert_eq!(
        location(&proxy, 302, &https_self).await,
        (302, Some(format!("https://{}/whatever", proxy.host()))),
        "scheme of the Location does not matter, host:port does"
    );
    for (code, to) in [
        (303u16, backend.url("/whatever")),
        (200, backend.url("/whatever")),
        (302, "https://example.org/x".to_owned()),
        (302, "/relative".to_owned()),
    ] {
        assert_eq!(
            location(&proxy, code, &to).await,
            (code, Some(to.clone())),
            "{code} {to} untouched"
        );
    }
}

/// `--auto-rewrite` alone keeps the scheme.
pub async fn auto_rewrite_only(imp: Impl) {
    let backend = redirect_backend().await;
    let proxy = Proxy::start(imp, &["--auto-rewrite"]).await;
    proxy.add_route("/", &backend.url("")).await;
    assert_eq!(
        location(&proxy, 302, &backend.url("/whatever")).await,
        (302, Some(format!("http://{}/whatever", proxy.host())))
    );
}

/// `--proxy-timeout <ms>`: a silent target gives 503 after that long.
pub async fn proxy_timeout(imp: Impl) {
    let silent = silent_backend().await;
    let proxy = Proxy::start(imp, &["--proxy-timeout", "300"]).await;
    proxy.add_route("/slow", &format!("http://{silent}")).await;
    let activity = proxy.last_activity("/slow").await;
    let started = Instant::now();
    let response = proxy.raw_get("/slow/x").await;
    let took = started.elapsed();
    assert_eq!(response.status, 503);
    assert!(response.text().contains("503:"));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(proxy.last_activity("/slow").await, activity);
}

/// `--timeout <ms>`: an idle client connection during a request is dropped
/// without a response.
pub async fn client_timeout(imp: Impl) {
    let silent = silent_backend().await;
    let proxy = Proxy::start(imp, &["--timeout", "300"]).await;
    proxy.add_route("/slow", &format!("http://{silent}")).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr())
        .await
        .expect("connect");
    let started = Instant::now();
    stream
        .write_all(format!("GET /slow/x HTTP/1.1\r\nHost: {}\r\n\r\n", proxy.host()).as_bytes())
        .await
        .expect("write");
    let rest = raw::drain(&mut stream, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(rest.closed, "connection dropped");
    assert!(
        rest.bytes.is_empty(),
        "no response: {:?}",
        String::from_utf8_lossy(&rest.bytes)
    );
    assert!(took >= Duration::from_millis(250), "{took:?}");
    // The proxy itself is fine afterwards.
    assert_eq!(proxy.raw_get("/_chp_healthz").await.status, 200);
}
