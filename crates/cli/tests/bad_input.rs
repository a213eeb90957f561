//! Bad input gets a clear refusal and writes nothing: broken configuration,
//! bad tokens, open-redirect `next` values, user names with `/` or `..`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use serde_json::Value;
use support::browser::Browser;
use support::{TestHub, ferrohub_bin};

/// Runs ferrohub on a config file in a fresh directory; returns (status, stderr, files left).
fn run_with_config(text: &str) -> (i32, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    let out = std::process::Command::new(ferrohub_bin())
        .args(["-f", "bad.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        files,
    )
}

fn user_names(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn broken_config_stops_startup_with_one_line_and_writes_nothing() {
    for (config, must_mention) in [
        ("[JupyterHub\nbind_url = ", "bad.toml"),
        ("[Spawner]\ncmdd = [\"x\"]\n", "Spawner.cmdd"),
        (
            "[Spawner]\nstart_timeout = \"soon\"\n",
            "Spawner.start_timeout",
        ),
        ("[NoSuchClass]\nx = 1\n", "NoSuchClass"),
    ] {
        let (code, stderr, files) = run_with_config(config);
        assert_eq!(code, 64, "exit status for {config:?}; stderr: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line for {config:?}: {stderr}"
        );
        assert!(
            stderr.contains(must_mention),
            "{stderr:?} should name {must_mention}"
        );
        assert_eq!(files, ["bad.toml"], "nothing written for {config:?}");
    }
    let out = std::process::Command::new(ferrohub_bin())
        .arg("--Spawner.nope=1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Spawner.nope"));
    let missing = std::process::Command::new(ferrohub_bin())
        .args(["-f", "/nonexistent/ferrohub.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ferrohub.toml"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_redirects_and_names_are_refused() {
    let hub = TestHub::start(&[("Authenticator", "admin_users = [\"admin\"]")]);
    let base = hub.public_url();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Bad or missing tokens: 403 JSON, never 401, never a login redirect.
    for (path, auth) in [
        ("/hub/api/user", Some("token nope-not-a-token")),
        ("/hub/api/users", Some("Bearer nope")),
        ("/hub/api/users", None),
        ("/hub/api/users/admin", Some("token x")),
    ] {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{path} with {auth:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 403);
        assert!(body["message"].is_string());
    }

    // A real admin token works, so the refusals above were about the token.
    let out = hub.cli(&["token", "admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let admin = |method: Method, path: &str| {
        client
            .request(method, format!("{base}/hub/api{path}"))
            .header("Authorization", format!("token {token}"))
    };
    let me: Value = admin(Method::GET, "/user")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["admin"], true);

    // Open redirects: `next` pointing elsewhere is ignored after login.
    for evil in [
        "http://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
    ] {
        let browser = Browser::new(&base);
        let response = browser.login("dave", "pw", Some(evil)).await;
        assert_eq!(response.status(), 302, "login with next={evil}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with('/') && !location.starts_with("//") && !location.contains("evil"),
            "next={evil} → {location}"
        );
    }
    // Our own host named in full is a path here (upstream's rule), so links
    // built from the hub's public URL survive the login.
    let own = format!("{base}/hub/token?x=1");
    let response = Browser::new(&base).login("dave", "pw", Some(&own)).await;
    assert_eq!(response.status(), 302, "login with next={own}");
    assert_eq!(response.headers()["location"], "/hub/token?x=1");
    let page = client
        .get(format!("{base}/hub/login?next=//evil.example/"))
        .send()
        .await
        .unwrap();
    assert!(
        !page.text().await.unwrap().contains("evil.example"),
        "the bad next is not echoed into the form"
    );

    // User names with '/' or '..': refused at login and in the API, nothing written.
    let before = user_names(
        &admin(Method::GET, "/users")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    for name in ["a/b", "..", "../etc", "."] {
        let anonymous = Browser::new(&base);
        let response = anonymous.login(name, "pw", None).await;
        assert_eq!(response.status(), 403, "login as {name:?}");
        assert!(anonymous.cookie("/hub/", "jupyterhub-hub-login").is_none());
    }
    for encoded in ["a%2Fb", "..%2F..", "%2E%2E"] {
        let response = admin(Method::POST, &format!("/users/{encoded}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        // `%2E%2E` is resolved to `..` by the client's URL parser, so it reaches another endpoint.
        assert!(
            matches!(status, 400 | 404 | 405),
            "create {encoded}: {status}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status);
    }
    let after = user_names(
        &admin(Method::GET, "/users")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(before, after, "no user was created");

    // A login POST without the XSRF token is refused and creates nobody.
    let no_xsrf = client
        .post(format!("{base}/hub/login"))
        .form(&[("username", "eve"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_xsrf.status(), 403);
    let eve = admin(Method::GET, "/users/eve").send().await.unwrap();
    assert_eq!(eve.status(), 404);

    // Bad JSON to the API: 400 JSON, nothing created.
    let bad = admin(Method::POST, "/users/frank")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        admin(Method::GET, "/users/frank")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
