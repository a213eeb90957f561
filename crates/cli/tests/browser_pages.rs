//! The hub's pages in a real browser: headless Chromium (Debian's), driven by
//! the playwright-core scripts in `tests/browser/`, against a real hub, its
//! ferrohub-proxy and real jupyterhub-singleuser servers running JupyterLab.
//! Each script reports what the user saw as JSON; any uncaught JavaScript
//! error or console error on any page fails the test (support::chromium).
//! scripts/setup.sh installs Chromium and playwright-core.

mod support;

use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_wait_for_the_server_and_run_code_in_jupyterlab() {
    let hub = TestHub::start(&[]);
    let seen = support::chromium::run(
        "login_to_lab.mjs",
        json!({"url": hub.public_url(), "user": "alice", "password": "any password"}),
    )
    .await;

    // The login form, as rendered: focused name field, filled XSRF field.
    assert_eq!(seen["loginPath"], "/hub/login");
    assert_eq!(seen["loginTitle"], "Sign in - ferrohub");
    assert_eq!(seen["loginHeading"], "Sign in");
    assert_eq!(seen["focused"], "username_input");
    assert!(text(&seen["xsrfField"]).len() >= 16, "{seen}");

    // Then the pending page, reloading itself, then JupyterLab.
    assert_eq!(seen["pendingHeading"], "Your server is starting", "{seen}");
    assert_eq!(seen["pendingTitle"], "Starting - ferrohub");
    let navigations: Vec<&str> = seen["navigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert!(
        navigations.first() == Some(&"/hub/spawn-pending/alice")
            && navigations.contains(&"/user/alice/lab"),
        "{navigations:?}"
    );
    assert_eq!(seen["labTitle"], "JupyterLab");

    // The notebook's kernel ran the code typed into its first cell.
    assert_eq!(seen["kernelName"], "Python 3 (ipykernel)");
    assert_eq!(seen["kernelStatus"], "Python 3 (ipykernel) | Idle");
    assert_eq!(seen["output"], "42");
    assert_eq!(seen["executionCount"], "[1]:");
    assert_eq!(seen["finalPath"], "/user/alice/lab/tree/Untitled.ipynb");

    // Over a websocket through ferrohub-proxy's public port.
    let channels = format!("ws://127.0.0.1:{}/user/alice/api/kernels/", hub.public_port);
    let sockets = seen["websockets"].as_array().unwrap();
    assert!(
        sockets
            .iter()
            .any(|ws| text(&ws["url"]).starts_with(&channels)
                && ws["received"].as_u64() > Some(2)
                && ws["sent"].as_u64() > Some(0)
                && ws.get("error").is_none()),
        "no working kernel websocket via {channels}: {sockets:?}"
    );

    // The hub agrees: the server is up and routed, and the kernel and the
    // notebook the browser made are on it.
    let api = Api::new(&hub);
    let token = token_for(&hub, "alice");
    let (status, model) = api.get(&token, "/users/alice").await;
    assert_eq!(status, 200);
    assert_eq!(model["servers"][""]["ready"], true, "{model}");
    assert_eq!(hub.routes().await["/user/alice"]["user"], "alice");
    let kernels: Value = api
        .public(&token, "/user/alice/api/kernels")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kernels.as_array().map(Vec::len), Some(1), "{kernels}");
    assert_eq!(kernels[0]["name"], "python3");
    assert!(hub.dir.path().join("homes/alice/Untitled.ipynb").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn home_page_start_and_stop_buttons() {
    let hub = TestHub::start(&[]);
    let seen = support::chromium::run(
        "home_buttons.mjs",
        json!({"url": hub.public_url(), "user": "carol", "password": "pw"}),
    )
    .await;

    assert_eq!(seen["loginPath"], "/hub/login");
    assert_eq!(seen["loginNext"], "/hub/home");
    let stopped = &seen["stopped"];
    assert_eq!(stopped["title"], "Home - ferrohub");
    assert_eq!(stopped["heading"], "Your server");
    assert_eq!(stopped["navUser"], "carol");
    assert!(
        text(&stopped["text"]).contains("Your server is not running."),
        "{stopped}"
    );
    assert_eq!(stopped["startButton"], "Start my server");

    // "Start my server" went through the pending page to the server.
    assert_eq!(seen["afterStartPath"], "/hub/spawn-pending/carol");
    assert!(
        text(&seen["serverPath"]).starts_with("/user/carol/"),
        "{seen}"
    );

    let running = &seen["running"];
    assert!(
        text(&running["text"]).contains("Your server is running."),
        "{running}"
    );
    assert_eq!(running["openText"], "Open my server");
    assert_eq!(running["openHref"], "/user/carol/");
    assert_eq!(running["stopButton"], "Stop my server");

    // "Stop my server" came back to the home page, which offers a start again.
    let after_stop = text(&seen["afterStop"]);
    assert!(
        after_stop.contains("Your server is not running.")
            || after_stop.contains("Your server is stopping."),
        "{after_stop}"
    );
    assert!(
        text(&seen["stoppedAgain"]).contains("Start my server"),
        "{seen}"
    );

    // And the server is really gone.
    let token = token_for(&hub, "carol");
    let (_, model) = Api::new(&hub).get(&token, "/users/carol").await;
    assert_eq!(model["servers"], json!({}), "{model}");
    assert!(hub.server_pids("carol").is_empty());
    assert!(hub.routes().await.get("/user/carol").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn error_pages_and_refused_logins() {
    let hub = TestHub::start(&[("DummyAuthenticator", r#"password = "open sesame""#)]);
    let seen = support::chromium::run(
        "error_pages.mjs",
        json!({
            "url": hub.public_url(),
            "user": "dave",
            "password": "open sesame",
            "wrongPassword": "open barley",
        }),
    )
    .await;

    let not_found = &seen["notFound"];
    assert_eq!(not_found["status"], 404);
    assert_eq!(not_found["contentType"], "text/html; charset=utf-8");
    assert_eq!(not_found["title"], "404 - ferrohub");
    assert_eq!(not_found["heading"], "404: Not Found");
    assert_eq!(not_found["message"], "Page not found");
    assert_eq!(not_found["linkText"], "Go to the hub");
    assert_eq!(not_found["linkHref"], "/hub/");
    assert_eq!(not_found["linkLandsOn"], "/hub/login");
    assert_eq!(not_found["navLinks"], 0, "signed out: no user links");

    let forged = &seen["forgedXsrf"];
    assert_eq!(forged["status"], 403);
    assert_eq!(forged["alert"], "Login form invalid or expired. Try again.");
    assert_eq!(forged["cookies"], json!(["_xsrf"]), "no login cookie");

    let failed = &seen["failedLogin"];
    assert_eq!(failed["status"], 403);
    assert_eq!(failed["path"], "/hub/login");
    assert_eq!(failed["title"], "Sign in - ferrohub");
    assert_eq!(failed["alert"], "Invalid username or password");
    assert_eq!(failed["username"], "dave", "the name is kept");
    assert_eq!(failed["password"], "", "the password is not");
    assert_eq!(failed["cookies"], json!(["_xsrf"]), "no login cookie");

    let retry = &seen["afterRetry"];
    assert_eq!(retry["path"], "/hub/home");
    assert_eq!(retry["heading"], "Your server");
    assert_eq!(retry["navUser"], "dave");

    let signed_in = &seen["notFoundSignedIn"];
    assert_eq!(signed_in["status"], 404);
    assert_eq!(signed_in["heading"], "404: Not Found");
    assert_eq!(signed_in["navUser"], "dave");
    assert_eq!(signed_in["navLinks"], json!(["Home", "Token", "Log out"]));
    let refused = &seen["refusedSignedIn"];
    assert!(
        refused["status"]
            .as_u64()
            .is_some_and(|s| (400..500).contains(&s)),
        "{refused}"
    );
    assert_eq!(refused["navUser"], "dave");
    assert_eq!(seen["loggedOutFromErrorPage"], "/hub/login");

    // The right password made dave an account and recorded his activity.
    let token = token_for(&hub, "dave");
    let (status, model) = Api::new(&hub).get(&token, "/users/dave").await;
    assert_eq!(status, 200);
    assert!(model["last_activity"].is_string(), "{model}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_link_ends_the_session() {
    let hub = TestHub::start(&[]);
    let seen = support::chromium::run(
        "logout.mjs",
        json!({"url": hub.public_url(), "user": "erin", "password": "pw"}),
    )
    .await;

    let signed_in = &seen["signedIn"];
    assert_eq!(signed_in["navUser"], "erin");
    assert_eq!(
        signed_in["cookies"],
        json!(["_xsrf", "jupyterhub-hub-login", "jupyterhub-session-id"])
    );

    let after = &seen["afterLogout"];
    assert_eq!(after["path"], "/hub/login");
    assert_eq!(after["heading"], "Sign in");
    assert_eq!(after["navLinks"], 0, "no Home/Log out links any more");
    assert_eq!(after["cookies"], json!(["_xsrf"]), "login cookies cleared");

    let home = &seen["homeAgain"];
    assert_eq!(home["path"], "/hub/login");
    assert_eq!(home["next"], "/hub/home");
    assert_eq!(home["heading"], "Sign in");
    assert_eq!(seen["apiUserStatus"], 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_page_requests_shows_once_and_revokes() {
    let hub = TestHub::start(&[]);
    let http = reqwest::Client::new();
    let user_with = |token: String| {
        let http = http.clone();
        let url = format!("{}/hub/api/user", hub.public_url());
        async move {
            http.get(url)
                .header("Authorization", format!("token {token}"))
                .send()
                .await
                .unwrap()
        }
    };
    let seen = support::chromium::run(
        "token_page.mjs",
        json!({"url": hub.public_url(), "user": "frank", "password": "pw"}),
    )
    .await;

    let before = &seen["before"];
    assert_eq!(before["heading"], "API tokens");
    assert_eq!(before["empty"], "You have no API tokens.");
    assert_eq!(
        before["expiryChoices"],
        json!(["Never", "1 hour", "1 day", "1 week", "30 days"])
    );

    let created = &seen["created"];
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32, "a generated token: {token}");
    assert!(
        created["notice"]
            .as_str()
            .unwrap()
            .contains("nightly backup script")
    );
    assert_eq!(created["rows"], 1);
    assert!(
        created["firstRow"]
            .as_str()
            .unwrap()
            .contains("nightly backup script")
    );
    assert_eq!(seen["reloaded"], json!({"shown": 0, "rows": 1}));
    assert_eq!(
        seen["afterRevoke"],
        json!({"rows": 0, "path": "/hub/token"})
    );

    // The token was real while it lived, and is dead now.
    let response = user_with(token).await;
    assert_eq!(response.status(), 403, "revoked token refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_from_the_page_acts_as_its_owner_until_it_expires() {
    // Without a browser: the page's form as a browser posts it (cookie +
    // _xsrf), then the token against the REST API.
    let hub = TestHub::start(&[("JupyterHub", "token_expires_in_max_seconds = 3600")]);
    let browser = support::browser::Browser::new(&hub.public_url());
    assert_eq!(browser.login("gina", "pw", None).await.status(), 302);
    let page = browser
        .single
        .get(format!("{}/hub/token", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let xsrf = support::browser::hidden_xsrf(&html).unwrap();
    assert!(
        !html.contains(">Never<"),
        "no never-expiring tokens under a maximum"
    );

    let post = |expires: &'static str, xsrf: String| {
        browser
            .single
            .post(format!("{}/hub/token", hub.public_url()))
            .form(&[
                ("_xsrf", xsrf),
                ("note", "ci".into()),
                ("expires_in", expires.into()),
            ])
            .send()
    };
    assert_eq!(
        post("0", xsrf.clone()).await.unwrap().status(),
        400,
        "never > max"
    );
    assert_eq!(post("forever", xsrf.clone()).await.unwrap().status(), 400);
    assert_eq!(
        post("3600", "forged".into()).await.unwrap().status(),
        403,
        "XSRF checked"
    );
    let created = post("3600", xsrf).await.unwrap();
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    let token = html
        .split("<pre id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap()
        .to_owned();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/hub/api/user", hub.public_url()))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "gina");
    let tokens: Value = reqwest::Client::new()
        .get(format!("{}/hub/api/users/gina/tokens", hub.public_url()))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &tokens["api_tokens"][0];
    assert_eq!(listed["note"], "ci");
    assert!(listed["expires_at"].is_string(), "{listed}");
}
