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
        .request(
            request
                .body(axum::body::Body::empty())
                .expect("test fixture"),
        )
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().expect("test fixture").to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("test fixture");
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
        .expect("test fixture");
    let ann = app.create_user("ann", false).await.expect("test fixture");
    let token = app.token("ann", &["inherit"]).await.expect("test fixture");
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

/// A form POST to a page, signed in with `cookie`.
async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let body = serde_urlencoded::to_string(form).expect("test fixture");
    let request = http::Request::post(path)
        .header(header::COOKIE, format!("jupyterhub-hub-login={cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .expect("test fixture");
    let response = app.request(request).await;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().expect("test fixture").to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("test fixture");
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn hidden_xsrf(html: &str) -> String {
    html.split("name=\"_xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has an _xsrf field")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_page_issues_only_held_scopes() {
    let app = TestApp::new(|_| {}).await.unwrap();
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let (_, _, html) = page(&app, "/hub/token", Some(&cookie)).await;
    let xsrf = hidden_xsrf(&html);
    let request = |scopes: &'static str, xsrf: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let form = [
                ("_xsrf", xsrf.as_str()),
                ("note", "ci"),
                ("expires_in", "3600"),
                ("scopes", scopes),
            ];
            post_form(app, "/hub/token", &cookie, &form).await
        }
    };
    let (status, _, body) = request("admin:users", xsrf.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Not assigning requested scopes"), "{body}");
    assert!(
        body.contains("value=\"admin:users\""),
        "typed scopes kept: {body}"
    );
    let (status, _, body) = request("nosuchscope", xsrf.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("nosuchscope"), "{body}");
    let (status, _, _) = request("read:servers!user=ann", "forged".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "XSRF checked");
    let before = app
        .store()
        .tokens_of_owner(ferrohub_store::TokenOwner::User(ann.id))
        .await
        .unwrap();
    assert!(before.is_empty(), "nothing issued yet: {before:?}");

    let (status, _, body) = request(
        "read:servers!user=ann, read:users:name!user=ann",
        xsrf.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body_empty) = request("", xsrf).await;
    assert!(body_empty.contains("id=\"new-token\""), "{body_empty}");
    let mut scopes: Vec<Vec<String>> = app
        .store()
        .tokens_of_owner(ferrohub_store::TokenOwner::User(ann.id))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.scopes)
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            vec!["inherit".to_owned()],
            vec![
                "read:servers!user=ann".to_owned(),
                "read:users:name!user=ann".to_owned()
            ],
        ],
        "as asked; none asked means the owner's own permissions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_application_is_listed_and_revoked_with_all_its_tokens() {
    let app = TestApp::new(|_| {}).await.unwrap();
    let ann = app.create_user("ann", false).await.unwrap();
    let bob = app.create_user("bob", false).await.unwrap();
    let store = app.store();
    store
        .upsert_oauth_client(&ferrohub_store::OAuthClient {
            identifier: "service-notes".into(),
            description: "JupyterHub service notes".into(),
            secret: String::new(),
            redirect_uri: "/services/notes/oauth_callback".into(),
            allowed_scopes: vec![],
        })
        .await
        .unwrap();
    let mut issued = Vec::new();
    for (user, scope) in [
        (&ann, "identify"),
        (&ann, "read:users:name!user=ann"),
        (&bob, "identify"),
    ] {
        let secret = ferrohub_core::token::new_token();
        let scopes = [scope.to_owned()];
        store
            .create_token(&ferrohub_store::NewToken {
                token: &secret,
                rounds: ferrohub_core::token::GENERATED_TOKEN_ROUNDS,
                owner: ferrohub_store::TokenOwner::User(user.id),
                client_id: "service-notes",
                session_id: None,
                scopes: &scopes,
                note: None,
                expires_at: None,
            })
            .await
            .unwrap();
        issued.push(secret);
    }
    assert_eq!(
        app.call(Method::GET, "/user", Some(&issued[0]), None)
            .await
            .status,
        200
    );

    let cookie = app.login_cookie(&ann);
    let (_, _, html) = page(&app, "/hub/token", Some(&cookie)).await;
    assert!(html.contains("Authorized Applications"), "{html}");
    assert!(html.contains("data-client-id=\"service-notes\""), "{html}");
    assert!(html.contains("JupyterHub service notes"), "{html}");
    assert!(
        html.contains("read:users:name!user=ann"),
        "scopes of all its tokens: {html}"
    );
    let xsrf = hidden_xsrf(&html);

    let revoke = |xsrf: String, client: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let form = [("_xsrf", xsrf.as_str()), ("client_id", client)];
            post_form(app, "/hub/token/revoke-application", &cookie, &form).await
        }
    };
    let (status, _, _) = revoke("forged".into(), "service-notes").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "XSRF checked");
    let (status, location, _) = revoke(xsrf.clone(), "service-notes").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/hub/token")
    );
    for secret in &issued[..2] {
        let answer = app.call(Method::GET, "/user", Some(secret), None).await;
        assert_eq!(answer.status, 403, "ann's tokens of the client are gone");
    }
    let answer = app.call(Method::GET, "/user", Some(&issued[2]), None).await;
    assert_eq!(answer.status, 200, "bob's token of the same client stays");
    let (_, _, html) = page(&app, "/hub/token", Some(&cookie)).await;
    assert!(!html.contains("service-notes"), "{html}");
    let (status, _, _) = revoke(xsrf.clone(), "service-notes").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to revoke");
    let (status, _, _) = revoke(xsrf, "jupyterhub").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "API tokens are not an application"
    );
}
