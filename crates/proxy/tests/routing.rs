//! The public port: route matching, forwarded URL and headers, errors
//! (proxy-spec §4 and §7).

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{echo_backend, proxy, proxy_with};

#[tokio::test]
async fn longest_prefix_on_whole_segments() {
    let a = echo_backend("a").await;
    let ab = echo_backend("ab").await;
    let sub = echo_backend("sub").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &a.url("")).await;
    proxy.add_route("/user/ab", &ab.url("")).await;
    proxy.add_route("/user/a/sub", &sub.url("")).await;

    for (path, expected) in [
        ("/user/a", "a"),
        ("/user/a/", "a"),
        ("/user/a/tree/x.ipynb", "a"),
        ("/user/ab", "ab"),
        ("/user/ab/lab", "ab"),
        ("/user/a/sub", "sub"),
        ("/user/a/sub/z", "sub"),
        ("/user/a/subx", "a"),
    ] {
        assert_eq!(proxy.get_echo(path).await["name"], expected, "{path}");
    }
    for unrouted in ["/user/abc", "/user", "/", "/hub/login"] {
        assert_eq!(proxy.get(unrouted).await.status(), 404, "{unrouted}");
    }
}

#[tokio::test]
async fn default_route_catches_the_rest() {
    let hub = echo_backend("hub").await;
    let user = echo_backend("user").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        default_target: Some(hub.url("")),
        ..support::options()
    })
    .await;
    proxy.add_route("/user/a", &user.url("")).await;
    assert_eq!(proxy.get_echo("/").await["name"], "hub");
    assert_eq!(proxy.get_echo("/hub/login?next=x").await["name"], "hub");
    assert_eq!(proxy.get_echo("/user/ab").await["name"], "hub");
    assert_eq!(proxy.get_echo("/user/a/api").await["name"], "user");
    // The default target is an ordinary route.
    assert_eq!(proxy.routes().await["/"]["target"], hub.url(""));
}

#[tokio::test]
async fn path_and_query_forwarded_intact_with_prefix() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let seen = proxy
        .get_echo("/user/a/files/x%20y/b%40c.txt?q=1&r=a%2Fb&empty=")
        .await;
    assert_eq!(
        seen["url"],
        "/user/a/files/x%20y/b%40c.txt?q=1&r=a%2Fb&empty="
    );
    assert_eq!(seen["method"], "GET");

    let posted = proxy
        .http
        .post(proxy.url("/user/a/api/contents"))
        .body("hello")
        .send()
        .await
        .expect("POST");
    assert_eq!(posted.status(), 200);
    let posted: Value = posted.json().await.expect("JSON");
    assert_eq!(posted["method"], "POST");
    assert_eq!(posted["body_len"], 5);
    assert_eq!(posted["body_hash"], support::hash(b"hello"));
}

#[tokio::test]
async fn target_path_is_prepended() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/bar", &backend.url("/foo")).await;
    proxy.add_route("/slash", &backend.url("/base/")).await;
    proxy.add_route("/b@r/b r", &backend.url("/foo")).await;
    assert_eq!(
        proxy.get_echo("/bar/rest/of/it?query=foo").await["url"],
        "/foo/bar/rest/of/it?query=foo"
    );
    assert_eq!(proxy.get_echo("/slash/x").await["url"], "/base/slash/x");
    // Decoded for matching, forwarded as received.
    assert_eq!(
        proxy.get_echo("/b%40r/b%20r/rest/of/it").await["url"],
        "/foo/b%40r/b%20r/rest/of/it"
    );
}

#[tokio::test]
async fn forwarded_headers_and_original_host() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;

    let seen = proxy.get_echo("/user/a/x").await;
    let headers = &seen["headers"];
    let public_host = proxy.public.to_string();
    assert_eq!(headers["host"], public_host.as_str());
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        headers["x-forwarded-port"],
        proxy.public.port().to_string().as_str()
    );
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], public_host.as_str());

    // A Host chosen by the client, and an X-Forwarded-For from an earlier hop.
    let response = proxy
        .http
        .get(proxy.url("/user/a/y"))
        .header("Host", "hub.example.org:8443")
        .header("X-Forwarded-For", "10.9.9.9")
        .header("X-Custom", "kept")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-backend"],
        "b",
        "response headers relayed"
    );
    let seen: Value = response.json().await.expect("JSON");
    let headers = &seen["headers"];
    assert_eq!(headers["host"], "hub.example.org:8443");
    assert_eq!(headers["x-forwarded-host"], "hub.example.org:8443");
    assert_eq!(headers["x-forwarded-port"], "8443");
    assert_eq!(headers["x-forwarded-for"], "10.9.9.9,127.0.0.1");
    assert_eq!(headers["x-custom"], "kept");
}

