//! The metrics listener as Prometheus sees it: CHP's series names, types
//! and labels at `GET /metrics`, 404 elsewhere, and counters that follow
//! the traffic.

mod support;

use std::collections::HashMap;

use ferrohub_proxy::ProxyOptions;
use futures_util::StreamExt;

fn metrics_options() -> ProxyOptions {
    ProxyOptions {
        metrics_ip: "127.0.0.1".into(),
        metrics_port: Some(0),
        ..support::options()
    }
}

/// `name{labels}` → value, from the exposition text.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(proxy: &support::Proxy) -> (String, HashMap<String, f64>) {
    let url = format!(
        "http://{}/metrics",
        proxy.metrics.expect("metrics listener")
    );
    let response = proxy.http.get(url).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.expect("text");
    let samples = samples(&text);
    (text, samples)
}

#[tokio::test]
async fn chp_series_with_their_types() {
    let proxy = support::proxy_with(metrics_options()).await;
    let (text, samples) = scrape(&proxy).await;
    for (name, kind) in [
        ("api_route_get", "counter"),
        ("api_route_add", "counter"),
        ("api_route_delete", "counter"),
        ("find_target_for_req", "summary"),
        ("last_activity_updating", "summary"),
        ("requests_ws", "counter"),
        ("requests_web", "counter"),
        ("requests_proxy", "counter"),
        ("requests_api", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} in\n{text}"
        );
    }
    for quantile in ["0.01", "0.05", "0.5", "0.9", "0.95", "0.99", "0.999"] {
        let key = format!("find_target_for_req{{quantile=\"{quantile}\"}}");
        assert!(samples.contains_key(&key), "{key}");
    }
    assert!(samples["process_resident_memory_bytes"] > 1e6);
    assert!(samples["process_open_fds"] > 3.0);
    assert!(
        !text.contains("_total counter\napi_"),
        "no _total on CHP's counters"
    );

    let url = |path: &str| format!("http://{}{path}", proxy.metrics.unwrap());
    for path in ["/", "/metrics/", "/metrics?x=1", "/api/routes"] {
        let response = proxy.http.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.text().await.unwrap(), "Not Found");
    }
}

#[tokio::test]
async fn counters_follow_the_traffic() {
    let backend = support::echo_backend("hub").await;
    let ws = support::ws_backend().await;
    let proxy = support::proxy_with(metrics_options()).await;
    proxy.add_route("/user/a", &backend.url("")).await;
    proxy.add_route("/ws", &format!("http://{ws}")).await;
    let routes = proxy.routes().await;
    assert!(
        routes.contains_key("/user/a") && routes.contains_key("/ws"),
        "{routes:?}"
    );
    let gone = proxy
        .api(reqwest::Method::DELETE, "/nothing")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    for _ in 0..3 {
        proxy.get_echo("/user/a/x").await;
    }
    assert_eq!(proxy.get("/user/a/x?status=302").await.status(), 302);
    assert_eq!(proxy.get("/nowhere").await.status(), 404);
    assert_eq!(proxy.get("/_chp_healthz").await.status(), 200);
    let (mut socket, _) = tokio_tungstenite::connect_async(proxy.ws_url("/ws/x"))
        .await
        .expect("websocket");
    let greeting = socket.next().await;
    assert!(matches!(greeting, Some(Ok(_))), "{greeting:?}");
    drop(socket);

    let (_, m) = scrape(&proxy).await;
    assert_eq!(m["api_route_add"], 2.0);
    assert_eq!(m["api_route_get"], 1.0);
    assert_eq!(m["api_route_delete"], 1.0);
    assert_eq!(m["requests_api{status=\"201\"}"], 2.0);
    assert_eq!(m["requests_api{status=\"200\"}"], 1.0);
    assert_eq!(m["requests_api{status=\"404\"}"], 1.0);
    assert_eq!(m["requests_web"], 5.0, "the health check is not counted");
    assert_eq!(m["requests_ws"], 1.0);
    assert_eq!(m["requests_proxy{status=\"200\"}"], 3.0);
    assert_eq!(m["requests_proxy{status=\"302\"}"], 1.0);
    assert_eq!(m["requests_proxy{status=\"404\"}"], 1.0);
    assert_eq!(
        m["find_target_for_req_count"], 6.0,
        "5 web + 1 websocket lookups"
    );
    assert!(m["find_target_for_req_sum"] > 0.0);
    assert!(m["find_target_for_req{quantile=\"0.5\"}"] > 0.0);
    assert!(m["last_activity_updating_count"] >= 3.0);
}

#[tokio::test]
async fn no_metrics_listener_by_default() {
    let proxy = support::proxy().await;
    assert!(proxy.metrics.is_none());
}
