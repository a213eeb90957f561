//! What reaches the target and what comes back (proxy-spec §4.3–§4.6).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde_json::Value;

use super::backends::{progress_backend, raw_backend};
use super::harness::{Checks, Impl, Proxy, tick};
use super::support::{dead_port, echo_backend, hash, payload};

/// Requests and the upstream URL expected under each configuration:
/// routes `/user/a` → `<echo>/t`, `/b` → `<echo>/base/`, `/q` → `<echo>/t?k=v`.
const URL_CASES: [&str; 7] = [
    "/user/a/x?y=1",
    "/user/a",
    "/user/a/",
    "/user/a?y=1",
    "/b/x",
    "/q/x?y=1",
    "/q",
];

async fn forwarded_urls(imp: Impl, flags: &[&str], expected: [&str; 7]) {
    let backend = echo_backend("t").await;
    let proxy = Proxy::start(imp, flags).await;
    proxy.add_route("/user/a", &backend.url("/t")).await;
    proxy.add_route("/b", &backend.url("/base/")).await;
    proxy.add_route("/q", &backend.url("/t?k=v")).await;
    let mut checks = Checks::default();
    for (path, url) in URL_CASES.iter().zip(expected) {
        let seen = proxy.echo(path).await;
        checks.eq(seen["url"].as_str(), Some(url), format!("{flags:?} {path}"));
    }
    checks.finish();
}

/// Default: target path + full request path, queries merged with `&`.
pub async fn url_default(imp: Impl) {
    forwarded_urls(
        imp,
        &[],
        [
            "/t/user/a/x?y=1",
            "/t/user/a",
            "/t/user/a/",
            "/t/user/a?y=1",
            "/base/b/x",
            "/t/q/x?k=v&y=1",
            "/t/q?k=v",
        ],
    )
    .await;
}

/// `--no-include-prefix`: the matched prefix is dropped. (ferrohub strips
/// matched segments instead of slicing the raw URL — a deliberate
/// difference for encoded prefixes — but a request for exactly the prefix
/// must still give the target path without an added `/`, as CHP does.)
pub async fn url_no_include_prefix(imp: Impl) {
    forwarded_urls(
        imp,
        &["--no-include-prefix"],
        [
            "/t/x?y=1",
            "/t",
            "/t/",
            "/t?y=1",
            "/base/x",
            "/t/x?k=v&y=1",
            "/t?k=v",
        ],
    )
    .await;
}

/// `--no-prepend-path`: the target's path (and query) are ignored.
pub async fn url_no_prepend_path(imp: Impl) {
    forwarded_urls(
        imp,
        &["--no-prepend-path"],
        [
            "/user/a/x?y=1",
            "/user/a",
            "/user/a/",
            "/user/a?y=1",
            "/b/x",
            "/q/x?y=1",
            "/q",
        ],
    )
    .await;
}

/// Both flags: only the request path after the prefix is left.
pub async fn url_no_prefix_no_prepend(imp: Impl) {
    forwarded_urls(
        imp,
        &["--no-include-prefix", "--no-prepend-path"],
        ["/x?y=1", "/", "/", "/?y=1", "/x", "/x?y=1", "/"],
    )
    .await;
}

/// `X-Forwarded-For/Port/Proto` appended to what the client sent,
/// `X-Forwarded-Host` only set when absent; `Host` passed unchanged.
pub async fn x_forwarded(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &backend.url("")).await;
    let send = |extra: &str, host: &str| {
        let request = format!("GET /x HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n");
        let proxy = &proxy;
        async move {
            let response = proxy.raw(&request).await;
            assert_eq!(response.status, 200);
            let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
            seen["headers"].clone()
        }
    };
    let port = proxy.port.to_string();

    let plain = send("", &proxy.host()).await;
    assert_eq!(plain["x-forwarded-for"], "127.0.0.1");
    assert_eq!(plain["x-forwarded-port"], port.as_str());
    assert_eq!(plain["x-forwarded-proto"], "http");
    assert_eq!(plain["x-forwarded-host"], proxy.host().as_str());
    assert_eq!(plain["host"], proxy.host().as_str());

    let no_port = send("", "example.com").await;
    assert_eq!(no_port["x-forwarded-port"], "80", "no port in Host: 80");
    assert_eq!(no_port["x-forwarded-host"], "example.com");
    assert_eq!(no_port["host"], "example.com");

    let other_port = send("", "hub.example.com:8443").await;
    assert_eq!(other_port["x-forwarded-port"], "8443", "port from Host");

    let chained = send(
        "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Port: 1234\r\n\
         X-Forwarded-Proto: https\r\nX-Forwarded-Host: orig.example\r\n",
        &proxy.host(),
    )
    .await;
    assert_eq!(chained["x-forwarded-for"], "10.9.9.9,127.0.0.1");
    assert_eq!(chained["x-forwarded-port"], format!("1234,{port}").as_str());
    assert_eq!(chained["x-forwarded-proto"], "https,http");
    assert_eq!(chained["x-forwarded-host"], "orig.example", "kept");
}

