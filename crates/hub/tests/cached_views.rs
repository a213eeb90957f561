//! The hub caches resolved credentials and each user's relations (groups,
//! roles, servers) so that `GET /user` costs no query (`credential_cache`).
//! These tests warm those caches, change something, and check that the very
//! next request sees the change: revoked and expired tokens stop working,
//! roles and groups taken away stop granting, and models show new groups,
//! roles, started servers and server activity at once. Each would fail if
//! the matching invalidation (the store's generation for the first ones, its
//! activity generation for the last) were removed, since the cache entries
//! live for 60 s.

use std::time::{Duration, Instant};

use ferrohub_hub::testing::{Answer, TestApp};
use ferrohub_store::RoleHolder;
use http::Method;
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::new(|c| {
        c.jupyterhub.load_roles = vec![ferrohub_config::RoleConfig {
            name: "reader".into(),
            description: "lists users".into(),
            scopes: Some(vec!["list:users".into()]),
            ..ferrohub_config::RoleConfig::default()
        }];
    })
    .await
    .expect("test app")
}

async fn get(app: &TestApp, token: &str, path: &str) -> Answer {
    app.call(Method::GET, path, Some(token), None).await
}

/// Sends a request several times (so that caches are warm), expecting `status`.
async fn warm(app: &TestApp, token: &str, path: &str, status: u16) {
    for _ in 0..3 {
        let answer = get(app, token, path).await;
        assert_eq!(answer.status.as_u16(), status, "{path}: {}", answer.text);
    }
}

