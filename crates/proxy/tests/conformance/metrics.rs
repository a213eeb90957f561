//! The Prometheus listener (`--metrics-port`, proxy-spec §8).

use super::harness::{Impl, Proxy, free_port};
use super::support::echo_backend;

/// The nine CHP series, their types, and how a few requests move them.
pub async fn metrics(imp: Impl) {
    let backend = echo_backend("b").await;
    let port = free_port();
    let port_arg = port.to_string();
    let proxy = Proxy::launch(imp)
        .args(["--metrics-ip", "127.0.0.1", "--metrics-port", &port_arg])
        .args(["--default-target", &backend.url("")])
        .wait_for_port(port)
        .start()
        .await;

    // Public port: one proxied request, one health check (not counted).
    assert_eq!(proxy.raw_get("/x").await.status, 200);
    assert_eq!(proxy.raw_get("/_chp_healthz").await.status, 200);
    // API (besides the readiness probe, one whole-table GET): whole-table
    // GET, refused GET, POST, single GET, DELETE twice.
    assert_eq!(proxy.routes().await.len(), 1);
    let refused = proxy.http.get(proxy.api_url("")).send().await.expect("GET");
    assert_eq!(refused.status(), 403);
    proxy.add_route("/user/a", "http://127.0.0.1:1").await;
    assert!(proxy.route("/user/a").await.is_some());
    assert_eq!(proxy.delete_route("/user/a").await, 204);
    assert_eq!(proxy.delete_route("/user/a").await, 404);

    let url = format!("http://127.0.0.1:{port}/metrics");
    let response = proxy.http.get(&url).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("body");
    let lines: Vec<&str> = text.lines().collect();
    for (name, kind) in [
        ("api_route_get", "counter"),
        ("api_route_add", "counter"),
        ("api_route_delete", "counter"),
        ("requests_api", "counter"),
        ("requests_web", "counter"),
        ("requests_ws", "counter"),
        ("requests_proxy", "counter"),
        ("find_target_for_req", "summary"),
        ("last_activity_updating", "summary"),
    ] {
        let type_line = format!("# TYPE {name} {kind}");
        assert!(lines.contains(&type_line.as_str()), "{type_line}\n{text}");
    }
    for sample in [
        "api_route_get 2",
        "api_route_add 1",
        "api_route_delete 2",
        "requests_web 1",
        "requests_ws 0",
        "requests_proxy{status=\"200\"} 1",
        "requests_api{status=\"200\"} 3",
        "requests_api{status=\"404\"} 1",
        "requests_api{status=\"201\"} 1",
        "requests_api{status=\"204\"} 1",
        "requests_api{status=\"403\"} 1",
        "find_target_for_req_count 1",
    ] {
        assert!(lines.contains(&sample), "{sample}\n{text}");
    }
    for quantile in ["0.01", "0.05", "0.5", "0.9", "0.95", "0.99", "0.999"] {
        let prefix = format!("find_target_for_req{{quantile=\"{quantile}\"}} ");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix)),
            "{prefix}\n{text}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("find_target_for_req_sum "))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("last_activity_updating_count ")),
        "{text}"
    );

    let other = proxy
        .http
        .get(format!("http://127.0.0.1:{port}/other"))
        .send()
        .await
        .expect("GET");
    assert_eq!(other.status(), 404);
    assert_eq!(other.text().await.expect("body"), "Not Found");
}
