//! The REST API on its own port, against CHP's behaviour (proxy-spec §3).

mod support;

use reqwest::Method;
use serde_json::json;
use support::{TOKEN, parse_activity};

#[tokio::test]
async fn token_is_required_in_chp_form() {
    let proxy = support::proxy().await;
    let url = proxy.api_url("");
    let status = |auth: Option<String>| {
        let mut request = proxy.http.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { request.send().await.expect("GET").status().as_u16() }
    };
    assert_eq!(status(None).await, 403, "no token");
    assert_eq!(status(Some("token wrong".into())).await, 403, "wrong token");
    assert_eq!(status(Some(format!("Bearer {TOKEN}"))).await, 403, "Bearer");
    assert_eq!(status(Some(format!("Token {TOKEN}"))).await, 403, "Token");
    assert_eq!(status(Some(format!("token {TOKEN}"))).await, 200);
    assert_eq!(status(Some(format!("token    {TOKEN}"))).await, 200);

    let refused = proxy.http.get(&url).send().await.expect("GET");
    assert!(refused.text().await.expect("body").is_empty(), "403 body");
    // Unauthorized writes change nothing.
    let post = proxy
        .http
        .post(proxy.api_url("/user/x"))
        .json(&json!({"target": "http://127.0.0.1:1"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status(), 403);
    assert!(proxy.route("/user/x").await.is_none());
}

#[tokio::test]
async fn add_list_get_delete() {
    let proxy = support::proxy().await;
    let before = chrono::Utc::now() - chrono::Duration::milliseconds(5);
    let response = proxy
        .api(Method::POST, "/user/a")
        .json(&json!({"target": "http://127.0.0.1:9999", "user": "a", "jupyterhub": true}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 201);
    assert!(response.text().await.expect("body").is_empty());

    let routes = proxy.routes().await;
    assert_eq!(routes.len(), 1, "{routes:?}");
    let route = &routes["/user/a"];
    assert_eq!(route["user"], "a");
    assert_eq!(route["jupyterhub"], true);
    assert_eq!(route["target"], "http://127.0.0.1:9999");
    let activity = parse_activity(&route["last_activity"]);
    assert!(
        activity >= before && activity <= chrono::Utc::now(),
        "{activity}"
    );

    let listed = proxy.api(Method::GET, "").send().await.expect("GET routes");
    assert_eq!(
        listed.headers()["content-type"],
        "application/json",
        "JSON content type"
    );

    let single = proxy.route("/user/a").await.expect("GET single");
    assert_eq!(single["target"], "http://127.0.0.1:9999");
    assert_eq!(single["user"], "a");
    assert!(proxy.route("/user/nobody").await.is_none());

    let deleted = proxy
        .api(Method::DELETE, "/user/a")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    assert!(proxy.route("/user/a").await.is_none());
    let again = proxy
        .api(Method::DELETE, "/user/a")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(again.status(), 404);
    assert!(proxy.routes().await.is_empty());
}

#[tokio::test]
async fn keys_are_normalised_and_decoded() {
    let proxy = support::proxy().await;
    proxy.add_route("/user/b/", "http://127.0.0.1:1").await;
    proxy
        .add_route("/user/foo%40bar", "http://127.0.0.1:2")
        .await;
    let keys: Vec<String> = proxy.routes().await.keys().cloned().collect();
    assert!(keys.contains(&"/user/b".to_owned()), "{keys:?}");
    assert!(keys.contains(&"/user/foo@bar".to_owned()), "{keys:?}");
    assert_eq!(keys.len(), 2);
    assert!(proxy.route("/user/b/").await.is_some());

    // POST with no path is route `/`; POST again replaces the data.
    proxy
        .add_route_data("", json!({"target": "http://127.0.0.1:3", "hub": true}))
        .await;
    proxy.add_route("", "http://127.0.0.1:4").await;
    // `GET /api/routes/` is the whole table in CHP, so read `/` from it.
    let all = proxy.routes().await;
    let root = &all["/"];
    assert_eq!(root["target"], "http://127.0.0.1:4");
    assert!(root.get("hub").is_none(), "replaced, not merged: {root}");
}

#[tokio::test]
async fn client_last_activity_is_overwritten() {
    let proxy = support::proxy().await;
    proxy
        .add_route_data(
            "/user/c",
            json!({"target": "http://127.0.0.1:1", "last_activity": "1999-01-01T00:00:00.000Z"}),
        )
        .await;
    let activity = proxy.last_activity("/user/c").await;
    assert!(activity > chrono::Utc::now() - chrono::Duration::minutes(1));
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let proxy = support::proxy().await;
    let post = |body: &'static str| {
        let request = proxy.api(Method::POST, "/user/x").body(body);
        async move {
            let response = request.send().await.expect("POST");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    let (status, body) = post("{not json").await;
    assert_eq!(status, 400);
    assert!(body.starts_with("Body not valid JSON"), "{body}");
    let (status, body) = post("").await;
    assert_eq!(status, 400);
    assert!(body.starts_with("Body not valid JSON"), "{body}");
    for missing in [r#"{"user": "x"}"#, r#"{"target": 5}"#, "[1]", "null"] {
        let (status, body) = post(missing).await;
        assert_eq!(status, 400, "{missing}");
        assert_eq!(body, "Must specify 'target' as string", "{missing}");
    }
    assert!(proxy.routes().await.is_empty());

    // CHP parses the body before checking the token.
    let anonymous = proxy
        .http
        .post(proxy.api_url("/user/x"))
        .body("{oops")
        .send()
        .await
        .expect("POST");
    assert_eq!(anonymous.status(), 400);
}

#[tokio::test]
async fn inactive_since_filters_recently_used_routes() {
    let backend = support::echo_backend("b").await;
    let proxy = support::proxy().await;
    proxy.add_route("/idle", &backend.url("")).await;
    proxy.add_route("/busy", &backend.url("")).await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let cutoff = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    proxy.get_echo("/busy/work").await;

    for key in ["inactive_since", "inactiveSince"] {
        let response = proxy
            .api(Method::GET, &format!("?{key}={cutoff}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200);
        let routes: serde_json::Map<String, serde_json::Value> =
            response.json().await.expect("JSON");
        let keys: Vec<&String> = routes.keys().collect();
        assert_eq!(keys, ["/idle"], "{key}");
    }

    let epoch = proxy
        .api(Method::GET, "?inactive_since=1970-01-01T00:00:00.000Z")
        .send()
        .await
        .expect("GET");
    let none: serde_json::Map<String, serde_json::Value> = epoch.json().await.expect("JSON");
    assert!(none.is_empty(), "{none:?}");

    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let all = proxy
        .api(Method::GET, &format!("?inactive_since={future}"))
        .send()
        .await
        .expect("GET");
    let all: serde_json::Map<String, serde_json::Value> = all.json().await.expect("JSON");
    assert_eq!(all.len(), 2);

    let bad = proxy
        .api(Method::GET, "?inactive_since=endoftheuniverse")
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.text().await.expect("body"),
        "Invalid datestamp 'endoftheuniverse' must be ISO8601."
    );
}

#[tokio::test]
async fn other_paths_and_methods() {
    let proxy = support::proxy().await;
    for path in ["/api", "/api/", "/api/routesx", "/", "/user/a"] {
        let response = proxy
            .http
            .get(format!("http://{}{path}", proxy.api))
            .header("Authorization", format!("token {TOKEN}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 404, "{path}");
    }
    let put = proxy
        .api(Method::PUT, "/user/a")
        .json(&json!({"target": "http://127.0.0.1:1"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), 405);
    // 405 comes before the token check.
    let anonymous = proxy
        .http
        .patch(proxy.api_url(""))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(anonymous.status(), 405);
    assert!(proxy.routes().await.is_empty());
}

#[tokio::test]
async fn api_changes_apply_to_the_next_request() {
    let one = support::echo_backend("one").await;
    let two = support::echo_backend("two").await;
    let proxy = support::proxy().await;
    proxy.add_route("/user/a", &one.url("")).await;
    assert_eq!(proxy.get_echo("/user/a/x").await["name"], "one");
    proxy.add_route("/user/a", &two.url("")).await;
    assert_eq!(proxy.get_echo("/user/a/x").await["name"], "two");
    let deleted = proxy
        .api(Method::DELETE, "/user/a")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    assert_eq!(proxy.get("/user/a/x").await.status(), 404);
}