async fn change(app: &TestApp, token: &str, method: Method, path: &str, body: Value) {
    let answer = app.call(method, path, Some(token), Some(&body)).await;
    assert!(
        answer.status.is_success(),
        "{path}: {} {}",
        answer.status,
        answer.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_credentials_lose_their_rights_at_once() {
    let app = app().await;
    app.create_user("boss", true).await.unwrap();
    let boss = app.token("boss", &["inherit"]).await.unwrap();

    // Revocation.
    app.create_user("ann", false).await.unwrap();
    let ann = app.token("ann", &["inherit"]).await.unwrap();
    warm(&app, &ann, "/user", 200).await;
    let id = get(&app, &ann, "/user").await.json()["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    change(
        &app,
        &boss,
        Method::DELETE,
        &format!("/users/ann/tokens/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(get(&app, &ann, "/user").await.status, 403, "revoked token");

    // A role taken away.
    app.create_user("ben", false).await.unwrap();
    let ben = app.token("ben", &["inherit"]).await.unwrap();
    warm(&app, &ben, "/users", 403).await;
    let roles = json!({"roles": ["user", "reader"]});
    change(&app, &boss, Method::PATCH, "/users/ben", roles).await;
    warm(&app, &ben, "/users", 200).await;
    let roles = json!({"roles": ["user"]});
    change(&app, &boss, Method::PATCH, "/users/ben", roles).await;
    assert_eq!(get(&app, &ben, "/users").await.status, 403, "role removed");

    // A group (and the role it carries) left.
    app.create_user("cat", false).await.unwrap();
    let cat = app.token("cat", &["inherit"]).await.unwrap();
    app.add_to_group("listers", &["cat"]).await.unwrap();
    let store = app.store();
    let group = store.group_by_name("listers").await.unwrap().unwrap();
    let reader = store.role_by_name("reader").await.unwrap().unwrap();
    store
        .grant_role(RoleHolder::Group(group.id), reader.id)
        .await
        .unwrap();
    warm(&app, &cat, "/users", 200).await;
    let leave = json!({"users": ["cat"]});
    change(&app, &boss, Method::DELETE, "/groups/listers/users", leave).await;
    assert_eq!(get(&app, &cat, "/users").await.status, 403, "group left");

    // Expiry, with nothing written in between.
    let made = app
        .call(
            Method::POST,
            "/users/boss/tokens",
            Some(&boss),
            Some(&json!({"expires_in": 1})),
        )
        .await;
    assert!(made.status.is_success(), "{}", made.text);
    let short = made.json()["token"].as_str().unwrap().to_owned();
    warm(&app, &short, "/user", 200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        get(&app, &short, "/user").await.status,
        403,
        "expired token"
    );
}

/// `GET /user` of `ann`, as JSON.
async fn me(app: &TestApp, token: &str) -> Value {
    let answer = get(app, token, "/user").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_user_models_show_changes_at_once() {
    let app = app().await;
    app.create_user("boss", true).await.unwrap();
    let boss = app.token("boss", &["inherit"]).await.unwrap();
    app.create_user("ann", false).await.unwrap();
    let ann = app.token("ann", &["inherit"]).await.unwrap();
    let listed = |page: Value| -> Value {
        page.as_array()
            .and_then(|users| users.iter().find(|u| u["name"] == "ann"))
            .cloned()
            .unwrap_or(Value::Null)
    };

    warm(&app, &ann, "/user", 200).await;
    warm(&app, &boss, "/users", 200).await;
    assert_eq!(me(&app, &ann).await["groups"], json!([]));

    // Groups: the caller's own model and the list.
    app.add_to_group("students", &["ann"]).await.unwrap();
    assert_eq!(
        me(&app, &ann).await["groups"],
        json!(["students"]),
        "own model"
    );
    let page = get(&app, &boss, "/users").await.json();
    assert_eq!(listed(page)["groups"], json!(["students"]), "listed model");

    // Roles.
    warm(&app, &ann, "/user", 200).await;
    let roles = json!({"roles": ["user", "reader"]});
    change(&app, &boss, Method::PATCH, "/users/ann", roles).await;
    assert_eq!(me(&app, &ann).await["roles"], json!(["reader", "user"]));

    // A server started: its row (`started`) is new, not only its phase.
    warm(&app, &ann, "/user", 200).await;
    assert_eq!(me(&app, &ann).await["servers"], json!({}));
    change(&app, &boss, Method::POST, "/users/ann/server", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while me(&app, &ann).await["servers"][""]["ready"] != json!(true) {
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = me(&app, &ann).await["servers"][""].clone();
    assert!(server["started"].is_string(), "started shown: {server}");

    // Activity the server reports (an activity write, not a generation change).
    let later = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let report = json!({"servers": {"": {"last_activity": later}}});
    change(&app, &ann, Method::POST, "/users/ann/activity", report).await;
    let shown = me(&app, &ann).await["servers"][""]["last_activity"].clone();
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .map(|t| t.timestamp())
            .ok()
    };
    assert_eq!(parse(&shown), parse(&json!(later)), "server activity shown");
    let page = get(&app, &boss, "/users?include_stopped_servers=1")
        .await
        .json();
    let listed_activity = listed(page)["servers"][""]["last_activity"].clone();
    assert_eq!(
        parse(&listed_activity),
        parse(&json!(later)),
        "listed activity"
    );
}

/// `GET /user` with the login cookie, as a browser sends it.
async fn me_by_cookie(app: &TestApp, cookie: &str) -> u16 {
    let request = http::Request::get(format!("{}/user", app.api_prefix()))
        .header(
            http::header::COOKIE,
            format!("jupyterhub-hub-login={cookie}"),
        )
        .body(axum::body::Body::empty())
        .expect("a request with a cookie");
    app.request(request).await.status().as_u16()
}

/// Upstream's `_record_activity`: a request with a token stamps the token and
/// its user, one with the login cookie stamps the user, at most once per
/// `activity_resolution` (30 s by default), also when the credential comes
/// from the cache; with a resolution of 0, every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_is_recorded_once_per_resolution() {
    let app = app().await;
    let ann = app.create_user("ann", false).await.unwrap();
    assert_eq!(ann.last_activity, None);
    let cookie = app.login_cookie(&ann);
    assert_eq!(me_by_cookie(&app, &cookie).await, 200);
    let first = app.user("ann").await.unwrap().last_activity;
    assert!(first.is_some(), "a cookie request is the user's activity");
    for _ in 0..3 {
        assert_eq!(me_by_cookie(&app, &cookie).await, 200);
    }
    assert_eq!(
        app.user("ann").await.unwrap().last_activity,
        first,
        "within activity_resolution nothing more is written"
    );

    let token = app.token("ann", &["inherit"]).await.unwrap();
    warm(&app, &token, "/user", 200).await;
    let id = app.user("ann").await.unwrap().id;
    let tokens = app
        .store()
        .tokens_of_owner(ferrohub_store::TokenOwner::User(id))
        .await
        .unwrap();
    let used = tokens.iter().find(|t| t.note.as_deref() == Some("TestApp"));
    assert!(
        used.and_then(|t| t.last_activity).is_some(),
        "the token's use is recorded: {tokens:?}"
    );
    assert_eq!(app.user("ann").await.unwrap().last_activity, first);

    // activity_resolution = 0: every request is recorded.
    let eager = TestApp::new(|c| c.jupyterhub.activity_resolution = 0)
        .await
        .unwrap();
    eager.create_user("ben", false).await.unwrap();
    let token = eager.token("ben", &["inherit"]).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        assert_eq!(get(&eager, &token, "/user").await.status, 200);
        seen.push(eager.user("ben").await.unwrap().last_activity.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}