/// `--no-x-forward`: nothing added, client values passed through.
pub async fn no_x_forward(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &["--no-x-forward"]).await;
    proxy.add_route("/", &backend.url("")).await;
    let seen = proxy.echo("/x").await;
    let headers = seen["headers"].as_object().expect("headers");
    for name in [
        "x-forwarded-for",
        "x-forwarded-port",
        "x-forwarded-proto",
        "x-forwarded-host",
    ] {
        assert!(!headers.contains_key(name), "{name}: {headers:?}");
    }
    let response = proxy
        .raw(&format!(
            "GET /x HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n",
            proxy.host()
        ))
        .await;
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["headers"]["x-forwarded-for"], "10.9.9.9");
}

/// Client headers reach the target (`Trailer` excepted; other hop-by-hop
/// headers are a deliberate difference and not checked); method kept.
pub async fn request_headers(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &backend.url("")).await;
    let response = proxy
        .raw(&format!(
            "PUT /x HTTP/1.1\r\nHost: {}\r\nX-Custom: a b c\r\nCookie: k=v; k2=v2\r\n\
             Authorization: token abc\r\nUser-Agent: conformance\r\nAccept: text/plain\r\n\
             Trailer: X-After\r\nContent-Length: 3\r\n\r\nabc",
            proxy.host()
        ))
        .await;
    assert_eq!(response.status, 200);
    let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["body_len"], 3);
    let headers = &seen["headers"];
    assert_eq!(headers["x-custom"], "a b c");
    assert_eq!(headers["cookie"], "k=v; k2=v2");
    assert_eq!(headers["authorization"], "token abc");
    assert_eq!(headers["user-agent"], "conformance");
    assert_eq!(headers["accept"], "text/plain");
    assert_eq!(headers["content-length"], "3");
    assert!(
        headers.get("trailer").is_none(),
        "Trailer dropped: {headers}"
    );
}

/// DELETE and OPTIONS without a length get `Content-Length: 0` upstream.
pub async fn delete_gets_content_length(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &backend.url("")).await;
    for method in ["DELETE", "OPTIONS"] {
        let response = proxy
            .raw(&format!(
                "{method} /x HTTP/1.1\r\nHost: {}\r\n\r\n",
                proxy.host()
            ))
            .await;
        assert_eq!(response.status, 200, "{method}");
        let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
        assert_eq!(seen["method"], method);
        assert_eq!(seen["headers"]["content-length"], "0", "{method}");
        assert!(seen["headers"].get("transfer-encoding").is_none());
    }
}

/// Request bodies arrive intact (length-delimited and chunked) and are
/// streamed: the target sees the first part before the client sends the rest.
pub async fn request_body_streaming(imp: Impl) {
    let backend = echo_backend("b").await;
    let (progress, mut received) = progress_backend().await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &backend.url("")).await;
    proxy
        .add_route("/progress", &format!("http://{progress}"))
        .await;

    let body = payload(3 * 1024 * 1024 + 17, 11);
    let sized = proxy
        .http
        .post(proxy.url("/upload"))
        .body(body.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(sized.status(), 200);
    let seen: Value = sized.json().await.expect("JSON");
    assert_eq!(seen["body_len"], body.len());
    assert_eq!(seen["body_hash"], hash(&body));

    let chunks: Vec<Result<Frame<Bytes>, std::io::Error>> = body
        .chunks(100_000)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let chunked = proxy
        .http
        .put(proxy.url("/upload"))
        .body(reqwest::Body::wrap(StreamBody::new(
            futures_util::stream::iter(chunks),
        )))
        .send()
        .await
        .expect("PUT");
    assert_eq!(chunked.status(), 200);
    let seen: Value = chunked.json().await.expect("JSON");
    assert_eq!(seen["headers"]["transfer-encoding"], "chunked");
    assert_eq!(seen["body_len"], body.len());
    assert_eq!(seen["body_hash"], hash(&body));

    // Streaming: send half, wait until the target has it, then the rest.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let request = proxy
        .http
        .post(proxy.url("/progress/up"))
        .body(reqwest::Body::wrap(StreamBody::new(stream)))
        .send();
    let sender = async move {
        let part = |byte: u8, n: usize| Ok(Frame::data(Bytes::from(vec![byte; n])));
        tx.send(part(b'a', 1000)).await.expect("send");
        let arrived =
            tokio::time::timeout(Duration::from_secs(5), received.wait_for(|n| *n >= 1000)).await;
        let arrived = arrived.is_ok();
        tx.send(part(b'b', 500)).await.expect("send");
        drop(tx);
        arrived
    };
    let (response, arrived) = tokio::join!(request, sender);
    assert!(
        arrived,
        "first part reached the target before the body ended"
    );
    let response = response.expect("POST");
    assert_eq!(response.text().await.expect("body"), "1500");
}

