//! The hub's side of `refresh_user` and `manage_groups`, through the
//! in-process router with a scripted back end (the real OAuth back end is
//! tested against a real OpenID Connect provider in the cli tests): when the
//! hub asks (`auth_refresh_age`, `refresh_pre_spawn`, `refresh_pre_stop`),
//! what it does with each answer (keep going, store the update, refuse the
//! credential), and that one user's checks never overlap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_auth::{AuthError, AuthUpdate, Authenticated, Authenticator, Refreshed};
use ferrohub_hub::testing::TestApp;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

/// A back end whose every answer the test sets: logins with any password
/// vouch for the name with `groups`; refreshes answer `next_refresh`.
#[derive(Clone, Default)]
struct Scripted(Arc<Script>);

#[derive(Default)]
struct Script {
    groups: Mutex<Option<Vec<String>>>,
    next_refresh: Mutex<Option<Refreshed>>,
    refreshes: AtomicUsize,
    /// How long a refresh takes (to make concurrent checks overlap).
    refresh_delay: Mutex<Duration>,
}

impl Scripted {
    fn answer(&self, refreshed: Refreshed) {
        *self.0.next_refresh.lock().expect("script lock") = Some(refreshed);
    }
    fn refreshes(&self) -> usize {
        self.0.refreshes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Authenticator for Scripted {
    fn name(&self) -> &'static str {
        "ScriptedAuthenticator"
    }
    async fn authenticate(&self, username: &str, _: &str) -> Result<Option<String>, AuthError> {
        Ok(Some(username.to_owned()))
    }
    async fn authenticate_model(
        &self,
        username: &str,
        _: &str,
    ) -> Result<Option<Authenticated>, AuthError> {
        Ok(Some(Authenticated {
            auth_state: Some(json!({"access_token": "first"})),
            groups: self.0.groups.lock().expect("script lock").clone(),
            ..Authenticated::named(username)
        }))
    }
    fn refreshes_users(&self) -> bool {
        true
    }
    async fn refresh_user(&self, _: &str, _: Option<&Value>) -> Result<Refreshed, AuthError> {
        self.0.refreshes.fetch_add(1, Ordering::SeqCst);
        let delay = *self.0.refresh_delay.lock().expect("script lock");
        tokio::time::sleep(delay).await;
        Ok(self
            .0
            .next_refresh
            .lock()
            .expect("script lock")
            .clone()
            .unwrap_or(Refreshed::Current))
    }
}

async fn hub(backend: &Scripted, tweak: impl FnOnce(&mut ferrohub_config::Config)) -> TestApp {
    TestApp::with_authenticator(Box::new(backend.clone()), |c| {
        c.authenticator.allow_all = Some(true);
        c.authenticator.enable_auth_state = true;
        tweak(c);
    })
    .await
    .expect("test app")
}

/// A page request signed in with a login cookie value.
async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let request = http::Request::get(path)
        .header(header::COOKIE, format!("jupyterhub-hub-login={cookie}"))
        .body(axum::body::Body::empty())
        .expect("test fixture");
    let response = app.request(request).await;
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().expect("test fixture").to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

/// Logs in through the form (any password) and returns the login cookie.
async fn form_login(app: &TestApp, name: &str) -> String {
    let response = post_login(app, name).await;
    assert_eq!(response.status(), StatusCode::FOUND, "the login succeeds");
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("jupyterhub-hub-login="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("a login cookie")
}

/// Fills in and posts the login form (any password).
async fn post_login(app: &TestApp, name: &str) -> http::Response<axum::body::Body> {
    let request = http::Request::get("/hub/login")
        .body(axum::body::Body::empty())
        .expect("test fixture");
    let response = app.request(request).await;
    let xsrf_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("_xsrf="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("the login page sets an _xsrf cookie");
    let html = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("test fixture");
    let html = String::from_utf8_lossy(&html);
    let xsrf = html
        .split("name=\"_xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an _xsrf field");
    let body = serde_urlencoded::to_string([
        ("_xsrf", xsrf),
        ("username", name),
        ("password", "anything"),
    ])
    .expect("test fixture");
    let request = http::Request::post("/hub/login")
        .header(header::COOKIE, format!("_xsrf={xsrf_cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .expect("test fixture");
    app.request(request).await
}

async fn user_json(app: &TestApp, name: &str) -> Value {
    let admin = app.token("root", &["inherit"]).await.expect("a token");
    let answer = app
        .call(Method::GET, &format!("/users/{name}"), Some(&admin), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_login_is_not_refreshed_until_auth_refresh_age_passes() {
    let backend = Scripted::default();
    let app = hub(&backend, |c| c.authenticator.auth_refresh_age = 1).await;
    let cookie = form_login(&app, "ann").await;
    assert_eq!(page(&app, "/hub/home", &cookie).await.0, StatusCode::OK);
    assert_eq!(backend.refreshes(), 0, "the login itself is fresh");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(page(&app, "/hub/home", &cookie).await.0, StatusCode::OK);
    assert_eq!(page(&app, "/hub/home", &cookie).await.0, StatusCode::OK);
    assert_eq!(backend.refreshes(), 1, "once per auth_refresh_age");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_authentication_sends_the_browser_to_log_in_and_refuses_tokens() {
    let backend = Scripted::default();
    let app = hub(&backend, |_| {}).await;
    app.create_user("root", true).await.unwrap();
    let ann = app.create_user("ann", false).await.unwrap();
    let token = app.token("ann", &["inherit"]).await.unwrap();
    backend.answer(Refreshed::Expired);
    // A cookie from before a hub restart: never confirmed, so checked now.
    let (status, location) = page(&app, "/hub/home", &app.login_cookie(&ann)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("/hub/login"), "{location}");
    let answer = app
        .call(Method::GET, "/users/ann", Some(&token), None)
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);

    // Once the back end vouches again, the same credentials work.
    backend.answer(Refreshed::Current);
    let answer = app
        .call(Method::GET, "/users/ann", Some(&token), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_stores_new_auth_state_admin_and_groups() {
    let backend = Scripted::default();
    *backend.0.groups.lock().expect("script lock") = Some(vec!["physics".into(), "staff".into()]);
    let app = hub(&backend, |c| {
        c.authenticator.manage_groups = true;
        c.authenticator.auth_refresh_age = 1;
    })
    .await;
    app.create_user("root", true).await.unwrap();
    app.create_user("ann", false).await.unwrap();
    app.add_to_group("chemistry", &["ann"]).await.unwrap();
    let cookie = form_login(&app, "ann").await;
    let ann = user_json(&app, "ann").await;
    assert_eq!(
        ann["groups"],
        json!(["physics", "staff"]),
        "login syncs: {ann}"
    );
    assert_eq!(ann["auth_state"], json!({"access_token": "first"}), "{ann}");

    backend.answer(Refreshed::Updated(AuthUpdate {
        auth_state: Some(json!({"access_token": "second"})),
        admin: Some(true),
        groups: Some(vec!["physics".into()]),
    }));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = backend.refreshes();
    assert_eq!(page(&app, "/hub/home", &cookie).await.0, StatusCode::OK);
    assert_eq!(backend.refreshes(), before + 1, "ann's login is due again");
    let ann = user_json(&app, "ann").await;
    assert_eq!(ann["groups"], json!(["physics"]), "{ann}");
    assert_eq!(ann["admin"], json!(true), "{ann}");
    assert_eq!(
        ann["auth_state"],
        json!({"access_token": "second"}),
        "{ann}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_groups_off_leaves_membership_alone() {
    let backend = Scripted::default();
    *backend.0.groups.lock().expect("script lock") = Some(vec!["physics".into()]);
    let app = hub(&backend, |_| {}).await;
    app.create_user("root", true).await.unwrap();
    app.create_user("ann", false).await.unwrap();
    app.add_to_group("chemistry", &["ann"]).await.unwrap();
    form_login(&app, "ann").await;
    let ann = user_json(&app, "ann").await;
    assert_eq!(ann["groups"], json!(["chemistry"]), "{ann}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_groups_refuses_a_login_without_groups() {
    let backend = Scripted::default();
    let app = hub(&backend, |c| c.authenticator.manage_groups = true).await;
    let response = post_login(&app, "ann").await;
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "a back end that gives no groups under manage_groups fails the login (as upstream)"
    );
    let cookies: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .collect();
    assert!(
        !cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("jupyterhub-hub-login=")),
        "no login cookie: {cookies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_refresh() {
    let backend = Scripted::default();
    *backend.0.refresh_delay.lock().expect("script lock") = Duration::from_millis(200);
    let app = Arc::new(hub(&backend, |_| {}).await);
    let ann = app.create_user("ann", false).await.unwrap();
    let cookie = app.login_cookie(&ann);
    let requests = (0..8).map(|_| {
        let (app, cookie) = (Arc::clone(&app), cookie.clone());
        tokio::spawn(async move { page(&app, "/hub/home", &cookie).await.0 })
    });
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(backend.refreshes(), 1, "one refresh for eight requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_pre_spawn_refuses_a_start_with_expired_authentication() {
    let backend = Scripted::default();
    let app = hub(&backend, |c| {
        c.authenticator.refresh_pre_spawn = true;
        c.authenticator.auth_refresh_age = 0;
    })
    .await;
    app.create_user("root", true).await.unwrap();
    app.create_user("ann", false).await.unwrap();
    let admin = app.token("root", &["inherit"]).await.unwrap();
    backend.answer(Refreshed::Expired);
    let answer = app
        .call(Method::POST, "/users/ann/server", Some(&admin), None)
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert!(
        answer.text.contains("auth has expired for ann"),
        "{}",
        answer.text
    );
    assert_eq!(app.spawner().requests().len(), 0, "nothing was started");
    assert_eq!(
        backend.refreshes(),
        1,
        "auth_refresh_age = 0 still forces it"
    );

    backend.answer(Refreshed::Current);
    let answer = app
        .call(Method::POST, "/users/ann/server", Some(&admin), None)
        .await;
    assert!(answer.status.is_success(), "{}", answer.text);
    assert_eq!(app.spawner().requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_pre_stop_refuses_the_owner_but_not_an_admin() {
    let backend = Scripted::default();
    let app = hub(&backend, |c| {
        c.authenticator.refresh_pre_stop = true;
        c.authenticator.auth_refresh_age = 0;
    })
    .await;
    app.create_user("root", true).await.unwrap();
    app.create_user("ann", false).await.unwrap();
    let admin = app.token("root", &["inherit"]).await.unwrap();
    let own = app.token("ann", &["inherit"]).await.unwrap();
    let answer = app
        .call(Method::POST, "/users/ann/server", Some(&admin), None)
        .await;
    assert!(answer.status.is_success(), "{}", answer.text);

    backend.answer(Refreshed::Expired);
    let answer = app
        .call(Method::DELETE, "/users/ann/server", Some(&own), None)
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert_eq!(app.spawner().running(), 1, "still running");

    let answer = app
        .call(Method::DELETE, "/users/ann/server", Some(&admin), None)
        .await;
    assert!(answer.status.is_success(), "{}", answer.text);
    assert_eq!(app.spawner().running(), 0, "an admin's stop proceeds");
}
