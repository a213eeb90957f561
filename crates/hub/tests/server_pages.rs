//! The pages about one's servers, in process (`ferrohub_hub::testing`): the
//! "not running" page (424, with `implicit_spawn_seconds`' countdown and its
//! no-script fallback), the pending page of a stopped or unknown server, and
//! the home page's form for a new named server (upstream's refusals, then on
//! to the spawn page). The browser tests (`crates/cli/tests/browser_servers.rs`)
//! drive the same pages with real servers.

use axum::body::Body;
use ferrohub_hub::testing::TestApp;
use http::{Method, StatusCode};

/// A page as the signed-in `cookie` sees it: status, `Location`, body.
async fn page(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    form: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, "text/html")
        .header(
            http::header::COOKIE,
            format!("jupyterhub-hub-login={cookie}"),
        );
    let body = match form {
        Some(form) => {
            request = request.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let response = app.request(request.body(body).expect("request")).await;
    let status = response.status();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&bytes).replace("&#x2f;", "/");
    (status, location, html)
}

fn hidden_xsrf(html: &str) -> String {
    let start = html
        .find("name=\"_xsrf\" value=\"")
        .expect("an _xsrf field")
        + 20;
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_stopped_server_gets_the_not_running_page_with_an_optional_countdown() {
    let app = TestApp::new(|_| {}).await.expect("test app");
    let alice = app.create_user("alice", false).await.expect("alice");
    let cookie = app.login_cookie(&alice);

    let (status, _, html) = page(&app, Method::GET, "/hub/user/alice/lab", &cookie, None).await;
    assert_eq!(status, StatusCode::FAILED_DEPENDENCY, "{html}");
    assert!(html.contains("<h1>Server not running</h1>"), "{html}");
    assert!(
        html.contains("href=\"/hub/spawn/alice?next=%2Fuser%2Falice%2Flab\""),
        "{html}"
    );
    assert!(!html.contains("implicit-spawn"), "no countdown by default");
    assert!(!html.contains("not_running.js"), "{html}");

    // An API client still gets upstream's JSON 424.
    let (status, _, body) = page(
        &app,
        Method::GET,
        "/hub/user/alice/api/status",
        &cookie,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FAILED_DEPENDENCY);
    assert!(body.starts_with("{\"message\":"), "{body}");

    let app = TestApp::new(|config| config.jupyterhub.implicit_spawn_seconds = 2.5)
        .await
        .expect("test app");
    let alice = app.create_user("alice", false).await.expect("alice");
    let cookie = app.login_cookie(&alice);
    let (status, _, html) = page(&app, Method::GET, "/hub/user/alice/", &cookie, None).await;
    assert_eq!(status, StatusCode::FAILED_DEPENDENCY);
    // 2.5 s shows as 3 whole seconds, also in the fallback without JavaScript.
    assert!(html.contains("data-seconds=\"3\""), "{html}");
    assert!(
        html.contains("<noscript><meta http-equiv=\"refresh\" content=\"3;url=/hub/spawn/alice?next=%2Fuser%2Falice%2F\"></noscript>"),
        "{html}"
    );
    assert!(html.contains("not_running.js"), "{html}");
}

#[tokio::test]
async fn the_pending_page_of_a_stopped_or_unknown_server() {
    let app = TestApp::new(|config| config.jupyterhub.allow_named_servers = true)
        .await
        .expect("test app");
    let alice = app.create_user("alice", false).await.expect("alice");
    let cookie = app.login_cookie(&alice);

    let (status, _, html) =
        page(&app, Method::GET, "/hub/spawn-pending/alice", &cookie, None).await;
    assert_eq!(status, StatusCode::OK, "never starts anything: {html}");
    assert!(html.contains("<h1>Server not running</h1>"), "{html}");
    assert!(html.contains("href=\"/hub/spawn/alice\""), "{html}");
    assert_eq!(app.spawner().running(), 0);

    let (status, _, _) = page(
        &app,
        Method::GET,
        "/hub/spawn-pending/alice/nosuch",
        &cookie,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_home_page_form_refuses_bad_names_and_the_limit_then_goes_to_spawn() {
    let app = TestApp::new(|config| {
        config.jupyterhub.allow_named_servers = true;
        config.jupyterhub.named_server_limit_per_user = 1;
    })
    .await
    .expect("test app");
    let alice = app.create_user("alice", false).await.expect("alice");
    let cookie = app.login_cookie(&alice);
    let (status, _, html) = page(&app, Method::GET, "/hub/home", &cookie, None).await;
    assert_eq!(status, StatusCode::OK);
    let words = html.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("up to 1 named server,"), "{words}");
    let xsrf = hidden_xsrf(&html);

    let post = |name: &str, xsrf: &str| format!("_xsrf={xsrf}&server_name={name}");
    let (status, _, _) = page(
        &app,
        Method::POST,
        "/hub/home",
        &cookie,
        Some(&post("gpu", "forged")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "XSRF checked");

    let (status, _, html) = page(
        &app,
        Method::POST,
        "/hub/home",
        &cookie,
        Some(&post("Bad%21", &xsrf)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Invalid server_name: &quot;Bad!&quot;"),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("value=\"Bad!\""), "the name is kept: {html}");

    let (status, location, _) = page(
        &app,
        Method::POST,
        "/hub/home",
        &cookie,
        Some(&post("gpu", &xsrf)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/hub/spawn/alice/gpu");

    // With one named server, a second is over the limit.
    let token = app.token("alice", &["servers"]).await.expect("token");
    let created = app
        .call(Method::PUT, "/users/alice/servers/gpu", Some(&token), None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let (status, _, html) = page(
        &app,
        Method::POST,
        "/hub/home",
        &cookie,
        Some(&post("second", &xsrf)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("User alice already has the maximum of 1 named servers."),
        "{html}"
    );
    // The home page lists the one it has.
    let (_, _, html) = page(&app, Method::GET, "/hub/home", &cookie, None).await;
    assert!(html.contains("data-server-name=\"gpu\""), "{html}");
    assert!(html.contains("data-phase=\"stopped\""), "{html}");
}