/// Status, reason phrase, headers (repeated ones too) and body come back as
/// the target sent them; `Connection` is filled in, no `Keep-Alive` added.
pub async fn response_passthrough(imp: Impl) {
    let raw = raw_backend(
        b"HTTP/1.1 299 Custom Reason\r\nX-A: 1\r\nSet-Cookie: a=1; Path=/\r\n\
          Set-Cookie: b=2\r\nX-Multi: p\r\nX-Multi: q\r\nContent-Type: text/x-odd\r\n\
          Content-Length: 2\r\n\r\nok",
    )
    .await;
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/raw", &format!("http://{raw}")).await;
    proxy.add_route("/", &backend.url("")).await;

    let response = proxy.raw_get("/raw").await;
    assert_eq!(response.status, 299);
    assert_eq!(response.reason, "Custom Reason");
    assert_eq!(response.header("x-a"), Some("1"));
    assert_eq!(response.header_all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(response.header_joined("x-multi").as_deref(), Some("p, q"));
    assert_eq!(response.header("content-type"), Some("text/x-odd"));
    assert_eq!(response.text(), "ok");
    assert_eq!(response.header("connection"), Some("keep-alive"));
    assert_eq!(
        response.header("keep-alive"),
        None,
        "not on proxied responses"
    );

    // Client asking to close, HTTP/1.0 client: `close`.
    for request in [
        format!(
            "GET /raw HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            proxy.host()
        ),
        format!("GET /raw HTTP/1.0\r\nHost: {}\r\n\r\n", proxy.host()),
    ] {
        let response = proxy.raw(&request).await;
        assert_eq!(response.status, 299);
        assert_eq!(response.header("connection"), Some("close"), "{request:?}");
    }

    // Target errors pass through untouched (no error page).
    for status in [404u16, 500, 503, 302] {
        let response = proxy.raw_get(&format!("/x?status={status}")).await;
        assert_eq!(response.status, status);
        assert_eq!(response.header("x-backend"), Some("b"));
        assert_eq!(response.header("content-type"), Some("application/json"));
        let seen: Value = serde_json::from_slice(&response.body).expect("JSON");
        assert_eq!(seen["url"], format!("/x?status={status}"));
    }

    // Large streamed response bodies arrive intact.
    let download = proxy
        .http
        .get(proxy.url("/download/5000000"))
        .send()
        .await
        .expect("GET");
    assert_eq!(download.status(), 200);
    let mut download = download;
    let mut h = super::support::Fnv::default();
    let mut len = 0;
    while let Some(chunk) = download.chunk().await.expect("chunk") {
        len += chunk.len();
        h.update(&chunk);
    }
    assert_eq!(len, 5_000_000);
    assert_eq!(h.hex(), hash(&payload(5_000_000, 7)));
}

/// `last_activity` moves for 2xx responses and request bodies; not for
/// 3xx/4xx/5xx from the target nor for proxy errors.
pub async fn last_activity_rules(imp: Impl) {
    let backend = echo_backend("b").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/user/a", &backend.url("")).await;
    proxy.add_route("/user/other", &backend.url("")).await;
    proxy
        .add_route("/user/dead", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    let other = proxy.last_activity("/user/other").await;

    let mut last = proxy.last_activity("/user/a").await;
    tick().await;
    assert_eq!(proxy.raw_get("/user/a/x").await.status, 200);
    let now = proxy.last_activity("/user/a").await;
    assert!(now > last, "200 counts: {last} -> {now}");
    last = now;

    for status in [204u16, 299] {
        tick().await;
        assert_eq!(
            proxy
                .raw_get(&format!("/user/a/x?status={status}"))
                .await
                .status,
            status
        );
        let now = proxy.last_activity("/user/a").await;
        assert!(now > last, "{status} counts: {last} -> {now}");
        last = now;
    }
    for status in [301u16, 302, 304, 400, 403, 404, 500, 503] {
        tick().await;
        let response = proxy.raw_get(&format!("/user/a/x?status={status}")).await;
        assert_eq!(response.status, status);
        assert_eq!(
            proxy.last_activity("/user/a").await,
            last,
            "{status} does not count"
        );
    }

    // A request body counts, whatever the status.
    tick().await;
    let upload = proxy
        .raw(&format!(
            "POST /user/a/x?status=500 HTTP/1.1\r\nHost: {}\r\nContent-Length: 5\r\n\r\nhello",
            proxy.host()
        ))
        .await;
    assert_eq!(upload.status, 500);
    let now = proxy.last_activity("/user/a").await;
    assert!(now > last, "request body counts: {last} -> {now}");

    // Proxy errors never count.
    let dead = proxy.last_activity("/user/dead").await;
    tick().await;
    assert_eq!(proxy.raw_get("/user/dead/x").await.status, 503);
    assert_eq!(proxy.last_activity("/user/dead").await, dead);
    assert_eq!(
        proxy.last_activity("/user/other").await,
        other,
        "other routes untouched"
    );
}
