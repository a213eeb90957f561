//! Route lookup on the public port (proxy-spec §4.1).

use super::harness::{Checks, Impl, Proxy};
use super::support::echo_backend;

async fn check(proxy: &Proxy, method: &str) -> super::raw::RawResponse {
    let request = format!(
        "{method} /_chp_healthz HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
        proxy.host()
    );
    proxy.raw(&request).await
}

/// `/_chp_healthz` exactly (any method, no query) is answered by the proxy.
pub async fn health_check(imp: Impl) {
    let backend = echo_backend("root").await;
    let proxy = Proxy::start(imp, &[]).await;
    for method in ["GET", "POST", "DELETE"] {
        let response = check(&proxy, method).await;
        assert_eq!(response.status, 200, "{method} without routes");
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.text(), r#"{"status":"OK"}"#);
    }
    // With a query it is an ordinary request: no route, 404.
    assert_eq!(proxy.raw_get("/_chp_healthz?x=1").await.status, 404);

    proxy.add_route("/", &backend.url("")).await;
    let response = check(&proxy, "GET").await;
    assert_eq!(response.text(), r#"{"status":"OK"}"#, "not proxied");
    assert_eq!(response.header("x-backend"), None);
    for path in ["/_chp_healthz?x=1", "/_chp_healthz/", "/_chp_healthz/x"] {
        let seen = proxy.echo(path).await;
        assert_eq!(seen["name"], "root", "{path}");
        assert_eq!(seen["url"], path);
    }
}

/// The longest route whose segments prefix the request's wins; whole
/// segments only, case-sensitive.
pub async fn longest_prefix(imp: Impl) {
    let root = echo_backend("root").await;
    let a = echo_backend("a").await;
    let sub = echo_backend("sub").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/user/a", &a.url("")).await;
    proxy.add_route("/user/a/sub", &sub.url("")).await;
    // Without `/`, unmatched paths are 404.
    assert_eq!(proxy.raw_get("/user/ab").await.status, 404);
    assert_eq!(proxy.raw_get("/").await.status, 404);
    proxy.add_route("/", &root.url("")).await;
    let mut checks = Checks::default();
    for (path, expected) in [
        ("/user/a", "a"),
        ("/user/a/", "a"),
        ("/user/a/x", "a"),
        ("/user/a?x=1", "a"),
        ("/user/ab", "root"),
        ("/user/ab/x", "root"),
        ("/user", "root"),
        ("/user/", "root"),
        ("/User/a", "root"),
        ("/user/A", "root"),
        ("/user/a/sub", "sub"),
        ("/user/a/sub/z", "sub"),
        ("/user/a/subx", "a"),
        ("/user/a/su", "a"),
        ("/", "root"),
        ("/hub/login?next=%2Fuser%2Fa", "root"),
    ] {
        let seen = proxy.echo(path).await;
        checks.eq(seen["name"].as_str(), Some(expected), path);
    }
    checks.finish();
    // Removing the deeper route falls back to the shallower one.
    assert_eq!(proxy.delete_route("/user/a/sub").await, 204);
    assert_eq!(proxy.echo("/user/a/sub/z").await["name"], "a");
}

/// Empty segments from `//` count; trailing slashes do not.
pub async fn empty_segments(imp: Impl) {
    let root = echo_backend("root").await;
    let ab = echo_backend("ab").await;
    let cd = echo_backend("cd").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &root.url("")).await;
    proxy.add_route("/a/b", &ab.url("")).await;
    proxy.add_route("/c//d", &cd.url("")).await;
    let mut checks = Checks::default();
    for (path, expected) in [
        ("/a/b", "ab"),
        ("/a/b/", "ab"),
        ("/a/b//", "ab"),
        ("/a/b//x", "ab"),
        ("/a//b", "root"),
        ("/a//b/x", "root"),
        ("/c/d", "root"),
        ("/c//d", "cd"),
        ("/c//d/x", "cd"),
    ] {
        let seen = proxy.echo(path).await;
        checks.eq(seen["name"].as_str(), Some(expected), path);
        checks.eq(
            seen["url"].as_str(),
            Some(path),
            format!("{path} forwarded"),
        );
    }
    checks.finish();
}

