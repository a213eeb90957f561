//! Error responses the proxy generates (proxy-spec §7).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::io::AsyncWriteExt;

use super::backends::{Seen, scripted};
use super::harness::{Checks, Impl, Proxy, TempDir};
use super::raw;
use super::support::dead_port;

/// Built-in pages: 404 and 503 (and 500) as `text/html`.
pub async fn builtin_pages(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    proxy
        .add_route("/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;

    let not_found = proxy.raw_get("/nope/x?a=b").await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.header("content-type"), Some("text/html"));
    assert!(not_found.text().contains("404:"), "{}", not_found.text());
    assert!(
        not_found
            .text()
            .contains("No service is registered at this URL")
    );

    let unavailable = proxy.raw_get("/dead/x").await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.header("content-type"), Some("text/html"));
    assert!(
        unavailable.text().contains("503:"),
        "{}",
        unavailable.text()
    );
    assert!(
        unavailable
            .text()
            .contains("The upstream service is unavailable")
    );

    let internal = proxy.raw_get("/%").await;
    assert_eq!(internal.status, 500);
    assert_eq!(internal.header("content-type"), Some("text/html"));
    assert!(internal.text().contains("Proxy Error"));

    // HEAD gets the status and headers only.
    let head = proxy
        .raw(&format!(
            "HEAD /nope HTTP/1.1\r\nHost: {}\r\n\r\n",
            proxy.host()
        ))
        .await;
    assert_eq!(head.status, 404);
    assert_eq!(head.header("content-type"), Some("text/html"));
}

/// `--error-path <dir>`: `<code>.html`, else `error.html`, as text/html.
pub async fn error_path(imp: Impl) {
    let dir = TempDir::new();
    std::fs::write(dir.join("404.html"), "<p>custom 404 page</p>\n").expect("write");
    std::fs::write(dir.join("error.html"), "<p>custom error page</p>\n").expect("write");
    let dir_arg = dir.path().to_str().expect("utf-8 path").to_owned();
    let proxy = Proxy::start(imp, &["--error-path", &dir_arg]).await;
    proxy
        .add_route("/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    for (path, status, body) in [
        ("/nope", 404u16, "<p>custom 404 page</p>\n"),
        ("/dead/x", 503, "<p>custom error page</p>\n"),
        ("/%", 500, "<p>custom error page</p>\n"),
    ] {
        let response = proxy.raw_get(path).await;
        assert_eq!(response.status, status, "{path}");
        assert_eq!(response.header("content-type"), Some("text/html"), "{path}");
        assert_eq!(response.text(), body, "{path}");
    }
}

/// `--error-path` with neither file: the status's reason phrase as plain text.
pub async fn error_path_missing_files(imp: Impl) {
    let dir = TempDir::new();
    let dir_arg = dir.path().to_str().expect("utf-8 path").to_owned();
    let proxy = Proxy::start(imp, &["--error-path", &dir_arg]).await;
    proxy
        .add_route("/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    for (path, status, body) in [
        ("/nope", 404u16, "Not Found"),
        ("/dead/x", 503, "Service Unavailable"),
        ("/%", 500, "Internal Server Error"),
    ] {
        let response = proxy.raw_get(path).await;
        assert_eq!(response.status, status, "{path}");
        assert_eq!(response.header("content-type"), None, "{path}");
        assert_eq!(response.text(), body, "{path}");
    }
}

fn error_server_handler() -> super::backends::Handler {
    Arc::new(|seen: &Seen| {
        let url = seen.query("url").unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(&url.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        hyper::Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .header("content-encoding", "identity")
            .header("x-not-copied", "1")
            .header("set-cookie", "not=copied")
            .body(Full::new(Bytes::from(decoded)))
            .expect("response")
    })
}

/// `--error-target <url>`: `GET <url>/<code>?url=<original>`; the original
/// status is kept, only Content-Type/Content-Encoding and the body copied.
pub async fn error_target(imp: Impl) {
    let errors = scripted(error_server_handler()).await;
    let proxy = Proxy::start(imp, &["--error-target", &errors.url("/err")]).await;
    proxy
        .add_route("/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    for (path, status, requested) in [
        ("/nope/x?a=b", 404u16, "/err/404?url=%2Fnope%2Fx%3Fa%3Db"),
        ("/foo/bar", 404, "/err/404?url=%2Ffoo%2Fbar"),
        ("/dead/y", 503, "/err/503?url=%2Fdead%2Fy"),
        ("/%", 500, "/err/500?url=%2F%25"),
    ] {
        let response = proxy.raw_get(path).await;
        assert_eq!(response.status, status, "{path}");
        assert_eq!(response.text(), path, "{path}: the error server's body");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain"),
            "{path}"
        );
        assert_eq!(
            response.header("content-encoding"),
            Some("identity"),
            "{path}"
        );
        assert_eq!(response.header("x-not-copied"), None, "{path}");
        assert_eq!(response.header("set-cookie"), None, "{path}");
        let urls = errors.urls();
        assert_eq!(urls.last().map(String::as_str), Some(requested), "{path}");
    }
    // Websocket failures do not consult the error target.
    let before = errors.urls().len();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr())
        .await
        .expect("connect");
    stream
        .write_all(
            format!(
                "GET /nope/ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                proxy.host()
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        raw::read_response(&mut stream, false),
    )
    .await
    .expect("answer");
    assert_eq!(response.status, 404);
    assert!(response.body.is_empty());
    assert_eq!(errors.urls().len(), before, "error target not asked");
}

/// An unreachable error target falls back to plain text.
pub async fn error_target_unreachable(imp: Impl) {
    let target = format!("http://127.0.0.1:{}/err", dead_port());
    let proxy = Proxy::start(imp, &["--error-target", &target]).await;
    let response = proxy.raw_get("/nope").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.text(), "Not Found");
    assert_eq!(response.header("content-type"), None);
}

/// Responses the proxy generates itself (API, error pages, health check)
/// carry `Connection: keep-alive` and `Keep-Alive: timeout=5` (node's
/// server with the default `--keep-alive-timeout` of 5000 ms).
pub async fn generated_response_headers(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    proxy
        .add_route("/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], proxy.api_port));
    let mut checks = Checks::default();
    let public = [
        ("404 page", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("503 page", "GET /dead HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("500 page", "GET /% HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            "health check",
            "GET /_chp_healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
    ];
    let private = [
        (
            "API 200",
            "GET /api/routes HTTP/1.1\r\nHost: x\r\nAuthorization: token secret\r\n\r\n",
        ),
        ("API 403", "GET /api/routes HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("API 404", "GET /api HTTP/1.1\r\nHost: x\r\n\r\n"),
    ];
    for (addr, cases) in [(proxy.addr(), &public[..]), (api, &private[..])] {
        for (what, request) in cases {
            let response = raw::request(addr, request.as_bytes()).await;
            checks.eq(response.header("connection"), Some("keep-alive"), what);
            checks.eq(response.header("keep-alive"), Some("timeout=5"), what);
        }
    }
    checks.finish();
}