#[tokio::test]
async fn no_include_prefix_and_no_x_forward() {
    let backend = echo_backend("b").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        include_prefix: false,
        x_forward: false,
        ..support::options()
    })
    .await;
    proxy.add_route("/user/a", &backend.url("/t")).await;
    let seen = proxy.get_echo("/user/a/x?y=1").await;
    assert_eq!(seen["url"], "/t/x?y=1");
    let headers = seen["headers"].as_object().expect("headers");
    assert!(
        !headers.keys().any(|k| k.starts_with("x-forwarded")),
        "{headers:?}"
    );
    assert_eq!(headers["host"], proxy.public.to_string().as_str());
    // Exactly the prefix adds nothing to the target path (as CHP).
    assert_eq!(proxy.get_echo("/user/a").await["url"], "/t");
    assert_eq!(proxy.get_echo("/user/a/").await["url"], "/t/");

    let bare = proxy_with(ferrohub_proxy::ProxyOptions {
        include_prefix: false,
        prepend_path: false,
        ..support::options()
    })
    .await;
    bare.add_route("/user/a", &backend.url("/t")).await;
    assert_eq!(bare.get_echo("/user/a/x?y=1").await["url"], "/x?y=1");
    let seen = bare.get_echo("/user/a/z").await;
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
}

#[tokio::test]
async fn no_prepend_path_ignores_target_path() {
    let backend = echo_backend("b").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        prepend_path: false,
        ..support::options()
    })
    .await;
    proxy.add_route("/bar", &backend.url("/foo")).await;
    assert_eq!(
        proxy.get_echo("/bar/rest/of/it").await["url"],
        "/bar/rest/of/it"
    );
}

#[tokio::test]
async fn no_route_is_404_with_builtin_page() {
    let proxy = proxy().await;
    let response = proxy.get("/nowhere").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    assert!(response.text().await.expect("body").contains("404"));
}

#[tokio::test]
async fn dead_target_is_503_quickly() {
    let proxy = proxy().await;
    let dead = format!("http://127.0.0.1:{}", support::dead_port());
    proxy.add_route("/user/gone", &dead).await;
    let started = Instant::now();
    let response = proxy.get("/user/gone/api").await;
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(response.text().await.expect("body").contains("503"));
}

#[tokio::test]
async fn error_target_serves_404_and_503_pages() {
    let errors = echo_backend("errors").await;
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        error_target: Some(errors.url("/hub/error")),
        ..support::options()
    })
    .await;
    proxy
        .add_route(
            "/user/gone",
            &format!("http://127.0.0.1:{}", support::dead_port()),
        )
        .await;

    for (path, status) in [("/nope/x?a=b", 404), ("/user/gone/lab?x=1", 503)] {
        let response = proxy.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "the error server's content type is relayed"
        );
        let seen: Value = response.json().await.expect("error server JSON");
        assert_eq!(seen["name"], "errors");
        assert_eq!(seen["path"], format!("/hub/error/{status}"));
        let url = seen["url"].as_str().expect("url");
        let encoded = url.split_once("?url=").expect("url parameter").1;
        let original = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .expect("utf-8");
        assert_eq!(original, path);
    }
}

#[tokio::test]
async fn unreachable_error_target_falls_back() {
    let proxy = proxy_with(ferrohub_proxy::ProxyOptions {
        error_target: Some(format!("http://127.0.0.1:{}/err", support::dead_port())),
        ..support::options()
    })
    .await;
    let started = Instant::now();
    assert_eq!(proxy.get("/nope").await.status(), 404);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn health_check() {
    let proxy = proxy().await;
    let response = proxy.get("/_chp_healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, serde_json::json!({"status": "OK"}));
    // With a query it is an ordinary (here: unrouted) request.
    assert_eq!(proxy.get("/_chp_healthz?x=1").await.status(), 404);
}

#[tokio::test]
async fn activity_counts_only_successful_responses() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    proxy
        .add_route(
            "/user/gone",
            &format!("http://127.0.0.1:{}", support::dead_port()),
        )
        .await;
    let pause = || tokio::time::sleep(Duration::from_millis(20));

    let start = proxy.last_activity("/user/a").await;
    pause().await;
    assert_eq!(proxy.get("/user/a/x?status=404").await.status(), 404);
    assert_eq!(proxy.get("/user/a/x?status=302").await.status(), 302);
    assert_eq!(
        proxy.last_activity("/user/a").await,
        start,
        "3xx/4xx from the target do not count"
    );
    proxy.get_echo("/user/a/x").await;
    assert!(proxy.last_activity("/user/a").await > start, "200 counts");

    let gone = proxy.last_activity("/user/gone").await;
    pause().await;
    assert_eq!(proxy.get("/user/gone/x").await.status(), 503);
    assert_eq!(
        proxy.last_activity("/user/gone").await,
        gone,
        "a proxy-generated 503 does not count"
    );
}
