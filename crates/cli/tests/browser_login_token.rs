//! The login options and the token page in a real browser (headless
//! Chromium driving a real hub, its proxy, a real jupyterhub-singleuser
//! server and a real OAuth service written with jupyterhub's own helpers):
//! `Authenticator.auto_login`, `announcement_login`, `JupyterHub.default_url`,
//! `shutdown_on_logout`, tokens with scopes, and revoking an authorized
//! application. Scripts: `tests/browser/login_token_*.mjs`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestHub;
use support::api::Api;

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_login_skips_the_form() {
    let hub = TestHub::start(&[("Authenticator", "auto_login = true")]);
    let seen = support::chromium::run(
        "login_token_auto_login.mjs",
        json!({"url": hub.public_url()}),
    )
    .await;
    let refused = &seen["refused"];
    assert_eq!(refused["path"], "/hub/login", "{refused}");
    assert_eq!(refused["next"], "/hub/", "{refused}");
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["heading"], "403: Forbidden");
    assert!(
        text(&refused["text"]).contains("Automatic login failed"),
        "{refused}"
    );
    assert_eq!(refused["forms"], 0, "no login form: {refused}");
    assert_eq!(refused["usernameFields"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_login_lets_a_signed_in_browser_through_and_logout_shows_a_page() {
    // Signed in before auto_login is turned on: the cookies stay valid over
    // the restart (same cookie secret and database).
    let mut hub = TestHub::start(&[
        ("Authenticator", "auto_login = false"),
        (
            "JupyterHub",
            "[JupyterHub.template_vars]\nannouncement_logout = \"See you <em>soon</em>\"",
        ),
    ]);
    let browser = support::browser::Browser::new(&hub.public_url());
    assert_eq!(browser.login("erin", "pw", None).await.status(), 302);
    let mut cookies = Vec::new();
    for (path, name) in [
        ("/hub/", "jupyterhub-hub-login"),
        ("/", "jupyterhub-session-id"),
    ] {
        let value = browser
            .cookie(path, name)
            .unwrap_or_else(|| panic!("no {name}"));
        cookies.push(json!({"name": name, "value": value, "path": path}));
    }
    hub.kill(nix::sys::signal::Signal::SIGTERM);
    let config = std::fs::read_to_string(&hub.config_path).unwrap();
    std::fs::write(
        &hub.config_path,
        config.replace("auto_login = false", "auto_login = true"),
    )
    .unwrap();
    hub.launch();

    let seen = support::chromium::run(
        "login_token_logout_page.mjs",
        json!({"url": hub.public_url(), "cookies": cookies}),
    )
    .await;
    assert_eq!(
        seen["signedIn"],
        json!({"path": "/hub/token", "navUser": "erin"}),
        "a signed-in browser passes the login page"
    );
    let logout = &seen["logout"];
    assert_eq!(logout["path"], "/hub/logout");
    assert_eq!(logout["title"], "Signed out - ferrohub");
    assert_eq!(logout["text"], "Successfully logged out.");
    assert_eq!(logout["announcement"], "See you soon");
    assert_eq!(logout["navLinks"], 0, "shown signed out: {logout}");
    assert_eq!(
        seen["after"],
        json!({"status": 403, "path": "/hub/login", "forms": 0})
    );
}

/// The hub of [`login_text_default_url_scoped_tokens_applications_and_shutdown_on_logout`].
fn configured_hub() -> TestHub {
    let python = support::venv().join("bin/python");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/oauth_token_service.py");
    let port = support::free_port();
    let jupyterhub = format!(
        r#"default_url = "/hub/home"
shutdown_on_logout = true
services = [{{ name = "tokenview", url = "http://127.0.0.1:{port}", command = ["{python}", "{script}"] }}]
load_roles = [{{ name = "user", scopes = ["self", "access:services!service=tokenview"] }}]
[JupyterHub.template_vars]
announcement = "General news, not for the login page"
announcement_login = "Welcome to the <b>course</b> hub"
"#,
        python = python.display(),
        script = script.display(),
    );
    TestHub::start(&[("JupyterHub", &jupyterhub)])
}

#[tokio::test(flavor = "multi_thread")]
async fn login_text_default_url_scoped_tokens_applications_and_shutdown_on_logout() {
    let hub = configured_hub();
    let api = Api::new(&hub);
    let user = "dana";

    // While the browser works, note every single-user process of dana's.
    let pids_seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let watcher = {
        let pids_seen = std::sync::Arc::clone(&pids_seen);
        let hub_port = hub.hub_port;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let found =
                    tokio::task::spawn_blocking(move || support::server_pids_of(hub_port, "dana"))
                        .await
                        .unwrap_or_default();
                pids_seen.lock().unwrap().extend(found);
            }
        })
    };
    let seen = support::chromium::run(
        "login_token_flow.mjs",
        json!({"url": hub.public_url(), "user": user, "password": "pw"}),
    )
    .await;
    watcher.abort();

    // The login page: announcement_login replaces announcement, as markup;
    // the hub's root went to default_url, which asked for the login.
    let login = &seen["login"];
    assert_eq!(login["path"], "/hub/login");
    assert_eq!(login["next"], "/hub/home", "root → default_url: {login}");
    assert_eq!(login["announcement"], "Welcome to the course hub");
    assert_eq!(login["announcementBold"], "course");
    assert_eq!(login["heading"], "Sign in");
    assert_eq!(
        seen["loginWithoutNext"], "/hub/home",
        "default_url after login"
    );

    // The OAuth service identified dana.
    assert_eq!(seen["service"]["user"], user);
    let oauth_token = text(&seen["oauthToken"]).to_owned();
    assert!(oauth_token.len() >= 32, "{seen}");
    assert!(
        text(&seen["serverPath"]).starts_with("/user/dana/lab"),
        "{seen}"
    );

    // A scope dana does not hold is refused on the page, keeping the input.
    let refused = &seen["refused"];
    let error = text(&refused["error"]);
    assert!(
        error.starts_with("Not assigning requested scopes ")
            && error.contains("admin:users")
            && error.ends_with(" not held by User dana"),
        "{refused}"
    );
    assert_eq!(refused["keptScopes"], "admin:users");
    assert_eq!(refused["keptNote"], "read my servers");
    assert_eq!(refused["shown"], 0);

    // The narrowed token: listed with its scope, and limited to it.
    let scoped = &seen["scoped"];
    assert_eq!(scoped["rowScopes"], json!(["read:servers!user=dana"]));
    let token = text(&scoped["token"]).to_owned();
    let (status, model) = api.get(&token, "/user").await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["name"], user);
    let scopes: Vec<&str> = model["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // Only what was asked for and what it implies (upstream's scope tree:
    // reading servers includes reading the owner's name and groups).
    assert_eq!(
        scopes,
        [
            "read:servers!user=dana",
            "read:users:groups!user=dana",
            "read:users:name!user=dana"
        ],
    );
    let (status, model) = api.get(&token, "/users/dana").await;
    assert_eq!(status, 200, "read:servers allows reading the servers");
    assert!(model.get("servers").is_some(), "{model}");
    let (status, _) = api.get(&token, "/users/dana/tokens").await;
    assert_eq!(status, 403, "no read:tokens");
    let start = api
        .call(&token, Method::POST, "/users/dana/server")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 403, "no start:servers");
    let (status, _) = api.get(&token, "/users").await;
    assert_eq!(status, 403, "no list:users");

    // Authorized Applications listed the service and the server's client.
    let applications = seen["applications"].as_array().unwrap();
    let clients: BTreeSet<&str> = applications.iter().map(|a| text(&a["client"])).collect();
    assert_eq!(
        clients,
        BTreeSet::from(["jupyterhub-user-dana", "service-tokenview"]),
        "{applications:?}"
    );
    let row = |client: &str| {
        applications
            .iter()
            .find(|a| a["client"] == client)
            .map(|a| text(&a["text"]).to_owned())
            .unwrap()
    };
    assert!(row("service-tokenview").contains("JupyterHub service tokenview"));
    assert!(row("jupyterhub-user-dana").contains("Server at /user/dana/"));

    // Revoke: the service's OAuth token worked, and stopped working.
    assert_eq!(seen["oauthBefore"], json!({"status": 200, "name": "dana"}));
    assert_eq!(seen["oauthAfter"], 403);
    assert_eq!(
        seen["afterRevoke"]["clients"],
        json!(["jupyterhub-user-dana"])
    );
    let (status, _) = api.get(&oauth_token, "/user").await;
    assert_eq!(status, 403, "the revoked OAuth token is refused");

    // shutdown_on_logout: the server is gone from the API and its processes
    // are gone, though nothing else stopped them.
    assert_eq!(seen["afterLogout"], "/hub/login");
    let (status, model) = api.get(&token, "/users/dana").await;
    assert_eq!(status, 200);
    assert_eq!(
        model["servers"],
        json!({}),
        "no server after logout: {model}"
    );
    let pids = pids_seen.lock().unwrap().clone();
    assert!(
        !pids.is_empty(),
        "the server's process was seen while it ran"
    );
    for pid in pids {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        assert!(!alive, "server process {pid} still runs after logout");
    }
    let log = hub.log();
    assert!(
        log.contains("shutting down dana's servers at logout"),
        "{log}"
    );
}
