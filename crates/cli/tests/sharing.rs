//! Sharing a running server, as its owner and a colleague would: alice makes a
//! share code, bob opens the invitation page, accepts it, and lands in alice's
//! JupyterLab through the real OAuth flow of `jupyterhub-singleuser`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestHub;
use support::browser::{Browser, hidden_xsrf};

/// Follows redirects from `path`; returns the final path and the page.
async fn visit(browser: &Browser, path: &str) -> (u16, String, String) {
    let response = browser
        .follow
        .get(format!("{}{path}", browser.base))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let final_path = response.url().path().to_owned();
    // minijinja escapes `/` and `'` in HTML; compare the text a reader sees.
    let page = response.text().await.unwrap();
    let page = page.replace("&#x2f;", "/").replace("&#x27;", "'");
    (status, final_path, page)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_code_lets_a_colleague_into_a_running_server() {
    // Users may not share by default; upstream's docs grant it through the user role.
    let hub = TestHub::start(&[(
        "JupyterHub",
        r#"load_roles = [{ name = "user", scopes = ["self", "shares!user"] }]"#,
    )]);
    let alice = Browser::new(&hub.public_url());
    let bob = Browser::new(&hub.public_url());
    assert_eq!(alice.login("alice", "pw", None).await.status(), 302);
    assert_eq!(bob.login("bob", "pw", None).await.status(), 302);
    alice.start_server("alice").await;

    // Before any share, bob is turned away from alice's server.
    let (status, _, page) = visit(&bob, "/user/alice/lab").await;
    assert_eq!(status, 403, "bob without a share: {page}");

    // Alice makes a share code for her default server (the trailing-slash path).
    let created = alice
        .hub_api(Method::POST, "/share-codes/alice/")
        .json(&json!({"expires_in": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let code: Value = created.json().await.unwrap();
    let accept_url = code["accept_url"].as_str().unwrap().to_owned();
    assert!(accept_url.starts_with("/hub/accept-share?code="), "{code}");
    assert_eq!(code["exchange_count"], 0);

    // Alice cannot accept her own invitation; a made-up code is not found.
    let (status, _, _) = visit(&alice, &accept_url).await;
    assert_eq!(status, 403);
    let (status, _, page) = visit(&bob, "/hub/accept-share?code=not-a-real-code").await;
    assert_eq!(status, 404);
    assert!(page.contains("Share not found or expired"), "{page}");

    // Bob sees what he is offered, then accepts.
    let (status, _, page) = visit(&bob, &accept_url).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("alice's server"), "{page}");
    assert!(
        page.contains("server alice/"),
        "the grant names the server: {page}"
    );
    assert!(
        !page.contains("id=\"not-running\""),
        "alice's server is running: {page}"
    );
    let xsrf = hidden_xsrf(&page).expect("the accept form carries _xsrf");
    let code_value = code["code"].as_str().unwrap();
    let forged = bob
        .single
        .post(format!("{}/hub/accept-share", hub.public_url()))
        .form(&[("_xsrf", "forged"), ("code", code_value)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "a forged form is refused");
    let accepted = bob
        .single
        .post(format!("{}/hub/accept-share", hub.public_url()))
        .form(&[("_xsrf", xsrf.as_str()), ("code", code_value)])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 302);
    assert_eq!(accepted.headers()["location"], "/user/alice/");

    // Now the singleuser server's OAuth lets bob in, once he confirms (it is
    // not his own server, so the hub asks, as upstream does).
    let lab = bob
        .get_confirming_oauth(
            &format!("{}/user/alice/lab", hub.public_url()),
            "server alice/",
        )
        .await;
    assert_eq!(lab.status(), 200);
    assert_eq!(lab.url().path(), "/user/alice/lab");
    assert!(
        lab.text().await.unwrap().contains("jupyter-config-data"),
        "JupyterLab answered"
    );
    let (status, path, _) = visit(&bob, "/user/alice/lab").await;
    assert_eq!(
        (status, path.as_str()),
        (200, "/user/alice/lab"),
        "no second confirmation"
    );

    // Both sides see the share; the code counts its use.
    let shared: Value = bob
        .hub_api(Method::GET, "/users/bob/shared")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = shared["items"].as_array().expect("paginated list");
    assert_eq!(items.len(), 1, "{shared}");
    assert_eq!(items[0]["server"]["user"]["name"], "alice");
    assert_eq!(items[0]["server"]["ready"], true);
    let codes: Value = alice
        .hub_api(Method::GET, "/share-codes/alice/")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(codes["items"][0]["exchange_count"], 1, "{codes}");

    // Alice revokes every share of the server: bob's grant is gone.
    let revoked = alice
        .hub_api(Method::DELETE, "/shares/alice/")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let shared: Value = bob
        .hub_api(Method::GET, "/users/bob/shared")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shared["items"], json!([]), "{shared}");
}
