//! The login and logout options through the hub's router in process:
//! `Authenticator.auto_login`, `JupyterHub.default_url` (with
//! `redirect_to_server` and `next`), `shutdown_on_logout`, and the token
//! page's scopes and authorized applications. Each test sets one option and
//! checks where the browser is sent or what the page says, so it fails if
//! the option is ignored.

use ferrohub_hub::testing::TestApp;
use http::{Method, StatusCode, header};
use serde_json::json;

/// A browser request to a page, signed in with `cookie` (a login cookie value) if given.
async fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> (StatusCode, String, String) {
    let mut request = http::Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("jupyterhub-hub-login={cookie}"));
    }
    let response = app
        .request(request.body(axum::body::Body::empty()).unwrap())
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_login_with_a_form_authenticator_shows_no_form_and_refuses() {
    let app = TestApp::new(|c| c.authenticator.auto_login = true)
        .await
        .unwrap();
    let (status, _, body) = page(&app, "/hub/login?next=%2Fhub%2Ftoken", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!body.contains("username_input"), "no form: {body}");
    assert!(body.contains("Automatic login failed"), "{body}");

    // Signed in already: straight on to `next`, as without auto_login.
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let (status, location, _) = page(&app, "/hub/login?next=%2Fhub%2Ftoken", Some(&cookie)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/hub/token")
    );

    // Logging out shows the logout page instead of the login page.
    let (status, _, body) = page(&app, "/hub/logout", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Successfully logged out."), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_login_the_form_is_shown_and_logout_goes_to_it() {
    let app = TestApp::new(|_| {}).await.unwrap();
    let (status, _, body) = page(&app, "/hub/login", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"username_input\""), "{body}");
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let (status, location, _) = page(&app, "/hub/logout", Some(&cookie)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/hub/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_url_is_where_the_root_and_a_login_without_next_go() {
    let app = TestApp::new(|c| c.jupyterhub.default_url = "/hub/token".into())
        .await
        .unwrap();
    // The root goes there signed in or not, as upstream's RootHandler.
    let (_, location, _) = page(&app, "/hub/", None).await;
    assert_eq!(location, "/hub/token");
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let (_, location, _) = page(&app, "/hub/", Some(&cookie)).await;
    assert_eq!(location, "/hub/token");
    // After login: `next` first, else default_url with the other parameters.
    let (_, location, _) = page(&app, "/hub/login?next=%2Fhub%2Fhome", Some(&cookie)).await;
    assert_eq!(location, "/hub/home");
    let (_, location, _) = page(&app, "/hub/login?tab=x", Some(&cookie)).await;
    assert_eq!(location, "/hub/token?tab=x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_default_url_redirect_to_server_decides() {
    let app = TestApp::new(|_| {}).await.unwrap();
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let (_, location, _) = page(&app, "/hub/?x=1", Some(&cookie)).await;
    assert_eq!(location, "/hub/spawn?x=1", "not running: the spawn page");
    let (_, location, _) = page(&app, "/hub/", None).await;
    assert_eq!(location, "/hub/login?next=%2Fhub%2F");

    let home = TestApp::new(|c| c.jupyterhub.redirect_to_server = false)
        .await
        .unwrap();
    let bob = home.create_user("bob", false).await.unwrap();
    let (_, location, _) = page(&home, "/hub/", Some(&home.login_cookie(&bob))).await;
    assert_eq!(location, "/hub/home");
}

async fn logout_with_a_running_server(shutdown_on_logout: bool) -> usize {
    let app = TestApp::new(|c| c.jupyterhub.shutdown_on_logout = shutdown_on_logout)
        .await
        .unwrap();
    let ann = app.create_user("ann", false).await.unwrap();
    let token = app.token("ann", &["inherit"]).await.unwrap();
    let started = app
        .call(
            Method::POST,
            "/users/ann/server",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    assert!(started.status.is_success(), "{}", started.text);
    for _ in 0..100 {
        let model = app
            .call(Method::GET, "/users/ann", Some(&token), None)
            .await;
        if model.json()["servers"][""]["ready"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.spawner().running(), 1, "the server runs before logout");
    let (status, _, _) = page(&app, "/hub/logout", Some(&app.login_cookie(&ann))).await;
    assert_eq!(status, StatusCode::FOUND);
    app.spawner().running()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_on_logout_stops_the_users_servers() {
    assert_eq!(logout_with_a_running_server(true).await, 0);
    assert_eq!(
        logout_with_a_running_server(false).await,
        1,
        "by default logout leaves servers running"
    );
}
