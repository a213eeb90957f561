//! A person logs in, gets their own JupyterLab from the hub, and runs code in
//! a kernel, all through ferrohub-proxy; then the server is stopped.
//! Real parts: the ferrohub binary, ferrohub-proxy, jupyterhub-singleuser 6.1.1.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use serde_json::Value;
use support::browser::Browser;
use support::{TestHub, eventually};

#[tokio::test(flavor = "multi_thread")]
async fn login_spawn_lab_kernel_and_stop_through_the_proxy() {
    let hub = TestHub::start(&[("JupyterHub", "last_activity_interval = 1")]);
    let browser = Browser::new(&hub.public_url());

    // Log in with the form and its XSRF token: a redirect and the hub cookies.
    let login = browser.login("alice", "any password", None).await;
    assert_eq!(login.status(), 302);
    let set_cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let login_cookie = set_cookies
        .iter()
        .find(|c| c.starts_with("jupyterhub-hub-login="))
        .expect("login cookie");
    assert!(
        login_cookie.contains("HttpOnly") && login_cookie.contains("Path=/hub/"),
        "{login_cookie}"
    );
    assert!(
        set_cookies
            .iter()
            .any(|c| c.starts_with("jupyterhub-session-id=") && c.contains("HttpOnly"))
    );

    // Start the server through the REST API with the cookie and XSRF header.
    let model = browser.start_server("alice").await;
    assert_eq!(model["server"], "/user/alice/");
    assert_eq!(model["servers"][""]["url"], "/user/alice/");
    let routes = hub.routes().await;
    assert_eq!(
        routes["/user/alice"]["user"], "alice",
        "route table: {routes}"
    );
    let pids = hub.server_pids("alice");
    assert_eq!(pids.len(), 1, "one singleuser process for alice");

    // Route reconciliation (every last_activity_interval): a lost route comes
    // back, a stray route the hub owns goes.
    let proxy_api = format!("http://127.0.0.1:{}/api/routes", hub.api_port);
    let auth = format!("token {}", support::PROXY_TOKEN);
    let client = reqwest::Client::new();
    let deleted = client
        .delete(format!("{proxy_api}/user/alice"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let stray =
        serde_json::json!({"target": "http://127.0.0.1:9", "jupyterhub": true, "user": "ghost"});
    let added = client
        .post(format!("{proxy_api}/user/ghost"))
        .header("Authorization", &auth)
        .json(&stray)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    eventually(20, "the hub to repair the routes", || async {
        let routes = hub.routes().await;
        (routes.get("/user/alice").is_some() && routes.get("/user/ghost").is_none()).then_some(())
    })
    .await;

    // The browser path: /user/alice/lab, through the OAuth redirects, to JupyterLab.
    let lab = browser
        .follow
        .get(format!("{}/user/alice/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    assert_eq!(lab.url().path(), "/user/alice/lab");
    let html = lab.text().await.unwrap();
    assert!(
        html.contains("jupyter-config-data"),
        "not a JupyterLab page:\n{html:.500}"
    );
    assert!(
        browser
            .cookie("/user/alice/", "jupyterhub-user-alice")
            .is_some(),
        "the server's OAuth cookie is set"
    );

    oauth_provider_refuses_bad_requests(&hub, &browser, pids[0]).await;

    // A kernel through the proxy, code over its websocket.
    assert_eq!(browser.run_code("alice", "1+1").await, "2");

    // Stop: route gone, process gone.
    browser.stop_server("alice").await;
    eventually(60, "alice's route to go", || async {
        hub.routes()
            .await
            .get("/user/alice")
            .is_none()
            .then_some(())
    })
    .await;
    eventually(60, "alice's server process to exit", || async {
        hub.server_pids("alice").is_empty().then_some(())
    })
    .await;
    let model: Value = browser
        .hub_api(Method::GET, "/users/alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["server"], Value::Null);
    assert_eq!(model["servers"], serde_json::json!({}));

    // The stopped server's URL now gets the hub's "not running" answers.
    let api = browser
        .single
        .get(format!("{}/user/alice/api/status", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status(),
        302,
        "the proxy sends unrouted paths to the hub, which redirects into /hub/"
    );
    let hub_side = browser
        .single
        .get(format!("{}/hub/user/alice/api/status", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(hub_side.status(), 424);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_without_a_server_spawns_and_lands_in_lab() {
    let hub = TestHub::start(&[]);
    let browser = Browser::new(&hub.public_url());
    // With no server running, login leads to the spawn page (upstream's flow 6d).
    let login = browser.login("bob", "pw", None).await;
    assert_eq!(login.status(), 302);
    assert_eq!(login.headers()["location"], "/hub/spawn");
    let first = browser
        .follow
        .get(format!("{}/hub/spawn", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    // The pending page reloads itself until the server is up, then goes there.
    let final_page = eventually(150, "bob's lab page", || async {
        let response = browser
            .follow
            .get(format!("{}/hub/spawn-pending/bob", hub.public_url()))
            .send()
            .await
            .ok()?;
        let path = response.url().path().to_owned();
        let text = response.text().await.ok()?;
        (path == "/user/bob/lab").then_some(text)
    })
    .await;
    assert!(final_page.contains("jupyter-config-data"));

    // The home page offers to stop the server; its form (with XSRF) stops it.
    let home = browser
        .single
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Stop my server"), "{html}");
    let xsrf = support::browser::hidden_xsrf(&html).expect("stop form has an _xsrf field");
    let forged = browser
        .single
        .post(format!("{}/hub/stop", hub.public_url()))
        .form(&[("_xsrf", "forged-token-value")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a POST without the right XSRF token is refused"
    );
    assert_eq!(
        hub.server_pids("bob").len(),
        1,
        "and did not stop the server"
    );
    let stop = browser
        .single
        .post(format!("{}/hub/stop", hub.public_url()))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 302);
    eventually(60, "bob's server to stop", || async {
        hub.server_pids("bob").is_empty().then_some(())
    })
    .await;
    let home = browser
        .single
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Start my server"), "{home}");

    // Logging out clears the login cookie: the hub asks for a login again.
    let logout = browser
        .single
        .get(format!("{}/hub/logout", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 302);
    assert_eq!(logout.headers()["location"], "/hub/login");
    let home = browser
        .single
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 302);
    assert!(
        home.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/hub/login?next=")
    );
}

/// The hub's OAuth endpoints, driven by hand with the server's real client
/// credentials (read from the server process's environment).
async fn oauth_provider_refuses_bad_requests(hub: &TestHub, browser: &Browser, server_pid: i32) {
    use base64::Engine;
    let secret = TestHub::process_env(server_pid, "JUPYTERHUB_API_TOKEN")
        .expect("server token in its environment");
    let client_id = "jupyterhub-user-alice";
    let redirect = "/user/alice/oauth_callback";
    let verifier = "a-pkce-verifier-that-is-long-enough-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier));
    let authorize = |redirect_uri: &str| {
        let query = [
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("state", "xyz"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        {
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", support::browser::urlencode(v)))
                .collect();
            browser.single.get(format!(
                "{}/hub/api/oauth2/authorize?{}",
                hub.public_url(),
                encoded.join("&")
            ))
        }
    };
    // A redirect URI that is not exactly the registered one: an error page, no redirect.
    let wrong = authorize("/user/alice/oauth_callback/../../evil")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let evil = authorize("http://evil.example/cb").send().await.unwrap();
    assert_eq!(evil.status(), 400);
    // The owner gets a code straight away.
    let granted = authorize(redirect).send().await.unwrap();
    assert_eq!(granted.status(), 302);
    let location = granted.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/user/alice/oauth_callback?code=")
            && location.ends_with("&state=xyz"),
        "{location}"
    );
    let code = code_in(&location);
    assert_eq!(code.len(), 30);

    let token_url = format!("{}/hub/api/oauth2/token", hub.public_url());
    let exchange = |code: &str, secret: &str, verifier: &str| {
        let form = [
            ("client_id", client_id),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ];
        reqwest::Client::new().post(&token_url).form(&form)
    };
    let bad_secret = exchange(&code, "not-the-secret", verifier)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_secret.status(), 401);
    assert_eq!(
        bad_secret.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // A wrong PKCE verifier fails, and the code is used up by the attempt (single use).
    let bad_verifier = exchange(&code, &secret, "wrong-verifier")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_verifier.status(), 400);
    let reused = exchange(&code, &secret, verifier).send().await.unwrap();
    assert_eq!(reused.status(), 400);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // A fresh code with the right secret and verifier gives a token that identifies alice.
    let fresh = authorize(redirect).send().await.unwrap();
    let code = code_in(fresh.headers()["location"].to_str().unwrap());
    let ok = exchange(&code, &secret, verifier).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 14 * 86_400);
    let me: Value = reqwest::Client::new()
        .get(format!("{}/hub/api/user", hub.public_url()))
        .header(
            "Authorization",
            format!("Bearer {}", body["access_token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "alice");
    let scopes: Vec<&str> = me["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&"access:servers!server=alice/"),
        "{scopes:?}"
    );
    assert!(
        !scopes
            .iter()
            .any(|s| s.starts_with("servers") || s.starts_with("admin")),
        "an OAuth token is narrow: {scopes:?}"
    );
}

/// The `code` parameter of an OAuth callback URL.
fn code_in(location: &str) -> String {
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}
