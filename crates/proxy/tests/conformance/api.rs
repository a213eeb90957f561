//! REST API scenarios (proxy-spec §3, §11 "API").

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::harness::{Impl, Proxy, TOKEN, iso, parse_activity, tick};

async fn status_and_body(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, content_type, response.text().await.expect("body"))
}

/// `Authorization: token <t>` only (lower-case word, any spaces); everything
/// else is 403 with an empty body.
pub async fn auth(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    let url = proxy.api_url("");
    let attempt = |auth: Option<String>| {
        let mut request = proxy.http.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { status_and_body(request.send().await.expect("GET")).await }
    };
    for (auth, expected) in [
        (None, 403),
        (Some(format!("token {TOKEN}")), 200),
        (Some(format!("token    {TOKEN}")), 200),
        (Some(format!("Token {TOKEN}")), 403),
        (Some(format!("Bearer {TOKEN}")), 403),
        (Some(format!("TOKEN {TOKEN}")), 403),
        (Some("token wrong".to_owned()), 403),
        (Some("token".to_owned()), 403),
        (Some(String::new()), 403),
    ] {
        let (status, content_type, body) = attempt(auth.clone()).await;
        assert_eq!(status, expected, "Authorization: {auth:?}");
        if expected == 403 {
            assert_eq!(body, "", "403 body for {auth:?}");
            assert_eq!(content_type, None, "403 content type for {auth:?}");
        }
    }

    // Refused writes change nothing.
    let post = proxy
        .http
        .post(proxy.api_url("/user/x"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(r#"{"target": "http://127.0.0.1:1"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status(), 403);
    let delete = proxy
        .http
        .delete(proxy.api_url("/user/x"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(delete.status(), 403);
    assert!(proxy.routes().await.is_empty());

    // Order quirk: a POST body is parsed before the token is checked, so bad
    // JSON without a token is a 400, not a 403.
    let bad = proxy
        .http
        .post(proxy.api_url("/user/x"))
        .body("{bad")
        .send()
        .await
        .expect("POST");
    assert_eq!(
        bad.status(),
        400,
        "bad JSON is refused before the token check"
    );
}

/// Without `CONFIGPROXY_AUTH_TOKEN` the API is open.
pub async fn open_without_token(imp: Impl) {
    let proxy = Proxy::launch(imp).no_token().start().await;
    let post = proxy
        .http
        .post(proxy.api_url("/user/x"))
        .body(r#"{"target": "http://127.0.0.1:1"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status(), 201);
    let get = proxy.http.get(proxy.api_url("")).send().await.expect("GET");
    assert_eq!(get.status(), 200);
    let routes: Value = get.json().await.expect("JSON");
    assert_eq!(routes["/user/x"]["target"], "http://127.0.0.1:1");
    // Any Authorization header is fine then.
    let any = proxy
        .http
        .get(proxy.api_url(""))
        .header("Authorization", "Bearer whatever")
        .send()
        .await
        .expect("GET");
    assert_eq!(any.status(), 200);
}

/// Paths outside `^/api/routes(/.*)?$` are 404 `Not Found`; other methods on
/// API paths are 405 `Method not supported`, before any token check.
pub async fn not_found_and_bad_method(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    for path in [
        "/api",
        "/api/",
        "/api/routesx",
        "/",
        "/api/route",
        "/hub/api/routes",
    ] {
        for auth in [true, false] {
            let mut request = proxy.http.get(proxy.api_base(path));
            if auth {
                request = request.header("Authorization", format!("token {TOKEN}"));
            }
            let (status, content_type, body) =
                status_and_body(request.send().await.expect("GET")).await;
            assert_eq!(status, 404, "GET {path} (auth {auth})");
            assert_eq!(body, "Not Found", "GET {path}");
            assert_eq!(content_type, None, "GET {path}");
        }
    }
    for (method, path) in [
        ("PUT", "/api/routes"),
        ("PATCH", "/api/routes/user/a"),
        ("HEAD", "/api/routes"),
        ("OPTIONS", "/api/routes/"),
    ] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let response = proxy
            .http
            .request(
                method.clone(),
                proxy.api_url(path.trim_start_matches("/api/routes")),
            )
            .send()
            .await
            .expect("request");
        let (status, content_type, body) = status_and_body(response).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(content_type, None, "{method} {path}");
        if method != Method::HEAD {
            assert_eq!(body, "Method not supported", "{method} {path}");
        }
    }
    // The query string plays no part in matching.
    let with_query = proxy
        .api(Method::GET, "?foo=bar")
        .send()
        .await
        .expect("GET");
    assert_eq!(with_query.status(), 200);
}

/// GET of the whole table (with the default-target route `/`), of one
/// route, of an unknown route; response framing.
pub async fn table(imp: Impl) {
    let backend = super::support::echo_backend("default").await;
    let proxy = Proxy::start(imp, &["--default-target", &backend.url("")]).await;
    proxy
        .add_route_data(
            "/user/a",
            json!({"target": "http://127.0.0.1:9", "user": "a"}),
        )
        .await;

    let response = proxy.api(Method::GET, "").send().await.expect("GET");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    let all: Value = response.json().await.expect("JSON");
    let keys: Vec<&String> = all.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 2, "{all}");
    assert_eq!(all["/"]["target"], backend.url(""), "default target listed");
    assert_eq!(all["/user/a"]["target"], "http://127.0.0.1:9");
    assert_eq!(all["/user/a"]["user"], "a");
    for key in ["/", "/user/a"] {
        let activity = parse_activity(&all[key]["last_activity"]);
        assert!(
            activity <= Utc::now() + Duration::seconds(1),
            "{key}: {activity}"
        );
    }

    // `GET /api/routes/` is the whole table too.
    let slash = proxy.api(Method::GET, "/").send().await.expect("GET");
    assert_eq!(slash.status(), 200);
    let slash: Value = slash.json().await.expect("JSON");
    assert_eq!(slash, all);

    let one = proxy.api(Method::GET, "/user/a").send().await.expect("GET");
    assert_eq!(one.status(), 200);
    assert_eq!(one.headers()["content-type"], "application/json");
    let one: Value = one.json().await.expect("JSON");
    assert_eq!(one, all["/user/a"], "single route object");

    let unknown = proxy
        .api(Method::GET, "/user/nobody")
        .send()
        .await
        .expect("GET");
    let (status, content_type, body) = status_and_body(unknown).await;
    assert_eq!((status, body.as_str()), (404, ""), "unknown route");
    assert_eq!(content_type, None);
    // A prefix of a route is not that route.
    assert!(proxy.route("/user").await.is_none());
    assert!(proxy.route("/user/a/b").await.is_none());
}

/// POST: 201 with an empty body, data stored as given, `last_activity`
/// overwritten with now, a second POST replaces, no path means `/`.
pub async fn post(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    let before = Utc::now() - Duration::milliseconds(5);
    let data = json!({
        "target": "http://127.0.0.1:9",
        "user": "foo",
        "server_name": "",
        "jupyterhub": true,
        "nested": {"a": [1, 2]},
        "last_activity": "1999-01-01T00:00:00.000Z",
    });
    let response = proxy
        .api(Method::POST, "/user/foo")
        .body(data.to_string())
        .send()
        .await
        .expect("POST");
    let (status, _, body) = status_and_body(response).await;
    assert_eq!((status, body.as_str()), (201, ""));
    let after = Utc::now() + Duration::milliseconds(5);

    let stored = proxy.route("/user/foo").await.expect("stored");
    for field in ["target", "user", "server_name", "jupyterhub", "nested"] {
        assert_eq!(stored[field], data[field], "{field} kept");
    }
    assert_eq!(stored.as_object().expect("object").len(), 6, "{stored}");
    let activity = parse_activity(&stored["last_activity"]);
    assert!(
        activity >= before && activity <= after,
        "last_activity set to now, not the client's: {activity}"
    );

    // POST on an existing path replaces the whole object.
    proxy
        .add_route_data(
            "/user/foo",
            json!({"target": "http://127.0.0.1:10", "hub": true}),
        )
        .await;
    let replaced = proxy.route("/user/foo").await.expect("stored");
    assert_eq!(replaced["target"], "http://127.0.0.1:10");
    assert_eq!(replaced["hub"], true);
    assert!(
        replaced.get("user").is_none(),
        "replaced, not merged: {replaced}"
    );

    // No path: route `/`.
    proxy.add_route("", "http://127.0.0.1:11").await;
    let all = proxy.routes().await;
    assert_eq!(all["/"]["target"], "http://127.0.0.1:11");
    assert_eq!(all.len(), 2);
}

/// POST bodies that are refused, with CHP's texts.
pub async fn post_errors(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    let post = |body: &'static str| {
        let request = proxy.api(Method::POST, "/user/x").body(body);
        async move { status_and_body(request.send().await.expect("POST")).await }
    };
    for body in ["{bad", "", "not json", "{\"target\": "] {
        let (status, content_type, text) = post(body).await;
        assert_eq!(status, 400, "body {body:?}");
        assert!(
            text.starts_with("Body not valid JSON"),
            "body {body:?}: {text:?}"
        );
        assert_eq!(content_type, None, "body {body:?}");
    }
    for body in [
        "null",
        "{}",
        "[]",
        "\"x\"",
        r#"{"target": 5}"#,
        r#"{"target": null}"#,
        r#"{"target": ["http://127.0.0.1:1"]}"#,
        r#"{"Target": "http://127.0.0.1:1"}"#,
    ] {
        let (status, content_type, text) = post(body).await;
        assert_eq!(status, 400, "body {body:?}");
        assert_eq!(text, "Must specify 'target' as string", "body {body:?}");
        assert_eq!(content_type, None, "body {body:?}");
    }
    assert!(proxy.routes().await.is_empty(), "nothing stored");
}

/// Route keys: trailing slash removed, stored percent-decoded,
/// case-sensitive. (CHP trims one trailing `/` when the API handler cleans
/// the path and one more when the store does, so `/user/carol//` is stored
/// as `/user/carol`; lookups trim one.)
pub async fn key_normalisation(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/user/bob/", "http://127.0.0.1:1").await;
    proxy.add_route("/user/carol//", "http://127.0.0.1:2").await;
    proxy
        .add_route("/user/foo%40bar", "http://127.0.0.1:3")
        .await;
    proxy.add_route("/b%40r/b%20r", "http://127.0.0.1:4").await;
    proxy
        .add_route("/Case/Sensitive", "http://127.0.0.1:5")
        .await;

    let mut keys: Vec<String> = proxy.routes().await.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "/Case/Sensitive",
            "/b@r/b r",
            "/user/bob",
            "/user/carol",
            "/user/foo@bar"
        ]
    );
    // Lookups normalise the same way.
    for path in [
        "/user/bob",
        "/user/bob/",
        "/user/foo%40bar",
        "/user/foo@bar",
    ] {
        assert!(proxy.route(path).await.is_some(), "GET {path}");
    }
    for path in ["/user/carol", "/user/carol/"] {
        let carol = proxy.route(path).await.expect("carol");
        assert_eq!(carol["target"], "http://127.0.0.1:2", "GET {path}");
    }
    for path in ["/case/sensitive", "/CASE/SENSITIVE", "/user/Bob"] {
        assert!(proxy.route(path).await.is_none(), "GET {path}");
    }
    assert_eq!(proxy.delete_route("/user/foo%40bar/").await, 204);
    assert!(proxy.route("/user/foo@bar").await.is_none());
}

/// DELETE: 204 with an empty body, then 404.
pub async fn delete(imp: Impl) {
    let backend = super::support::echo_backend("default").await;
    let proxy = Proxy::start(imp, &["--default-target", &backend.url("")]).await;
    proxy.add_route("/user/bar", "http://127.0.0.1:1").await;
    let response = proxy
        .api(Method::DELETE, "/user/bar")
        .send()
        .await
        .expect("DELETE");
    let (status, _, body) = status_and_body(response).await;
    assert_eq!((status, body.as_str()), (204, ""));
    assert!(proxy.route("/user/bar").await.is_none());
    let again = proxy
        .api(Method::DELETE, "/user/bar")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(again.status(), 404);
    // The default-target route is an ordinary route.
    assert_eq!(proxy.delete_route("/").await, 204);
    assert!(proxy.routes().await.is_empty());
    assert_eq!(proxy.get("/anything").await.status(), 404);
}

/// `?inactive_since=` / `?inactiveSince=`: only routes whose
/// `last_activity` is strictly earlier; unparseable → 400.
pub async fn inactive_since(imp: Impl) {
    let proxy = Proxy::start(imp, &[]).await;
    proxy.add_route("/yesterday", "http://127.0.0.1:1").await;
    let old = proxy.last_activity("/yesterday").await;
    tick().await;
    proxy.add_route("/today", "http://127.0.0.1:2").await;
    let new = proxy.last_activity("/today").await;
    assert!(new > old + Duration::milliseconds(1), "{old} {new}");

    let keys = |query: String| {
        let proxy = &proxy;
        async move {
            let mut keys: Vec<String> = proxy.routes_query(&query).await.keys().cloned().collect();
            keys.sort();
            keys
        }
    };
    let between = iso(old + Duration::milliseconds(1));
    let none: Vec<String> = Vec::new();
    let both = ["/today", "/yesterday"];
    assert_eq!(
        keys(format!("?inactive_since={between}")).await,
        ["/yesterday"]
    );
    assert_eq!(
        keys(format!("?inactiveSince={between}")).await,
        ["/yesterday"]
    );
    assert_eq!(
        keys(format!("?inactive_since={}", iso(old))).await,
        none,
        "strictly earlier"
    );
    assert_eq!(
        keys(format!(
            "?inactive_since={}",
            iso(new + Duration::milliseconds(1))
        ))
        .await,
        both
    );
    let hour_ago = iso(Utc::now() - Duration::hours(1));
    let hour_ahead = iso(Utc::now() + Duration::hours(1));
    assert_eq!(keys(format!("?inactive_since={hour_ago}")).await, none);
    assert_eq!(keys(format!("?inactiveSince={hour_ahead}")).await, both);
    assert_eq!(
        keys("?inactive_since=1970-01-01T00:00:00.000Z".into()).await,
        none
    );
    // Date only (UTC) and explicit offsets.
    assert_eq!(keys("?inactive_since=1970-01-01".into()).await, none);
    assert_eq!(keys("?inactive_since=2999-01-01".into()).await, both);
    let offset = (old + Duration::milliseconds(1))
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).expect("offset"))
        .format("%Y-%m-%dT%H:%M:%S%.3f%%2B02:00")
        .to_string();
    assert_eq!(
        keys(format!("?inactive_since={offset}")).await,
        ["/yesterday"]
    );

    for (param, value) in [
        ("inactive_since", "endoftheuniverse"),
        ("inactiveSince", "endoftheuniverse"),
        ("inactive_since", "yesterday"),
    ] {
        let response = proxy
            .api(Method::GET, &format!("?{param}={value}"))
            .send()
            .await
            .expect("GET");
        let (status, content_type, body) = status_and_body(response).await;
        assert_eq!(status, 400, "{param}={value}");
        assert_eq!(
            body,
            format!("Invalid datestamp '{value}' must be ISO8601.")
        );
        assert_eq!(content_type, None);
    }
}
