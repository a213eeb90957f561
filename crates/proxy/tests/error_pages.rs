//! Error pages other than the error target: `--error-path`, the built-in
//! pages, and 500 for paths that cannot be decoded (proxy-spec §7, §4.1).

mod support;

use std::path::PathBuf;

use ferrohub_proxy::ProxyOptions;
use support::{dead_port, echo_backend, options, proxy, proxy_with};

/// A fresh directory holding the given files; removed when dropped.
struct PageDir(PathBuf);

impl PageDir {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ferrohub-proxy-pages-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (file, text) in files {
            std::fs::write(dir.join(file), text).expect("write page");
        }
        Self(dir)
    }
}

impl Drop for PageDir {
    fn drop(&mut self) {
        support::remove_dir_if_present(&self.0);
    }
}

async fn status_type_body(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn error_path_pages_with_fallback_to_error_html() {
    let pages = PageDir::new(
        "custom",
        &[
            ("404.html", "<p>custom not found</p>"),
            ("error.html", "<p>custom error</p>"),
        ],
    );
    let proxy = proxy_with(ProxyOptions {
        error_path: Some(pages.0.clone()),
        ..options()
    })
    .await;
    proxy
        .add_route("/user/gone", &format!("http://127.0.0.1:{}", dead_port()))
        .await;

    let missing = status_type_body(proxy.get("/nowhere").await).await;
    assert_eq!(
        missing,
        (404, "text/html".into(), "<p>custom not found</p>".into())
    );
    let down = status_type_body(proxy.get("/user/gone/x").await).await;
    assert_eq!(
        down,
        (503, "text/html".into(), "<p>custom error</p>".into())
    );
}

#[tokio::test]
async fn empty_error_path_falls_back_to_plain_reason() {
    let pages = PageDir::new("empty", &[]);
    let proxy = proxy_with(ProxyOptions {
        error_path: Some(pages.0.clone()),
        ..options()
    })
    .await;
    let (status, content_type, body) = status_type_body(proxy.get("/nowhere").await).await;
    assert_eq!((status, body.as_str()), (404, "Not Found"));
    assert!(content_type.is_empty(), "{content_type}");
}

#[tokio::test]
async fn built_in_pages_carry_chp_titles() {
    let proxy = proxy().await;
    proxy
        .add_route("/user/gone", &format!("http://127.0.0.1:{}", dead_port()))
        .await;
    let (status, content_type, body) = status_type_body(proxy.get("/nowhere").await).await;
    assert_eq!((status, content_type.as_str()), (404, "text/html"));
    assert!(body.contains("404: Not Found"), "{body}");
    let (status, _, body) = status_type_body(proxy.get("/user/gone").await).await;
    assert_eq!(status, 503);
    assert!(body.contains("503: Proxy Target Missing"), "{body}");
}

#[tokio::test]
async fn undecodable_path_is_500_from_the_error_target() {
    let errors = echo_backend("errors").await;
    let proxy = proxy_with(ProxyOptions {
        error_target: Some(errors.url("/hub/error")),
        ..options()
    })
    .await;
    let response = proxy.get("/user/%zz").await;
    assert_eq!(response.status(), 500);
    let seen: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(seen["path"], "/hub/error/500");
    assert_eq!(seen["url"], "/hub/error/500?url=%2Fuser%2F%25zz");
}

#[tokio::test]
async fn unusable_target_is_500() {
    let proxy = proxy().await;
    proxy.add_route("/user/odd", "not a url").await;
    proxy.add_route("/user/ftp", "ftp://127.0.0.1:1").await;
    for path in ["/user/odd/x", "/user/ftp/x"] {
        let (status, _, body) = status_type_body(proxy.get(path).await).await;
        assert_eq!(status, 500, "{path}");
        assert!(body.contains("Proxy Error"), "{path}: {body}");
    }
}