/// Matching is on the percent-decoded path (`%40` is `@`, `%2F` is a
/// separator) while the path is forwarded as received.
pub async fn percent_decoded_matching(imp: Impl) {
    let root = echo_backend("root").await;
    let at = echo_backend("at").await;
    let space = echo_backend("space").await;
    let ab = echo_backend("ab").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &root.url("")).await;
    proxy.add_route("/user/foo%40bar", &at.url("")).await;
    proxy.add_route("/b%40r/b%20r", &space.url("/foo")).await;
    proxy.add_route("/a/b", &ab.url("")).await;
    let mut checks = Checks::default();
    for (path, name, url) in [
        ("/user/foo@bar/x", "at", "/user/foo@bar/x"),
        ("/user/foo%40bar/x", "at", "/user/foo%40bar/x"),
        ("/user/foo%40bar", "at", "/user/foo%40bar"),
        ("/user/foo%2540bar", "root", "/user/foo%2540bar"),
        (
            "/b%40r/b%20r/rest/of/it",
            "space",
            "/foo/b%40r/b%20r/rest/of/it",
        ),
        (
            "/b@r/b%20r/rest/of/it",
            "space",
            "/foo/b@r/b%20r/rest/of/it",
        ),
        ("/a%2Fb/x", "ab", "/a%2Fb/x"),
        ("/a%2fb", "ab", "/a%2fb"),
        ("/%61/b", "ab", "/%61/b"),
        ("/a%2F%2Fb", "root", "/a%2F%2Fb"),
    ] {
        let seen = proxy.echo(path).await;
        checks.eq(seen["name"].as_str(), Some(name), path);
        checks.eq(seen["url"].as_str(), Some(url), format!("{path} forwarded"));
    }
    checks.finish();
}

/// CHP parses the request target as a URL (WHATWG): `.` and `..` segments,
/// also encoded ones, are resolved before matching and forwarding.
pub async fn dot_segments(imp: Impl) {
    let root = echo_backend("root").await;
    let ab = echo_backend("ab").await;
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/", &root.url("")).await;
    proxy.add_route("/a/b", &ab.url("")).await;
    let mut checks = Checks::default();
    for (path, name, url) in [
        ("/a/b/../x", "root", "/a/x"),
        ("/a/./b/x", "ab", "/a/b/x"),
        ("/a/b/./x", "ab", "/a/b/x"),
        ("/x/../a/b", "ab", "/a/b"),
        ("/a/b/%2e%2e/x", "root", "/a/x"),
        ("/a/b/%2E/x?q=1", "ab", "/a/b/x?q=1"),
    ] {
        let seen = proxy.echo(path).await;
        checks.eq(seen["name"].as_str(), Some(name), path);
        checks.eq(seen["url"].as_str(), Some(url), format!("{path} forwarded"));
    }
    checks.finish();
}

/// A path that cannot be percent-decoded is a 500 (`error.html`), with or
/// without routes.
pub async fn undecodable_path(imp: Impl) {
    let root = echo_backend("root").await;
    let proxy = Proxy::start(imp, &[]).await;
    let mut checks = Checks::default();
    for with_route in [false, true] {
        if with_route {
            proxy.add_route("/", &root.url("")).await;
        }
        for path in ["/%", "/a/%zz", "/%FF", "/x/%E0%A4%A"] {
            let response = proxy.raw_get(path).await;
            let what = format!("{path} (route / {with_route})");
            checks.eq(response.status, 500, &what);
            checks.eq(response.header("content-type"), Some("text/html"), &what);
            checks.ok(response.text().contains("Proxy Error"), &what);
        }
    }
    checks.finish();
}

/// Route targets that are not usable URLs are accepted by the API and give
/// 500 when used.
pub async fn unusable_target(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/bad1", "not a url").await;
    proxy.add_route("/bad2", "ftp://127.0.0.1:1/x").await;
    for path in ["/bad1/x", "/bad2/x"] {
        let response = proxy.raw_get(path).await;
        assert_eq!(response.status, 500, "{path}");
        assert!(response.text().contains("Proxy Error"), "{path}");
    }
    assert_eq!(
        proxy.route("/bad1").await.expect("kept")["target"],
        "not a url"
    );
}
