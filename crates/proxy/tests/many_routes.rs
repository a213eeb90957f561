//! A JupyterHub-sized table: 10,000 routes added through the API.

mod support;

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

const ROUTES: usize = 10_000;
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_routes() {
    let backend = support::echo_backend("b").await;
    let proxy = Arc::new(support::proxy().await);
    let base = backend.url("");

    let mut workers = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let (proxy, base) = (Arc::clone(&proxy), base.clone());
        workers.spawn(async move {
            for i in (w..ROUTES).step_by(WORKERS) {
                let response = proxy
                    .api(Method::POST, &format!("/user/u{i}"))
                    .json(&json!({"target": format!("{base}/t{i}"), "user": format!("u{i}")}))
                    .send()
                    .await
                    .expect("POST");
                assert_eq!(response.status(), 201, "route {i}");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }

    let routes = proxy.routes().await;
    assert_eq!(routes.len(), ROUTES);
    assert_eq!(routes["/user/u9999"]["user"], "u9999");
    assert_eq!(routes["/user/u0"]["target"], format!("{base}/t0"));

    for i in [0, 1, 42, 999, 1000, 5555, 9999] {
        let seen = proxy.get_echo(&format!("/user/u{i}/lab?x={i}")).await;
        assert_eq!(
            seen["url"],
            format!("/t{i}/user/u{i}/lab?x={i}"),
            "route {i}"
        );
    }
    // Segment boundaries still hold among many similar keys.
    assert_eq!(proxy.get("/user/u10000/lab").await.status(), 404);
    assert_eq!(
        proxy.get_echo("/user/u1/tree").await["url"],
        "/t1/user/u1/tree"
    );
}
