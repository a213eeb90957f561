//! Large bodies pass through the proxy unchanged in both directions.

mod support;

use serde_json::Value;
use support::{echo_backend, hash, payload, proxy};

const SIZE: usize = 8 * 1024 * 1024;

#[tokio::test]
async fn eight_mib_upload_arrives_intact() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let data = payload(SIZE, 42);
    let expected = hash(&data);
    let response = proxy
        .http
        .put(proxy.url("/user/a/api/contents/big.bin"))
        .body(data)
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.expect("JSON");
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["body_len"], SIZE);
    assert_eq!(seen["body_hash"], expected);
}

#[tokio::test]
async fn eight_mib_download_arrives_intact() {
    let backend = echo_backend("b").await;
    let proxy = proxy().await;
    proxy.add_route("/user/a", &backend.url("")).await;
    let response = proxy.get(&format!("/user/a/files/download/{SIZE}")).await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), SIZE);
    assert_eq!(hash(&body), hash(&payload(SIZE, 7)));
}
